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
// Here: the ops, a transaction's run (commitOps: encoded by opwriter.js
// into the core's op buffer, one crossing) and the merge of records from
// elsewhere (applyRecords). changes.js is the write path that uses them.
import { WeftError } from './errors.js';
import { OpWriter, labelled } from './opwriter.js';
import { encodeValue } from './value.js';

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
 * `id`, collection `c`) with `text`. Joins the open change (never a transaction's).
 * With `at` (an anchor string, assoc >= 0; del 0; pos: where it resolves
 * now) the text goes right before that character, deleted or not: how an
 * undo puts deleted text back in its old place (undo.js).
 * @typedef {{ t: 'splice', c: string, id: string, f: string, pos: number, del: number, text: string, at?: string }} SpliceOp
 */
/**
 * An edit of list field `f` (document `id`, collection `c`; docs/LISTS.md):
 * k 1 inserts `v` at `i` (-1: at the end), 2 deletes the item at `i`, 3
 * moves the item at `i` to `to`, 4 sets the item at `i` to `v`. Inside a
 * transaction its indices count the list as the transaction's earlier list
 * edits left it.
 * @typedef {{ t: 'list', c: string, id: string, f: string, k: 1|2|3|4, i: number, to?: number, v?: unknown }} ListOp
 */
/**
 * Formatting of `len` UTF-16 units at `pos` of text field `f` (document
 * `id`, collection `c`; docs/API.md "Rich text"): `attrs` maps mark types
 * to values (null removes the mark). Joins the open change like a splice
 * (never a transaction's).
 * @typedef {{ t: 'format', c: string, id: string, f: string, pos: number, len: number, attrs: Record<string, unknown> }} FormatOp
 */
/** @typedef {PutOp | UpdateOp | DeleteOp | IncrOp | SpliceOp | ListOp | FormatOp} Op */

/** The op when `ops` is one text splice (which commits on its own), else null. */
export function loneSplice(ops) {
  return ops.length === 1 && ops[0].t === 'splice' ? ops[0] : null;
}

/** The op when `ops` is one text edit that commits on its own (a splice or a format), else null. */
export function loneTextEdit(ops) {
  return ops.length === 1 && (ops[0].t === 'splice' || ops[0].t === 'format') ? ops[0] : null;
}

const utf8 = new TextEncoder();

/** A FormatOp's marks as [type, value bytes | null], each checked and encoded (throws WEFT_EINVAL). */
export function formatMarks(op) {
  return Object.entries(op.attrs).map(([type, v]) => {
    if (!type || utf8.encode(type).length > 64) throw new WeftError('WEFT_EINVAL', `mark type "${type}" is not 1..64 bytes`);
    return [type, v === null || v === undefined ? null : encodeValue(v)];
  });
}

/**
 * Runs a FormatOp in `rep`: one mark op per attribute, all in one change
 * stamped `now`. Every type and value is checked and encoded before the
 * first reaches the core; the core checks the range with the first.
 */
export function commitFormat(rep, op, now) {
  const marks = formatMarks(op);
  if (!marks.length) return null;
  if (marks.length === 1) return rep.textFormat(op.c, op.id, op.f, op.pos, op.len, marks[0][0], marks[0][1], false, now);
  for (const [type, v] of marks) rep.textFormat(op.c, op.id, op.f, op.pos, op.len, type, v, true, now);
  return rep.commit(now);
}

/** The core's refusal of a splice, saying how the range misses the text when it does. */
export function rangeError(rep, op, e) {
  let len = rep.textLength(op.c, op.id, op.f);
  if (len < 0) {
    const v = rep.getField(op.c, op.id, op.f);
    len = typeof v === 'string' ? v.length : v === undefined ? 0 : -1;
  }
  if (len >= 0 && op.pos > len) return new WeftError('WEFT_EINVAL', `index ${op.pos} is outside the text (length ${len})`);
  if (len >= 0 && op.del > len - op.pos) return new WeftError('WEFT_EINVAL', `cannot delete ${op.del} code units at ${op.pos} (length ${len})`);
  return e;
}

/**
 * Runs `ops` in `rep` (one crossing into the core) and commits them as one
 * change stamped `now` (ms). Returns the change record, or null when the
 * ops changed nothing. A bad op throws (labelled with the write it was)
 * before anything reaches the core; on any error nothing is left in the
 * replica's open transaction.
 * @param {import('./replica.js').Replica} rep
 * @param {Op[]} ops
 * @param {number} now
 * @param {OpWriter} [w] a writer to encode them with (emptied first)
 * @returns {Uint8Array | null}
 */
export function commitOps(rep, ops, now, w = new OpWriter(256)) {
  const splice = loneSplice(ops);
  // A text edit from another tab commits itself at once.
  if (splice) return rep.textSplice(splice.c, splice.id, splice.f, splice.pos, splice.del, splice.text, now) || null;
  if (ops.length === 1 && ops[0].t === 'format') return commitFormat(rep, ops[0], now);
  const lists = [];
  w.reset();
  for (const op of ops) {
    if (op.t === 'splice' || op.t === 'format') throw new WeftError('WEFT_ESTATE', 'text edits commit on their own: make them outside transact()');
    if (op.t === 'list') {
      lists.push(op); // not in the op buffer: applied after it (commitBuffer)
      continue;
    }
    try {
      w.op(op);
    } catch (e) {
      throw labelled(e, op.t, op.c, op.id, op.f);
    }
  }
  if (ops.length === 1 && lists.length === 1) { // a lone list edit commits itself (an array may turn into a list)
    const op = lists[0];
    const v = listValue(op);
    const i = op.k === 1 && op.i === -1 ? listState(rep, op).len : op.i;
    return rep.listEdit(op.c, op.id, op.f, op.k, i, op.to ?? 0, v, false, now) || null;
  }
  return commitBuffer(rep, w, now, lists);
}

/**
 * The ops encoded in w handed to the core in one call (all or none), then
 * the list edits `lists` (ListOp objects: they do not go through the op
 * buffer, they show in the list at once), committed as one change stamped
 * `now`. The list edits are checked against the lists' lengths, and their
 * values encoded, before anything reaches the core. Returns the record, or
 * null when they changed nothing. On an error nothing is left in the open
 * transaction.
 */
export function commitBuffer(rep, w, now, lists = []) {
  const values = lists.map(listValue); // a value that cannot be encoded throws before anything runs
  const at = lists.length ? placeListOps(rep, lists) : [];
  const res = {};
  if (w.len && rep.writeOps(w.buf, w.len, res) >= 0) throw res.error;
  // List edits after the other writes: they show in the list at once, so
  // they go in once every other op was accepted.
  lists.forEach((op, k) => {
    try {
      rep.listEdit(op.c, op.id, op.f, op.k, at[k], op.to ?? 0, values[k], true, now);
    } catch (e) {
      rep.rollback(); // refused once a list edit is in: it stays for the next commit
      throw labelled(e, op.t, op.c, op.id, op.f);
    }
  });
  if (rep.txnOps() === 0) return null;
  try {
    return rep.commit(now);
  } catch (e) {
    rep.rollback();
    throw e;
  }
}

/** A list op's value, encoded (inserts and sets), else null. */
function listValue(op) {
  return op.k === 1 || op.k === 4 ? encodeValue(op.v) : null;
}

/** A list field as it stands: { len, array: whether it holds a plain array (not yet a list) }. */
function listState(rep, op) {
  const n = rep.listLength(op.c, op.id, op.f);
  if (n >= 0) return { len: n, array: false };
  const v = rep.getField(op.c, op.id, op.f);
  if (Array.isArray(v)) return { len: v.length, array: true };
  if (v !== undefined) throw new WeftError('WEFT_ENOTLIST', `${describe(op)}: the field holds a value that is not a list`);
  return { len: 0, array: false };
}

/**
 * Checks a transaction's list edits against the lists' lengths, each edit
 * after the ones before it, before any reaches the core (a list shows an
 * edit at once, so a refusal after one would leave it in). Returns each
 * edit's index (an insert at -1 resolved to the end).
 */
function placeListOps(rep, lists) {
  const lens = new Map();
  return lists.map((op) => {
    const key = `${op.c}\0${op.id}\0${op.f}`;
    if (!lens.has(key)) {
      const st = listState(rep, op);
      if (st.array) throw new WeftError('WEFT_ESTATE', `${describe(op)}: an array field becomes a list in an edit of its own: make the first one outside transact()`);
      lens.set(key, st.len);
    }
    const len = lens.get(key);
    const i = op.k === 1 && op.i === -1 ? len : op.i;
    const ok = op.k === 1 ? i <= len : i < len && (op.k !== 3 || op.to < len);
    if (!ok) throw new WeftError('WEFT_ENOITEM', `${describe(op)}: no item at index ${op.k === 3 && i < len ? op.to : i} of ${len}`);
    lens.set(key, len + (op.k === 1) - (op.k === 2));
    return i;
  });
}

/** The write an op is, for error messages (`list c/id.f`). */
function describe(op) {
  return `${op.t} ${op.c}/${op.id}${op.f ? '.' + op.f : ''}`;
}

/**
 * Merges concatenated change records from elsewhere into `rep` in one
 * call, each on its own so the ones merged or parked (not duplicates, not
 * refused) are known. keep: return copies of those (to store them);
 * texts: collect the core's text events (null once some were lost).
 * @returns {{ applied: number, rejected: number, firstError: number, kept: Uint8Array[], touched: import('./replica.js').Touched, textEvents: object[] | null, bytes: number }}
 */
export function applyRecords(rep, buf, keep, texts) {
  const r = rep.applyEach(buf);
  const kept = [];
  let bytes = 0;
  const oc = r.outcomes;
  for (let i = 0, off = 0; i < oc.length; i += 2) {
    const len = oc[i];
    if (oc[i + 1] === 0 || oc[i + 1] === 2) {
      if (keep) kept.push(buf.slice(off, off + len));
      bytes += len;
    }
    off += len;
  }
  const textEvents = texts && r.applied ? rep.textEvents() : [];
  return { applied: r.applied, rejected: r.rejected, firstError: r.firstError, kept, touched: r.touched, textEvents, bytes };
}
