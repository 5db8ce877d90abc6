// Persistence of a space: loading what the store holds into the replica,
// writing changes in batches (one store write per batch, started in a
// microtask), folding them into an encrypted snapshot every SNAPSHOT_EVERY
// records or SNAPSHOT_BYTES bytes (so reopening costs the size of the state,
// not of the history), a snapshot from the relay made the local base
// (joined), and compaction: once the change records the replica
// keeps in memory outweigh the state, the replica is replaced by a fresh one
// loaded from a snapshot of itself.
//
// The snapshot is sealed with the content key (XChaCha20-Poly1305, the space
// id in the associated data); what the store holds is described in
// docs/API.md ("Storage").
import { RIGHT } from './constants.js';
import { WeftError } from './errors.js';
import { Replica } from './replica.js';

export const SNAPSHOT_EVERY = 1000;
/** ...or after this many bytes of records, whichever comes first. */
export const SNAPSHOT_BYTES = 4 << 20;
/**
 * In-memory history kept before the replica is compacted (see compact):
 * small, so that a replica's memory follows its state. 1 MiB keeps a
 * replica that typed the automerge-paper trace under 8 MB of JS heap and
 * WASM memory; a compaction costs a snapshot of the state, and the limit
 * is at least twice the state's size, so large states compact rarely.
 */
export const HISTORY_BYTES = 1 << 20;
const APPLY_CHUNK = 4 << 20;
const enc = new TextEncoder();

/**
 * What Persistence needs from its space.
 * @typedef {object} PersistHost
 * @property {import('./core.js').Core} core for libsodium (snapshot sealing)
 * @property {{ space: Uint8Array, author: Uint8Array, authorSecret: Uint8Array, contentKey: Uint8Array }} meta
 * @property {number} rights this device's (0..3): below 2 the replica gets no author secret
 * @property {{ write(batch: object): Promise<void>, close?(): unknown }} store
 * @property {() => import('./replica.js').Replica} rep the replica now
 * @property {(fresh: import('./replica.js').Replica) => void} replace makes `fresh` the space's replica and closes the old one
 * @property {(name: string, arg?: unknown) => void} emit the space's 'durable', 'durable-base' (a joined snapshot is in the store), 'compact' and 'error' events
 * @property {() => void} pendingChanged the count of writes not yet durable changed
 * @property {(e: unknown) => void} report a failure no call rejects with: the space's 'error' event, else console.error
 */

/** An empty replica of the space `meta` describes (see PersistHost). */
export function openReplica(core, meta, rights) {
  return new Replica(core, {
    space: meta.space,
    author: meta.author,
    authorSecret: rights >= RIGHT.WRITE ? meta.authorSecret : null,
    contentKey: meta.contentKey,
    oldKeys: meta.oldKeys ?? [],
  });
}

function snapshotAd(space) {
  const ad = new Uint8Array(24 + 32);
  ad.set(enc.encode('weftdb-local-snapshot-v1'));
  ad.set(space, 24);
  return ad;
}

export class Persistence {
  #host;
  #historyLimit;
  #batch = null;
  #flushing = false;
  #sinceSnapshot = 0;
  #bytesSinceSnapshot = 0;
  #notDurable = 0;
  // in-memory history (change records the replica keeps for diffs)
  #historyBytes = 0;
  #stateBytes = 0;
  // The vector of the last snapshot the replica was loaded from (stored,
  // from the relay, or its own compaction): it holds no change record at
  // or below it, so a diff for a vector that does not cover it is partial.
  #baseVV = new Uint8Array(0);
  #snapshotNow = false;
  #joinedPending = false; // a join's snapshot is not in the store yet

  /** @param {PersistHost} host */
  constructor(host, historyLimit = HISTORY_BYTES) {
    this.#host = host;
    this.#historyLimit = historyLimit;
  }

  /** The vector below which the replica holds no change records (empty: it holds them all). */
  get baseVV() {
    return this.#baseVV;
  }

  /** Records written but not yet durable in the store. */
  get notDurable() {
    return this.#notDurable;
  }

  /**
   * Loads the stored snapshot, records and outbox ({ snapshot, records,
   * outbox }) into the replica; stored changes it refuses are reported.
   */
  load(loaded) {
    const rep = this.#host.rep();
    if (loaded.snapshot) {
      const plain = this.#openSnapshot(loaded.snapshot);
      rep.loadSnapshot(plain);
      this.#stateBytes = plain.length;
      this.#baseVV = rep.vv();
    }
    const all = [...(loaded.records ?? []), ...(loaded.outbox ?? [])];
    this.#sinceSnapshot = loaded.records?.length ?? 0;
    this.#bytesSinceSnapshot = 0;
    for (const r of loaded.records ?? []) this.#bytesSinceSnapshot += r.length;
    let rejected = 0;
    for (let i = 0; i < all.length; ) {
      let n = 0;
      let j = i;
      while (j < all.length && (j === i || n + all[j].length <= APPLY_CHUNK)) n += all[j++].length;
      const buf = new Uint8Array(n);
      let o = 0;
      for (let k = i; k < j; k++) {
        buf.set(all[k], o);
        o += all[k].length;
      }
      rejected += rep.apply(buf).rejected;
      this.#historyBytes += buf.length;
      i = j;
    }
    if (rejected) this.#host.report(new WeftError('WEFT_ECHAIN', `${rejected} stored change(s) were refused on load`));
  }

  /**
   * A sealed snapshot from the relay was loaded into the empty replica: it
   * becomes the local base (the next store write holds a local snapshot
   * of it, which replaces whatever records the store held).
   */
  joined(stateBytes) {
    this.#stateBytes = stateBytes;
    this.#historyBytes = 0;
    this.#baseVV = this.#host.rep().vv();
    this.#snapshotNow = true;
    this.#joinedPending = true;
    return this.persist([], []);
  }

  /**
   * The next store write holds a snapshot of the state now, replacing the
   * stored records (space.flush({ snapshot: true })); resolves once durable.
   */
  snapshotNow() {
    this.#snapshotNow = true;
    return this.persist([], []);
  }

  /**
   * The replica now holds `bytes` more of change records; compacts at once
   * when they pass the limit. At once, not once per task: writes that are
   * not awaited (typing a text, a loop of puts) commit many changes in one
   * task, and the WASM memory, which never shrinks, would otherwise grow
   * to the whole burst's records before the task ends.
   */
  addHistory(bytes) {
    this.#historyBytes += bytes;
    this.compact();
  }

  /**
   * Queues records (and own records for the sync outbox, and the highest
   * seq the relay acknowledged) for the next store write. Resolves when
   * that write is durable.
   */
  persist(records, outbox, acked = null) {
    if (!this.#batch) {
      let resolve, reject;
      const promise = new Promise((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {}); // reported through 'error' too
      this.#batch = { records: [], outbox: [], acked: null, promise, resolve, reject };
      if (!this.#flushing) queueMicrotask(() => this.#flush());
    }
    const b = this.#batch;
    for (const r of records) b.records.push(r);
    for (const o of outbox) b.outbox.push(o);
    if (acked !== null) b.acked = Math.max(b.acked ?? 0, acked);
    this.#notDurable += records.length;
    this.#host.pendingChanged();
    return b.promise;
  }

  /** Resolves when every write so far is durable in the store. */
  flush() {
    if (this.#batch) return this.#batch.promise;
    if (this.#flushing) return this.#flushing.promise;
    return Promise.resolve();
  }

  async #flush() {
    const h = this.#host;
    while (this.#batch) {
      const b = this.#batch;
      this.#batch = null;
      this.#flushing = b;
      this.#sinceSnapshot += b.records.length;
      for (const r of b.records) this.#bytesSinceSnapshot += r.length;
      let snapshot = null;
      const rep = h.rep();
      if ((this.#snapshotNow || this.#sinceSnapshot >= SNAPSHOT_EVERY || this.#bytesSinceSnapshot >= SNAPSHOT_BYTES) && !rep.pendingCount() && rep.h) {
        snapshot = this.#sealSnapshot(rep);
        this.#snapshotNow = false;
        this.#sinceSnapshot = 0;
        this.#bytesSinceSnapshot = 0;
      }
      const based = snapshot !== null && this.#joinedPending;
      if (based) this.#joinedPending = false;
      try {
        await h.store.write({ records: b.records, snapshot, outbox: b.outbox, acked: b.acked });
        this.#notDurable -= b.records.length;
        b.resolve();
        h.emit('durable', b.records);
        // Other tabs of the space (idb.js) load the joined state from the store.
        if (based) h.emit('durable-base');
      } catch (e) {
        this.#notDurable -= b.records.length;
        const err = e instanceof WeftError ? e : new WeftError('WEFT_EUNAVAILABLE', `storage write failed: ${e?.message ?? e}`, { cause: e });
        b.reject(err);
        h.emit('error', err);
      }
      this.#flushing = false;
      h.pendingChanged();
    }
  }

  #sealSnapshot(rep) {
    const { core, meta } = this.#host;
    const s = core.sodium;
    const plain = rep.snapshot();
    const nonce = s.randombytes_buf(24);
    const ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, snapshotAd(meta.space), null, nonce, meta.contentKey);
    plain.fill(0);
    const out = new Uint8Array(24 + ct.length);
    out.set(nonce);
    out.set(ct, 24);
    return out;
  }

  #openSnapshot(sealed) {
    const { core, meta } = this.#host;
    const s = core.sodium;
    // Sealed before a key rotation, it opens with an older key.
    let last;
    for (const key of [meta.contentKey, ...[...(meta.oldKeys ?? [])].reverse()]) {
      try {
        return s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed.subarray(24), snapshotAd(meta.space), sealed.subarray(0, 24), key);
      } catch (e) {
        last = e;
      }
    }
    throw new WeftError('WEFT_ECRYPTO', 'the stored snapshot does not open with this space\'s key', { cause: last });
  }

  /**
   * Keeps memory proportional to the state, not the history: the core keeps
   * every change record (to serve diffs), so once those records outweigh
   * the state (and historyBytes), the replica is replaced by a fresh one
   * loaded from a snapshot of itself. Old changes then come from the relay
   * or the store, no longer from changesSince(); unacknowledged own changes
   * stay in the sync outbox. Skipped while changes wait for dependencies
   * (a snapshot does not hold them).
   */
  compact() {
    if (this.#historyBytes < Math.max(this.#historyLimit, 2 * this.#stateBytes)) return;
    const h = this.#host;
    const old = h.rep();
    if (old.pendingCount() || old.txnOps()) return;
    const plain = old.snapshot();
    const fresh = openReplica(h.core, h.meta, h.rights);
    try {
      fresh.loadSnapshot(plain);
    } catch (e) {
      fresh.close();
      h.report(e);
      return;
    } finally {
      plain.fill(0);
    }
    h.replace(fresh);
    this.#baseVV = fresh.vv();
    this.#stateBytes = plain.length;
    this.#historyBytes = 0;
    h.emit('compact', { stateBytes: this.#stateBytes });
  }
}
