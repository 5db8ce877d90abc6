// Stable positions in a text as strings (docs/TEXT.md, "Stable
// positions"): an anchor names a character and a side instead of an index,
// so it resolves to the right place after anyone's edits. The string is
// what apps store or send in presence:
//   '<'  the start of the text     '>'  its end
//   side ‖ base64url(author key, 43 chars) ‖ seq in base 36
// side '<' sticks to the character before the position (text typed at it
// goes after the anchor), '>' to the character after (text typed at it
// goes before). The core's form is 40 bytes: key, seq (u32), assoc (i32).
import { WeftError } from './errors.js';
import { fromBase64url, toBase64url } from './util.js';

const ANCHOR = /^[<>](?:[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048][0-9a-z]{1,7})?$/;
const MAX_SEQ = 0xfffffffe; // below WEFT_TEXT_ANCHOR_EDGE

/** The string for the core's 40 bytes. */
export function encodeAnchor(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 40);
  const side = dv.getInt32(36, true) < 0 ? '<' : '>';
  const seq = dv.getUint32(32, true);
  if (seq === 0xffffffff) return side;
  return side + toBase64url(bytes.subarray(0, 32)) + seq.toString(36);
}

/**
 * The parts of an anchor string: { before, edge } for the edges, or
 * { before, bytes } (the core's 40 bytes). Throws WEFT_EINVAL for anything
 * that is not an anchor.
 */
export function decodeAnchor(s) {
  if (typeof s !== 'string' || !ANCHOR.test(s)) throw new WeftError('WEFT_EINVAL', 'not a text anchor');
  const before = s[0] === '<';
  if (s.length === 1) return { before, edge: true };
  const seq = parseInt(s.slice(44), 36);
  if (seq > MAX_SEQ || s.slice(44) !== seq.toString(36)) throw new WeftError('WEFT_EINVAL', 'not a text anchor');
  const bytes = new Uint8Array(40);
  bytes.set(fromBase64url(s.slice(1, 44), 'an anchor'));
  const dv = new DataView(bytes.buffer);
  dv.setUint32(32, seq, true);
  dv.setInt32(36, before ? -1 : 0, true);
  return { before, bytes };
}
