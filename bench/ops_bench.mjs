// ops_bench.mjs: the WASM side of bench/ops_bench.c. Calls the weftdb ABI
// (wasm/src/weftdb_abi.c) directly, without the package's JS layer, to
// measure what one boundary crossing per batch costs against one per
// field: wdb_put per set vs wdb_write_ops with buffers of 1,000 sets and
// of one set, suite V1 (libsodium.js) throughout, as the package runs.
// The buffers are encoded here in JS, per set, as a binding would (names
// as length-prefixed UTF-8, the value's canonical encoding).
//
//   wasm/build.sh && node bench/ops_bench.mjs [--runs N]
//
// type/*: 2,000 one-character keystrokes at the end of a text, a change
// each (wdb_text_splice) or joining the open change (wdb_text_edit) with a
// commit every 100, which must end in the same state.
//
// Each figure is sets (keystrokes) per second, the best of N runs (3); every buffered
// case must end in the same state hash as wdb_put.
import sodium from 'libsodium-wrappers';
import { readFile } from 'node:fs/promises';
import WeftCore from '../wasm/dist/weftdb_core.mjs';

const N_SETS = 100000, N_KEYS = 10000, BATCH = 1000, N_SINGLE = 2000, N_TYPED = 2000;
const runs = process.argv.includes('--runs') ? +process.argv[process.argv.indexOf('--runs') + 1] : 3;

await sodium.ready;
const module = await WebAssembly.compile(await readFile(new URL('../wasm/dist/weftdb_core.wasm', import.meta.url)));
let instance;
const M = await WeftCore({
  sodium,
  instantiateWasm(imports, done) {
    WebAssembly.instantiate(module, imports).then((inst) => { instance = inst; done(inst, module); });
    return {};
  },
  print: () => {},
  printErr: (s) => console.warn(s),
});
const memory = Object.values(instance.exports).find((e) => e instanceof WebAssembly.Memory);
const u8 = () => new Uint8Array(memory.buffer);
const u32 = () => new Uint32Array(memory.buffer);
const enc = new TextEncoder();
const check = (rc, what) => { if (rc < 0) throw new Error(`${what}: ${rc}`); return rc; };

const out = M._malloc(64);
const pk = M._malloc(32), sk = M._malloc(64), key = M._malloc(32), space = M._malloc(32);
check(M._wdb_keypair(pk, sk), 'keypair');
check(M._wdb_random(key, 32), 'random');
u8().fill(0x0b, space, space + 32);

const keys = Array.from({ length: N_SETS }, (_, i) => `k${(i * 7919) % N_KEYS}`);

function fresh() {
  check(M._wdb_new(out, space, pk, sk, key), 'wdb_new');
  return u32()[out >> 2];
}

function hashOf(h) {
  const p = M._malloc(32);
  check(M._wdb_state_hash(h, p), 'hash');
  const v = Buffer.from(u8().slice(p, p + 32)).toString('hex');
  M._free(p);
  return v;
}

// A growable scratch buffer in the heap, as a binding would keep one.
let cap = 1 << 16, buf = M._malloc(cap);
function ensure(n) {
  if (n <= cap) return;
  M._free(buf);
  while (cap < n) cap *= 2;
  buf = M._malloc(cap);
}

function varint(a, p, v) {
  while (v >= 0x80) { a[p++] = (v % 0x80) | 0x80; v = Math.floor(v / 0x80); }
  a[p++] = v;
  return p;
}

// Writes one PUT op of items/key.v = i at p; returns the end.
function putOp(a, p, key, i) {
  a[p++] = 1; // WEFT_OPS_PUT
  a[p++] = 5;
  p += enc.encodeInto('items', a.subarray(p)).written;
  const kl = enc.encodeInto(key, a.subarray(p + 1)).written;
  a[p] = kl;
  p += 1 + kl;
  a[p++] = 1;
  a[p++] = 0x76; // 'v'
  a[p++] = 0x03; // int
  return varint(a, p, i * 2);
}

function commit(h) {
  check(M._wdb_commit(h, Date.now(), out), 'commit');
}

const cases = {
  'put/1000'(h) { // one wdb_put per set (coll, doc, field, value copied in per call)
    for (let i = 0; i < N_SETS; i++) {
      const a = u8();
      const k = keys[i];
      let p = buf;
      p += enc.encodeInto('items', a.subarray(p)).written;
      const kp = p;
      p += enc.encodeInto(k, a.subarray(p)).written;
      a[p] = 0x76;
      const vp = p + 1;
      const ve = varint(a, vp + 1, i * 2);
      a[vp] = 0x03;
      check(M._wdb_put(h, buf, 5, kp, p - kp, p, 1, vp, ve - vp), 'put');
      if (i % BATCH === BATCH - 1) commit(h);
    }
    return N_SETS;
  },
  'buf1000/1000'(h) {
    ensure(BATCH * 40);
    for (let i = 0; i < N_SETS; i += BATCH) {
      const a = u8();
      let p = buf;
      for (let j = i; j < i + BATCH; j++) p = putOp(a, p, keys[j], j);
      check(M._wdb_write_ops(h, buf, p - buf, out), 'write_ops');
      commit(h);
    }
    return N_SETS;
  },
  'buf1/100000'(h) { // one crossing per set, one commit for the task
    for (let i = 0; i < N_SETS; i++) {
      const p = putOp(u8(), buf, keys[i], i);
      check(M._wdb_write_ops(h, buf, p - buf, out), 'write_ops');
    }
    commit(h);
    return N_SETS;
  },
  'put/1'(h) { // one change per set, as a write outside transact today
    for (let i = 0; i < N_SINGLE; i++) {
      const p = putOp(u8(), buf, keys[i], i);
      check(M._wdb_write_ops(h, buf, p - buf, out), 'write_ops');
      commit(h);
    }
    return N_SINGLE;
  },
  // Typing: one-character inserts at the end of a text, as wdb_text_splice
  // (a change per keystroke, today) and as wdb_text_edit joining the open
  // change, committed every 100 keystrokes (a binding's coalescing window).
  'type/splice'(h) { return type(h, false); },
  'type/edit100'(h) { return type(h, true); },
};

function type(h, join) {
  const a = u8();
  let p = buf;
  const cp = p; p += enc.encodeInto('notes', a.subarray(p)).written;
  const dp = p; p += enc.encodeInto('n1', a.subarray(p)).written;
  const fp = p; p += enc.encodeInto('body', a.subarray(p)).written;
  const tp = p; a[tp] = 0x61;
  for (let i = 0; i < N_TYPED; i++) {
    const fn = join ? M._wdb_text_edit : M._wdb_text_splice;
    check(fn(h, cp, 5, dp, 2, fp, 4, i, 0, tp, 1, Date.now(), out), 'text');
    if (join && i % 100 === 99) commit(h);
  }
  if (join && M._wdb_txn_ops(h)) commit(h);
  return N_TYPED;
}

console.log(`${'case'.padEnd(14)} ${'sets/s (V1)'.padStart(12)}   WASM in Node ${process.version}, best of ${runs}`);
let ref = null;
for (const [name, fn] of Object.entries(cases)) {
  let best = Infinity, n = 0;
  for (let r = 0; r < runs; r++) {
    const h = fresh();
    const t0 = performance.now();
    n = fn(h);
    const t = (performance.now() - t0) / 1000;
    const hash = hashOf(h);
    M._wdb_free(h);
    if (name === 'put/1000' && r === 0) ref = hash;
    if (name === 'type/splice' && r === 0) ref = hash;
    if (name !== 'put/1' && hash !== ref) throw new Error(`${name}: another state than ${name.startsWith('type') ? 'type/splice' : 'put/1000'}`);
    best = Math.min(best, t);
  }
  console.log(`${name.padEnd(14)} ${Math.round(n / best).toString().padStart(12)}`);
}
