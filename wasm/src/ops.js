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
import { WeftError } from './errors.js';
import { Writer, appendValue } from './value.js';

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
/** @typedef {PutOp | UpdateOp | DeleteOp | IncrOp | SpliceOp} Op */

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
 * its own). Throws WEFT_EINVAL when a value cannot be encoded, w left as
 * before. The core checks names and values when the buffer reaches it.
 */
export function encodeOp(w, op) {
  const start = w.len;
  try {
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
  } catch (e) {
    w.len = start;
    throw e;
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
  const w = new Writer(256);
  const counts = [];
  for (const op of ops) {
    if (op.t === 'splice') throw new WeftError('WEFT_ESTATE', 'text edits commit on their own: make them outside transact()');
    counts.push(encodeOp(w, op));
  }
  const res = {};
  const at = rep.writeOps(w.buf, w.len, res);
  if (at >= 0) {
    const i = opAt(counts, 0, at);
    throw i < ops.length ? relabel(res.error, ops[i]) : res.error;
  }
  if (rep.txnOps() === 0) return null;
  try {
    return rep.commit(now);
  } catch (e) {
    rep.rollback();
    throw e;
  }
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
