// The public-API workloads of bench/api_bench.mjs for Yjs, Loro and
// Automerge, through the adapters of bench/peers/ (Y.Map / Y.Text / Y.Array,
// LoroMap / LoroText / LoroMovableList, Automerge maps, splice and lists): the same op sequences,
// traces and checks as weftdb's (bench/api/weftdb.mjs), and figures of the
// same names. Node only.
//
// Automerge makes one change per set or per edit at ~1-10 ms each on a
// large document, so its one-set-per-call figure times the last CAP_SETS
// sets on a map already holding the rest, and its typing figure the first
// CAP_TXNS edits; such figures carry a note and are not counted as the
// best peer (as in bench/peers/run.mjs).
import { checkLww, mapDigest } from '../peers/prng.mjs';
import { LIST_BATCH, checkList, listDigest } from './lists.mjs';

const CAP_SETS = 500;
const CAP_TXNS = 26000;
const now = () => performance.now();
const gc = () => globalThis.gc?.();

async function adapter(peer, kind) {
  return (await import(`../peers/${kind === 'text' ? 'text-' : ''}${peer}.mjs`)).default;
}

function writeAll(p, rep, ops, from, to, batch) {
  for (let i = from; i < to; i += batch) p.writeTxn(rep, ops, i, Math.min(to, i + batch));
}

/** Runs one workload; returns { fig: {metric: [values]}, notes: {metric: text} }. */
export async function run(peer, name, input, runs = 3) {
  const fig = {};
  const notes = {};
  const put = (m, v) => (fig[m] ??= []).push(v);

  if (name === 'map-1' || name === 'map-1000') {
    const p = await adapter(peer, 'map');
    const batch = name === 'map-1' ? 1 : 1000;
    p.setup?.({ batch });
    const { ops } = input;
    const n = ops.key.length;
    const from = batch === 1 && peer === 'automerge' ? n - CAP_SETS : 0;
    let prefix = null;
    if (from) {
      const w = p.create(1, true);
      writeAll(p, w, ops, 0, from, 1000);
      prefix = p.encodeState(w);
      p.free(w);
      notes.write = `timed: the last ${CAP_SETS} of the ${n} sets, one per change, on a map already holding the rest`;
    }
    for (let r = 0; r < runs; r++) {
      const w = from ? p.decodeState(prefix, 1, true) : p.create(1, true);
      gc();
      let t = now();
      writeAll(p, w, ops, from, n, batch);
      put('write', ((n - from) / (now() - t)) * 1e3);
      checkLww(ops, (k) => p.get(w, k), p.size(w), `${peer} writer`);
      const state = p.encodeState(w);
      p.free(w);
      gc();
      t = now();
      const o = p.decodeState(state, 3);
      for (let k = 0; k < ops.nKeys; k++) p.get(o, ops.name[k]);
      put('load + read all', now() - t);
      checkLww(ops, (k) => p.get(o, k), p.size(o), `${peer} loaded`);
      p.free(o);
    }
  } else if (name === 'merge') {
    const p = await adapter(peer, 'map');
    p.setup?.({ batch: 1000 });
    const { ops, opsB } = input;
    for (let r = 0; r < runs; r++) {
      const a = p.create(1, true), b = p.create(2, true);
      writeAll(p, a, ops, 0, ops.key.length, 1000);
      writeAll(p, b, opsB, 0, opsB.key.length, 1000);
      gc();
      const t = now();
      const bytes = p.exchange(a, b);
      put('exchange + merge', now() - t);
      put('bytes exchanged', bytes);
      if (mapDigest(ops.nKeys, (k) => p.get(a, k)) !== mapDigest(ops.nKeys, (k) => p.get(b, k))) throw new Error(`${peer}: merged replicas differ`);
      p.free(a);
      p.free(b);
    }
  } else if (name === 'text') {
    const p = await adapter(peer, 'text');
    const { txns, end } = input;
    const n = peer === 'automerge' ? Math.min(CAP_TXNS, txns.length) : txns.length;
    if (n < txns.length) notes['local apply (one splice per edit)'] = `timed: the first ${n} of the ${txns.length} edits, one change each; the rest typed untimed`;
    for (let r = 0; r < runs; r++) {
      const w = p.create(1, true);
      gc();
      let t = now();
      for (let i = 0; i < n; i++) p.writeTxn(w, txns[i]);
      put('local apply (one splice per edit)', now() - t);
      writeRest(p, w, txns, n);
      if (p.read(w) !== end) throw new Error(`${peer}: the typed text differs from the trace's end`);
      const state = p.encodeState(w);
      p.free(w);
      gc();
      t = now();
      const o = p.decodeState(state);
      const got = p.read(o);
      put('load + read', now() - t);
      if (got !== end) throw new Error(`${peer}: the loaded text differs from the trace's end`);
      p.free(o);
    }
  } else if (name === 'list') {
    const p = (await import(`../peers/list-${peer}.mjs`)).default;
    const { lops } = input;
    for (let r = 0; r < runs; r++) {
      const w = p.create(1);
      gc();
      let t = now();
      for (let i = 0; i < lops.n; i += LIST_BATCH) p.writeTxn(w, lops, i, Math.min(lops.n, i + LIST_BATCH));
      put('apply', now() - t);
      checkList(lops, p.read(w), `${peer} writer`);
      const state = p.encodeState(w);
      put('encoded size', state.length);
      p.free(w);
      gc();
      t = now();
      const o = p.decodeState(state);
      const got = p.read(o);
      put('load + read', now() - t);
      checkList(lops, got, `${peer} loaded`);
      put('_digest', listDigest(got)); // the driver compares it across implementations
      p.free(o);
    }
  } else if (name === 'keystroke') {
    const p = await adapter(peer, 'text');
    const { txns, keystrokes } = input;
    const w = p.create(1, true);
    let bytes = 0;
    for (let i = 0; i < keystrokes; i++) bytes += p.writeTxn(w, txns[i]).length;
    put('bytes per keystroke', bytes / keystrokes);
    p.free(w);
  } else if (name === 'memory') {
    // The growth of the JS heap plus external memory (a WASM library's
    // linear memory at its full size) after typing the whole trace, each
    // after a full GC, from a process that has loaded the library only.
    const p = await adapter(peer, 'text');
    const { txns, end } = input;
    const m0 = memNow();
    const w = p.create(1, true);
    for (const ps of txns) p.writeTxn(w, ps);
    if (p.read(w) !== end) throw new Error(`${peer}: the typed text differs from the trace's end`);
    put('memory after typing (heap + external)', memNow() - m0);
    p.free(w);
  } else throw new Error(`unknown workload ${name}`);
  return { fig, notes };
}

function writeRest(p, w, txns, from) {
  for (let i = from; i < txns.length; i++) p.writeTxn(w, txns[i]);
}

export function memNow() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}
