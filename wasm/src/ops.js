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
  try {
    for (const op of ops) runOp(rep, op);
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

function runOp(rep, op) {
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

export class Changes {
  #h;
  #txn = null;
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
    try {
      this.#h.checkOpen();
      this.#h.checkWrite();
      if (typeof fn !== 'function') throw new WeftError('WEFT_EINVAL', 'transact takes a function');
      if (this.#txn) throw new WeftError('WEFT_ESTATE', 'transactions do not nest');
      const ops = [];
      let result;
      this.#txn = ops;
      try {
        result = fn(arg);
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

  /** One op from a Collection or a Text: queued in the transaction (undefined) or run now (a promise of durability). */
  write(op) {
    this.#h.checkOpen();
    this.#h.checkWrite();
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
    const rep = h.rep();
    const record = commitOps(rep, ops, Date.now());
    if (!record) return { record: null, durable: Promise.resolve() };
    const touched = rep.touched();
    if (h.texts.size) h.texts.dispatch(rep.textEvents(), true, loneSplice(ops), touched);
    h.persist.addHistory(record.length);
    const sync = h.sync();
    const seq = sync ? h.core.splitRecords(record)[0].seq : 0;
    const durable = h.persist.persist([record], sync ? [{ seq, record }] : []);
    h.subs.changed(touched, true);
    sync?.sendLocal(record, seq);
    h.emit('commit', record);
    return { record, durable };
  }

  /**
   * Merges records from elsewhere (relay, a peer, another tab, the app).
   * Each record is applied on its own so the ones merged or parked (not
   * duplicates, not refused) are the ones stored (persist: false for those
   * another tab stored already). Returns { applied, rejected, durable, kept }.
   */
  applyRemote(buf, persist = true) {
    const h = this.#h;
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
