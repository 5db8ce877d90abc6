// OpWriter: one change's ops, encoded as they are written straight into
// one growing byte buffer in the core's op format (weft_replica_write_ops
// in weft/replica.h), which crosses into the core in one call when the
// change commits. No object per op: the caller hands in the op's parts.
//
// Everything the core would refuse is checked here first, so a bad write
// throws at once and is the only one to fail: names and document keys
// (non-empty, well-formed, at most 255 / 1024 bytes of UTF-8), checked once
// per distinct string (a bounded cache), and values (value.js refuses what
// it cannot encode canonically). The core still checks the whole buffer.
//
// A new op kind (a new enum weft_ops_kind code) is a new method here that
// writes its kind, target and operands, and a case in op() for the plain
// op objects other tabs post (ops.js). List edits (ops.js 'list') are not
// written here: they reach the core through wdb_list_edit, after the buffer
// (ops.js commitBuffer), because a list shows each edit at once.
import { MAX_COMMIT_BYTES } from './constants.js';
import { WeftError } from './errors.js';
import { Writer, appendValue, appendFields } from './value.js';
import { checkName } from './util.js';

/** Op kinds of the core's op buffer (enum weft_ops_kind, never renumbered). */
export const OPS = Object.freeze({ PUT_FIELD: 1, REPLACE: 2, UPDATE: 3, DELETE_FIELD: 4, DELETE_DOC: 5, COUNTER_ADD: 6 });

const NAME_MAX = 255; // collection and field names (WEFT_MAX_NAME_BYTES)
const KEY_MAX = 1024; // document keys (WEFT_MAX_KEY_BYTES)
const CHECKED_MAX = 1 << 16; // strings remembered as checked, per kind
// An op's encoding larger than this cannot fit a change with its header,
// seal and signature (MAX_COMMIT_BYTES, change.h).
const MAX_OP_BYTES = MAX_COMMIT_BYTES - 4096;

/** A set of strings already checked, emptied when full (memory stays bounded). */
function remember(set, s) {
  if (set.size >= CHECKED_MAX) set.clear();
  set.add(s);
}

export class OpWriter extends Writer {
  #names = new Set(); // checked collection and field names
  #keys = new Set(); // checked document keys
  /** Core ops written (an update writes one per deleted field, plus one). */
  ops = 0;
  /** Checks a field name of a document (value.js writes it). */
  #checkField = (k) => {
    if (!this.#names.has(k)) {
      checkName('a field name', k, NAME_MAX);
      remember(this.#names, k);
    }
  };

  constructor(cap = 1 << 12) {
    super(cap);
  }

  /**
   * Writes name s (varint length + UTF-8), checked: short ASCII is valid
   * when not empty, and is checked as it is copied; anything else is
   * checked once per distinct string (set: the strings checked).
   */
  #name(s, what, max = NAME_MAX, set = this.#names) {
    if (typeof s === 'string' && s.length && this.ascii(s)) return;
    if (!set.has(s)) {
      checkName(what, s, max);
      remember(set, s);
    }
    this.utf8(s);
  }

  /** Kind, collection and document key, checked. */
  #target(kind, c, id) {
    this.u8(kind);
    this.#name(c, 'a collection name');
    this.#name(id, 'a document id', KEY_MAX, this.#keys);
  }

  /**
   * Refuses the op written since start when no change could hold it: alone,
   * before it joins a change (the core refuses a change that grows past the
   * limit at commit). The caller labels the error with the write (labelled).
   */
  #fits(start) {
    const n = this.len - start;
    if (n > MAX_OP_BYTES)
      throw new WeftError('WEFT_ECHANGE_TOO_BIG', `${n} bytes, above the ${MAX_COMMIT_BYTES} a change may hold: store large values as files (space.files.put)`);
  }

  /** Puts the buffer back as it was (len start, ops ops) and rethrows e. */
  #undo(start, ops, e) {
    this.len = start;
    this.ops = ops;
    throw e;
  }

  /** Document id of c becomes `data` (a plain object): the fields it lacks are deleted (REPLACE). */
  replace(c, id, data) {
    const start = this.len;
    try {
      this.#target(OPS.REPLACE, c, id);
      appendFields(this, data, this.#checkField);
      this.#fits(start);
    } catch (e) {
      this.#undo(start, this.ops, e);
    }
    this.ops++;
  }

  /** Sets the fields of `data` in document id of c; a field set to undefined is deleted. */
  update(c, id, data) {
    const start = this.len, ops = this.ops;
    try {
      let sets = 0;
      for (const k of Object.keys(data)) {
        if (data[k] !== undefined) {
          sets++;
          continue;
        }
        this.#target(OPS.DELETE_FIELD, c, id);
        this.#name(k, 'a field name');
        this.ops++;
      }
      if (!sets) return;
      this.#target(OPS.UPDATE, c, id);
      appendFields(this, data, this.#checkField); // undefined members are skipped
      this.#fits(start);
      this.ops++;
    } catch (e) {
      this.#undo(start, ops, e);
    }
  }

  /** Deletes document id of c. */
  deleteDoc(c, id) {
    const start = this.len;
    try {
      this.#target(OPS.DELETE_DOC, c, id);
    } catch (e) {
      this.#undo(start, this.ops, e);
    }
    this.ops++;
  }

  /** Adds n (a safe integer) to counter field f of document id of c. */
  counterAdd(c, id, f, n) {
    const start = this.len;
    try {
      if (!Number.isSafeInteger(n)) throw new WeftError('WEFT_EINVAL', 'increment takes a safe integer');
      this.#target(OPS.COUNTER_ADD, c, id);
      this.#name(f, 'a field name');
      appendValue(this, n);
    } catch (e) {
      this.#undo(start, this.ops, e);
    }
    this.ops++;
  }

  /** A plain op object (ops.js; not a splice), as the methods above. */
  op(op) {
    switch (op.t) {
      case 'put':
        if (op.data === null || typeof op.data !== 'object' || Array.isArray(op.data) || op.data instanceof Uint8Array)
          throw new WeftError('WEFT_EINVAL', 'a document is a plain object of fields');
        return this.replace(op.c, op.id, op.data);
      case 'update':
        if (op.data === null || typeof op.data !== 'object' || Array.isArray(op.data) || op.data instanceof Uint8Array)
          throw new WeftError('WEFT_EINVAL', 'a document is a plain object of fields');
        return this.update(op.c, op.id, op.data);
      case 'delete':
        return this.deleteDoc(op.c, op.id);
      case 'incr':
        return this.counterAdd(op.c, op.id, op.f, op.n);
      default:
        throw new WeftError('WEFT_EINVAL', `unknown op ${op.t}`);
    }
  }

  /** Empties the buffer for the next change (the checked names stay). */
  reset() {
    this.len = 0;
    this.ops = 0;
  }
}

/** err, its message prefixed with the write it was (`put c/id`, `incr c/id.f`). */
export function labelled(err, t, c, id, f) {
  if (!(err instanceof WeftError)) return err;
  const e = new WeftError(err.code, `${t} ${c}/${id}${f ? '.' + f : ''}: ${err.message.replace(/^writing: /, '')}`);
  e.errno = err.errno;
  return e;
}
