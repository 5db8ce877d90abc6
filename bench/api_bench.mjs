// The headline benchmark of make bench: Weft measured through weftdb's
// public API (Node), beside Yjs, Loro and Automerge through theirs, on the
// same workloads in the same run; then the same weftdb rows in Chromium.
// The workloads (bench/README.md, "Public API"):
//
//   map-1      100,000 sets on 10,000 keys, one per call (weftdb: not awaited)
//   map-1000   the same, 1,000 per transaction; both also load a fresh
//              replica from the writer's state and read every key
//   merge      two replicas write 50,000 sets each, exchange and merge
//   text       the automerge-paper and sveltecomponent traces typed one
//              splice per edit, then a fresh replica loaded from the state
//   live       a live query over 100,000 documents: one put to its callback
//              (weftdb only: the peers have no query engine)
//   keystroke  bytes a collaborator receives per keystroke when one person
//              types the trace's first 2,000 edits at human speed
//   memory     memory held after typing the automerge-paper trace
//   list       100,000 list ops (inserts at random places, 10% moves),
//              1,000 per transaction: apply, encoded size, load + read
//              (Yjs Y.Array with delete + insert as its move, Loro
//              LoroMovableList, Automerge list; docs/LISTS.md)
//   richtext   the automerge-paper trace typed one edit per transaction
//              with a seeded formatting op after every 50th edit (bold,
//              italic, links; a quarter removes), through each library's
//              rich-text API: apply, load + read the spans
//              (bench/api/richtext.mjs)
//   join       each trace typed by an admin's device through a loopback
//              weft-relay, then a fresh replica joins (from the sealed
//              snapshot the device published): bytes received, ms until the
//              text reads complete, relay disk, joined replica's memory;
//              peers: the writer's state loaded into a fresh document
//              (bench/api/join.mjs; Node only)
//
// Each (implementation, workload) runs in a fresh Node process with
// --expose-gc (a library's heap after one workload must not slow the next).
//
//   core       (an impl, map-1000 only) the core's own signed write rate:
//              the same sets through the C ABI without weftdb's JS layer
//
//   node bench/api_bench.mjs [--impl weftdb,core,yjs,loro,automerge]
//        [--workload map-1,map-1000,merge,text,live,keystroke,memory,list,richtext,join]
//        [--runs N] [--no-chromium] [--json PATH] [--merge DIR]
// --merge writes the records and a markdown section to DIR/latest.json and
// latest.md, as the report's first section (replacing an earlier one).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { makeOps, splitmix64 } from './peers/prng.mjs';
import { FORMAT_EVERY, makeFormats } from './api/richtext.mjs';
import { apiSection, API_HEADING } from './api/report.mjs';
import { median, mergeSection } from './results_section.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    impl: { type: 'string', default: 'weftdb,core,yjs,loro,automerge' },
    workload: { type: 'string', default: 'map-1,map-1000,merge,text,live,keystroke,memory,list,richtext,join' },
    runs: { type: 'string', default: '3' },
    'no-chromium': { type: 'boolean' },
    json: { type: 'string' },
    merge: { type: 'string' },
    child: { type: 'string' },
    input: { type: 'string' },
  },
});
const runs = Number(opt.runs);
const SEED = 0x57656674n;
const OPS = 100_000, KEYS = 10_000, MERGE_OPS = 50_000, DOCS = 100_000, KEYSTROKES = 2_000, LIST_OPS = 100_000;
const TRACES = ['automerge-paper', 'sveltecomponent'];

// ---- inputs (the same for every implementation) ----

// The trace's positions are code points; every API here takes UTF-16 code
// units. Where the text holds nothing outside the BMP they are the same;
// otherwise each position is converted against the text as it stands.
function loadTrace(name) {
  const t = JSON.parse(gunzipSync(readFileSync(join(root, `tests/traces/sequential/${name}.json.gz`))).toString('utf8'));
  if (t.kind === 'concurrent' || t.startContent) throw new Error(`${name}: a sequential trace from empty is needed`);
  const astral = /[\ud800-\udfff]/;
  let txns = t.txns.map((x) => x.patches.map(([pos, del, ins]) => [pos, del, ins]));
  if (astral.test(t.endContent) || t.txns.some((x) => x.patches.some((p) => astral.test(p[2])))) {
    const cps = [];
    txns = txns.map((ps) => ps.map(([pos, del, ins]) => {
      const u = (n) => cps.slice(0, n).join('').length;
      const p = [u(pos), cps.slice(pos, pos + del).join('').length, ins];
      cps.splice(pos, del, ...Array.from(ins));
      return p;
    }));
  }
  return { txns, end: t.endContent };
}

/**
 * n list ops on one replica: per op a coin (1 in 10: a move once the list
 * holds 2 items), then a move's from and to (each below the length), or an
 * insert's place (0..length). { n, len (at the end), kind: 0 insert | 1
 * move, a: place or from, b: to }; an insert's value is its op index.
 */
function makeListOps(seed, n) {
  const next = splitmix64(seed);
  const below = (m) => Number(((next() >> 32n) * BigInt(m)) >> 32n);
  const kind = new Array(n), a = new Array(n), b = new Array(n).fill(0);
  let len = 0;
  for (let i = 0; i < n; i++) {
    if (len >= 2 && below(10) === 0) {
      kind[i] = 1;
      a[i] = below(len);
      b[i] = below(len);
    } else {
      kind[i] = 0;
      a[i] = below(len + 1);
      len++;
    }
  }
  return { n, len, kind, a, b };
}

const plainOps = (o) => ({ nKeys: o.nKeys, key: Array.from(o.key), val: o.val, last: Array.from(o.last), name: o.name });

/** The inputs of one workload (trace: the text workloads' trace name). */
function inputs(workload, trace) {
  switch (workload) {
    case 'map-1': case 'map-1000': return { ops: plainOps(makeOps(SEED, OPS, KEYS)) };
    case 'merge': return { ops: plainOps(makeOps(SEED + 1n, MERGE_OPS, KEYS)), opsB: plainOps(makeOps(SEED + 2n, MERGE_OPS, KEYS)) };
    case 'text': case 'memory': case 'join': return loadTrace(trace);
    case 'keystroke': return { txns: loadTrace('automerge-paper').txns.slice(0, KEYSTROKES), keystrokes: KEYSTROKES };
    case 'live': return { docs: DOCS };
    case 'list': return { lops: makeListOps(SEED + 3n, LIST_OPS) };
    case 'richtext': {
      const t = loadTrace('automerge-paper');
      return { ...t, formats: makeFormats(t.txns, splitmix64(SEED + 4n)) };
    }
  }
  throw new Error(`unknown workload ${workload}`);
}

// The records' names: one workload label per (workload, trace).
const K = (n) => `${n / 1000}k`;
const LABEL = {
  'map-1': `map: ${K(OPS)} sets on ${K(KEYS)} keys, 1 per call`,
  'map-1000': `map: ${K(OPS)} sets on ${K(KEYS)} keys, 1,000 per transaction`,
  merge: `concurrent merge: 2 × ${K(MERGE_OPS)} sets on ${K(KEYS)} keys`,
  text: (t) => `text: ${t} trace, 1 splice per edit`,
  live: `live query over ${K(DOCS)} docs`,
  keystroke: `human-speed typing: first ${KEYSTROKES.toLocaleString('en-US')} edits of automerge-paper`,
  memory: (t) => `memory after typing the ${t} trace`,
  list: `list: ${K(LIST_OPS)} ops (inserts at random places, 10% moves), 1,000 per transaction`,
  richtext: `rich text: automerge-paper, 1 edit per transaction, a format every ${FORMAT_EVERY} edits`,
  join: (t) => `join: a fresh replica of the ${t} trace, through a loopback relay`,
};
const UNIT = { write: 'ops/s', 'bytes exchanged': 'B', 'bytes per keystroke': 'B', 'encoded size': 'B', 'state size': 'B', 'bytes received': 'B', 'relay disk for the space': 'B' };
const unitOf = (m) => UNIT[m] ?? (/^(memory|JS heap|WASM|process RSS)/.test(m) ? 'B' : 'ms');

// ---- a child: one (implementation, workload) ----

if (opt.child) {
  const [impl, workload, trace] = opt.child.split(':');
  const input = inputs(workload, trace);
  let out;
  if (impl === 'weftdb') {
    const weftdb = await import(pathToFileURL(join(root, 'wasm/src/index.js')).href);
    if (workload === 'memory') out = { fig: await weftdbMemory(weftdb, input), notes: {} };
    else if (workload === 'join') out = await (await import('./api/join.mjs')).runWeftdb(weftdb, input, runs);
    else if (workload === 'richtext') out = await (await import('./api/richtext.mjs')).runWeftdb(weftdb, input, runs);
    else out = { fig: await (await import('./api/weftdb.mjs')).run(weftdb, workload, input, runs), notes: {} };
  } else if (impl === 'core') {
    out = await (await import('./api/core.mjs')).run(workload, input, runs);
  } else if (workload === 'join') {
    out = await (await import('./api/join.mjs')).runPeer(impl, input, runs);
  } else if (workload === 'richtext') {
    out = await (await import('./api/richtext.mjs')).runPeer(impl, input, runs);
  } else {
    out = await (await import('./api/peers.mjs')).run(impl, workload, input, runs);
  }
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

/**
 * weftdb's memory after typing a trace: the growth of the JS heap plus
 * external memory (the WASM memory at its full size), after a full GC,
 * from a process that has loaded the package; also the JS heap alone and
 * the WASM memory's size and live bytes.
 */
async function weftdbMemory(weftdb, { txns, end }) {
  const { memNow } = await import('./api/peers.mjs');
  await weftdb.init();
  const heap0 = (memNow(), process.memoryUsage().heapUsed);
  const m0 = memNow();
  const w0 = await weftdb.memoryStats();
  const s = await weftdb.createSpace({ storage: 'memory' });
  const text = s.text('docs', 'd', 't');
  let last;
  for (const ps of txns) for (const [pos, del, ins] of ps) last = text.splice(pos, del, ins);
  await last;
  await s.flush();
  if (text.toString() !== end) throw new Error('weftdb: the typed text differs from the trace\'s end');
  const total = memNow() - m0;
  const heap = process.memoryUsage().heapUsed - heap0;
  const w = await weftdb.memoryStats();
  const fig = {
    'memory after typing (heap + external)': [total],
    'JS heap growth after GC': [heap],
    'WASM memory size': [w.heapBytes],
    'WASM memory in use': [w.heapUsed - w0.heapUsed],
    'process RSS': [process.memoryUsage().rss],
  };
  await s.close();
  return fig;
}

// ---- the parent ----

const impls = opt.impl.split(',');
const workloads = opt.workload.split(',');
const records = [];
// Per workload label, the final state's digest of each implementation
// (metrics named _digest): all must be equal (the list workload).
const digests = new Map();
const rec = (workload, impl, metric, values, note) => {
  if (metric.startsWith('_')) {
    if (!digests.has(workload)) digests.set(workload, new Map());
    digests.get(workload).set(impl, values[0]);
    if (new Set(values).size !== 1 || new Set(digests.get(workload).values()).size !== 1)
      throw new Error(`${workload}: the implementations end with different states: ${JSON.stringify([...digests.get(workload)])}`);
    return;
  }
  const unit = unitOf(metric);
  const r = { workload, impl, metric, value: median(values), unit, section: 'api', ...(note ? { note } : {}) };
  records.push(r);
  console.log(`${impl.padEnd(16)} ${workload.padEnd(60)} ${metric.padEnd(36)} ${r.value.toFixed(unit === 'ops/s' ? 0 : 2)} ${unit}${note ? ' [note]' : ''}`);
};

const jobs = [];
for (const w of workloads) {
  const traces = w === 'text' || w === 'join' ? TRACES : w === 'memory' ? ['automerge-paper'] : [undefined];
  for (const t of traces) for (const impl of impls) {
    if (w === 'live' && impl !== 'weftdb') continue; // no query engine in the peers
    if (impl === 'core' && w !== 'map-1000') continue; // the core's own rate: the bar of batched puts
    if (w === 'memory' && impl === 'automerge') continue; // a change per edit: minutes; see the core section's peer memory rows
    if (w === 'join' && impl === 'automerge' && t === 'automerge-paper') continue; // typing it again, a change per edit: minutes (the text workload loads it)
    jobs.push({ impl, w, t, label: typeof LABEL[w] === 'function' ? LABEL[w](t) : LABEL[w] });
  }
}
for (const j of jobs) {
  const t0 = performance.now();
  const out = JSON.parse(execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', `${j.impl}:${j.w}:${j.t ?? ''}`, '--runs', String(runs)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 }));
  for (const [m, v] of Object.entries(out.fig)) rec(j.label, j.impl, m, v, out.notes[m]);
  console.log(`api: ${j.impl} ${j.w}${j.t ? ' ' + j.t : ''} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

// ---- Chromium: the same weftdb rows, in a page ----

const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const pwPath = join(root, 'tests/js/node_modules/playwright-core/index.mjs');
if (impls.includes('weftdb') && !opt['no-chromium'] && existsSync(chromiumPath) && existsSync(pwPath)) {
  const { chromium } = await import(pathToFileURL(pwPath).href);
  const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
  const page = `<!doctype html><script type="importmap">{ "imports": {
    "libsodium-wrappers": "/pkg/node_modules/libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs",
    "libsodium": "/pkg/node_modules/libsodium/dist/modules-esm/libsodium.mjs" } }</script>
    <script type="module">window.weftdb = await import('/pkg/src/index.js');
    window.bench = await import('/bench/weftdb.mjs'); window.ready = true;</script>`;
  const server = createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (p === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    const file = p.startsWith('/pkg/') ? join(root, 'wasm', p.slice(5)) : /^\/bench\/(weftdb|lists)\.mjs$/.test(p) ? join(root, 'bench/api', p.slice(7)) : null;
    if (!file || p.includes('..')) return res.writeHead(404).end();
    try {
      res.writeHead(200, { 'content-type': types[p.slice(p.lastIndexOf('.'))] ?? 'application/octet-stream' }).end(readFileSync(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  // --expose-gc: the workloads collect garbage before each timed region, as in Node.
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--js-flags=--expose-gc'] });
  try {
    for (const j of jobs.filter((x) => x.impl === 'weftdb' && x.w !== 'memory' && x.w !== 'join' && x.w !== 'richtext')) {
      // A fresh page per workload, as a fresh process in Node.
      const p = await browser.newPage();
      await p.goto(`http://127.0.0.1:${server.address().port}/`);
      await p.waitForFunction(() => window.ready === true);
      const t0 = performance.now();
      const fig = await p.evaluate(([w, input, n]) => window.bench.run(window.weftdb, w, input, n), [j.w, inputs(j.w, j.t), runs]);
      for (const [m, v] of Object.entries(fig)) rec(j.label, 'weftdb-chromium', m, v);
      console.log(`api: weftdb-chromium ${j.w}${j.t ? ' ' + j.t : ''} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await p.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
} else if (impls.includes('weftdb') && !opt['no-chromium']) {
  console.error('api: no Chromium or tests/js/node_modules; skipping the Chromium rows');
}

// ---- output ----

if (opt.json) writeFileSync(opt.json, JSON.stringify(records, null, 2) + '\n');
const lines = apiSection(records);
console.log(['', `## ${API_HEADING}`, '', ...lines].join('\n'));
if (opt.merge) mergeSection(opt.merge, API_HEADING, records, lines, { first: true });
