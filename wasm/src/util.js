// Small helpers shared by the modules: base64url, hex, a tiny event emitter.
import { WeftError } from './errors.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** base64url without padding (as in invite links and space ids). */
export function toBase64url(bytes) {
  let s = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    s += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8);
    s += B64[n >> 18] + B64[(n >> 12) & 63];
    if (i + 1 < bytes.length) s += B64[(n >> 6) & 63];
  }
  return s;
}

export function fromBase64url(s, what = 'value') {
  if (typeof s !== 'string' || s.length % 4 === 1) throw new WeftError('WEFT_EMALFORMED', `${what} is not base64url`);
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (const c of s) {
    const v = B64_INDEX.get(c);
    if (v === undefined) throw new WeftError('WEFT_EMALFORMED', `${what} is not base64url`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/**
 * The Authorization header value for the relay's REST API (RELAY.md,
 * "Authorization"): the device's token, or for a device admitted by its
 * grant (it claimed an invite) "Grant" and its claim (its key when none).
 */
export function relayAuthorization(meta) {
  if (meta.byGrant) return `Grant ${toBase64url(meta.claim ?? meta.author)}`;
  return `Bearer ${toBase64url(meta.token)}`;
}

export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** The bytes of `parts` one after another, in a new array. */
export function concatBytes(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * on(name, fn) returns an unsubscribe function. A listener that throws
 * never breaks the emitter or the host: its error goes to `onThrow` (the
 * space sends it to its 'error' listeners), and an 'error' listener's own
 * error to reportError.
 */
export class Emitter {
  /** @param {(e: unknown) => void} [onThrow] */
  constructor(onThrow = reportError) {
    this.listeners = new Map();
    this.onThrow = onThrow;
  }
  /** True when `name` has a listener (an event costly to build is built only then). */
  has(name) {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }
  on(name, fn) {
    if (typeof fn !== 'function') throw new WeftError('WEFT_EINVAL', 'listener must be a function');
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.off(name, fn);
  }
  off(name, fn) {
    this.listeners.get(name)?.delete(fn);
  }
  emit(name, arg) {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(arg);
      } catch (e) {
        if (name === 'error') reportError(e);
        else this.onThrow(e);
      }
    }
  }
  clear() {
    this.listeners.clear();
  }
}

/**
 * Reports an error nobody listens for without breaking anything: the
 * browser's reportError (window 'error' event, error trackers) where there
 * is one, else console.error. Never rethrown: in Node an uncaught error
 * would end the process.
 */
export function reportError(e) {
  if (typeof globalThis.reportError === 'function') {
    try {
      globalThis.reportError(e);
      return;
    } catch {
      // fall through to the console
    }
  }
  console.error('weftdb:', e);
}

/**
 * A new object with the members `names` (space-separated) of `all`, getters
 * kept: the narrow port a module gets instead of the whole object.
 * @returns {any} the port type its caller names
 */
export function pick(all, names) {
  const d = Object.getOwnPropertyDescriptors(all);
  const port = {};
  for (const n of names.split(' ')) {
    if (!d[n]) throw new Error(`weftdb: no port member ${n}`); // a typo here, not the app's fault
    Object.defineProperty(port, n, { ...d[n], enumerable: true });
  }
  return port;
}

const utf8 = new TextEncoder();

/** Throws WEFT_EINVAL unless s is a non-empty, well-formed string of at most max bytes of UTF-8. */
export function checkName(what, s, max) {
  if (typeof s !== 'string' || s.length === 0) throw new WeftError('WEFT_EINVAL', `${what} must be a non-empty string`);
  if (s.isWellFormed && !s.isWellFormed()) throw new WeftError('WEFT_EINVAL', `${what} is not well-formed Unicode`);
  if (s.length > max / 3 && utf8.encode(s).length > max) throw new WeftError('WEFT_EINVAL', `${what} is longer than ${max} bytes of UTF-8`);
}
