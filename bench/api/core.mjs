// The core's own signed write rate in the public-API section: the same
// op sequence as map-1000 (bench/api_bench.mjs), written through the C ABI
// weftdb sits on (wasm/src/weftdb_abi.c) without its JS layer: one
// wdb_write_ops buffer of 1,000 REPLACE ops ({ v }: what `put` asks the
// core for) and one wdb_commit per change, suite V1 (libsodium.js), as the
// package runs. The buffer is encoded here, as a binding would. weftdb's
// batched `put` is measured against this (aim: within 1.5×). Node only.
import sodium from 'libsodium-wrappers';
import { readFile } from 'node:fs/promises';
import WeftCore from '../../wasm/dist/weftdb_core.mjs';

const now = () => performance.now();
const gc = () => globalThis.gc?.();
const REPLACE = 2;

async function load() {
  await sodium.ready;
  const module = await WebAssembly.compile(await readFile(new URL('../../wasm/dist/weftdb_core.wasm', import.meta.url)));
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
  return { M, u8: () => new Uint8Array(memory.buffer) };
}

/** Runs map-1000 `runs` times; returns { fig: { write: [ops/s] }, notes }. */
export async function run(name, input, runs = 3) {
  if (name !== 'map-1000') throw new Error(`core: no workload ${name}`);
  const { M, u8 } = await load();
  const check = (rc, what) => { if (rc < 0) throw new Error(`core ${what}: ${rc}`); return rc; };
  const enc = new TextEncoder();
  const out = M._malloc(64);
  const pk = M._malloc(32), sk = M._malloc(64), key = M._malloc(32), space = M._malloc(32);
  check(M._wdb_keypair(pk, sk), 'keypair');
  check(M._wdb_random(key, 32), 'random');
  check(M._wdb_random(space, 32), 'random');
  const { ops } = input;
  const names = ops.name.map((k) => enc.encode(k));
  const coll = enc.encode('m');
  const buf = M._malloc(1000 * 64);
  // One REPLACE of document `name` with { v: val } (an int or a short string) at p; returns the end.
  const replaceOp = (a, p, name, val) => {
    a[p++] = REPLACE;
    a[p++] = coll.length;
    a.set(coll, p);
    p += coll.length;
    a[p++] = name.length;
    a.set(name, p);
    p += name.length;
    a[p++] = 0x08; // a map of one field
    a[p++] = 1;
    a[p++] = 1;
    a[p++] = 0x76; // 'v'
    return value(a, p, val);
  };
  // The canonical encoding of val at p; returns the end.
  const value = (a, p, val) => {
    if (typeof val === 'string') { // short lowercase ASCII (prng.mjs)
      a[p++] = 0x05;
      a[p++] = val.length;
      for (let i = 0; i < val.length; i++) a[p++] = val.charCodeAt(i);
      return p;
    }
    a[p++] = 0x03; // int, zigzag varint
    let z = val >= 0 ? val * 2 : -val * 2 - 1;
    while (z >= 0x80) { a[p++] = (z % 0x80) | 0x80; z = Math.floor(z / 0x80); }
    a[p++] = z;
    return p;
  };
  const fig = { write: [] };
  for (let r = 0; r < runs; r++) {
    check(M._wdb_new(out, space, pk, sk, key), 'wdb_new');
    const h = new Uint32Array(u8().buffer)[out >> 2];
    gc();
    const t = now();
    const n = ops.key.length;
    for (let i = 0; i < n; i += 1000) {
      const a = u8();
      let p = buf;
      for (let j = i; j < Math.min(n, i + 1000); j++) p = replaceOp(a, p, names[ops.key[j]], ops.val[j]);
      check(M._wdb_write_ops(h, buf, p - buf, out), 'write_ops');
      check(M._wdb_commit(h, Date.now(), out), 'commit');
    }
    fig.write.push((n / (now() - t)) * 1e3);
    // Every key holds its last write (prng.mjs), read back through the ABI.
    const a = u8();
    for (let k = 0; k < ops.nKeys; k++) {
      const i = ops.last[k];
      if (i < 0) continue;
      let p = buf;
      a.set(coll, p);
      a.set(names[k], p + coll.length);
      a[p + coll.length + names[k].length] = 0x76;
      const want = buf + 512;
      const end = value(a, want, ops.val[i]);
      check(M._wdb_get_field(h, buf, coll.length, buf + coll.length, names[k].length, buf + coll.length + names[k].length, 1, out), 'get_field');
      const o = new Uint32Array(a.buffer, out, 2);
      if (o[1] !== end - want || a.subarray(o[0], o[0] + o[1]).some((b, x) => b !== a[want + x])) throw new Error(`core: key ${ops.name[k]} does not hold its last write`);
    }
    M._wdb_free(h);
  }
  return { fig, notes: { write: 'the core through its C ABI, no JS layer (bench/api/core.mjs): the bar weftdb\'s batched put is measured against' } };
}
