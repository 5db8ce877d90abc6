// IndexedDB storage and tab coordination.
//
// Storage: one database per space (`weftdb:<space id>`), four object
// stores: `files` (files.js: uploads waiting for the relay, by 'u:<id>', and
// the index of file references under 'refs'), `meta` (the key material under 'meta', the sealed snapshot under
// 'snapshot'), `records` (change records as they travel — encrypted and
// signed — under an auto-increment key, so load order is arrival order,
// which is causal) and `outbox` (own changes the relay has not acknowledged,
// by seq). Every Store.write is one readwrite transaction with strict
// durability; the space's write promises resolve on its `complete` event,
// which is when the core's changes are durable. A batch that carries a
// snapshot clears `records` in the same transaction, so a crash leaves
// either the old records or the new snapshot, never neither.
//
// Tabs: every tab of one space holds a replica, but only one — the holder
// of the Web Lock `weftdb:<space id>` — commits changes and writes to
// IndexedDB (one author key, one hash chain: two writers would fork it).
// Other tabs send their writes to the leader over a BroadcastChannel, and
// the leader broadcasts every batch it made durable, so every tab converges;
// when the leader closes, a waiting tab takes the lock, catches up from
// IndexedDB and carries on, replaying writes that had no answer yet.
import { WeftError } from './errors.js';
import { encodeValue } from './value.js';
import { concatBytes } from './util.js';

// 2: the `files` store (files.js: uploads waiting for the relay, and the
// index of the file references the state holds).
const VERSION = 2;

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
    tx.onerror = () => reject(tx.error);
  });
}

function idbError(what, e) {
  return new WeftError('WEFT_EUNAVAILABLE', `IndexedDB: ${what}: ${e?.message ?? e}`, { cause: e });
}

/** The IndexedDB storage adapter. opts.name: database name prefix (default 'weftdb'). */
export function indexedDBStorage({ name = 'weftdb' } = {}) {
  return {
    kind: 'indexeddb',
    async open(spaceId) {
      if (typeof indexedDB === 'undefined') throw new WeftError('WEFT_EUNAVAILABLE', 'IndexedDB is not available here (use storage: "memory" or a custom adapter)');
      let db;
      try {
        const open = indexedDB.open(`${name}:${spaceId}`, VERSION);
        open.onupgradeneeded = () => {
          const d = open.result;
          const has = (n) => d.objectStoreNames.contains(n);
          if (!has('meta')) d.createObjectStore('meta');
          if (!has('records')) d.createObjectStore('records', { autoIncrement: true });
          if (!has('outbox')) d.createObjectStore('outbox');
          if (!has('files')) d.createObjectStore('files');
        };
        db = await req(open);
      } catch (e) {
        throw idbError('opening the database', e);
      }
      // Another tab deleting or upgrading the database: let it.
      db.onversionchange = () => db.close();
      return new IdbStore(db, spaceId);
    },
    async delete(spaceId) {
      await req(indexedDB.deleteDatabase(`${name}:${spaceId}`));
    },
  };
}

class IdbStore {
  constructor(db, spaceId) {
    this.db = db;
    this.spaceId = spaceId;
    this.closed = false;
  }

  async loadMeta() {
    try {
      const tx = this.db.transaction('meta', 'readonly');
      return (await req(tx.objectStore('meta').get('meta'))) ?? null;
    } catch (e) {
      throw idbError('reading the space keys', e);
    }
  }

  async load() {
    try {
      const tx = this.db.transaction(['meta', 'records', 'outbox'], 'readonly');
      const meta = tx.objectStore('meta');
      const [m, snapshot, records, outbox] = await Promise.all([
        req(meta.get('meta')),
        req(meta.get('snapshot')),
        req(tx.objectStore('records').getAll()),
        req(tx.objectStore('outbox').getAll()),
      ]);
      return { meta: m ?? null, snapshot: snapshot ?? null, records, outbox };
    } catch (e) {
      throw idbError('loading the space', e);
    }
  }

  async saveMeta(meta, { ifAbsent = false } = {}) {
    try {
      const tx = this.db.transaction('meta', 'readwrite', { durability: 'strict' });
      const st = tx.objectStore('meta');
      let result = meta;
      const existing = ifAbsent ? await req(st.get('meta')) : undefined;
      if (existing) result = existing;
      else st.put(meta, 'meta');
      await done(tx);
      return result;
    } catch (e) {
      throw idbError('saving the space keys', e);
    }
  }

  async write({ records = [], snapshot = null, outbox = [], acked = null }) {
    try {
      const tx = this.db.transaction(['meta', 'records', 'outbox'], 'readwrite', { durability: 'strict' });
      const recs = tx.objectStore('records');
      if (snapshot) {
        recs.clear();
        tx.objectStore('meta').put(snapshot, 'snapshot');
      } else {
        for (const r of records) recs.add(r);
      }
      const ob = tx.objectStore('outbox');
      for (const o of outbox) ob.put(o.record, o.seq);
      if (acked !== null) ob.delete(IDBKeyRange.upperBound(acked));
      await done(tx);
    } catch (e) {
      throw idbError('writing a batch', e);
    }
  }

  /** Files' upload queue and reference index (files.js): [[key, value]]. */
  async loadFiles() {
    try {
      const tx = this.db.transaction('files', 'readonly');
      const st = tx.objectStore('files');
      const [keys, values] = await Promise.all([req(st.getAllKeys()), req(st.getAll())]);
      return keys.map((k, i) => [k, values[i]]);
    } catch (e) {
      throw idbError('loading the file queue', e);
    }
  }

  async putFile(key, value) {
    try {
      const tx = this.db.transaction('files', 'readwrite', { durability: 'strict' });
      tx.objectStore('files').put(value, key);
      await done(tx);
    } catch (e) {
      throw idbError('queueing a file', e);
    }
  }

  async deleteFile(key) {
    try {
      const tx = this.db.transaction('files', 'readwrite', { durability: 'strict' });
      tx.objectStore('files').delete(key);
      await done(tx);
    } catch (e) {
      throw idbError('dequeueing a file', e);
    }
  }

  close() {
    if (!this.closed) this.db.close();
    this.closed = true;
  }
}

// ---- tabs ----

/**
 * What tab coordination needs from its space.
 * @typedef {object} TabPort
 * @property {string} id the space id (names the lock and the channel)
 * @property {import('./presence.js').Presence | null} presence
 * @property {() => { state: string, pending: number }} status the space's status now
 * @property {(name: string, fn: Function) => () => void} on the space's 'durable' and 'status' events
 * @property {(name: string, arg?: unknown) => void} emit the space's 'leader' event
 * @property {() => Promise<object>} readStore what the store holds ({ snapshot, records, outbox })
 * @property {(loaded: object) => void} load loads what the store held into the replica
 * @property {(loaded: object) => void} loadBase loads it into a fresh replica after the leader joined from a snapshot, telling live queries
 * @property {() => boolean} isEmpty the replica holds nothing yet
 * @property {(ops: import('./ops.js').Op[]) => { record: Uint8Array | null, durable: Promise<void> }} exec commits a follower's ops here (throws when they fail)
 * @property {(buf: Uint8Array, persist: boolean) => object} applyRemote merges records (persist false: the leader stored them)
 * @property {(patch: { state?: string, pending?: number }) => void} setStatus
 * @property {(outbox: Uint8Array[]) => void} setLoadedOutbox the outbox a relay link takes over when this tab leads
 * @property {(fn: () => Promise<void>) => void} setCloseHook runs on the space's close
 * @property {(w: { exec(ops: import('./ops.js').Op[]): Promise<void>, forwarded(coll: string, doc: string, field: string): import('./ops.js').SpliceOp[], pendingOps(coll: string, doc: string, field: string): import('./ops.js').Op[] } | null) => void} setWriter forwards this tab's writes (null: this tab commits them)
 */

/**
 * Loads the space and makes it the leader or a follower of its tabs.
 * Called by openSpace/createSpace for IndexedDB spaces.
 * @param {TabPort} port
 */
export async function coordinateTabs(port, preloaded) {
  const locks = globalThis.navigator?.locks;
  if (!locks || typeof BroadcastChannel === 'undefined') {
    // No way to coordinate: one tab at a time is the app's to ensure.
    port.load(preloaded.lazy ? await port.readStore() : preloaded);
    return;
  }
  const id = port.id;
  const channel = new BroadcastChannel(`weftdb:${id}`);
  const tab = Math.random().toString(36).slice(2);
  const early = [];
  let onMessage = (m) => early.push(m);
  channel.onmessage = (ev) => onMessage(ev.data);

  // Leadership: the lock is held until release() (on close).
  let release;
  const held = new Promise((r) => (release = r));
  const abort = new AbortController();
  let leader = false;
  let promoted;
  const becameLeader = new Promise((r) => (promoted = r));
  const granted = await new Promise((resolveFirst) => {
    locks
      .request(`weftdb:${id}`, { ifAvailable: true }, async (lock) => {
        resolveFirst(!!lock);
        if (lock) await held;
      })
      .catch(() => resolveFirst(false));
  });
  if (granted) leader = true;
  else {
    locks
      .request(`weftdb:${id}`, { signal: abort.signal }, async () => {
        promoted();
        await held;
      })
      .catch(() => {}); // aborted on close
  }

  const outstanding = new Map(); // follower: request id -> { ops, resolve, reject, landed }
  let basing = null; // follower: records that arrived while a joined base loads
  let closed = false;
  let stopLeader = null;
  const close = async () => {
    closed = true;
    abort.abort();
    stopLeader?.();
    channel.close();
    release();
    for (const o of outstanding.values()) o.reject(new WeftError('WEFT_ESTATE', 'the space was closed before the write was confirmed'));
    outstanding.clear();
  };
  // Hooked before anything can fail, so a failed open still lets the lock go.
  port.setCloseHook(close);

  // Load after the channel is open and the role is known, so nothing a
  // leader writes from here on can be missed.
  port.load(await port.readStore());

  const leaderHandlers = () => {
    // A follower's change goes out with its request's id: the follower
    // stops counting that write as on its way in the same step as it
    // merges it (its anchors would count it twice in between).
    const fromFollower = new WeakMap(); // record -> request id
    const offDurable = port.on('durable', (records) => {
      if (!records.length) return;
      const landed = [];
      for (const r of records) if (fromFollower.has(r)) landed.push(fromFollower.get(r));
      channel.postMessage({ t: 'records', data: concatBytes(records), landed });
    });
    // Joined from the relay's snapshot: followers load it from the store.
    const offBase = port.on('durable-base', () => channel.postMessage({ t: 'base' }));
    const offStatus = port.on('status', (status) => channel.postMessage({ t: 'status', status }));
    // Presence: followers see the leader's list and set this tab's state.
    const presence = port.presence;
    presence?._follow(null);
    const offPresence = presence?.on((peers) => channel.postMessage({ t: 'presence', peers }));
    onMessage = async (m) => {
      // A tab that just joined asks for the link's status.
      if (m.t === 'hello') {
        channel.postMessage({ t: 'status', status: port.status() });
        if (presence) channel.postMessage({ t: 'presence', peers: presence.peers });
      }
      if (m.t === 'presence-set') {
        try {
          presence?.set(m.state);
        } catch {
          // closed meanwhile
        }
        return;
      }
      if (m.t !== 'exec') return;
      let reply;
      try {
        const { record, durable } = port.exec(m.ops);
        if (record) fromFollower.set(record, m.id);
        await durable;
        reply = { t: 'done', id: m.id, to: m.from };
      } catch (e) {
        reply = { t: 'done', id: m.id, to: m.from, error: { code: e.code ?? 'WEFT_EINVAL', message: e.message } };
      }
      if (!closed) channel.postMessage(reply);
    };
    channel.postMessage({ t: 'leader' });
    return () => {
      offDurable();
      offBase();
      offStatus();
      offPresence?.();
    };
  };

  if (leader) {
    stopLeader = leaderHandlers();
  } else {
    port.presence?._follow((state) => channel.postMessage({ t: 'presence-set', state }));
    port.setWriter({
      /** This tab's splices of one text on their way to the leader, in order (Text.anchor counts them). */
      forwarded(coll, doc, field) {
        const out = [];
        for (const o of outstanding.values())
          if (!o.landed) for (const op of o.ops) if (op.t === 'splice' && op.c === coll && op.id === doc && op.f === field) out.push(op);
        return out;
      },
      /** This tab's splices and formats of one text on their way to the leader, in order (bindings show them). */
      pendingOps(coll, doc, field) {
        const out = [];
        for (const o of outstanding.values())
          if (!o.landed) for (const op of o.ops) if ((op.t === 'splice' || op.t === 'format') && op.c === coll && op.id === doc && op.f === field) out.push(op);
        return out;
      },
      exec(ops) {
        // Check values here, so a bad one fails with the leader's error
        // (WEFT_EINVAL) rather than as a DataCloneError of the channel.
        try {
          for (const op of ops) if (op.data) for (const k of Object.keys(op.data)) if (op.data[k] !== undefined) encodeValue(op.data[k]);
        } catch (e) {
          return Promise.reject(e);
        }
        return new Promise((resolve, reject) => {
          const rid = `${tab}:${Math.random().toString(36).slice(2)}`;
          outstanding.set(rid, { ops, resolve, reject });
          channel.postMessage({ t: 'exec', id: rid, from: tab, ops });
        });
      },
    });
    onMessage = (m) => {
      switch (m.t) {
        case 'records':
          for (const rid of m.landed ?? []) {
            const o = outstanding.get(rid);
            if (o) o.landed = true;
          }
          if (basing) basing.push(m.data);
          else port.applyRemote(m.data, false);
          break;
        case 'base': {
          // Records broadcast while the store is read wait for the base.
          if (basing) break;
          basing = [];
          const done = () => {
            const queued = basing;
            basing = null;
            if (!closed) for (const d of queued) port.applyRemote(d, false);
          };
          port.readStore().then((loaded) => {
            if (!closed) port.loadBase(loaded);
            done();
          }, done);
          break;
        }
        case 'done': {
          if (m.to !== tab) return;
          const o = outstanding.get(m.id);
          if (!o) return;
          outstanding.delete(m.id);
          if (m.error) o.reject(new WeftError(m.error.code, m.error.message));
          else o.resolve();
          break;
        }
        case 'leader':
          for (const [rid, o] of outstanding) channel.postMessage({ t: 'exec', id: rid, from: tab, ops: o.ops });
          break;
        case 'status':
          port.setStatus(m.status);
          break;
        case 'presence':
          port.presence?._mirror(m.peers);
          break;
      }
    };
    becameLeader.then(async () => {
      if (closed) return;
      // Catch up on whatever the old leader wrote, then take over.
      const loaded = await port.readStore();
      if (closed) return;
      const chunks = [...loaded.records, ...loaded.outbox];
      // The old leader joined from a snapshot this tab never loaded.
      if (loaded.snapshot && port.isEmpty()) port.loadBase(loaded);
      else if (chunks.length) port.applyRemote(concatBytes(chunks), false);
      port.setLoadedOutbox(loaded.outbox);
      port.setWriter(null);
      leader = true;
      stopLeader = leaderHandlers();
      const pending = [...outstanding.values()];
      outstanding.clear();
      for (const o of pending) {
        try {
          port.exec(o.ops).durable.then(o.resolve, o.reject);
        } catch (e) {
          o.reject(e);
        }
      }
      port.emit('leader', true);
    });
  }
  for (const m of early) onMessage(m);
  if (!leader) channel.postMessage({ t: 'hello' });
}
