// Runs the workloads of bench/map_bench.c on one peer CRDT library, with
// the same op sequences (prng.mjs), the same checks before any figure
// counts, and the same record names, so tools/bench can merge them:
//
//   node bench/peers/run.mjs --peer yjs|loro|automerge [--json PATH]
//        [--runs N] [--ops N] [--keys N] [--merge-ops N] [--seed N]
//        [--single-ops N] [--workload lww-1|lww-batch|merge]
//
// Each workload runs in a fresh Node process (this script starts itself
// with --workload and --expose-gc): a library's heap after one workload
// (WASM memory that only grows, garbage, JIT state) must not slow the next.
// --single-ops times only the last N sets of the one-set-per-transaction
// workload (default: all --ops, but 500 for Automerge, whose ~10 ms per
// change at 10k keys would take most of the bench's budget); such records
// say so in a "note" field.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { makeOps, checkLww, checkMerged, mapDigest } from './prng.mjs';

const { values: opt } = parseArgs({
  options: {
    peer: { type: 'string' }, json: { type: 'string' }, runs: { type: 'string', default: '3' },
    ops: { type: 'string', default: '100000' }, keys: { type: 'string', default: '10000' },
    'merge-ops': { type: 'string', default: '50000' }, seed: { type: 'string', default: String(0x57656674) },
    'single-ops': { type: 'string' }, workload: { type: 'string' },
  },
});
const PEERS = ['yjs', 'loro', 'automerge'];
if (!PEERS.includes(opt.peer)) {
  console.error(`usage: run.mjs --peer ${PEERS.join('|')} [--json PATH] [--runs N] ...`);
  process.exit(2);
}
const WORKLOADS = ['lww-1', 'lww-batch', 'merge'];
if (opt.workload === undefined) {
  // The parent: one child process per workload, their records concatenated.
  const dir = mkdtempSync(join(tmpdir(), 'weft-peers-'));
  const all = [];
  try {
    for (const w of WORKLOADS) {
      const out = join(dir, `${w}.json`);
      const args = process.argv.slice(2).filter((a, i, v) => a !== '--json' && v[i - 1] !== '--json');
      execFileSync(process.execPath, ['--expose-gc', process.argv[1], ...args, '--workload', w, '--json', out],
        { stdio: 'inherit' });
      all.push(...JSON.parse(readFileSync(out, 'utf8')));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (opt.json) writeFileSync(opt.json, JSON.stringify(all, null, 2) + '\n');
  process.exit(0);
}
if (!WORKLOADS.includes(opt.workload)) throw new Error(`unknown workload ${opt.workload}`);
const peer = (await import(`./${opt.peer}.mjs`)).default;
const runs = Number(opt.runs), nOps = Number(opt.ops), nKeys = Number(opt.keys);
const mergeOps = Number(opt['merge-ops']), seed = BigInt(opt.seed);
const singleOps = Math.min(nOps, Number(opt['single-ops'] ?? (opt.peer === 'automerge' ? 500 : nOps)));

const results = [];
const add = (workload, metric, value, unit, note) =>
  results.push({ workload, impl: peer.name, metric, value, unit, ...(note ? { note } : {}) });
const human = (n) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : `${n}`);
const median = (v) => {
  const s = [...v].sort((x, y) => x - y), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
// Times f once, after a full GC (node --expose-gc) so one run's garbage is not billed to the next.
function timed(f) {
  globalThis.gc?.();
  const t0 = performance.now();
  const r = f();
  return [performance.now() - t0, r];
}

// Writes ops [from, to) in transactions of `batch`; returns each transaction's update.
function writeAll(rep, ops, from, to, batch) {
  const updates = [];
  for (let i = from; i < to; i += batch) updates.push(peer.writeTxn(rep, ops, i, Math.min(to, i + batch)));
  return updates;
}

function benchLww(batch) {
  const wl = `map LWW: ${human(nOps)} sets on ${human(nKeys)} keys, ${human(batch)} op${batch === 1 ? '' : 's'}/txn`;
  const ops = makeOps(seed, nOps, nKeys);
  const get = (rep) => (k) => peer.get(rep, k);
  // Capped (--single-ops): the first sets are written 1,000 per transaction
  // once, untimed, and each run resumes from that state (writer and reader
  // alike), so the timed tail runs on a map of full size.
  const n = batch === 1 ? singleOps : nOps, from = nOps - n;
  const note = from ? `timed: the last ${human(n)} of the ${human(nOps)} sets, one per transaction, ` +
    `on a map already holding the first ${human(from)} (1 set per transaction is too slow for the bench's budget)` : undefined;
  let prefix;
  if (from) {
    const w = peer.create(1, true);
    writeAll(w, ops, 0, from, 1000);
    prefix = peer.encodeState(w);
    peer.free(w);
  }
  const fresh = (id, capture) => (from ? peer.decodeState(prefix, id, capture) : peer.create(id, capture));

  const tw = [], ta = [];
  let updates, writer, reader;
  for (let r = 0; r < runs; r++) {
    if (writer) peer.free(writer);
    writer = fresh(1, true);
    let t;
    [t, updates] = timed(() => writeAll(writer, ops, from, nOps, batch));
    tw.push(t);
  }
  checkLww(ops, get(writer), peer.size(writer), `${peer.name} writer`);
  for (let r = 0; r < runs; r++) {
    if (reader) peer.free(reader);
    reader = fresh(2);
    ta.push(timed(() => { for (const u of updates) peer.apply(reader, u); })[0]);
  }
  checkLww(ops, get(reader), peer.size(reader), `${peer.name} applier`);
  add(wl, 'write', (n / median(tw)) * 1e3, 'ops/s', note);
  add(wl, 'apply updates', (n / median(ta)) * 1e3, 'ops/s', note);
  if (!note) add(wl, 'update bytes', updates.reduce((s, u) => s + u.length, 0), 'B');

  if (!note) {
    const te = [], td = [], tr = [];
    let state;
    for (let r = 0; r < runs; r++) {
      let t;
      [t, state] = timed(() => peer.encodeState(reader));
      te.push(t);
    }
    for (let r = 0; r < runs; r++) {
      const [t, loaded] = timed(() => peer.decodeState(state));
      td.push(t);
      peer.free(loaded);
      // Decode again, then read every key: some libraries decode lazily.
      const [t2, l2] = timed(() => {
        const l = peer.decodeState(state);
        let sum = 0;
        for (let k = 0; k < nKeys; k++) if (peer.get(l, ops.name[k]) !== undefined) sum++;
        if (!sum) throw new Error('nothing read');
        return l;
      });
      tr.push(t2);
      if (r === 0) checkLww(ops, get(l2), peer.size(l2), `${peer.name} decoded state`);
      peer.free(l2);
    }
    add(wl, 'encode state', median(te), 'ms');
    add(wl, 'state bytes', state.length, 'B');
    add(wl, 'decode state', median(td), 'ms');
    add(wl, 'decode state + read every key', median(tr), 'ms');
    console.log(`map-digest ${batch === 1 ? 'lww-1' : 'lww-batch'} ${mapDigest(nKeys, get(reader))}`);
  }
  peer.free(writer);
  peer.free(reader);
}

function benchMerge(batch) {
  const wl = `concurrent merge: 2 x ${human(mergeOps)} sets on ${human(nKeys)} keys, ${human(batch)} sets/txn`;
  const oa = makeOps(seed + 1n, mergeOps, nKeys), ob = makeOps(seed + 2n, mergeOps, nKeys);
  const t = [];
  let a, b, bytes;
  for (let r = 0; r < runs; r++) {
    if (a) { peer.free(a); peer.free(b); }
    a = peer.create(1, true);
    b = peer.create(2, true);
    writeAll(a, oa, 0, mergeOps, batch);
    writeAll(b, ob, 0, mergeOps, batch);
    let ms;
    [ms, bytes] = timed(() => peer.exchange(a, b));
    t.push(ms);
    const da = mapDigest(nKeys, (k) => peer.get(a, k)), db = mapDigest(nKeys, (k) => peer.get(b, k));
    if (da !== db) throw new Error(`${peer.name}: A and B differ after the exchange`);
  }
  checkMerged(oa, ob, (k) => peer.get(a, k), peer.size(a), `${peer.name} merged A`);
  checkMerged(oa, ob, (k) => peer.get(b, k), peer.size(b), `${peer.name} merged B`);
  add(wl, 'exchange + merge', median(t), 'ms');
  add(wl, 'exchange bytes', bytes, 'B');
  console.log(`map-digest merge ${mapDigest(nKeys, (k) => peer.get(a, k))}`);
  peer.free(a);
  peer.free(b);
}

// An adapter may configure itself per workload (Yjs picks its encoding).
const batch = opt.workload === 'lww-1' ? 1 : 1000;
peer.setup?.({ workload: opt.workload, batch });
if (opt.workload === 'merge') benchMerge(batch);
else benchLww(batch);

const fmt = (r) => r.unit === 'ops/s' ? (r.value >= 1e6 ? `${(r.value / 1e6).toFixed(2)} M` : r.value >= 1e3 ? `${(r.value / 1e3).toFixed(1)} k` : r.value.toFixed(0))
  : r.unit === 'ms' ? r.value.toFixed(2) : String(Math.round(r.value));
for (const r of results) console.log(`${r.workload.padEnd(56)} ${r.metric.padEnd(32)} ${fmt(r).padStart(12)} ${r.unit}${r.note ? ' *' : ''}`);
console.log(`(${peer.name} ${peer.version}, node ${process.version}; medians of ${runs} in-process runs${results.some((r) => r.note) ? '; * ' + results.find((r) => r.note).note : ''})`);
if (opt.json) writeFileSync(opt.json, JSON.stringify(results, null, 2) + '\n');
