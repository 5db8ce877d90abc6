// Changes is a space's write path. Writes made outside transact gather in
// the open change: each is encoded at once into one growing buffer in the
// core's op format (opwriter.js: no object per write, names checked once
// per distinct name), and the whole buffer crosses into the core in ONE
// call when the change commits (at the end of the task, or before a read
// that needs it). Every write of the open change returns the same promise,
// the change's; a bad write throws while it is encoded and rejects alone.
// A transaction's writes are encoded the same way into a buffer of their
// own, committed when its function returns. List edits (list.js) do not go
// through the op buffer: outside transact one commits a change of its own,
// after the open one; inside, they are kept as ops and go in after the
// transaction's buffer (commitBuffer, ops.js). Text splices join the open change too
// (wdb_text_edit): the text shows each at once, and a change holding only
// text edits stays open for a short window (TEXT_WINDOW_MS) so keystrokes
// share one signed change. commitOps (ops.js) runs a transaction's ops the same way.
// Records from elsewhere take the same way out through applyRemote, after
// the open change is committed (commit, then apply).
import { decodeAnchor } from './anchor.js';
import { WeftError } from './errors.js';
import { ERRORS } from './constants.js';
import { OpWriter, labelled } from './opwriter.js';
import { commitOps, commitBuffer, applyRecords, loneTextEdit, rangeError, formatMarks } from './ops.js';

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
  /** The open change of writes made outside transact (the leader tab only): see #open. */
  #batch = null;
  /**
   * The open change's op buffer: writes encoded as they are made, handed to
   * the core in one call (#submit). Reused from change to change.
   */
  #w = new OpWriter(1 << 12);
  /** A transaction's op buffer (the leader's), reused too. */
  #tw = new OpWriter(1 << 12);
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
      // The leader encodes the writes as they are made; a follower tab
      // collects them as ops for the leader (writer.exec).
      txn = { w: this.writer ? null : this.#tw, ops: [], lists: [], error: null, done: deferred(), writes: null };
      txn.w?.reset();
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
      this.#execTxn(txn).then(txn.done.resolve, txn.done.reject);
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
   * One op from a Collection or a Text. Inside transact it joins the
   * transaction and its promise is the transaction's; outside, it joins
   * the open change (or opens one, committed in a microtask) and its
   * promise is the change's. Resolves when durable.
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
      if (op.t === 'splice' || op.t === 'format') {
        const e = new WeftError('WEFT_ESTATE', 'text edits commit on their own: make them outside transact()');
        txn.error ??= e;
        throw e;
      }
      if (!txn.w) txn.ops.push(op);
      else if (op.t === 'list') txn.lists.push(op); // checked and applied after the buffer (commitBuffer)
      else
        try {
          txn.w.op(op);
        } catch (e) {
          this.refused = true;
          return this.fail(labelled(e, op.t, op.c, op.id, op.f));
        }
      return txn.writes;
    }
    if (this.writer) return this.writer.exec([op]);
    try {
      if (op.t === 'splice') return this.#edit(op, true);
      if (op.t === 'format') return this.#edit(op, true);
      if (op.t === 'list') return this.execLocal([op]).durable; // a change of its own, after the open one
      this.#w.op(op); // a bad write throws here: it alone rejects
    } catch (e) {
      this.refused = true;
      return Promise.reject(op.t === 'splice' || op.t === 'list' || op.t === 'format' ? e : labelled(e, op.t, op.c, op.id, op.f));
    }
    return this.#joined(op.c, op.id);
  }

  /** Collection.put, the hot path: no op object unless another tab is to run it. */
  put(c, id, data) {
    const h = this.#h;
    try {
      h.checkOpen();
      h.checkWrite();
    } catch (e) {
      return this.fail(e);
    }
    const txn = this.#txn;
    const w = txn ? txn.w : this.writer ? null : this.#w;
    if (!w) return this.write({ t: 'put', c, id, data, replace: true });
    try {
      w.replace(c, id, data);
    } catch (e) {
      return this.fail(labelled(e, 'put', c, id));
    }
    return txn ? txn.writes : this.#joined(c, id);
  }

  /**
   * The open change, opened if there is none: { done: its promise, which
   * every write of it returns; sent: bytes of #w handed to the core
   * already; docs: coll -> Set of ids written (null past DOCS_TRACKED);
   * colls: collections written; edits: text edits joined; micro, timer:
   * what will commit it }.
   */
  #open() {
    return (this.#batch ??= { done: deferred(), sent: 0, docs: new Map(), tracked: 0, colls: new Set(), coll: undefined, edits: 0, micro: false, timer: null });
  }

  /** After a write was encoded into #w: the open change takes it. Returns the change's promise. */
  #joined(c, id) {
    const b = this.#open();
    // The documents written, so that reads of others leave the change open;
    // past DOCS_TRACKED a read of any document of a collection it wrote
    // commits it (a bulk write does not pay for a set of every id).
    if (b.docs) {
      if (b.tracked++ < DOCS_TRACKED) {
        let ids = b.docs.get(c);
        if (!ids) b.docs.set(c, (ids = new Set()));
        ids.add(id);
      } else b.docs = null;
    }
    if (c !== b.coll) b.colls.add((b.coll = c));
    if (!b.micro) {
      b.micro = true;
      clearTimeout(b.timer);
      queueMicrotask(() => this.#batch === b && this.settle());
    }
    return b.done.promise;
  }

  /**
   * Hands the open change's writes not yet in the core to it, in one call
   * (all or none). Every write was checked while it was encoded, so a
   * refusal here is no one write's fault (WEFT_ENOMEM): it is thrown, and
   * fails the change.
   */
  #submit(b, rep) {
    const w = this.#w;
    if (b.sent === w.len) return;
    const res = {};
    if (rep.writeOps(w.buf.subarray(b.sent, w.len), w.len - b.sent, res) >= 0) {
      w.len = b.sent;
      throw res.error;
    }
    b.sent = w.len;
  }

  /**
   * A text splice or format joining the open change: the text shows it at once, and
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
      if (op.t === 'format') formatMarks(op).forEach(([type, v]) => rep.textFormat(op.c, op.id, op.f, op.pos, op.len, type, v, true, Date.now()));
      else record = rep.textEdit(op.c, op.id, op.f, op.pos, op.del, op.text, Date.now(), op.at ? decodeAnchor(op.at).bytes : null);
    } catch (e) {
      if (this.#batch === b && !this.#w.len && !b.edits) this.#batch = null;
      if (e.code === 'WEFT_EINVAL' && op.t !== 'format') throw rangeError(rep, op, e);
      if (!(retry && e.code === 'WEFT_ESTATE')) throw e;
      this.settle();
      return this.#edit(op, false);
    }
    if (record) {
      // The edit turned a string into a text, which commits the whole open change at once.
      this.#batch = null;
      clearTimeout(b.timer);
      this.#w.reset();
      return this.#done(b, this.#committed(rep, record, op));
    }
    b.edits++;
    h.subs.docs.invalidateOne(op.c, op.id);
    if (h.texts.size) h.texts.dispatch([], true, op, [[op.c, op.id]]);
    const p = b.done.promise;
    if (b.edits >= this.textMaxEdits) this.settle();
    else if (!b.micro && !b.timer) b.timer = setTimeout(() => this.#batch === b && this.settle(), this.textWindow);
    return p;
  }

  /** Settles every write of change b when `durable` does; returns it. */
  #done(b, durable) {
    durable.then(b.done.resolve, b.done.reject);
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
      this.#w.reset();
    }
    this.#done(b, durable).catch(() => {});
  }

  /** Commits the open change if a read of `coll` (document `id`, or any) would see it. */
  beforeRead(coll, id) {
    const b = this.#batch;
    if (b && (coll === undefined || (b.colls.has(coll) && (id === undefined || !b.docs || b.docs.get(coll)?.has(id))))) this.settle();
  }

  /** Commits a transaction's writes as one change: here in the leader, or through the tab coordinator. */
  #execTxn(txn) {
    if (!txn.w) return this.writer.exec(txn.ops);
    try {
      const h = this.#h;
      h.checkOpen();
      this.settle();
      const rep = h.rep();
      const record = commitBuffer(rep, txn.w, Date.now(), txn.lists);
      return record ? this.#committed(rep, record, null) : Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    } finally {
      txn.w.reset();
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
    return { record, durable: this.#committed(rep, record, loneTextEdit(ops)) };
  }

  /** After a local commit: text observers, storage, live queries, the relay. Returns durability. */
  #committed(rep, record, splice) {
    const h = this.#h;
    const touched = rep.touchedDocs(); // decoded only if something reads it
    if (h.texts.size) h.texts.dispatch(rep.textEvents(), true, splice, touched.list);
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
   * The open change is committed first (commit, then apply). One call
   * into the core applies every record, each on its own, so the ones
   * merged or parked (not duplicates, not refused) are the ones stored (persist: false for those another tab
   * stored already). Returns { applied, rejected, durable, kept, unopened }:
   * with holdUnopened, records refused for want of a key (WEFT_ECRYPTO) are
   * counted in `unopened` instead of reported (sync.js: a key epoch later
   * in the log may give the key, and they come again).
   */
  applyRemote(buf, persist = true, holdUnopened = false) {
    const h = this.#h;
    this.settle();
    const watching = h.texts.size > 0;
    const r = applyRecords(h.rep(), buf, persist, watching);
    h.persist.addHistory(r.bytes);
    const durable = r.kept.length ? h.persist.persist(r.kept, []) : Promise.resolve();
    if (!r.touched.empty) {
      h.subs.changed(r.touched, false);
      if (watching) h.texts.dispatch(r.textEvents, false, null, r.touched.list);
    }
    const unopened = holdUnopened && r.rejected && r.firstError === ERRORS.WEFT_ECRYPTO ? r.rejected : 0;
    if (r.rejected && !unopened) h.emit('error', WeftError.fromCode(r.firstError, `${r.rejected} incoming change(s) refused`));
    return { applied: r.applied, rejected: r.rejected, durable, kept: r.kept, unopened };
  }
}
