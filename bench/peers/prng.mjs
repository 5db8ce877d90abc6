// The op sequences of bench/map_bench.c, drawn identically in JS: the same
// splitmix64 (bench/bench_util.h), the same order of draws, the same keys
// and values. Also the checks and the map digest every implementation
// prints, so tools/bench can compare final maps across implementations.
import { createHash } from 'node:crypto';

const MASK = (1n << 64n) - 1n;

/** A splitmix64 generator: each call returns the next 64-bit BigInt. */
export function splitmix64(seed) {
  let s = BigInt.asUintN(64, BigInt(seed));
  return () => {
    s = (s + 0x9e3779b97f4a7c15n) & MASK;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
    return z ^ (z >> 31n);
  };
}

/**
 * n sets on nKeys keys: per op a key index, then a coin; heads an int in
 * 0..2^31 (one draw), tails a string of 4-12 letters (a length, then one
 * draw per letter). Returns { n, nKeys, key: Uint32Array, val: Array,
 * last: Int32Array (per key, the last op writing it or -1), name: key names }.
 */
export function makeOps(seed, n, nKeys) {
  const next = splitmix64(seed);
  const below = (m) => Number(((next() >> 32n) * BigInt(m)) >> 32n);
  const key = new Uint32Array(n);
  const val = new Array(n);
  const last = new Int32Array(nKeys).fill(-1);
  for (let i = 0; i < n; i++) {
    const k = below(nKeys);
    key[i] = k;
    last[k] = i;
    if (next() & 1n) {
      val[i] = Number(next() >> 33n);
    } else {
      const len = 4 + below(9);
      let s = '';
      for (let j = 0; j < len; j++) s += String.fromCharCode(97 + below(26));
      val[i] = s;
    }
  }
  const name = Array.from({ length: nKeys }, (_, k) => `k${k}`);
  return { n, nKeys, key, val, last, name };
}

/** Throws unless every key holds its last write and nothing else is visible. */
export function checkLww(ops, get, size, who) {
  let n = 0;
  for (let k = 0; k < ops.nKeys; k++) {
    const i = ops.last[k];
    const v = get(ops.name[k]);
    if (i < 0 ? v !== undefined : v !== ops.val[i])
      throw new Error(`${who}: key k${k} holds ${v}, expected ${i < 0 ? 'nothing' : ops.val[i]}`);
    if (i >= 0) n++;
  }
  if (size !== n) throw new Error(`${who}: ${size} keys visible, expected ${n}`);
}

/** Throws unless every key holds A's or B's last write to it. */
export function checkMerged(oa, ob, get, size, who) {
  let n = 0;
  for (let k = 0; k < oa.nKeys; k++) {
    const a = oa.last[k], b = ob.last[k];
    const v = get(oa.name[k]);
    const ok = a < 0 && b < 0 ? v === undefined
      : (a >= 0 && v === oa.val[a]) || (b >= 0 && v === ob.val[b]);
    if (!ok) throw new Error(`${who}: key k${k} holds ${v}, neither side's last write`);
    if (a >= 0 || b >= 0) n++;
  }
  if (size !== n) throw new Error(`${who}: ${size} keys visible, expected ${n}`);
}

/** BLAKE2b-512 hex of "k<n>=i<int>\n" / "k<n>=s<string>\n" in key order (as map_bench.c). */
export function mapDigest(nKeys, get) {
  const h = createHash('blake2b512');
  for (let k = 0; k < nKeys; k++) {
    const v = get(`k${k}`);
    if (v === undefined) continue;
    h.update(typeof v === 'number' ? `k${k}=i${v}\n` : `k${k}=s${v}\n`);
  }
  return h.digest('hex');
}
