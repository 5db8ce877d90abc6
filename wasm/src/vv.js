// Version vectors as JS reads them (docs/FORMAT.md §6): (author key[32],
// varint seq) entries, ascending by author, no count. The core checks the
// vectors it is given; this only answers "does one cover the other", for
// changesSince() below a snapshot.
import { WeftError } from './errors.js';
import { toHex } from './util.js';

/** Map of author (hex) -> highest seq held. Throws WEFT_EMALFORMED / WEFT_ETRUNCATED. */
export function decodeVV(vv) {
  const out = new Map();
  let p = 0;
  while (p < vv.length) {
    if (p + 32 >= vv.length) throw new WeftError('WEFT_ETRUNCATED', 'version vector ends inside an entry');
    const author = toHex(vv.subarray(p, p + 32));
    p += 32;
    let seq = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (i === 10 || p >= vv.length) throw new WeftError('WEFT_ETRUNCATED', 'version vector ends inside a seq');
      const b = vv[p++];
      seq += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) break;
    }
    if (seq === 0) throw new WeftError('WEFT_EMALFORMED', 'version vector entry with seq 0');
    out.set(author, seq);
  }
  return out;
}

/** Whether the holder of vector `a` holds every change vector `b` names. */
export function vvCovers(a, b) {
  const have = decodeVV(a);
  for (const [author, seq] of decodeVV(b)) if ((have.get(author) ?? 0) < seq) return false;
  return true;
}
