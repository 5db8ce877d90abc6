// Changes is a space's write path. Writes made outside transact gather in
// the open change: each op is encoded at once into one growing buffer in
// the core's op format (weft_replica_write_ops, weft/replica.h), and the
// whole buffer crosses into the core in ONE call when the change commits
// (at the end of the task, or before a read that needs it). Names and
// values are checked there, once. Text splices join the open change too
// (wdb_text_edit): the text shows each at once, and a change holding only
// text edits stays open for a short window (TEXT_WINDOW_MS) so keystrokes
// share one signed change. commitOps (ops.js) runs a transaction's ops the same way.
// Records from elsewhere take the same way out through applyRemote, after
// the open change is committed (commit, then apply).
import { decodeAnchor } from './anchor.js';
import { WeftError } from './errors.js';
import { Writer } from './value.js';
import { encodeOp, commitOps, applyRecords, loneSplice, opAt, relabel, rangeError } from './ops.js';

/**
 * How long a change holding only text edits stays open (ms), and how many
 * edits it takes at most: keystrokes in that window share one signed
 * change (docs/API.md, "Text edits share a change too"). Chosen from measurements
 * (bench/text_window.mjs).
 */
export const TEXT_WINDOW_MS = 100;
export const TEXT_MAX_EDITS = 1000;
const DOCS_TRACKED = 1000;

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
  /**
   * The open change's op buffer: ops encoded as they are written, handed to
   * the core in one call (#submit). Reused from change to change.
   */
  #w = new Writer(1 << 12);
  /** Each op's promise joins the open change through this (no closure per op). */
  #enlist = (resolve, reject) => {
    this.#batch.res.push(resolve);
    this.#batch.rej.push(reject);
  };
  #hide = () => this.settle();
  /** Set by a tab coordinator (idb.js) in follower tabs: { exec(ops) } forwards writes to the leader. */
  writer = null;
  /** Whether the last write() was refused at once (undo.js captures only writes made). */
  refused = false;
  /** ms a change of text edits only stays open, and the most edits it takes. */
  textWindow = TEXT_WINDOW_MS;
  textMaxEdits = TEXT_MAX_EDITS;

  /**
   * @param {ChangeHost} host
   * @param {number} [textWindow] ms a change of text edits only stays open (TEXT_WINDOW_MS)
   */
  constructor(host, textWindow = TEXT_WINDOW_MS) {
    this.#h = host;
    if (!(Number.isFinite(textWindow) && textWindow >= 0)) throw new WeftError('WEFT_EINVAL', 'textWindow must be milliseconds >= 0');
    this.textWindow = textWindow;
    // A page being hidden or left may never run its timers again: the
    // open window of text edits is committed first.
    globalThis.addEventListener?.('blur', this.#hide);
    globalThis.addEventListener?.('pagehide', this.#hide);
    globalThis.document?.addEventListener?.('visibilitychange', this.#hide);
  }

  /** Stops listening to the page (the space closed). */
  detach() {
    globalThis.removeEventListener?.('blur', this.#hide);
    globalThis.removeEventListener?.('pagehide', this.#hide);
    globalThis.document?.removeEventListener?.('visibilitychange', this.#hide);
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
    this.refused = false;
    try {
      this.#h.checkOpen();
      this.#h.checkWrite();
    } catch (e) {
      this.refused = true;
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
    try {
      return op.t === 'splice' ? this.#edit(op, true) : this.#join(op);
    } catch (e) {
      this.refused = true;
      return Promise.reject(e);
    }
  }

  /**
   * The open change, opened if there is none: { res, rej: each op's
   * promise, ops: the ops (for error messages), starts: each op's offset in #w, counts: its core ops, sent:
   * ops handed to the core already, docs, colls: what the ops (not text
   * edits) wrote, edits: text edits joined, textDone: their promise, micro,
   * timer: what will commit it }.
   */
  #open() {
    return (this.#batch ??= { res: [], rej: [], ops: [], starts: [], counts: [], sent: 0, docs: new Set(), colls: new Set(), edits: 0, textDone: null, micro: false, timer: null });
  }

  /** Encodes op into the open change; it reaches the core when the change commits. */
  #join(op) {
    const w = this.#w;
    const start = w.len;
    const n = encodeOp(w, op); // a value that cannot be encoded throws: this write alone rejects
    const b = this.#open();
    b.starts.push(start);
    b.counts.push(n);
    b.ops.push(op);
    // The documents written, so that reads of others leave the change open;
    // past DOCS_TRACKED a read of any document of a collection it wrote
    // commits it (a bulk write does not pay for a set of every id).
    if (b.docs) {
      if (b.docs.size < DOCS_TRACKED) b.docs.add(op.c + '\0' + op.id);
      else b.docs = null;
    }
    b.colls.add(op.c);
    if (!b.micro) {
      b.micro = true;
      clearTimeout(b.timer);
      queueMicrotask(() => this.#batch === b && this.settle());
    }
    return new Promise(this.#enlist);
  }

  /**
   * Hands the open change's ops not yet in the core to it, in one call. When
   * the core refuses op k (bad name, key or value), the buffer joined
   * nothing: op k's write rejects alone and the others are handed over
   * again without it (the rare path).
   */
  #submit(b, rep) {
    const w = this.#w;
    const res = {};
    while (b.sent < b.starts.length) {
      const from = b.starts[b.sent];
      const at = rep.writeOps(w.buf.subarray(from, w.len), w.len - from, res);
      if (at < 0) {
        b.sent = b.starts.length;
        return;
      }
      const i = opAt(b.counts, b.sent, at);
      if (i >= b.starts.length) throw res.error; // not one op's fault (WEFT_ENOMEM)
      // Cut op i out of the buffer and fail its write alone.
      const end = i + 1 < b.starts.length ? b.starts[i + 1] : w.len;
      w.buf.copyWithin(b.starts[i], end, w.len);
      w.len -= end - b.starts[i];
      for (let j = i + 1; j < b.starts.length; j++) b.starts[j] -= end - b.starts[i];
      b.counts[i] = 0;
      b.rej[i](relabel(res.error, b.ops[i]));
      b.res[i] = b.rej[i] = null;
    }
  }

  /**
   * A text splice joining the open change: the text shows it at once, and
   * its observers hear it at once. A change of text edits only commits when
   * its window closes (textWindow ms, textMaxEdits edits), or before
   * anything that must see it committed. retry: commit and edit again when
   * the open change writes the field other than by text edits.
   */
  #edit(op, retry) {
    const h = this.#h;
    const rep = h.rep();
    const b = this.#open();
    let record;
    try {
      this.#submit(b, rep); // the writes before it reach the core first, in order
      record = rep.textEdit(op.c, op.id, op.f, op.pos, op.del, op.text, Date.now(), op.at ? decodeAnchor(op.at).bytes : null);
    } catch (e) {
      if (this.#batch === b && !b.starts.length && !b.edits) this.#batch = null;
      if (e.code === 'WEFT_EINVAL') throw rangeError(rep, op, e);
      if (!(retry && e.code === 'WEFT_ESTATE')) throw e;
      this.settle();
      return this.#edit(op, false);
    }
    if (record) {
      // The edit turned a string into a text, which commits the whole open change at once.
      this.#batch = null;
      clearTimeout(b.timer);
      this.#w.len = 0;
      return this.#done(b, this.#committed(rep, record, op));
    }
    b.edits++;
    h.subs.docs.invalidate([[op.c, op.id]]);
    if (h.texts.size) h.texts.dispatch([], true, op, [[op.c, op.id]]);
    b.textDone ??= deferred();
    const p = b.textDone.promise;
    if (b.edits >= this.textMaxEdits) this.settle();
    else if (!b.micro && !b.timer) b.timer = setTimeout(() => this.#batch === b && this.settle(), this.textWindow);
    return p;
  }

  /** Settles every write of change b when `durable` does; returns it. */
  #done(b, durable) {
    durable.then(
      () => {
        for (const r of b.res) r?.();
        b.textDone?.resolve();
      },
      (e) => {
        for (const r of b.rej) r?.(e);
        b.textDone?.reject(e);
      },
    );
    return durable;
  }

  /**
   * Commits the open change, if any: at the end of the task that opened it
   * (a microtask), when a text window closes, and before anything that must
   * see it committed: a read of a document it wrote, transact, a remote
   * change, a sync send, flush and close.
   */
  settle() {
    const b = this.#batch;
    if (!b) return;
    this.#batch = null;
    clearTimeout(b.timer);
    const rep = this.#h.rep();
    let durable;
    try {
      this.#submit(b, rep);
      if (rep.txnOps() === 0) durable = Promise.resolve();
      else {
        let record;
        try {
          record = rep.commit(Date.now());
        } catch (e) {
          rep.rollback(); // refused when it holds text edits: they stay, for the next commit
          throw e;
        }
        durable = this.#committed(rep, record, null);
      }
    } catch (e) {
      durable = Promise.reject(e);
      durable.catch(() => {});
    } finally {
      this.#w.len = 0;
    }
    this.#done(b, durable).catch(() => {});
  }

  /** Commits the open change if a read of `coll` (document `id`, or any) would see it. */
  beforeRead(coll, id) {
    const b = this.#batch;
    if (b && (coll === undefined || (b.colls.has(coll) && (id === undefined || !b.docs || b.docs.has(coll + '\0' + id))))) this.settle();
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
