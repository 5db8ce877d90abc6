// The two ways changes reach a replica: ops, the writes an app makes (put,
// update, increment, delete, a text splice) as small plain objects, and
// change records from elsewhere (applyRecords). Collection and Text make them, the space
// queues them in a transaction or runs them at once, and a follower tab
// posts them to the leader tab over its BroadcastChannel (idb.js), which is
// why they stay plain, structured-clonable data with short field names: a
// tab still running an older weftdb may be the leader that reads them.
// Nothing stores ops: the store and the sync outbox hold the change records
// they commit to.
//
// Changes is a space's write path: a write is queued in the open transaction
// or run at once (here in the leader tab, or forwarded by the tab
// coordinator), commitOps runs the ops in the replica, and execLocal then
// tells the text observers, persistence, live queries and the relay link.
// Records from elsewhere take the same way out through applyRemote.
// commitOps is the one place ops reach the replica, so a faster write path
// (several ops in one WASM call) changes that function and little else.
import { WeftError } from './errors.js';
import { encodeValue, mapKeys } from './value.js';

/**
 * Replaces document `id` of collection `c` with `data`: the fields `data`
 * lacks are deleted, the others set. (`replace` is always true; older tabs
 * send it too, and it is not read.)
 * @typedef {{ t: 'put', c: string, id: string, data: Record<string, unknown>, replace?: true }} PutOp
 */
/**
 * Sets the fields of `data` in document `id` of collection `c`; a field set
 * to undefined is deleted, the others stay.
 * @typedef {{ t: 'update', c: string, id: string, data: Record<string, unknown> }} UpdateOp
 */
/**
 * Deletes document `id` of collection `c`.
 * @typedef {{ t: 'delete', c: string, id: string }} DeleteOp
 */
/**
 * Adds `n` (a safe integer) to counter field `f` of document `id` in `c`.
 * @typedef {{ t: 'incr', c: string, id: string, f: string, n: number }} IncrOp
 */
/**
 * Replaces `del` UTF-16 code units at `pos` of text field `f` (document
 * `id`, collection `c`) with `text`. Always a change of its own.
 * @typedef {{ t: 'splice', c: string, id: string, f: string, pos: number, del: number, text: string }} SpliceOp
 */
/** @typedef {PutOp | UpdateOp | DeleteOp | IncrOp | SpliceOp} Op */

/** The op when `ops` is one text splice (which commits on its own), else null. */
export function loneSplice(ops) {
  return ops.length === 1 && ops[0].t === 'splice' ? ops[0] : null;
}

/**
 * Runs `ops` in `rep` and commits them as one change stamped `now` (ms).
 * Returns the change record, or null when the ops changed nothing. On an
 * error the replica's open transaction is rolled back and the error thrown.
 * @param {import('./replica.js').Replica} rep
 * @param {Op[]} ops
 * @param {number} now
 * @returns {Uint8Array | null}
 */
export function commitOps(rep, ops, now) {
  const splice = loneSplice(ops);
  // A text edit commits itself (it cannot wait in a transaction).
  if (splice) return rep.textSplice(splice.c, splice.id, splice.f, splice.pos, splice.del, splice.text, now) || null;
  const written = new Map(); // doc -> fields earlier ops wrote (a later put of it deletes them too)
  try {
    for (const op of ops) {
      const fields = encodeFields(op);
      const key = op.c + '\0' + op.id;
      let w = written.get(key);
      runOp(rep, op, fields, w);
      if (!w) written.set(key, (w = new Set()));
      if (fields) for (const [k] of fields) w.add(k);
      else if (op.t === 'incr') w.add(op.f);
    }
  } catch (e) {
    rep.rollback();
    throw e;
  }
  if (rep.txnOps() === 0) return null;
  try {
    return rep.commit(now);
  } catch (e) {
    rep.rollback();
    throw e;
  }
}

/**
 * Runs one op in the replica's open transaction. fields: encodeFields(op);
 * written: the fields of the document earlier ops of the same open change
 * wrote (a put deletes those too: the replica does not show them yet).
 */
function runOp(rep, op, fields = encodeFields(op), written = undefined) {
  switch (op.t) {
    case 'put': {
      // Replace at field level: delete the visible fields the new data
      // lacks (a concurrent write to another field still merges, and a
      // new document costs no tombstone), then set every given field.
      const cur = rep.getDocBytes(op.c, op.id, false);
      const gone = new Set();
      if (cur) for (const k of mapKeys(cur)) if (op.data[k] === undefined) gone.add(k);
      if (written) for (const k of written) if (op.data[k] === undefined) gone.add(k);
      for (const k of gone) rep.deleteField(op.c, op.id, k);
      for (const [k, v] of fields) rep.put(op.c, op.id, k, v);
      break;
    }
    case 'update':
      for (const [k, v] of fields) {
        if (v === undefined) rep.deleteField(op.c, op.id, k);
        else rep.put(op.c, op.id, k, v);
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
 * Merges concatenated change records from elsewhere into `rep`, each on its
 * own so the ones merged or parked (not duplicates, not refused) are known.
 * keep: return copies of those (to store them); texts: collect the core's
 * text events (null once some were lost).
 * @returns {{ applied: number, rejected: number, firstError: number, kept: Uint8Array[], touched: [string, string][], textEvents: object[] | null, bytes: number }}
 */
export function applyRecords(core, rep, buf, keep, texts) {
  const out = { applied: 0, rejected: 0, firstError: 0, kept: [], touched: [], textEvents: [], bytes: 0 };
  for (const { record } of core.splitRecords(buf)) {
    const res = rep.apply(record);
    if (res.applied) out.touched.push(...rep.touched());
    if (texts && res.applied && out.textEvents) {
      const ev = rep.textEvents();
      if (ev) out.textEvents.push(...ev);
      else out.textEvents = null;
    }
    if (res.applied || res.pending) {
      if (keep) out.kept.push(record.slice());
      out.bytes += record.length;
    }
    out.applied += res.applied;
    out.rejected += res.rejected;
    if (res.rejected && !out.firstError) out.firstError = res.firstError;
  }
  return out;
}

/**
 * What the write path needs from its space.
 * @typedef {object} ChangeHost
 * @property {import('./core.js').Core} core
 * @property {() => import('./replica.js').Replica} rep the replica now
 * @property {() => void} checkOpen throws WEFT_ESTATE once the space is closing
 * @property {() => void} checkWrite throws WEFT_ERIGHTS on a read-only device
 * @property {import('./text.js').TextObservers} texts
 * @property {import('./persist.js').Persistence} persist
 * @property {import('./collection.js').Subscriptions} subs
 * @property {() => ({ sendLocal(record: Uint8Array, seq: number): void } | null)} sync the relay link, if any
 * @property {(name: string, arg?: unknown) => void} emit the space's 'commit' and 'error' events
 */

/** A promise that rejects with `e` and is marked handled (the same error reaches the app through another promise). */
function quietReject(e) {
  const p = Promise.reject(e);
  p.catch(() => {});
  return p;
}

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * The values of an op's fields, encoded (so a bad value fails before the op
 * reaches the replica): [[field, bytes | undefined], ...].
 */
function encodeFields(op) {
  if (op.t !== 'put' && op.t !== 'update') return null;
  const out = [];
  for (const k of Object.keys(op.data)) {
    const v = op.data[k];
    if (op.t === 'put' && v === undefined) continue;
    out.push([k, v === undefined ? undefined : encodeValue(v)]);
  }
  return out;
}

export class Changes {
  #h;
  #txn = null;
  /**
   * The open change of writes made outside transact (the leader tab only):
   * { ops, docs: Set of coll + '\0' + id, colls: Set, fields: Map of doc
   * key to the fields written, done: deferred }. Its ops are in the
   * replica's open transaction already; settle() commits them.
   */
  #batch = null;
  /** Set by a tab coordinator (idb.js) in follower tabs: { exec(ops) } forwards writes to the leader. */
  writer = null;

  /** @param {ChangeHost} host */
  constructor(host) {
    this.#h = host;
  }

  get inTxn() {
    return !!this.#txn;
  }

  /** Space.transact: runs fn(arg), its writes as one change. */
  transact(fn, arg) {
    let txn = null;
    try {
      this.#h.checkOpen();
      this.#h.checkWrite();
      if (typeof fn !== 'function') throw new WeftError('WEFT_EINVAL', 'transact takes a function');
      if (this.#txn) throw new WeftError('WEFT_ESTATE', 'transactions do not nest');
      this.settle(); // the writes before it are a change of their own, committed first
      txn = { ops: [], error: null, done: deferred(), writes: null };
      txn.done.promise.catch(() => {}); // transact's own promise reports the error
      // What each write inside returns: handled (transact's promise reports a failure).
      txn.writes = txn.done.promise.then(() => undefined);
      txn.writes.catch(() => {});
      let result;
      this.#txn = txn;
      try {
        result = fn(arg);
      } finally {
        this.#txn = null;
      }
      if (result && typeof result.then === 'function' && result !== txn.writes) // `() => c.put(...)` is fine
        throw new WeftError('WEFT_EINVAL', 'transact takes a synchronous function (its writes must all happen before it returns)');
      if (txn.error) throw txn.error;
      this.#exec(txn.ops).then(txn.done.resolve, txn.done.reject);
      return txn.done.promise.then(() => result);
    } catch (e) {
      txn?.done.reject(e); // every write made inside rejects too
      return Promise.reject(e);
    }
  }

  /**
   * A write that failed before it became an op (bad arguments): inside
   * transact it fails the whole transaction (the promise returned is
   * handled: transact's carries the error), outside it rejects alone.
   */
  fail(e) {
    if (!this.#txn) return Promise.reject(e);
    this.#txn.error ??= e;
    return quietReject(e);
  }

  /**
   * One op from a Collection or a Text. Inside transact it is queued and
   * its promise is the transaction's; outside, it joins the open change
   * (or opens one, committed in a microtask). Resolves when durable.
   */
  write(op) {
    try {
      this.#h.checkOpen();
      this.#h.checkWrite();
    } catch (e) {
      return this.fail(e);
    }
    const txn = this.#txn;
    if (txn) {
      if (op.t === 'splice') {
        const e = new WeftError('WEFT_ESTATE', 'text edits commit on their own: make them outside transact()');
        txn.error ??= e;
        throw e;
      }
      txn.ops.push(op);
      return txn.writes;
    }
    if (this.writer) return this.writer.exec([op]);
    if (op.t === 'splice') {
      // The core cannot hold a text edit in an open change yet: close the
      // open one first so the order of writes is kept.
      this.settle();
      return this.#exec([op]);
    }
    try {
      return this.#join(op);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Runs op in the replica's open transaction as part of the open change. */
  #join(op) {
    const fields = encodeFields(op); // throws before the replica sees anything
    const rep = this.#h.rep();
    let b = this.#batch;
    if (!b) {
      b = this.#batch = { ops: [], docs: new Set(), colls: new Set(), fields: new Map(), done: deferred() };
      queueMicrotask(() => this.settle());
    }
    const key = op.c + '\0' + op.id;
    try {
      runOp(rep, op, fields, b.fields.get(key));
    } catch (e) {
      // The op may be half in the replica's transaction: drop it all and
      // run again the ops of the change that succeeded.
      rep.rollback();
      try {
        for (const o of b.ops) runOp(rep, o, encodeFields(o), undefined);
      } catch (e2) {
        this.#batch = null;
        rep.rollback();
        b.done.reject(e2);
      }
      throw e;
    }
    b.ops.push(op);
    b.docs.add(key);
    b.colls.add(op.c);
    let f = b.fields.get(key);
    if (!f) b.fields.set(key, (f = new Set()));
    if (fields) for (const [k] of fields) f.add(k);
    else if (op.t === 'incr') f.add(op.f);
    return b.done.promise;
  }

  /**
   * Commits the open change, if any. Called at the end of the task that
   * opened it (a microtask), and before anything that must see it
   * committed: a read of a document it wrote, transact, a text edit, a
   * remote change, a sync send, flush and close.
   */
  settle() {
    const b = this.#batch;
    if (!b) return;
    this.#batch = null;
    const rep = this.#h.rep();
    try {
      if (rep.txnOps() === 0) return b.done.resolve();
      let record;
      try {
        record = rep.commit(Date.now());
      } catch (e) {
        rep.rollback();
        throw e;
      }
      this.#committed(rep, record, null).then(b.done.resolve, b.done.reject);
    } catch (e) {
      b.done.reject(e);
    }
  }

  /** Commits the open change if a read of `coll` (document `id`, or any) would see it. */
  beforeRead(coll, id) {
    const b = this.#batch;
    if (b && (coll === undefined || (id === undefined ? b.colls.has(coll) : b.docs.has(coll + '\0' + id)))) this.settle();
  }

  /** Runs ops as one change: here in the leader, or through the tab coordinator. */
  #exec(ops) {
    if (this.writer) return this.writer.exec(ops);
    try {
      return this.execLocal(ops).durable;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Runs ops in the replica and commits them. Returns { record, durable }. */
  execLocal(ops) {
    const h = this.#h;
    h.checkOpen();
    this.settle();
    const rep = h.rep();
    const record = commitOps(rep, ops, Date.now());
    if (!record) return { record: null, durable: Promise.resolve() };
    return { record, durable: this.#committed(rep, record, loneSplice(ops)) };
  }

  /** After a local commit: text observers, storage, live queries, the relay. Returns durability. */
  #committed(rep, record, splice) {
    const h = this.#h;
    const touched = rep.touched();
    if (h.texts.size) h.texts.dispatch(rep.textEvents(), true, splice, touched);
    h.persist.addHistory(record.length);
    const sync = h.sync();
    const seq = sync ? h.core.splitRecords(record)[0].seq : 0;
    const durable = h.persist.persist([record], sync ? [{ seq, record }] : []);
    h.subs.changed(touched, true);
    sync?.sendLocal(record, seq);
    h.emit('commit', record);
    return durable;
  }

  /**
   * Merges records from elsewhere (relay, a peer, another tab, the app).
   * The open change is committed first (commit, then apply). Each record
   * is applied on its own so the ones merged or parked (not duplicates,
   * not refused) are the ones stored (persist: false for those another tab
   * stored already). Returns { applied, rejected, durable, kept }.
   */
  applyRemote(buf, persist = true) {
    const h = this.#h;
    this.settle();
    const watching = h.texts.size > 0;
    const r = applyRecords(h.core, h.rep(), buf, persist, watching);
    h.persist.addHistory(r.bytes);
    const durable = r.kept.length ? h.persist.persist(r.kept, []) : Promise.resolve();
    if (r.touched.length) h.subs.changed(r.touched, false);
    if (watching && r.touched.length) h.texts.dispatch(r.textEvents, false, null, r.touched);
    if (r.rejected) h.emit('error', WeftError.fromCode(r.firstError, `${r.rejected} incoming change(s) refused`));
    return { applied: r.applied, rejected: r.rejected, durable, kept: r.kept };
  }
}
