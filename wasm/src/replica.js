// One core replica handle (wdb_* in wasm/src/weftdb_abi.c): local ops,
// commit, apply, reads, version vectors, snapshots. Everything it returns
// is a JS copy or a decoded value; nothing borrowed escapes a method.
// close() frees the handle (and wipes its keys); a second close() is a no-op.
import { ERRORS } from './constants.js';
import { WeftError } from './errors.js';
import { decodeValue, decodeListItems } from './value.js';

const { WEFT_ENOTFOUND } = ERRORS;


const enc = new TextEncoder();
const dec = new TextDecoder();

/** The UTF-8 name at u8[p, p + n): short ASCII ones without TextDecoder, which costs more than they do. */
function name(u8, p, n) {
  if (n > 32) return dec.decode(u8.subarray(p, p + n));
  let s = '';
  for (let i = p; i < p + n; i++) {
    const c = u8[i];
    if (c >= 0x80) return dec.decode(u8.subarray(p, p + n));
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Documents a commit or apply touched: the core's list (repeated u32
 * length + collection, u32 length + key; wdb_touched_list) kept as bytes,
 * decoded into [[collection, key], ...] only when something reads `list`
 * (a cache to invalidate, an index, a live query, a 'change' listener).
 */
export class Touched {
  #bytes;
  #list = null;
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.#bytes = bytes;
  }

  get empty() {
    return this.#bytes.length === 0;
  }

  /** @returns {[string, string][]} */
  get list() {
    if (this.#list) return this.#list;
    const view = this.#bytes;
    const dv = new DataView(view.buffer, view.byteOffset, view.length);
    const out = [];
    let p = 0;
    while (p < view.length) {
      const cl = dv.getUint32(p, true);
      const c = name(view, p + 4, cl);
      p += 4 + cl;
      const dl = dv.getUint32(p, true);
      const d = name(view, p + 4, dl);
      p += 4 + dl;
      out.push([c, d]);
    }
    return (this.#list = out);
  }
}

/** Writes s as UTF-8 at u8[p] (room for cap bytes); returns its length in bytes. Short ASCII without TextEncoder. */
function utf8Into(u8, p, s, cap) {
  const n = s.length;
  if (n <= 32) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      u8[p + i] = c;
    }
    if (i === n) return n;
  }
  return enc.encodeInto(s, u8.subarray(p, p + cap)).written;
}

export class Replica {
  /**
   * @param {import('./core.js').Core} core
   * @param {{ space: Uint8Array, author: Uint8Array, authorSecret: Uint8Array|null, contentKey: Uint8Array }} keys
   */
  constructor(core, keys) {
    this.core = core;
    this.h = core.scope((s) => {
      const out = s.alloc(4);
      core.check(core.x.wdb_new(out, s.bytes(keys.space), s.bytes(keys.author),
        keys.authorSecret ? s.bytes(keys.authorSecret) : 0, s.bytes(keys.contentKey)), 'creating the replica');
      return core.u32[out >> 2];
    });
    // Keys of earlier epochs (weft/members.h): they open, never seal.
    for (const k of keys.oldKeys ?? []) this.addKey(k);
    this.opsCap = 0;
    this.opsBuf = 0; // the heap copy of the last writeOps buffer, kept for the next
  }

  /** A key rotation: `key` seals from now on, `prev` (and every key held) still opens. */
  rekey(key, prev = null) {
    this.core.scope((s) => this.core.check(this.core.x.wdb_rekey(this._h(), s.bytes(key), prev ? s.bytes(prev) : 0), 'installing the new content key'));
  }

  /** Rights changed while open: `secret` (the author's, 64 bytes) signs from now on, or null: nothing signs. */
  setSigner(secret) {
    this.core.scope((s) => this.core.check(this.core.x.wdb_set_signer(this._h(), secret ? s.bytes(secret) : 0), 'changing the signing key'));
  }

  /** An older content key: opens, never seals. */
  addKey(key) {
    this.core.scope((s) => this.core.check(this.core.x.wdb_add_key(this._h(), s.bytes(key)), 'adding a content key'));
  }

  close() {
    if (!this.h) return;
    this.core.x.wdb_free(this.h);
    this.h = 0;
    this.core.free(this.opsBuf);
    this.opsBuf = 0;
  }

  _h() {
    if (!this.h) throw new WeftError('WEFT_ESTATE', 'the replica is closed');
    return this.h;
  }

  /** Writes coll, doc, field (UTF-8) and value bytes into one allocation. */
  _target(s, coll, doc, field, value) {
    const cap = (coll.length + doc.length + (field ? field.length : 0)) * 3 + (value ? value.length : 0);
    const base = s.alloc(cap);
    const u8 = this.core.u8;
    let p = base;
    const c = enc.encodeInto(coll, u8.subarray(p, base + cap)).written;
    p += c;
    const d = enc.encodeInto(doc, u8.subarray(p, base + cap)).written;
    p += d;
    let f = 0;
    if (field) {
      f = enc.encodeInto(field, u8.subarray(p, base + cap)).written;
      p += f;
    }
    if (value) u8.set(value, p);
    return [base, c, base + c, d, base + c + d, f, p];
  }

  /**
   * Strings a and b as UTF-8, side by side in the scratch buffer, for one
   * call (reads: no allocation per call). Returns the address; this._al
   * and this._bl are their lengths in bytes.
   */
  _pair(a, b) {
    const cap = (a.length + b.length) * 3;
    const base = this._scratch(cap);
    const u8 = this.core.u8;
    this._al = utf8Into(u8, base, a, cap);
    this._bl = utf8Into(u8, base + this._al, b, cap - this._al);
    return base;
  }

  /** The scratch buffer in the heap, at least n bytes (kept: a write's bytes cross through it). */
  _scratch(n) {
    if (n > this.opsCap) {
      this.core.free(this.opsBuf);
      this.opsBuf = 0;
      this.opsCap = 0;
      const cap = Math.max(n, 1 << 16);
      this.opsBuf = this.core.malloc(cap);
      this.opsCap = cap;
    }
    return this.opsBuf;
  }

  /**
   * Adds the ops encoded in buf[0, len) (weft_replica_write_ops in
   * weft/replica.h) to the open transaction: all of them, or none. Returns
   * -1 on success, else the index of the op that failed (its error in
   * `error`, a WeftError); the transaction is then as before the call.
   */
  writeOps(buf, len, out = {}) {
    const h = this._h();
    const core = this.core;
    this._scratch(len);
    core.u8.set(len === buf.length ? buf : buf.subarray(0, len), this.opsBuf);
    const rc = core.x.wdb_write_ops(h, this.opsBuf, len, core.out);
    if (rc === 0) return -1;
    const at = core.u32[core.out >> 2];
    try {
      core.check(rc, 'writing');
    } catch (e) {
      out.error = e;
    }
    return at;
  }

  // One op at a time (tools and benches; the package writes through writeOps).
  put(coll, doc, field, value) {
    const h = this._h();
    this.core.scope((s) => {
      const [cp, cl, dp, dl, fp, fl, vp] = this._target(s, coll, doc, field, value);
      this.core.check(this.core.x.wdb_put(h, cp, cl, dp, dl, fp, fl, vp, value.length), `put ${coll}/${doc}.${field}`);
    });
  }

  deleteField(coll, doc, field) {
    const h = this._h();
    this.core.scope((s) => {
      const [cp, cl, dp, dl, fp, fl] = this._target(s, coll, doc, field, null);
      this.core.check(this.core.x.wdb_delete_field(h, cp, cl, dp, dl, fp, fl), `delete ${coll}/${doc}.${field}`);
    });
  }

  deleteDoc(coll, doc) {
    const h = this._h();
    this.core.scope((s) => {
      const [cp, cl, dp, dl] = this._target(s, coll, doc, null, null);
      this.core.check(this.core.x.wdb_delete_doc(h, cp, cl, dp, dl), `delete ${coll}/${doc}`);
    });
  }

  counterAdd(coll, doc, field, delta) {
    const h = this._h();
    this.core.scope((s) => {
      const [cp, cl, dp, dl, fp, fl] = this._target(s, coll, doc, field, null);
      this.core.check(this.core.x.wdb_counter_add(h, cp, cl, dp, dl, fp, fl, delta), `increment ${coll}/${doc}.${field}`);
    });
  }

  /**
   * Replaces `deleted` UTF-16 units at `pos` of a text field with `text` and
   * commits that as one change. Returns the record (a copy), or null when
   * nothing changed.
   */
  textSplice(coll, doc, field, pos, deleted, text, wallMs = Date.now()) {
    const h = this._h();
    const core = this.core;
    return core.scope((s) => {
      const bytes = enc.encode(text);
      const [cp, cl, dp, dl, fp, fl, tp] = this._target(s, coll, doc, field, bytes);
      core.check(core.x.wdb_text_splice(h, cp, cl, dp, dl, fp, fl, pos, deleted, tp, bytes.length, wallMs, core.out),
        `editing the text ${coll}/${doc}.${field}`);
      return core.u32[(core.out >> 2) + 1] ? core.outBytes() : null;
    });
  }

  /**
   * The same splice joining the open transaction (wdb_text_edit). Returns
   * null, or the record (a copy) when the edit turned a string into a text
   * and so committed the whole open transaction at once. Throws
   * WEFT_ESTATE when the open transaction writes the field other than by
   * text edits (commit, then edit).
   */
  textEdit(coll, doc, field, pos, deleted, text, wallMs = Date.now(), at = null) {
    if (at) return this.#textInsertBefore(coll, doc, field, at, text, wallMs);
    const h = this._h();
    const core = this.core;
    // A keystroke's names and text cross through the scratch buffer: no
    // allocation per edit.
    const cap = (coll.length + doc.length + field.length + text.length) * 3;
    const base = this._scratch(cap);
    const u8 = core.u8;
    const cl = utf8Into(u8, base, coll, cap);
    const dl = utf8Into(u8, base + cl, doc, cap - cl);
    const fl = utf8Into(u8, base + cl + dl, field, cap - cl - dl);
    const dp = base + cl, fp = dp + dl, tp = fp + fl;
    const tl = text ? utf8Into(u8, tp, text, cap - cl - dl - fl) : 0;
    core.check(core.x.wdb_text_edit(h, base, cl, dp, dl, fp, fl, pos, deleted, tp, tl, wallMs, core.out),
      `editing the text ${coll}/${doc}.${field}`);
    return core.u32[(core.out >> 2) + 1] ? core.outBytes() : null;
  }

  /** textEdit's insert right before an anchored character (the core's 40 bytes), deleted or not. */
  #textInsertBefore(coll, doc, field, at, text, wallMs) {
    const h = this._h();
    const core = this.core;
    return core.scope((s) => {
      const [cp, cl, dp, dl, fp, fl] = this._target(s, coll, doc, field, null);
      const a = s.alloc(40);
      core.u8.set(at, a);
      const tp = s.alloc(text.length * 3);
      const tl = enc.encodeInto(text, core.u8.subarray(tp, tp + text.length * 3)).written;
      core.check(core.x.wdb_text_insert_before(h, cp, cl, dp, dl, fp, fl, a, tp, tl, wallMs, core.out),
        `editing the text ${coll}/${doc}.${field}`);
      return core.u32[(core.out >> 2) + 1] ? core.outBytes() : null;
    });
  }

  /**
   * The text changes the last apply, commit or splice made, as
   * [{ coll, doc, field, index, deleteCount, insert }] (UTF-16; a whole
   * replacement has replaced: true), or null when some were lost (treat
   * every text as replaced).
   */
  textEvents() {
    const core = this.core;
    const rc = core.x.wdb_text_events(this._h(), core.out);
    if (rc < 0) return null;
    const view = core.outView();
    if (!view.length) return [];
    const dv = new DataView(view.buffer, view.byteOffset, view.length);
    const out = [];
    let p = 0;
    const str = () => {
      const n = dv.getUint32(p, true);
      const v = dec.decode(view.subarray(p + 4, p + 4 + n));
      p += 4 + n;
      return v;
    };
    while (p < view.length) {
      const kind = dv.getUint32(p, true);
      p += 4;
      const coll = str(), doc = str(), field = str();
      const index = dv.getFloat64(p, true), deleteCount = dv.getFloat64(p + 8, true);
      p += 16;
      const insert = str();
      if (kind === 2) out.push({ coll, doc, field, index, format: deleteCount });
      else out.push(kind ? { coll, doc, field, replaced: true } : { coll, doc, field, index, deleteCount, insert });
    }
    return out;
  }

  /**
   * Marks `len` UTF-16 units from `pos` of a text field with `type` and
   * `value` (canonical value bytes; null removes the mark), joining the open
   * transaction (join) or committing at once. Returns the record (a copy)
   * when it committed, else null. Throws WEFT_ENOTFOUND (no text),
   * WEFT_EINVAL (range, type, value), WEFT_EVERSION (the space's level is
   * below LEVEL_MARKS).
   */
  textFormat(coll, doc, field, pos, len, type, value, join, wallMs = Date.now()) {
    const h = this._h();
    const core = this.core;
    return core.scope((s) => {
      const tb = enc.encode(type);
      const vb = value ?? new Uint8Array(0);
      const both = new Uint8Array(tb.length + vb.length);
      both.set(tb);
      both.set(vb, tb.length);
      const [cp, cl, dp, dl, fp, fl, tp] = this._target(s, coll, doc, field, both);
      core.check(core.x.wdb_text_format(h, cp, cl, dp, dl, fp, fl, pos, len, tp, tb.length, tp + tb.length, vb.length,
        value ? 0 : 1, join ? 1 : 0, wallMs, core.out), `formatting the text ${coll}/${doc}.${field}`);
      return core.u32[(core.out >> 2) + 1] ? core.outBytes() : null;
    });
  }

  /**
   * A text field's spans: [{ insert, attributes? }] (attributes: type ->
   * decoded value; absent on plain text), or null when the field is no text.
   */
  textSpans(coll, doc, field) {
    const h = this._h();
    const core = this.core;
    const rc = core.scope((s) => {
      const [cp, cl, dp, dl, fp, fl] = this._target(s, coll, doc, field, null);
      return core.x.wdb_text_spans(h, cp, cl, dp, dl, fp, fl, core.out);
    });
    if (rc === WEFT_ENOTFOUND) return null;
    core.check(rc, `reading ${coll}/${doc}.${field}`);
    const view = core.outView();
    const dv = new DataView(view.buffer, view.byteOffset, view.length);
    const out = [];
    let p = 0;
    const bytes = () => {
      const n = dv.getUint32(p, true);
      const v = view.subarray(p + 4, p + 4 + n);
      p += 4 + n;
      return v;
    };
    while (p < view.length) {
      const insert = dec.decode(bytes());
      const n = dv.getUint32(p, true);
      p += 4;
      const span = { insert };
      if (n) {
        span.attributes = {};
        for (let i = 0; i < n; i++) {
          const type = dec.decode(bytes());
          span.attributes[type] = decodeValue(bytes().slice());
        }
      }
      out.push(span);
    }
    return out;
  }

  /** A text field's length in UTF-16 units, or -1 when the field is no text. */
  textLength(coll, doc, field) {
    const h = this._h();
    const core = this.core;
    const n = core.scope((s) => {
      const [cp, cl, dp, dl, fp, fl] = this._target(s, coll, doc, field, null);
      return core.x.wdb_text_length(h, cp, cl, dp, dl, fp, fl);
    });
    if (n === WEFT_ENOTFOUND) return -1;
    core.check(n, `reading ${coll}/${doc}.${field}`);
    return n;
  }

  /**
   * A list edit (weft_replica_list_edit): kind 1 insert `value` (encoded
   * bytes) at index, 2 delete, 3 move index to `to`, 4 set. join: add it to
   * the open transaction; else commit it at once. Returns the record (a
   * copy) when it committed (join also commits when an array turned into a
   * list), else null.
   */
  listEdit(coll, doc, field, kind, index, to, value, join, wallMs = Date.now()) {
    const h = this._h();
    const core = this.core;
    // Names and value cross through the scratch buffer: no allocation per edit.
    const vl = value ? value.length : 0;
    const cap = (coll.length + doc.length + field.length) * 3 + vl;
    const base = this._scratch(cap);
    const u8 = core.u8.subarray(base, base + cap);
    const cl = enc.encodeInto(coll, u8).written;
    const dl = enc.encodeInto(doc, u8.subarray(cl)).written;
    const fl = enc.encodeInto(field, u8.subarray(cl + dl)).written;
    const dp = base + cl, fp = dp + dl, vp = fp + fl;
    if (vl) u8.set(value, cl + dl + fl);
    const rc = core.x.wdb_list_edit(h, base, cl, dp, dl, fp, fl, kind, index, to, vp, vl, join ? 1 : 0, wallMs, core.out);
    if (rc < 0) core.check(rc, `editing the list ${coll}/${doc}.${field}`);
    return core.u32[(core.out >> 2) + 1] ? core.outBytes() : null;
  }

  /** A list field's length, or -1 when the field holds no list. */
  listLength(coll, doc, field) {
    const h = this._h();
    const core = this.core;
    const n = core.scope((s) => {
      const [cp, cl, dp, dl, fp, fl] = this._target(s, coll, doc, field, null);
      return core.x.wdb_list_length(h, cp, cl, dp, dl, fp, fl);
    });
    if (n === WEFT_ENOTFOUND) return -1;
    core.check(n, `reading ${coll}/${doc}.${field}`);
    return n;
  }

  /** A list's items with their identities (decodeListItems), or null when the field holds no list. */
  listItems(coll, doc, field) {
    const h = this._h();
    const core = this.core;
    const rc = core.scope((s) => {
      const [cp, cl, dp, dl, fp, fl] = this._target(s, coll, doc, field, null);
      return core.x.wdb_list_items(h, cp, cl, dp, dl, fp, fl, core.out);
    });
    if (rc === WEFT_ENOTFOUND) return null;
    core.check(rc, `reading ${coll}/${doc}.${field}`);
    return decodeListItems(core.outView());
  }

  /**
   * A stable position in a text field: 40 bytes (author key, seq, assoc:
   * weftdb_abi.c wdb_text_anchor), or null when the field is no text.
   */
  textAnchor(coll, doc, field, index, assoc) {
    const h = this._h();
    const core = this.core;
    return core.scope((s) => {
      const [cp, cl, dp, dl, fp, fl] = this._target(s, coll, doc, field, null);
      const out = s.alloc(40);
      const rc = core.x.wdb_text_anchor(h, cp, cl, dp, dl, fp, fl, index, assoc, out);
      if (rc === WEFT_ENOTFOUND) return null;
      core.check(rc, `anchoring at ${index} of ${coll}/${doc}.${field}`);
      return core.u8.slice(out, out + 40);
    });
  }

  /** Where a textAnchor is now (UTF-16), or -1 when the text does not hold it. */
  textResolve(coll, doc, field, anchor) {
    const h = this._h();
    const core = this.core;
    const n = core.scope((s) => {
      const [cp, cl, dp, dl, fp, fl] = this._target(s, coll, doc, field, null);
      const a = s.alloc(40);
      core.u8.set(anchor, a);
      return core.x.wdb_text_resolve(h, cp, cl, dp, dl, fp, fl, a);
    });
    if (n === WEFT_ENOTFOUND) return -1;
    core.check(n, `resolving an anchor in ${coll}/${doc}.${field}`);
    return n;
  }

  /** One field's value decoded, or undefined. */
  getField(coll, doc, field) {
    const h = this._h();
    const core = this.core;
    const rc = core.scope((s) => {
      const [cp, cl, dp, dl, fp, fl] = this._target(s, coll, doc, field, null);
      return core.x.wdb_get_field(h, cp, cl, dp, dl, fp, fl, core.out);
    });
    if (rc === WEFT_ENOTFOUND) return undefined;
    core.check(rc, `reading ${coll}/${doc}.${field}`);
    return decodeValue(core.outView());
  }

  txnOps() {
    return this.core.x.wdb_txn_ops(this._h());
  }

  /** Raises the space's format level this replica writes under (FORMAT.md §10; never lowers it). */
  setFormatLevel(level) {
    this.core.check(this.core.x.wdb_set_format_level(this._h(), level), `setting format level ${level}`);
  }

  /** Drops the open transaction. Returns 0, or WEFT_ESTATE (a negative code) when it holds text edits (then commit it). */
  rollback() {
    return this.h ? this.core.x.wdb_rollback(this.h) : 0;
  }

  /** Seals the open transaction. Returns the change record (a copy). */
  commit(wallMs = Date.now()) {
    this.core.check(this.core.x.wdb_commit(this._h(), wallMs, this.core.out), 'committing');
    return this.core.outBytes();
  }

  /** Merges concatenated records. Returns the counts (weft_apply_result). */
  apply(records) {
    const h = this._h();
    const core = this.core;
    return core.scope((s) => {
      const p = s.bytes(records);
      const res = s.alloc(24);
      const rc = core.x.wdb_apply(h, p, records.length, res);
      const w = res >> 2;
      const u32 = core.u32;
      return {
        rc,
        applied: u32[w],
        duplicates: u32[w + 1],
        pending: u32[w + 2],
        rejected: u32[w + 3],
        firstError: rc < 0 ? rc : core.dv.getInt32(res + 16, true),
        consumed: u32[w + 5],
      };
    });
  }

  /**
   * Merges concatenated records in one call, each on its own
   * (wdb_apply_each). Returns the totals (as apply), `outcomes`: an
   * Int32Array of (length, what became of it: 0 merged, 1 already held,
   * 2 parked, or the negative code it was refused with) per record read,
   * and `touched`: the documents every record touched. Text events of
   * every record wait in textEvents(). Throws WEFT_ESTATE while a
   * transaction is open (nothing read), WEFT_ENOMEM.
   */
  applyEach(records) {
    const h = this._h();
    const core = this.core;
    const at = (records.length + 3) & ~3; // the totals (weft_apply_result) after the records, aligned
    // Small batches cross through the kept scratch buffer; a big one
    // (a first sync) through an allocation of its own, freed after.
    const big = at + 24 > 1 << 20;
    const base = big ? core.malloc(at + 24) : this._scratch(at + 24);
    try {
      core.u8.set(records, base);
      core.check(core.x.wdb_apply_each(h, base, records.length, base + at, core.out), 'merging changes');
      const w = (base + at) >> 2;
      const u32 = core.u32;
      return {
        applied: u32[w],
        duplicates: u32[w + 1],
        pending: u32[w + 2],
        rejected: u32[w + 3],
        firstError: core.dv.getInt32(base + at + 16, true),
        consumed: u32[w + 5],
        outcomes: new Int32Array(core.outBytes(0).buffer),
        touched: new Touched(core.outBytes(2)),
      };
    } finally {
      if (big) core.free(base);
    }
  }

  /**
   * What one change record did, without merging it: [{ code, coll, doc,
   * field }] per op (code as FORMAT.md §5: 1 put, 2 delete document, 3
   * delete field, 4 counter add, 5/6 text insert/delete; field '' for 2).
   * Verifies and opens the record; throws its error when it does not.
   */
  changeOps(record) {
    const core = this.core;
    const h = this._h();
    return core.scope((s) => {
      core.check(core.x.wdb_change_ops(h, s.bytes(record), record.length, core.out), 'reading a change');
      const view = core.outView();
      const dv = new DataView(view.buffer, view.byteOffset, view.length);
      const out = [];
      let p = 0;
      const str = () => {
        const l = dv.getUint32(p, true);
        const v = name(view, p + 4, l);
        p += 4 + l;
        return v;
      };
      while (p < view.length) {
        const code = view[p++];
        const coll = str();
        const doc = str();
        out.push({ code, coll, doc, field: str() });
      }
      return out;
    });
  }

  /** [[collection, docKey], ...] the last commit or apply touched, read in one call. */
  touched() {
    return this.touchedDocs().list;
  }

  /** The documents the last commit or apply touched, as one buffer (a copy), decoded on first use. */
  touchedDocs() {
    const core = this.core;
    core.check(core.x.wdb_touched_list(this._h(), core.out), 'listing touched documents');
    return new Touched(core.outBytes());
  }

  /** A document's fields decoded, or undefined. */
  getDoc(coll, doc) {
    const view = this.getDocBytes(coll, doc, false);
    return view ? decodeValue(view) : undefined;
  }

  /** The document's canonical map bytes (copied unless borrow), or null. */
  getDocBytes(coll, doc, copy = true) {
    const h = this._h();
    const core = this.core;
    const p = this._pair(coll, doc);
    const rc = core.x.wdb_get_doc(h, p, this._al, p + this._al, this._bl, core.out);
    if (rc === WEFT_ENOTFOUND) return null;
    core.check(rc, `reading ${coll}/${doc}`);
    return copy ? core.outBytes() : core.outView();
  }

  /** Every collection's name the replica has seen (some may have no visible document), sorted. */
  collections() {
    const h = this._h();
    const core = this.core;
    const names = [];
    for (let i = 0; ; i++) {
      const rc = core.x.wdb_collection(h, i, core.out);
      if (rc === WEFT_ENOTFOUND) break;
      core.check(rc, 'listing the collections');
      names.push(dec.decode(core.outView()));
    }
    return names.sort();
  }

  /** Visible document keys of a collection, in byte order, after `after`. */
  *keys(coll, after = null) {
    const h = this._h();
    const core = this.core;
    let prev = after;
    for (;;) {
      const p = this._pair(coll, prev ?? '');
      const rc = core.x.wdb_next_doc(h, p, this._al, p + this._al, prev === null ? 0 : this._bl, core.out);
      if (rc === WEFT_ENOTFOUND) return;
      core.check(rc, `listing ${coll}`);
      const w = core.out >> 2;
      const key = name(core.u8, core.u32[w], core.u32[w + 1]);
      yield key;
      prev = key;
    }
  }

  vv() {
    this.core.check(this.core.x.wdb_vv(this._h(), this.core.out), 'reading the version vector');
    return this.core.outBytes();
  }

  /** Every held change the holder of `vv` lacks, concatenated. */
  diff(vv) {
    const h = this._h();
    return this.core.scope((s) => {
      this.core.check(this.core.x.wdb_diff(h, s.bytes(vv), vv.length, this.core.out), 'computing the diff');
      return this.core.outBytes();
    });
  }

  /**
   * Forgets what this replica keeps per change below `vv` (the vector of a
   * snapshot stored where peers can get it): memory then follows the
   * authors, not the history. `keep`: changes kept per author (0: the
   * core's default, 64). State is untouched.
   */
  forget(vv, keep = 0) {
    const h = this._h();
    this.core.scope((s) => {
      this.core.check(this.core.x.wdb_forget(h, s.bytes(vv), vv.length, keep), 'forgetting history');
    });
  }

  snapshot() {
    this.core.check(this.core.x.wdb_snapshot(this._h(), this.core.out), 'taking a snapshot');
    return this.core.outBytes();
  }

  loadSnapshot(snap) {
    const h = this._h();
    this.core.scope((s) => {
      this.core.check(this.core.x.wdb_load_snapshot(h, s.bytes(snap), snap.length), 'loading the snapshot');
    });
  }

  /**
   * A sealed snapshot of the state for the relay (weft/snapshot.h): sealed
   * with the content key, signed by this replica's author. rseq: the relay
   * sequence reached (0 when unknown). A copy.
   */
  publishSnapshot(rseq, wallMs) {
    this.core.check(this.core.x.wdb_publish_snapshot(this._h(), rseq, wallMs, this.core.out), 'sealing a snapshot');
    return this.core.outBytes();
  }

  /**
   * Verifies (signature, space), opens (content key) and loads a sealed
   * snapshot into this replica, which must hold nothing yet. On failure
   * it throws and the replica is still empty. The publisher's rights are
   * the caller's to check first.
   */
  loadSealedSnapshot(record) {
    const h = this._h();
    this.core.scope((s) => {
      this.core.check(this.core.x.wdb_load_sealed_snapshot(h, s.bytes(record), record.length), 'loading the sealed snapshot');
    });
  }

  stateHash() {
    const h = this._h();
    return this.core.scope((s) => {
      const p = s.alloc(32);
      this.core.check(this.core.x.wdb_state_hash(h, p), 'hashing the state');
      return this.core.u8.slice(p, p + 32);
    });
  }

  changeCount() {
    return this.core.x.wdb_change_count(this._h());
  }

  pendingCount() {
    return this.core.x.wdb_pending_count(this._h());
  }
}
