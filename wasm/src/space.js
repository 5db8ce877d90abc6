// A Space: one shared, encrypted database as the app sees it. It owns a
// Replica (the core), a Store (memory, IndexedDB or the app's own), and,
// when a relay is given, a Sync link. Writes run synchronously in the core
// (reads see them at once) and resolve when they are durable in the store;
// changes are persisted in batches (one store write per batch) and folded
// into an encrypted snapshot every SNAPSHOT_EVERY records, so reopening
// costs the size of the state, not of the history.
import { RIGHT } from './constants.js';
import { WeftError } from './errors.js';
import { Replica } from './replica.js';
import { encodeValue, mapKeys } from './value.js';
import { compileQuery } from './query.js';
import { Text, TextObservers } from './text.js';
import { Emitter, reportError, toBase64url, toHex } from './util.js';

export const SNAPSHOT_EVERY = 1000;
/** ...or after this many bytes of records, whichever comes first. */
export const SNAPSHOT_BYTES = 4 << 20;
/** In-memory history kept before the replica is compacted (see #compact). */
export const HISTORY_BYTES = 8 << 20;
const RIGHTS = Object.entries(RIGHT).reduce((a, [name, n]) => ((a[n] = name.toLowerCase()), a), ['none']); // by number (auth.h)
const APPLY_CHUNK = 4 << 20;
const enc = new TextEncoder();

function byteLen(s) {
  return enc.encode(s).length;
}

function checkName(what, s, max) {
  if (typeof s !== 'string' || s.length === 0) throw new WeftError('WEFT_EINVAL', `${what} must be a non-empty string`);
  if (s.isWellFormed && !s.isWellFormed()) throw new WeftError('WEFT_EINVAL', `${what} is not well-formed Unicode`);
  if (s.length > max / 3 && byteLen(s) > max) throw new WeftError('WEFT_EINVAL', `${what} is longer than ${max} bytes of UTF-8`);
}

function checkFields(data) {
  if (data === null || typeof data !== 'object' || Array.isArray(data) || data instanceof Uint8Array)
    throw new WeftError('WEFT_EINVAL', 'a document is a plain object of fields');
  for (const k of Object.keys(data)) checkName('a field name', k, 255);
}

function snapshotAd(space) {
  const ad = new Uint8Array(24 + 32);
  ad.set(enc.encode('weftdb-local-snapshot-v1'));
  ad.set(space, 24);
  return ad;
}

export class Space {
  #core;
  #store;
  #meta;
  #rep;
  #events = new Emitter();
  #collections = new Map();
  #subs = new Set();
  #texts = new TextObservers((e) => this.#events.emit('error', e));
  #txn = null;
  #closed = false;
  #closing = null;
  // persistence
  #batch = null;
  #flushing = false;
  #sinceSnapshot = 0;
  #bytesSinceSnapshot = 0;
  #notDurable = 0;
  // notifications
  #touched = null;
  // sync
  #sync = null;
  #status = { state: 'offline', pending: 0 };
  #rights;
  #writer = null; // set by a tab coordinator (idb.js) in follower tabs
  #closeHook = null;
  #presence = null; // presence.js, set by openSpace/createSpace
  #p2p = null; // p2p.js, when opened with { p2p }
  #loadedOutbox = [];
  // in-memory history (change records the replica keeps for diffs)
  #historyBytes = 0;
  #stateBytes = 0;
  #historyLimit;

  /** @internal Use createSpace/openSpace. */
  constructor(core, store, meta, rights, { historyBytes = HISTORY_BYTES } = {}) {
    this.#historyLimit = historyBytes;
    this.#core = core;
    this.#store = store;
    this.#meta = meta;
    this.#rights = rights;
    this.#rep = new Replica(core, {
      space: meta.space,
      author: meta.author,
      authorSecret: rights >= RIGHT.WRITE ? meta.authorSecret : null,
      contentKey: meta.contentKey,
    });
  }

  /** @internal Loads the stored snapshot, records and outbox into the replica. */
  _load(loaded) {
    const rep = this.#rep;
    if (loaded.snapshot) {
      const plain = this.#openSnapshot(loaded.snapshot);
      rep.loadSnapshot(plain);
      this.#stateBytes = plain.length;
    }
    const all = [...(loaded.records ?? []), ...(loaded.outbox ?? [])];
    this.#loadedOutbox = loaded.outbox ?? [];
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
    if (rejected) reportError(new WeftError('WEFT_ECHAIN', `${rejected} stored change(s) were refused on load`));
  }

  // ---- identity ----

  /** The space id: the owner's public key, base64url. */
  get id() {
    return toBase64url(this.#meta.space);
  }
  /** This device's author key, base64url. */
  get author() {
    return toBase64url(this.#meta.author);
  }
  /** 'read' | 'write' | 'admin' */
  get rights() {
    return RIGHTS[this.#rights];
  }
  get closed() {
    return this.#closed;
  }

  /**
   * Who else is here: set(state) tells the space's other online peers
   * (through the relay, sealed with the content key), on(fn) hears theirs.
   * See presence.js.
   */
  get presence() {
    return this.#presence;
  }

  /** The peer-to-peer links (openSpace({ p2p: true })), or null. See p2p.js. */
  get p2p() {
    return this.#p2p;
  }
  /** { state: 'offline'|'connecting'|'syncing'|'synced', pending } (a copy). */
  get status() {
    return { ...this.#status };
  }

  /** Subscribes to 'status' ({state, pending}), 'change' ({docs, local}) or 'error'. Returns an unsubscribe function. */
  on(name, fn) {
    return this.#events.on(name, fn);
  }
  off(name, fn) {
    this.#events.off(name, fn);
  }

  /** The collection `name` (1..255 bytes of UTF-8). */
  collection(name) {
    this.#open();
    checkName('a collection name', name, 255);
    let c = this.#collections.get(name);
    if (!c) {
      c = new Collection(this, name, this.#internals);
      this.#collections.set(name, c);
    }
    return c;
  }

  /**
   * The text field `field` of document `doc` in `collection`, edited as
   * collaborative text (docs/API.md, "Text"). The document need not exist.
   */
  text(collection, doc, field) {
    this.#open();
    checkName('a collection name', collection, 255);
    checkName('a document id', doc, 1024);
    checkName('a field name', field, 255);
    return new Text(this.#textInternals, collection, doc, field);
  }

  #textInternals = {
    rep: () => this.#internals.rep(),
    write: (op) => this.#write(op),
    observeText: (text, cb) => {
      this.#open();
      return this.#texts.add(text, cb);
    },
    emitError: (e) => this.#events.emit('error', e),
    inTxn: () => !!this.#txn,
  };

  /**
   * Runs fn synchronously; every write it makes becomes one change.
   * Resolves to fn's result once the change is durable. Writes inside fn
   * are visible after transact returns (all at once), not during fn.
   */
  transact(fn) {
    try {
      this.#open();
      this.#canWrite();
      if (typeof fn !== 'function') throw new WeftError('WEFT_EINVAL', 'transact takes a function');
      if (this.#txn) throw new WeftError('WEFT_ESTATE', 'transactions do not nest');
      const ops = [];
      let result;
      this.#txn = ops;
      try {
        result = fn(this);
      } finally {
        this.#txn = null;
      }
      if (result && typeof result.then === 'function')
        throw new WeftError('WEFT_EINVAL', 'transact takes a synchronous function (its writes must all happen before it returns)');
      return this.#exec(ops).then(() => result);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * An invite link granting `rights` ('read' | 'write' | 'admin') to whoever
   * holds it, for expiresIn milliseconds (0: never). base: the app's URL.
   */
  invite({ rights = 'write', expiresIn = 7 * 24 * 3600 * 1000, base = '' } = {}) {
    this.#open();
    const r = RIGHTS.indexOf(rights);
    if (r < 1) throw new WeftError('WEFT_EINVAL', `rights must be read, write or admin, not ${rights}`);
    if (!(Number.isFinite(expiresIn) && expiresIn >= 0)) throw new WeftError('WEFT_EINVAL', 'expiresIn must be milliseconds >= 0');
    if (this.#rights < RIGHT.ADMIN) throw new WeftError('WEFT_ERIGHTS', 'only the owner or an admin can invite');
    const now = Math.floor(Date.now() / 1000);
    const m = this.#meta;
    const owner = !!m.spaceSecret;
    const token = this.#core.tokenIssue({
      space: m.space,
      issuerSecret: owner ? m.spaceSecret : m.authorSecret,
      parent: owner ? null : m.token,
      grantee: null,
      rights: r,
      notBefore: Math.max(0, now - 300), // tolerate clock skew between devices
      expires: expiresIn ? now + Math.ceil(expiresIn / 1000) : 0,
    });
    return this.#core.inviteEncode(base, m.space, token, m.contentKey);
  }

  /** BLAKE2b-256 of the visible state, hex: equal on replicas holding the same changes. */
  stateHash() {
    this.#open();
    return toHex(this.#rep.stateHash());
  }

  /** The version vector (bytes, docs/FORMAT.md §6). */
  versionVector() {
    this.#open();
    return this.#rep.vv();
  }

  /** Every change this replica holds that the holder of `vv` lacks, concatenated. */
  changesSince(vv = new Uint8Array(0)) {
    this.#open();
    return this.#rep.diff(vv);
  }

  /** Merges change records (concatenated) received from elsewhere; resolves when durable. */
  applyChanges(records) {
    try {
      this.#open();
      if (!(records instanceof Uint8Array)) throw new WeftError('WEFT_EINVAL', 'applyChanges takes a Uint8Array');
      return this.#applyRemote(records).durable;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Resolves when every write so far is durable in the store. */
  flush() {
    if (this.#batch) return this.#batch.promise;
    if (this.#flushing) return this.#flushing.promise;
    return Promise.resolve();
  }

  /** Flushes, disconnects and frees the core replica. Idempotent. */
  close() {
    if (!this.#closing) {
      this.#closing = (async () => {
        try {
          await this.flush().catch(() => {});
          this.#presence?.close();
          this.#p2p?.close();
          await this.#sync?.close();
          await this.#closeHook?.();
        } finally {
          this.#closed = true;
          this.#subs.clear();
          this.#collections.clear();
          this.#rep.close();
          await this.#store.close?.();
          this.#setStatus({ state: 'offline' });
          this.#events.clear();
        }
      })();
    }
    return this.#closing;
  }

  // ---- internals shared with Collection, Sync and tab coordination ----

  #internals = {
    write: (op) => this.#write(op),
    rep: () => {
      this.#open();
      return this.#rep;
    },
    subscribe: (sub) => {
      this.#open();
      this.#subs.add(sub);
      return () => this.#subs.delete(sub);
    },
  };

  /** @internal For sync.js and idb.js (tab coordination). */
  get _internal() {
    const self = this;
    return {
      core: this.#core,
      meta: this.#meta,
      // a getter: compaction swaps the replica
      get rep() {
        return self.#rep;
      },
      store: this.#store,
      exec: (ops) => this.#execLocal(ops),
      applyRemote: (buf, persist = true) => this.#applyRemote(buf, persist),
      takeLoadedOutbox: () => {
        const o = this.#loadedOutbox;
        this.#loadedOutbox = [];
        return o;
      },
      setLoadedOutbox: (o) => {
        this.#loadedOutbox = o;
      },
      setCloseHook: (fn) => {
        this.#closeHook = fn;
      },
      /** True when this tab commits (no tab coordinator forwarding its writes). */
      isWriter: () => !this.#writer,
      setStatus: (s) => this.#setStatus(s),
      setSync: (s) => {
        this.#sync = s;
      },
      sync: () => this.#sync,
      setPresence: (p) => {
        this.#presence = p;
      },
      setP2P: (p) => {
        this.#p2p = p;
      },
      setWriter: (w) => {
        this.#writer = w;
      },
      ack: (seq) => this.#ack(seq),
      emit: (n, a) => this.#events.emit(n, a),
    };
  }

  #open() {
    if (this.#closed || this.#closing) throw new WeftError('WEFT_ESTATE', 'the space is closed');
  }

  #canWrite() {
    if (this.#rights < RIGHT.WRITE) throw new WeftError('WEFT_ERIGHTS', `this device may only ${this.rights} in this space`);
  }

  #write(op) {
    this.#open();
    this.#canWrite();
    if (this.#txn) {
      if (op.t === 'splice')
        throw new WeftError('WEFT_ESTATE', 'text edits commit on their own: make them outside transact()');
      this.#txn.push(op);
      return undefined;
    }
    return this.#exec([op]);
  }

  /** Runs ops as one change: here in the leader, or through the tab coordinator. */
  #exec(ops) {
    if (this.#writer) return this.#writer.exec(ops);
    try {
      return this.#execLocal(ops).durable;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Runs ops in the replica and commits them. Returns { record, durable }. */
  #execLocal(ops) {
    this.#open();
    const rep = this.#rep;
    let record;
    const splice = ops.length === 1 && ops[0].t === 'splice' ? ops[0] : null;
    if (splice) {
      // A text edit commits itself (it cannot wait in a transaction).
      record = rep.textSplice(splice.c, splice.id, splice.f, splice.pos, splice.del, splice.text, Date.now());
      if (!record) return { record: null, durable: Promise.resolve() };
    } else {
      try {
        for (const op of ops) this.#runOp(op);
      } catch (e) {
        rep.rollback();
        throw e;
      }
      if (rep.txnOps() === 0) return { record: null, durable: Promise.resolve() };
      try {
        record = rep.commit(Date.now());
      } catch (e) {
        rep.rollback();
        throw e;
      }
    }
    const touched = rep.touched();
    if (this.#texts.size) this.#texts.dispatch(rep.textEvents(), true, splice, touched);
    this.#historyBytes += record.length;
    const seq = this.#sync ? this.#core.splitRecords(record)[0].seq : 0;
    const durable = this.#persist([record], this.#sync ? [{ seq, record }] : []);
    this.#changed(touched, true);
    this.#sync?.sendLocal(record, seq);
    this.#events.emit('commit', record);
    return { record, durable };
  }

  #runOp(op) {
    const rep = this.#rep;
    switch (op.t) {
      case 'put': {
        // Replace at field level: delete the visible fields the new data
        // lacks (a concurrent write to another field still merges, and a
        // new document costs no tombstone), then set every given field.
        const cur = rep.getDocBytes(op.c, op.id, false);
        if (cur) for (const k of mapKeys(cur)) if (op.data[k] === undefined) rep.deleteField(op.c, op.id, k);
        for (const k of Object.keys(op.data)) {
          const v = op.data[k];
          if (v !== undefined) rep.put(op.c, op.id, k, encodeValue(v));
        }
        break;
      }
      case 'update':
        for (const k of Object.keys(op.data)) {
          const v = op.data[k];
          if (v === undefined) rep.deleteField(op.c, op.id, k);
          else rep.put(op.c, op.id, k, encodeValue(v));
        }
        break;
      case 'delete':
        rep.deleteDoc(op.c, op.id);
        break;
      case 'incr':
        rep.counterAdd(op.c, op.id, op.f, op.n);
        break;
      default:
        throw new WeftError('WEFT_EINVAL', `unknown op ${op.t}`);
    }
  }

  /**
   * Merges records from elsewhere (relay, another tab, the app). Each record
   * is applied on its own so the ones merged or parked (not duplicates, not
   * refused) are the ones stored. Returns { applied, rejected, durable }.
   */
  #applyRemote(buf, persist = true) {
    const rep = this.#rep;
    const recs = this.#core.splitRecords(buf);
    const keep = [];
    const touched = [];
    let applied = 0;
    let rejected = 0;
    let firstError = 0;
    const watching = this.#texts.size > 0;
    let textEvents = [];
    for (const { record } of recs) {
      const res = rep.apply(record);
      if (res.applied) touched.push(...rep.touched());
      if (watching && res.applied && textEvents) {
        const ev = rep.textEvents();
        if (ev) textEvents.push(...ev);
        else textEvents = null;
      }
      if (persist && (res.applied || res.pending)) keep.push(record.slice());
      if (res.applied || res.pending) this.#historyBytes += record.length;
      applied += res.applied;
      rejected += res.rejected;
      if (res.rejected && !firstError) firstError = res.firstError;
    }
    const durable = keep.length && persist ? this.#persist(keep, []) : Promise.resolve();
    if (touched.length) this.#changed(touched, false);
    if (watching && touched.length) this.#texts.dispatch(textEvents, false, null, touched);
    if (rejected) this.#events.emit('error', WeftError.fromCode(firstError, `${rejected} incoming change(s) refused`));
    return { applied, rejected, durable, kept: keep };
  }

  #ack(seq) {
    return this.#persist([], [], seq);
  }

  // ---- persistence: one store write per batch ----

  #persist(records, outbox, acked = null) {
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
    this.#updatePending();
    return b.promise;
  }

  async #flush() {
    while (this.#batch) {
      const b = this.#batch;
      this.#batch = null;
      this.#flushing = b;
      this.#sinceSnapshot += b.records.length;
      for (const r of b.records) this.#bytesSinceSnapshot += r.length;
      let snapshot = null;
      if ((this.#sinceSnapshot >= SNAPSHOT_EVERY || this.#bytesSinceSnapshot >= SNAPSHOT_BYTES) && !this.#rep.pendingCount() && this.#rep.h) {
        snapshot = this.#sealSnapshot();
        this.#sinceSnapshot = 0;
        this.#bytesSinceSnapshot = 0;
      }
      try {
        await this.#store.write({ records: b.records, snapshot, outbox: b.outbox, acked: b.acked });
        this.#notDurable -= b.records.length;
        b.resolve();
        this.#events.emit('durable', b.records);
      } catch (e) {
        this.#notDurable -= b.records.length;
        const err = e instanceof WeftError ? e : new WeftError('WEFT_EUNAVAILABLE', `storage write failed: ${e?.message ?? e}`, { cause: e });
        b.reject(err);
        this.#events.emit('error', err);
      }
      this.#flushing = false;
      this.#updatePending();
    }
  }

  #sealSnapshot() {
    const s = this.#core.sodium;
    const plain = this.#rep.snapshot();
    const nonce = s.randombytes_buf(24);
    const ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, snapshotAd(this.#meta.space), null, nonce, this.#meta.contentKey);
    plain.fill(0);
    const out = new Uint8Array(24 + ct.length);
    out.set(nonce);
    out.set(ct, 24);
    return out;
  }

  #openSnapshot(sealed) {
    const s = this.#core.sodium;
    try {
      return s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed.subarray(24), snapshotAd(this.#meta.space), sealed.subarray(0, 24), this.#meta.contentKey);
    } catch (e) {
      throw new WeftError('WEFT_ECRYPTO', 'the stored snapshot does not open with this space\'s key', { cause: e });
    }
  }

  // ---- status and notifications ----

  #updatePending() {
    const pending = this.#sync ? this.#sync.pending : this.#notDurable;
    if (pending !== this.#status.pending) this.#setStatus({ pending });
  }

  #setStatus(patch) {
    const next = { ...this.#status, ...patch };
    if (this.#sync && patch.pending === undefined) next.pending = this.#sync.pending;
    if (next.state === this.#status.state && next.pending === this.#status.pending) return;
    this.#status = next;
    this.#events.emit('status', { ...next });
  }

  /** Collects touched docs; subscriptions re-run once per microtask. */
  #changed(touched, local) {
    if (!this.#touched) {
      this.#touched = { docs: [], local: false, remote: false };
      queueMicrotask(() => this.#deliver());
    }
    const t = this.#touched;
    for (const d of touched) t.docs.push(d);
    if (local) t.local = true;
    else t.remote = true;
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
  #compact() {
    if (this.#historyBytes < Math.max(this.#historyLimit, 2 * this.#stateBytes)) return;
    const old = this.#rep;
    if (old.pendingCount() || old.txnOps()) return;
    const plain = old.snapshot();
    const fresh = new Replica(this.#core, {
      space: this.#meta.space,
      author: this.#meta.author,
      authorSecret: this.#rights >= RIGHT.WRITE ? this.#meta.authorSecret : null,
      contentKey: this.#meta.contentKey,
    });
    try {
      fresh.loadSnapshot(plain);
    } catch (e) {
      fresh.close();
      reportError(e);
      return;
    } finally {
      plain.fill(0);
    }
    this.#rep = fresh;
    old.close();
    this.#stateBytes = plain.length;
    this.#historyBytes = 0;
    this.#events.emit('compact', { stateBytes: this.#stateBytes });
  }

  #deliver() {
    const t = this.#touched;
    this.#touched = null;
    if (!t || this.#closed) return;
    this.#compact();
    const byColl = new Map();
    for (const [c, d] of t.docs) {
      if (!byColl.has(c)) byColl.set(c, new Set());
      byColl.get(c).add(d);
    }
    this.#events.emit('change', { docs: t.docs, local: t.local, remote: t.remote });
    for (const sub of [...this.#subs]) {
      const ids = byColl.get(sub.coll);
      if (ids) sub.update(ids);
    }
  }
}

/** A named collection of documents inside a space. */
export class Collection {
  #space;
  #in;
  constructor(space, name, internals) {
    this.#space = space;
    this.#in = internals;
    this.name = name;
  }

  /** Replaces the document `id` with `data` (fields not in data are removed). Resolves when durable. */
  put(id, data) {
    return this.#write(() => {
      checkName('a document id', id, 1024);
      checkFields(data);
      return { t: 'put', c: this.name, id, data, replace: true };
    });
  }

  /** Sets the fields given in `patch` (a field set to undefined is deleted); other fields stay. */
  update(id, patch) {
    return this.#write(() => {
      checkName('a document id', id, 1024);
      checkFields(patch);
      return { t: 'update', c: this.name, id, data: patch };
    });
  }

  /** Adds `by` (an integer) to a counter field; concurrent increments add up. */
  increment(id, field, by = 1) {
    return this.#write(() => {
      checkName('a document id', id, 1024);
      checkName('a field name', field, 255);
      if (!Number.isSafeInteger(by)) throw new WeftError('WEFT_EINVAL', 'increment takes a safe integer');
      return { t: 'incr', c: this.name, id, f: field, n: by };
    });
  }

  /** Deletes the document. */
  delete(id) {
    return this.#write(() => {
      checkName('a document id', id, 1024);
      return { t: 'delete', c: this.name, id };
    });
  }

  #write(make) {
    try {
      return this.#in.write(make());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The document's fields, or undefined. Synchronous. */
  get(id) {
    checkName('a document id', id, 1024);
    return this.#in.rep().getDoc(this.name, id);
  }

  /** Every document as { id, data }, in id byte order. */
  list() {
    return this.query({});
  }

  /** Documents matching { where, orderBy, limit }, as [{ id, data }]. Synchronous. */
  query(q = {}) {
    return runQuery(this.#in.rep(), this.name, compileQuery(q));
  }

  /**
   * A live query: calls cb(results) now (in a microtask) and whenever a
   * local or remote change alters its results. Returns an unsubscribe function.
   * subscribe(cb) watches the whole collection.
   */
  subscribe(q, cb) {
    if (typeof q === 'function') [q, cb] = [{}, q];
    if (typeof cb !== 'function') throw new WeftError('WEFT_EINVAL', 'subscribe needs a callback');
    const compiled = compileQuery(q);
    const in_ = this.#in;
    const name = this.name;
    let last = null;
    let active = true;
    const sub = {
      coll: name,
      update(touchedIds) {
        if (!active) return;
        let rows;
        try {
          rows = runQuery(in_.rep(), name, compiled);
        } catch (e) {
          reportError(e);
          return;
        }
        if (last && touchedIds && !changed(last, rows, touchedIds)) return;
        last = rows;
        try {
          cb(rows);
        } catch (e) {
          reportError(e);
        }
      },
    };
    const off = in_.subscribe(sub);
    queueMicrotask(() => sub.update(null));
    return () => {
      active = false;
      off();
    };
  }
}

function changed(prev, next, touched) {
  if (prev.length !== next.length) return true;
  for (let i = 0; i < prev.length; i++) if (prev[i].id !== next[i].id) return true;
  for (const r of next) if (touched.has(r.id)) return true;
  return false;
}

function runQuery(rep, coll, { filter, sort, limit }) {
  const out = [];
  if (limit === 0) return out;
  for (const id of rep.keys(coll)) {
    const data = rep.getDoc(coll, id);
    if (data === undefined || !filter(id, data)) continue;
    out.push({ id, data });
    if (!sort && out.length >= limit) break;
  }
  if (sort) {
    out.sort(sort);
    if (out.length > limit) out.length = limit;
  }
  return out;
}

