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
// Here: the ops, their encoding into the core's op buffer (encodeOp), a
// transaction's run (commitOps) and the merge of records from elsewhere
// (applyRecords). changes.js is the write path that uses them.
import { MAX_COMMIT_BYTES } from './constants.js';
import { WeftError } from './errors.js';
import { Writer, appendValue, encodeValue } from './value.js';

// An op's encoding larger than this cannot fit a change with its header,
// seal and signature (MAX_COMMIT_BYTES, change.h).
const MAX_OP_BYTES = MAX_COMMIT_BYTES - 4096;

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
 * @typedef {{ t: 'splice', c: string, id: string, f: string, pos: number, del: number, text: string }} SpliceOp
 */
/**
 * An edit of list field `f` (document `id`, collection `c`; docs/LISTS.md):
 * k 1 inserts `v` at `i` (-1: at the end), 2 deletes the item at `i`, 3
 * moves the item at `i` to `to`, 4 sets the item at `i` to `v`. Inside a
 * transaction its indices count the list as the transaction's earlier list
 * edits left it.
 * @typedef {{ t: 'list', c: string, id: string, f: string, k: 1|2|3|4, i: number, to?: number, v?: unknown }} ListOp
 */
/** @typedef {PutOp | UpdateOp | DeleteOp | IncrOp | SpliceOp | ListOp} Op */

/** The op when `ops` is one text splice (which commits on its own), else null. */
export function loneSplice(ops) {
  return ops.length === 1 && ops[0].t === 'splice' ? ops[0] : null;
}

// Op kinds of the core's op buffer (enum weft_ops_kind, never renumbered).
const PUT_FIELD = 1, REPLACE = 2, UPDATE = 3, DELETE_FIELD = 4, DELETE_DOC = 5, COUNTER_ADD = 6;

function name(w, s) {
  if (typeof s !== 'string') throw new WeftError('WEFT_EINVAL', `names and ids are strings, not ${typeof s}`);
  w.text(s); // varint length + UTF-8, as the op format's names
}

function target(w, kind, op) {
  w.u8(kind);
  name(w, op.c);
  name(w, op.id);
}

/**
 * Appends op (not a splice) to w in the core's op format. Returns how many
 * core ops it wrote (an update deletes each undefined field with an op of
 * its own). Throws WEFT_EINVAL when a value cannot be encoded, or
 * WEFT_ECHANGE_TOO_BIG when the op is larger than a change may be, w left
 * as before. The core checks names and values when the buffer reaches it.
 */
export function encodeOp(w, op) {
  const start = w.len;
  try {
    const n = encodeOpOnly(w, op);
    // One op no change can hold: refused alone, before it joins a change
    // (the core refuses a change that grows past the limit at commit).
    if (w.len - start > MAX_OP_BYTES)
      throw new WeftError('WEFT_ECHANGE_TOO_BIG', `${describe(op)}: ${w.len - start} bytes, above the ${MAX_COMMIT_BYTES} a change may hold: store large values as files (space.files.put)`);
    return n;
  } catch (e) {
    w.len = start;
    throw e;
  }
}

/** encodeOp without the size check. */
function encodeOpOnly(w, op) {
  switch (op.t) {
    case 'put': // the core deletes the fields data lacks (REPLACE)
      target(w, REPLACE, op);
      appendValue(w, op.data);
      return 1;
    case 'update': {
      let n = 0, sets = 0;
      for (const k of Object.keys(op.data)) {
        if (op.data[k] !== undefined) sets++;
        else {
          target(w, DELETE_FIELD, op);
          name(w, k);
          n++;
        }
      }
      if (!sets) return n;
      target(w, UPDATE, op);
      appendValue(w, op.data); // undefined members are skipped
      return n + 1;
    }
    case 'delete':
      target(w, DELETE_DOC, op);
      return 1;
    case 'incr':
      target(w, COUNTER_ADD, op);
      name(w, op.f);
      appendValue(w, op.n);
      return 1;
    default:
      throw new WeftError('WEFT_EINVAL', `unknown op ${op.t}`);
  }
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

/** What an op did, for error messages. */
function describe(op) {
  return `${op.t} ${op.c}/${op.id}${op.f ? '.' + op.f : ''}`;
}

/**
 * Runs `ops` in `rep` (one crossing into the core) and commits them as one
 * change stamped `now` (ms). Returns the change record, or null when the
 * ops changed nothing. On an error nothing is left in the replica's open
 * transaction and the error is thrown.
 * @param {import('./replica.js').Replica} rep
 * @param {Op[]} ops
 * @param {number} now
 * @returns {Uint8Array | null}
 */
export function commitOps(rep, ops, now) {
  const splice = loneSplice(ops);
  // A text edit from another tab commits itself at once.
  if (splice) return rep.textSplice(splice.c, splice.id, splice.f, splice.pos, splice.del, splice.text, now) || null;
  const lists = ops.filter((op) => op.t === 'list');
  const values = lists.map(listValue); // a value that cannot be encoded throws before anything runs
  if (ops.length === 1 && lists.length === 1) { // a lone list edit commits itself (an array may turn into a list)
    const op = lists[0];
    const i = op.k === 1 && op.i === -1 ? listState(rep, op).len : op.i;
    return rep.listEdit(op.c, op.id, op.f, op.k, i, op.to ?? 0, values[0], false, now) || null;
  }
  const w = new Writer(256);
  const counts = [];
  for (const op of ops) {
    if (op.t === 'splice') throw new WeftError('WEFT_ESTATE', 'text edits commit on their own: make them outside transact()');
    counts.push(op.t === 'list' ? 0 : encodeOp(w, op));
  }
  const at = lists.length ? placeListOps(rep, lists) : [];
  const res = {};
  const bad = rep.writeOps(w.buf, w.len, res);
  if (bad >= 0) {
    const i = opAt(counts, 0, bad);
    throw i < ops.length ? relabel(res.error, ops[i]) : res.error;
  }
  // List edits after the other writes: they show in the list at once, so
  // they go in once every other op was accepted.
  lists.forEach((op, k) => {
    try {
      rep.listEdit(op.c, op.id, op.f, op.k, at[k], op.to ?? 0, values[k], true, now);
    } catch (e) {
      rep.rollback(); // refused once a list edit is in: it stays for the next commit
      throw relabel(e, op);
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

/** The index of the op (counting from `from`) holding core op `at`, given each op's count of core ops. */
export function opAt(counts, from, at) {
  let i = from;
  while (i < counts.length && at >= counts[i]) at -= counts[i++];
  return i;
}

/** The core's error, saying which write it was. */
export function relabel(e, op) {
  const err = new WeftError(e.code, `${describe(op)}: ${e.message.replace(/^writing: /, '')}`);
  err.errno = e.errno;
  return err;
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
