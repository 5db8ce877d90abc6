// Runs the workloads of bench/map_bench.c on one peer CRDT library, with
// the same op sequences (prng.mjs), the same checks before any figure
// counts, and the same record names, so tools/bench can merge them:
//
//   node bench/peers/run.mjs --peer yjs|loro|automerge [--json PATH]
//        [--runs N] [--ops N] [--keys N] [--merge-ops N] [--seed N]
//        [--single-ops N] [--workload lww-1|lww-batch|merge|text]
//        [--trace PATH] [--text-txns N] [--no-memory]
//
// Each workload runs in a fresh Node process (this script starts itself
// with --workload and --expose-gc): a library's heap after one workload
// (WASM memory that only grows, garbage, JIT state) must not slow the next.
// --single-ops times only the last N sets of the one-set-per-transaction
// workload (default: all --ops, but 500 for Automerge, whose ~10 ms per
// change at 10k keys would take most of the bench's budget); such records
// say so in a "note" field.
// The text workload (bench/text_bench.c's, issue 11) replays an editing
// trace (default: the automerge-paper trace) through text-<peer>.mjs; see
// benchText below. --text-txns times only the first N transactions of the
// trace (default: all, but 26,000 for Automerge); --text-remote-txns the
// same for the remote apply (default: all, but 26,000 for Loro, whose one
// import per edit takes ~14 s per run, and 2,000 for Automerge, whose
// applyChanges per change grows with the document: ~1 ms each at 2,000).
// After the batched map figures and the text figures, memory (after apply
// and load; after local apply, remote apply and load) is measured in more
// fresh processes (measureMemory); --no-memory skips them.
import { gunzipSync } from 'node:zlib';
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
    trace: { type: 'string' }, 'text-txns': { type: 'string' }, 'text-remote-txns': { type: 'string' },
    'no-memory': { type: 'boolean' }, phase: { type: 'string' }, input: { type: 'string' },
  },
});
const PEERS = ['yjs', 'loro', 'automerge'];
if (!PEERS.includes(opt.peer)) {
  console.error(`usage: run.mjs --peer ${PEERS.join('|')} [--json PATH] [--runs N] ...`);
  process.exit(2);
}
const WORKLOADS = ['lww-1', 'lww-batch', 'merge', 'text'];
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
if (!WORKLOADS.includes(opt.workload) && !/^(text|map)-memory$/.test(opt.workload)) throw new Error(`unknown workload ${opt.workload}`);
const peer = (await import(`./${opt.workload.startsWith('text') ? 'text-' : ''}${opt.peer}.mjs`)).default;
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

// Memory figures: each phase in a fresh process (--workload map-memory or
// text-memory, see memoryMap and memoryText), fed the updates (framed: u32
// length, bytes) and the state through files in a temporary directory.
function measureMemory(wl, workload, updates, state, phases, noteFor) {
  const dir = mkdtempSync(join(tmpdir(), 'weft-mem-'));
  try {
    const framed = Buffer.alloc(updates.reduce((n, u) => n + 4 + u.length, 0));
    let o = 0;
    for (const u of updates) {
      framed.writeUInt32LE(u.length, o);
      framed.set(u, o + 4);
      o += 4 + u.length;
    }
    writeFileSync(join(dir, 'updates'), framed);
    writeFileSync(join(dir, 'state'), state);
    const pass = ['ops', 'keys', 'seed', 'trace'].flatMap((k) => (opt[k] !== undefined ? [`--${k}`, opt[k]] : []));
    for (const [phase, metric] of phases) {
      const out = execFileSync(process.execPath, ['--expose-gc', process.argv[1], '--peer', opt.peer, ...pass,
        '--workload', workload, '--phase', phase, '--input', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      add(wl, metric, JSON.parse(out).bytes, 'B', noteFor?.(phase));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readFramed(b) {
  const out = [];
  for (let o = 0; o < b.length; o += 4 + b.readUInt32LE(o)) out.push(b.subarray(o + 4, o + 4 + b.readUInt32LE(o)));
  return out;
}

// The growth of the JS heap plus external memory (where a WASM library's
// linear memory counts at its full size), after a full GC.
function memNow() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

// Memory of one map replica (the batched workload): a fresh replica that
// applied every update, one call each, or one decoded from the state, each
// after every key was checked. Prints {"bytes": N, ...}.
function memoryMap() {
  const ops = makeOps(seed, nOps, nKeys);
  const input = readFileSync(join(opt.input, opt.phase === 'apply' ? 'updates' : 'state'));
  const updates = opt.phase === 'apply' ? readFramed(input) : [];
  const m0 = memNow();
  let rep;
  if (opt.phase === 'apply') {
    rep = peer.create(2);
    for (const u of updates) peer.apply(rep, u);
  } else if (opt.phase === 'load') rep = peer.decodeState(input);
  else throw new Error(`unknown --phase ${opt.phase}`);
  checkLww(ops, (k) => peer.get(rep, k), peer.size(rep), `${peer.name} ${opt.phase} (memory)`);
  const bytes = memNow() - m0;
  peer.free(rep);
  // ops and the input are used after the measure, so stay live through it.
  console.log(JSON.stringify({ bytes, ops: ops.key.length, inputBytes: input.length, updates: updates.length }));
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
    if (batch > 1 && !opt['no-memory'])
      measureMemory(wl, 'map-memory', updates, state, [['apply', 'memory after apply'], ['load', 'memory after load']]);
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

// ---- text: an editing trace, as bench/text_bench.c ----
// The trace's positions are Unicode code points; the peers' JS APIs take
// UTF-16 code units. Where the text holds no character outside the BMP
// they are the same; otherwise each position is converted against the text
// as it stands before the patch (slow, but exact).
function loadTrace(path) {
  const t = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8'));
  if (t.kind === 'concurrent' || t.startContent) throw new Error(`${path}: a sequential trace from empty is needed`);
  const astral = /[\ud800-\udfff]/;
  let txns = t.txns.map((x) => x.patches.map(([pos, del, ins]) => [pos, del, ins]));
  if (astral.test(t.endContent) || t.txns.some((x) => x.patches.some((p) => astral.test(p[2])))) {
    let cps = [];
    txns = txns.map((ps) => ps.map(([pos, del, ins]) => {
      const u = (n) => cps.slice(0, n).join('').length;
      const p = [u(pos), cps.slice(pos, pos + del).join('').length, ins];
      cps.splice(pos, del, ...Array.from(ins));
      return p;
    }));
  }
  return { txns, end: t.endContent, nPatches: txns.reduce((s, x) => s + x.length, 0) };
}

// Local apply: a writer makes every edit, one transaction (change, commit)
// per transaction of the trace (one edit each in automerge-paper), and the
// update each emits is captured. Remote apply: a fresh replica applies
// those updates, one call each. Encode: the whole state. Load: a fresh
// replica from that state, and the text read out. Every replica must read
// exactly endContent before any figure counts. Capped (--text-txns), the
// first N transactions are timed, and the last writer and reader go on
// with the rest, untimed, so the checks and the state are the full trace's.
function benchText() {
  const wl = 'automerge-paper trace';
  const path = opt.trace ?? new URL('../../tests/traces/sequential/automerge-paper.json.gz', import.meta.url).pathname;
  const tr = loadTrace(path);
  const all = tr.txns.length;
  const n = Math.min(all, Number(opt['text-txns'] ?? (opt.peer === 'automerge' ? 26000 : all)));
  const nEdits = tr.txns.slice(0, n).reduce((s, x) => s + x.length, 0);
  const nr = Math.min(all, Number(opt['text-remote-txns'] ??
    ({ yjs: all, loro: 26000, automerge: 2000 })[opt.peer]));
  const nrEdits = tr.txns.slice(0, nr).reduce((s, x) => s + x.length, 0);
  const capNote = (k, kEdits) => (k < all ? `timed: the first ${human(kEdits)} of the ${tr.nPatches.toLocaleString('en-US')} edits ` +
    `(one change per edit is too slow for the bench's budget); the rest applied untimed, every check on the full trace` : undefined);
  const note = capNote(n, nEdits), rnote = capNote(nr, nrEdits);
  const expect = (rep, who) => {
    const s = peer.read(rep);
    if (s !== tr.end) throw new Error(`${peer.name} ${who}: the text is not endContent (${s.length} vs ${tr.end.length} chars)`);
  };
  const tw = [], ta = [];
  let writer, reader, updates;
  for (let r = 0; r < runs; r++) {
    if (writer) peer.free(writer);
    writer = peer.create(1, true);
    const [t, u] = timed(() => tr.txns.slice(0, n).map((ps) => peer.writeTxn(writer, ps)));
    tw.push(t);
    updates = u; // the last writer's: Automerge's changes carry a time, so they differ per run
  }
  for (let i = n; i < all; i++) updates.push(peer.writeTxn(writer, tr.txns[i]));
  expect(writer, 'writer');
  for (let r = 0; r < runs; r++) {
    if (reader) peer.free(reader);
    reader = peer.create(2);
    ta.push(timed(() => { for (let i = 0; i < nr; i++) peer.apply(reader, updates[i]); })[0]);
  }
  // The untimed rest: in one call where the adapter can (Automerge: one
  // applyChanges; one call per change grows with the document, ~1 ms each).
  if (peer.applyMany) peer.applyMany(reader, updates.slice(nr));
  else for (let i = nr; i < all; i++) peer.apply(reader, updates[i]);
  expect(reader, 'remote replica');
  const te = [], tl = [];
  let state;
  for (let r = 0; r < runs; r++) {
    let t;
    [t, state] = timed(() => peer.encodeState(writer));
    te.push(t);
  }
  for (let r = 0; r < runs; r++) {
    const [t, l] = timed(() => {
      const l = peer.decodeState(state);
      if (peer.read(l).length !== tr.end.length) throw new Error('short text');
      return l;
    });
    tl.push(t);
    expect(l, 'loaded replica');
    peer.free(l);
  }
  add(wl, 'edits', tr.nPatches, 'ops');
  add(wl, 'local apply (one change per edit)', median(tw), 'ms', note);
  add(wl, 'local apply rate', (nEdits / median(tw)) * 1e3, 'ops/s', note);
  add(wl, 'update bytes, all changes', updates.reduce((s, u) => s + u.length, 0), 'B');
  add(wl, 'remote apply (one update per edit)', median(ta), 'ms', rnote);
  add(wl, 'remote apply rate', (nrEdits / median(ta)) * 1e3, 'ops/s', rnote);
  add(wl, 'encoded size', state.length, 'B');
  add(wl, 'encode', median(te), 'ms');
  add(wl, 'load and read the text', median(tl), 'ms');
  add(wl, 'text', Buffer.byteLength(tr.end), 'B');
  console.log(`text-end ${peer.name} ok (${peer.encoding})`);
  peer.free(writer);
  peer.free(reader);
  if (!opt['no-memory'])
    measureMemory(wl, 'text-memory', updates, state,
      [['local', 'memory after local apply'], ['remote', 'memory after remote apply'], ['load', 'memory after load']],
      (phase) => (phase === 'remote' && MEMORY_ONE_CALL
        ? 'measured after applying every update in one call (one call per update would take hours)' : undefined));
}

// Memory of one text replica: the growth of the JS heap plus external
// memory (which holds a library's WASM memory at its full size, and array
// buffers) from before the replica exists to after it is built and its text
// read, each after a full GC, in a process that holds nothing else of the
// library (the trace, updates or state are loaded before the first
// measure). Local: a writer makes every edit, one transaction each, nothing
// captured; remote: a fresh replica applies the writer's updates one by
// one, as in the remote apply above (Automerge: in one applyChanges call,
// as one call per change would take hours; that record carries a note);
// load: a replica from the encoded state. Prints {"bytes": N, ...}.
const MEMORY_ONE_CALL = opt.peer === 'automerge';
function memoryText() {
  const mem = memNow;
  const tr = loadTrace(opt.trace ?? new URL('../../tests/traces/sequential/automerge-paper.json.gz', import.meta.url).pathname);
  let rep, m0, input; // input stays referenced until the second measure
  if (opt.phase === 'local') {
    m0 = mem();
    rep = peer.create(1);
    for (const ps of tr.txns) peer.writeTxn(rep, ps);
  } else if (opt.phase === 'remote') {
    const updates = readFramed(readFileSync(join(opt.input, 'updates')));
    input = updates;
    m0 = mem();
    rep = peer.create(2);
    if (MEMORY_ONE_CALL) peer.applyMany(rep, updates);
    else for (const u of updates) peer.apply(rep, u);
  } else if (opt.phase === 'load') {
    const state = readFileSync(join(opt.input, 'state'));
    input = state;
    m0 = mem();
    rep = peer.decodeState(state);
  } else throw new Error(`unknown --phase ${opt.phase}`);
  if (peer.read(rep) !== tr.end) throw new Error(`${peer.name} ${opt.phase}: the text is not endContent`);
  const bytes = mem() - m0;
  peer.free(rep);
  // The trace and the input are used after the measure, so stay live through it.
  console.log(JSON.stringify({ bytes, edits: tr.nPatches, inputBytes: input?.length ?? 0 }));
}

// An adapter may configure itself per workload (Yjs picks its encoding).
const batch = opt.workload === 'lww-1' ? 1 : 1000;
peer.setup?.({ workload: opt.workload, batch });
if (opt.workload.endsWith('-memory')) {
  if (opt.workload === 'text-memory') memoryText();
  else memoryMap();
  process.exit(0);
}
if (opt.workload === 'merge') benchMerge(batch);
else if (opt.workload === 'text') benchText();
else benchLww(batch);

const fmt = (r) => r.unit === 'ops/s' ? (r.value >= 1e6 ? `${(r.value / 1e6).toFixed(2)} M` : r.value >= 1e3 ? `${(r.value / 1e3).toFixed(1)} k` : r.value.toFixed(0))
  : r.unit === 'ms' ? r.value.toFixed(2) : String(Math.round(r.value));
for (const r of results) console.log(`${r.workload.padEnd(56)} ${r.metric.padEnd(32)} ${fmt(r).padStart(12)} ${r.unit}${r.note ? ' *' : ''}`);
console.log(`(${peer.name} ${peer.version}, node ${process.version}; medians of ${runs} in-process runs${results.some((r) => r.note) ? '; * ' + results.find((r) => r.note).note : ''})`);
if (opt.json) writeFileSync(opt.json, JSON.stringify(results, null, 2) + '\n');
