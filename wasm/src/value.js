// JS values <-> the core's canonical value encoding (docs/FORMAT.md §2).
//
// Encoding and decoding live in JS, not in C: a document crosses the
// boundary as one byte string instead of one call per nested value, JS
// builds strings and objects faster than it could read them out of the heap
// piecewise, and the core still checks every value it is given
// (weft_value_check in weft_replica_put), so a bug here cannot put a
// non-canonical value into a space: it would be refused with WEFT_EINVAL.
//
// Mapping: null <-> null; booleans; integers (safe JS integers and BigInts
// in int64 range) <-> int; other numbers (and -0) <-> float; strings;
// Uint8Array <-> bytes; arrays; plain objects <-> map (keys sorted by their
// UTF-8 bytes, `undefined` members skipped); a Date -> its ISO 8601 UTC
// string (a convention, no tag of its own: it reads back as that string,
// which sorts in time order). Ints outside the safe range decode as BigInt.
// Anything else (functions, symbols, invalid Dates, class instances...) is
// refused with WEFT_EINVAL.
import { WeftError } from './errors.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const MAX_DEPTH = 32;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

class Writer {
  constructor(cap = 64) {
    this.buf = new Uint8Array(cap);
    this.len = 0;
  }
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u8(b) {
    this.reserve(1);
    this.buf[this.len++] = b;
  }
  varint(n) {
    // n: a non-negative safe integer; below 2^31 in int32 arithmetic.
    this.reserve(10);
    if (n < 0x80000000) {
      const buf = this.buf;
      let p = this.len;
      while (n >= 0x80) {
        buf[p++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      buf[p++] = n;
      this.len = p;
      return;
    }
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.len++] = n;
  }
  varintBig(n) {
    this.reserve(10);
    while (n >= 0x80n) {
      this.buf[this.len++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.buf[this.len++] = Number(n);
  }
  bytes(b) {
    this.varint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  text(s) {
    // Lone surrogates would become U+FFFD silently, so they are refused first.
    if (!s.isWellFormed?.() && hasLoneSurrogate(s))
      throw new WeftError('WEFT_EINVAL', 'string is not well-formed Unicode (lone surrogate)');
    this.utf8(s);
  }
  /**
   * varint length + s when s is short ASCII (under 42 units, so its length
   * takes one byte) and returns true; else writes nothing and returns false.
   */
  ascii(s) {
    const n = s.length;
    if (n >= 0x2a) return false;
    this.reserve(1 + n);
    const buf = this.buf;
    const at = this.len;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[at + 1 + i] = c;
    }
    buf[at] = n;
    this.len = at + 1 + n;
    return true;
  }
  /** varint length + UTF-8 of s, known to be well-formed (a name checked before). */
  utf8(s) {
    // Worst case 3 bytes per UTF-16 unit.
    if (s.length < 0x80 / 3) {
      this.reserve(1 + s.length * 3);
      // Short ASCII (names, ids, most strings) byte by byte: cheaper than
      // encodeInto and the subarray it needs.
      const buf = this.buf;
      let p = this.len + 1, i = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === s.length) {
        buf[this.len] = s.length;
        this.len = p;
        return;
      }
      const at = this.len + 1;
      const { written } = enc.encodeInto(s, this.buf.subarray(at));
      this.buf[this.len] = written;
      this.len = at + written;
      return;
    }
    this.bytes(enc.encode(s));
  }
}

function hasLoneSurrogate(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
      else return true;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);

function writeInt(w, v) {
  // zigzag of a safe integer, in doubles while it fits 2^53.
  w.u8(0x03);
  if (Number.isSafeInteger(v) && Math.abs(v) < 2 ** 52) {
    w.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  } else {
    const b = BigInt(v);
    w.varintBig(b >= 0n ? b << 1n : (-b << 1n) - 1n);
  }
}

function writeValue(w, v, depth) {
  switch (typeof v) {
    case 'boolean':
      w.u8(v ? 0x02 : 0x01);
      return;
    case 'number':
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
        writeInt(w, v);
      } else {
        w.u8(0x04);
        f64[0] = v;
        w.reserve(8);
        // Float64Array uses the platform's byte order; every WASM host is
        // little-endian, as the format requires.
        w.buf.set(f64b, w.len);
        w.len += 8;
      }
      return;
    case 'bigint':
      if (v < I64_MIN || v > I64_MAX)
        throw new WeftError('WEFT_EINVAL', `integer ${v} is outside the int64 range`);
      w.u8(0x03);
      w.varintBig(v >= 0n ? v << 1n : (-v << 1n) - 1n);
      return;
    case 'string':
      w.u8(0x05);
      w.text(v);
      return;
    case 'object':
      break;
    default:
      throw new WeftError('WEFT_EINVAL', `a ${typeof v} cannot be stored`);
  }
  if (v === null) {
    w.u8(0x00);
    return;
  }
  if (v instanceof Uint8Array) {
    w.u8(0x06);
    w.bytes(v);
    return;
  }
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new WeftError('WEFT_EINVAL', 'an invalid Date cannot be stored');
    w.u8(0x05);
    w.text(v.toISOString());
    return;
  }
  if (depth >= MAX_DEPTH)
    throw new WeftError('WEFT_ETOOBIG', `values nest at most ${MAX_DEPTH} deep`);
  if (Array.isArray(v)) {
    w.u8(0x07);
    w.varint(v.length);
    for (const x of v) writeValue(w, x === undefined ? null : x, depth + 1);
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null)
    throw new WeftError('WEFT_EINVAL', `a ${proto?.constructor?.name ?? 'object'} cannot be stored (plain objects, arrays, Uint8Array only)`);
  writeMap(w, v, depth, null);
}

/**
 * A plain object as a map (keys sorted by their UTF-8 bytes, undefined
 * members skipped). checkKey, when given, checks each key first (a
 * document's field names, ops.js).
 */
function writeMap(w, v, depth, checkKey) {
  let keys = Object.keys(v);
  let n = 0;
  let sorted = true;
  let prev = null;
  let wide = false; // a key with a unit >= U+D800, where UTF-16 order and UTF-8 byte order differ
  for (let j = 0; j < keys.length; j++) {
    const k = keys[j];
    if (v[k] === undefined) continue;
    n++;
    if (prev !== null && k < prev) sorted = false;
    prev = k;
    if (!wide) for (let i = 0; i < k.length; i++) if (k.charCodeAt(i) >= 0xd800) wide = true;
  }
  // Most objects have their keys in order and none undefined: written as they are.
  if (n !== keys.length) keys = keys.filter((k) => v[k] !== undefined);
  if (n > 1 && (!sorted || wide)) {
    if (!wide) keys.sort(); // code unit order: the byte order of their UTF-8 below U+D800
    else {
      const bytes = new Map(keys.map((k) => [k, enc.encode(k)]));
      keys.sort((a, b) => compareBytes(bytes.get(a), bytes.get(b)));
    }
  }
  w.u8(0x08);
  w.varint(keys.length);
  for (const k of keys) {
    if (checkKey) checkKey(k);
    else if (wide && hasLoneSurrogate(k)) throw new WeftError('WEFT_EINVAL', 'map key is not well-formed Unicode');
    w.utf8(k);
    writeValue(w, v[k], depth + 1);
  }
}

/** Encodes one JS value canonically. Returns a new Uint8Array. */
export function encodeValue(v) {
  const w = new Writer();
  writeValue(w, v, 0);
  return w.buf.subarray(0, w.len);
}

/** Encodes into a reusable writer (the hot path of put). */
export function encodeValueInto(w, v) {
  w.len = 0;
  writeValue(w, v, 0);
  return w.len;
}

/** Appends one JS value's encoding to writer w (an op buffer, ops.js). */
export function appendValue(w, v) {
  writeValue(w, v, 0);
}

/**
 * Appends a document's fields (a plain object) as one map, each key
 * checked by checkKey(k) (which throws a WeftError for a bad one and
 * ensures it is well-formed).
 */
export function appendFields(w, data, checkKey) {
  const proto = Object.getPrototypeOf(data);
  if (proto !== Object.prototype && proto !== null)
    throw new WeftError('WEFT_EINVAL', `a ${proto?.constructor?.name ?? 'object'} cannot be stored (plain objects, arrays, Uint8Array only)`);
  writeMap(w, data, 0, checkKey);
}

export { Writer };

// ---- decoding ----

class Reader {
  constructor(buf, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }
  varint() {
    let n = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new WeftError('WEFT_ETRUNCATED', 'value ends early');
      const b = this.buf[this.pos++];
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
  }
  varintBig() {
    let n = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new WeftError('WEFT_ETRUNCATED', 'value ends early');
      const b = this.buf[this.pos++];
      n |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return n;
      shift += 7n;
    }
  }
  text() {
    const n = this.varint();
    const s = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return n === 0 ? '' : dec.decode(s);
  }
}

function readInt(r) {
  // Up to 7 varint bytes (49 bits) the double path is exact; beyond, BigInt.
  const start = r.pos;
  let len = 0;
  while (len < 10 && r.buf[start + len] & 0x80) len++;
  if (len < 7) {
    const u = r.varint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  const u = r.varintBig();
  const v = u & 1n ? -((u + 1n) >> 1n) : u >> 1n;
  return v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n ? Number(v) : v;
}

function readValue(r) {
  const tag = r.buf[r.pos++];
  switch (tag) {
    case 0x00:
      return null;
    case 0x01:
      return false;
    case 0x02:
      return true;
    case 0x03:
      return readInt(r);
    case 0x04: {
      for (let i = 0; i < 8; i++) f64b[i] = r.buf[r.pos + i];
      r.pos += 8;
      return f64[0];
    }
    case 0x05:
      return r.text();
    case 0x06: {
      const n = r.varint();
      const b = r.buf.slice(r.pos, r.pos + n);
      r.pos += n;
      return b;
    }
    case 0x07: {
      const n = r.varint();
      const a = new Array(n);
      for (let i = 0; i < n; i++) a[i] = readValue(r);
      return a;
    }
    case 0x08: {
      const n = r.varint();
      const o = {};
      for (let i = 0; i < n; i++) {
        const k = r.text();
        // defineProperty: a key named __proto__ stays data, not a prototype.
        Object.defineProperty(o, k, { value: readValue(r), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
    default:
      throw new WeftError('WEFT_EMALFORMED', `unknown value tag ${tag}`);
  }
}

/** Decodes one canonical value from buf[pos, end) (values the core hands
 * out are already validated). Strings and bytes are copied, so the result
 * never aliases buf. */
export function decodeValue(buf, pos = 0, end = buf.length) {
  return readValue(new Reader(buf, pos, end));
}

function skipValue(r) {
  const tag = r.buf[r.pos++];
  switch (tag) {
    case 0x03:
      while (r.buf[r.pos++] & 0x80);
      return;
    case 0x04:
      r.pos += 8;
      return;
    case 0x05:
    case 0x06: {
      const n = r.varint(); // (r.pos += r.varint() would lose the varint's own bytes)
      r.pos += n;
      return;
    }
    case 0x07: {
      const n = r.varint();
      for (let i = 0; i < n; i++) skipValue(r);
      return;
    }
    case 0x08: {
      const n = r.varint();
      for (let i = 0; i < n; i++) {
        const k = r.varint();
        r.pos += k;
        skipValue(r);
      }
      return;
    }
    default:
      return; // null, false, true: no payload
  }
}

/**
 * A list's items as the core lists them (weft_replica_list_items): varint
 * count, then per item its author key (32 bytes), varint seq and value.
 * Returns [{ id, value, raw }]: id names the item for its life
 * ("<author hex prefix>.<seq>" is not enough: the whole key is kept),
 * raw its value's bytes (a copy), to tell a set from no change.
 */
export function decodeListItems(buf) {
  const r = new Reader(buf);
  const n = r.varint();
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    let id = '';
    for (let k = r.pos; k < r.pos + 32; k++) id += (buf[k] < 16 ? '0' : '') + buf[k].toString(16);
    r.pos += 32;
    id += '.' + r.varint();
    const start = r.pos;
    const value = readValue(r);
    out[i] = { id, value, raw: buf.slice(start, r.pos) };
  }
  return out;
}

/** The keys of a canonical map value (a document's field names), without decoding the values. */
export function mapKeys(buf) {
  const r = new Reader(buf);
  if (r.buf[r.pos++] !== 0x08) throw new WeftError('WEFT_EMALFORMED', 'not a map');
  const n = r.varint();
  const keys = new Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = r.text();
    skipValue(r);
  }
  return keys;
}
