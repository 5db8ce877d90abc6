// Benchmark of the weftdb npm package through its public API, in Node
// (impl `weftdb-node`) and, when Debian's chromium and tests/js's
// playwright-core are there, in Chromium (impl `weftdb-chromium`):
//
//   - puts/s, one put per change (each signed and sealed), 10,000 puts on
//     1,000 keys, awaited together (storage batches them);
//   - puts/s and updates/s inside transact, 100 changes of 1,000 ops on
//     10,000 keys;
//   - puts/s of 100,000 single puts on 100,000 keys, not awaited one by
//     one (writes of one task share a change), and of the same in 100
//     transacts of 1,000 (Node only: the Yjs/Loro comparison of issue 21);
//   - the sveltecomponent and automerge-paper traces typed through
//     space.text(), one splice per edit, against Yjs's API (Node only);
//   - a live query (where + orderBy + limit 20) over a collection of
//     100,000 documents: ms from one put to its callback (Node only);
//   - cold open of a space holding 100,000 documents: Node from memory
//     storage, Chromium from IndexedDB (snapshot + records);
//   - gzip -9 size of what an app ships: the package's JS + wasm, and
//     libsodium-wrappers beside it; each entry point minified
//     (bench/entry_sizes.mjs).
//
//   node bench/weftdb_bench.mjs [--json out.json] [--merge bench/results] [--node-only] [--speed-only]
// --merge appends the records to OUT/latest.json and a table to latest.md
// (what tools/bench does after the core benchmark).
import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createServer } from 'node:http';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = join(root, 'wasm');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : null;
};
const records = [];
const rec = (workload, impl, metric, value, unit) => {
  records.push({ workload, impl, metric, value, unit });
  console.log(`${impl.padEnd(16)} ${workload.padEnd(52)} ${metric.padEnd(14)} ${fmt(value, unit)}`);
};
function fmt(v, unit) {
  if (unit === 'ops/s') return `${(v / 1000).toFixed(1)} k ${unit}`;
  if (unit === 'B') return `${(v / 1024).toFixed(1)} KB`;
  return `${v.toFixed(1)} ${unit}`;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const DOCS = 100_000;

// ---- the workloads, as one function run in Node and (as source) in Chromium ----

async function workloads(weftdb, storage, docs) {
  const { createSpace, openSpace } = weftdb;
  const out = {};
  // one put per change
  {
    const runs = [];
    for (let r = 0; r < 3; r++) {
      const s = await createSpace({ storage });
      const c = s.collection('bench');
      const t = performance.now();
      const ps = [];
      for (let i = 0; i < 10_000; i++) ps.push(c.put(`k${i % 1000}`, { v: i, s: 'hello' }));
      await Promise.all(ps);
      runs.push(10_000 / ((performance.now() - t) / 1000));
      await s.close();
    }
    out.unbatched = runs;
  }
  // transact: 1,000 ops per change
  {
    const puts = [];
    const updates = [];
    for (let r = 0; r < 3; r++) {
      const s = await createSpace({ storage });
      const c = s.collection('bench');
      let t = performance.now();
      for (let j = 0; j < 100; j++) await s.transact(() => {
        for (let i = 0; i < 1000; i++) c.put(`k${(j * 1000 + i) % 10_000}`, { v: i, s: 'hello' });
      });
      puts.push(100_000 / ((performance.now() - t) / 1000));
      t = performance.now();
      for (let j = 0; j < 100; j++) await s.transact(() => {
        for (let i = 0; i < 1000; i++) c.update(`k${(j * 1000 + i) % 10_000}`, { v: -i });
      });
      updates.push(100_000 / ((performance.now() - t) / 1000));
      await s.close();
    }
    out.transactPut = puts;
    out.transactUpdate = updates;
  }
  // cold open of 100,000 documents
  {
    const s = await createSpace({ storage });
    const c = s.collection('items');
    for (let j = 0; j < docs / 1000; j++) await s.transact(() => {
      for (let i = 0; i < 1000; i++) c.put(`doc${j * 1000 + i}`, { title: `item ${j * 1000 + i}`, n: i, done: i % 2 === 0 });
    });
    await s.flush();
    const id = s.id;
    const hash = s.stateHash();
    await s.close();
    const opens = [];
    for (let r = 0; r < 3; r++) {
      const t = performance.now();
      const o = await openSpace({ storage: 'memory', space: id, storage });
      opens.push(performance.now() - t);
      if (o.stateHash() !== hash) throw new Error('reopened space hashes differently');
      await o.close();
    }
    out.open = opens;
  }
  return out;
}

// Node only (the comparison with Yjs and Loro of issue 21 is in Node).
async function speedWorkloads(weftdb, storage, docs) {
  const { createSpace } = weftdb;
  const out = { single: [], transact: [], live: [] };
  for (let r = 0; r < 3; r++) {
    const s = await createSpace({ storage });
    const c = s.collection('bench');
    let t = performance.now();
    const ps = [];
    for (let i = 0; i < docs; i++) ps.push(c.put(`k${i}`, { v: i, s: 'hello' }));
    await Promise.all(ps);
    out.single.push(docs / ((performance.now() - t) / 1000));
    const c2 = s.collection('bench2');
    t = performance.now();
    for (let j = 0; j < docs / 1000; j++) await s.transact(() => {
      for (let i = 0; i < 1000; i++) c2.put(`k${j * 1000 + i}`, { v: i, s: 'hello' });
    });
    out.transact.push(docs / ((performance.now() - t) / 1000));
    await s.close();
  }
  {
    const s = await createSpace({ storage });
    const c = s.collection('items');
    for (let j = 0; j < docs / 1000; j++) await s.transact(() => {
      for (let i = 0; i < 1000; i++) c.put(`doc${j * 1000 + i}`, { title: `item ${j * 1000 + i}`, n: i, done: i % 2 === 0 });
    });
    let wake = null;
    let rows = null;
    const off = c.subscribe({ where: { done: false }, orderBy: 'n desc', limit: 20 }, (r) => {
      rows = r;
      wake?.();
    });
    const next = () => new Promise((res) => (wake = res));
    await next();
    for (let k = 0; k < 10; k++) {
      const t = performance.now();
      const p = next();
      c.put(`doc${k * 7919}`, { title: 'changed', n: 1000 + k, done: false });
      await p;
      out.live.push(performance.now() - t);
      if (rows[0].data.n !== 1000 + k) throw new Error('the live query missed the change');
    }
    off();
    await s.close();
  }
  return out;
}

// Node only: an editing trace typed through space.text(), one splice per
// edit (not awaited; a change per text window), against Yjs's API on the
// same edits in the same run (Y.Text delete/insert per edit, an 'update'
// listener keeping each update as an app sending them would). Edits/s,
// best of 3; both must end in the trace's text.
async function textTraces(weftdb) {
  const { gunzipSync } = await import('node:zlib');
  const Y = await import('yjs');
  const out = [];
  for (const name of ['sveltecomponent', 'automerge-paper']) {
    const t = JSON.parse(gunzipSync(readFileSync(join(root, `tests/traces/sequential/${name}.json.gz`))).toString('utf8'));
    const edits = t.txns.flatMap((x) => x.patches);
    if (/[\ud800-\udfff]/.test(t.endContent)) throw new Error(`${name}: positions are code points, not UTF-16 units`);
    const weft = [], yjs = [];
    for (let r = 0; r < 3; r++) {
      const s = await weftdb.createSpace({ storage: weftdb.memoryStorage() });
      const text = s.text('docs', 'd', 'body');
      let tm = performance.now();
      for (const [pos, del, ins] of edits) text.splice(pos, del, ins);
      await s.flush();
      weft.push(edits.length / ((performance.now() - tm) / 1000));
      if (text.toString() !== t.endContent) throw new Error(`${name}: weftdb ended in another text`);
      await s.close();
      const doc = new Y.Doc();
      const yt = doc.getText('t');
      const updates = [];
      doc.on('update', (u) => updates.push(u));
      tm = performance.now();
      for (const [pos, del, ins] of edits) {
        if (del) yt.delete(pos, del);
        if (ins) yt.insert(pos, ins);
      }
      yjs.push(edits.length / ((performance.now() - tm) / 1000));
      if (yt.toString() !== t.endContent) throw new Error(`${name}: Yjs ended in another text`);
    }
    out.push({ name, edits: edits.length, weft: Math.max(...weft), yjs: Math.max(...yjs) });
  }
  return out;
}

function report(impl, res) {
  rec('weftdb put, 1 op per change (public API)', impl, 'puts', median(res.unbatched), 'ops/s');
  rec('weftdb put, 1,000 ops per transact', impl, 'puts', median(res.transactPut), 'ops/s');
  rec('weftdb update, 1,000 ops per transact', impl, 'updates', median(res.transactUpdate), 'ops/s');
  rec(`weftdb cold open, ${DOCS.toLocaleString('en-US')} docs`, impl, 'open', median(res.open), 'ms');
}

// ---- Node ----

const weftdb = await import(pathToFileURL(join(pkg, 'src/index.js')).href);
const speedOnly = args.includes('--speed-only'); // only the issue 21 cases, for a quick before/after
if (!speedOnly) report('weftdb-node', await workloads(weftdb, weftdb.memoryStorage(), DOCS));
{
  const res = await speedWorkloads(weftdb, weftdb.memoryStorage(), DOCS);
  rec(`weftdb put, ${DOCS.toLocaleString('en-US')} not awaited one by one`, 'weftdb-node', 'puts', median(res.single), 'ops/s');
  rec(`weftdb put, ${DOCS.toLocaleString('en-US')} in transacts of 1,000`, 'weftdb-node', 'puts', median(res.transact), 'ops/s');
  rec(`weftdb live query over ${DOCS.toLocaleString('en-US')} docs, 1 put`, 'weftdb-node', 'update', median(res.live), 'ms');
  for (const tr of await textTraces(weftdb)) {
    rec(`${tr.name} typed, 1 splice per edit (${tr.edits.toLocaleString('en-US')})`, 'weftdb-node', 'edits', tr.weft, 'ops/s');
    rec(`${tr.name} typed, 1 splice per edit (${tr.edits.toLocaleString('en-US')})`, 'yjs-node', 'edits', tr.yjs, 'ops/s');
  }
}
if (speedOnly) process.exit(0);

// ---- sizes ----

const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const js = readdirSync(join(pkg, 'src')).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(pkg, 'src', f)));
const jsBytes = gz(Buffer.concat([...js, readFileSync(join(pkg, 'dist/weftdb_core.mjs'))]));
const wasmBytes = gz(readFileSync(join(pkg, 'dist/weftdb_core.wasm')));
rec('weftdb bundle (gzip -9)', 'weftdb', 'js', jsBytes, 'B');
rec('weftdb bundle (gzip -9)', 'weftdb', 'wasm', wasmBytes, 'B');
rec('weftdb bundle (gzip -9)', 'weftdb', 'js + wasm', jsBytes + wasmBytes, 'B');
const sodium = join(pkg, 'node_modules/libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs');
const sodiumCore = join(pkg, 'node_modules/libsodium/dist/modules-esm/libsodium.mjs');
if (existsSync(sodium) && existsSync(sodiumCore))
  rec('weftdb bundle (gzip -9)', 'weftdb', 'libsodium.js', gz(Buffer.concat([readFileSync(sodium), readFileSync(sodiumCore)])), 'B');
// Each entry point as an app's bundler ships it (bench/entry_sizes.mjs).
for (const r of await (await import('./entry_sizes.mjs')).entrySizes()) {
  rec('weftdb entry points (esbuild, minified)', r.entry, 'minified', r.min, 'B');
  rec('weftdb entry points (esbuild, minified)', r.entry, 'gzip -9', r.gz, 'B');
  if (r.addedMin !== undefined) rec('weftdb entry points (esbuild, minified)', r.entry, 'added to weftdb', r.addedMin, 'B');
}

// ---- Chromium (IndexedDB) ----

const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const pwPath = join(root, 'tests/js/node_modules/playwright-core/index.mjs');
if (existsSync(chromiumPath) && existsSync(pwPath) && !args.includes('--node-only')) {
  const { chromium } = await import(pathToFileURL(pwPath).href);
  const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
  const page = `<!doctype html><script type="importmap">{ "imports": {
    "libsodium-wrappers": "/pkg/node_modules/libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs",
    "libsodium": "/pkg/node_modules/libsodium/dist/modules-esm/libsodium.mjs" } }</script>
    <script type="module">window.weftdb = await import('/pkg/src/index.js'); window.ready = true;</script>`;
  const server = createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (p === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    if (!p.startsWith('/pkg/') || p.includes('..')) return res.writeHead(404).end();
    try {
      const body = readFileSync(join(pkg, p.slice(5)));
      res.writeHead(200, { 'content-type': types[p.slice(p.lastIndexOf('.'))] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const p = await browser.newPage();
    await p.goto(`http://127.0.0.1:${server.address().port}/`);
    await p.waitForFunction(() => window.ready === true);
    const res = await p.evaluate(`(${workloads.toString()})(window.weftdb, 'indexeddb', ${DOCS})`);
    report('weftdb-chromium', res);
  } finally {
    await browser.close();
    server.close();
  }
}

// ---- output ----

const jsonOut = opt('--json');
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(records, null, 2) + '\n');
const mergeDir = opt('--merge');
if (mergeDir) {
  const latest = join(mergeDir, 'latest.json');
  const prev = existsSync(latest) ? JSON.parse(readFileSync(latest, 'utf8')).filter((r) => !r.impl.startsWith('weftdb') || r.section === 'api') : [];
  writeFileSync(latest, JSON.stringify([...prev, ...records], null, 2) + '\n');
  const md = join(mergeDir, 'latest.md');
  const lines = ['', '## weftdb package (public JS API; suite V1: every change signed and sealed)', '',
    '| workload | impl | metric | value | unit | aim |', '|---|---|---|---:|---|---|'];
  for (const r of records) {
    let aim = '';
    if (r.metric === 'js + wasm') aim = `<= 150 KB without libsodium: ${r.value <= 150 * 1024 ? 'met' : '**missed**'}`;
    const v = r.unit === 'B' ? `${(r.value / 1024).toFixed(1)} K` : r.unit === 'ops/s' ? `${(r.value / 1000).toFixed(1)} k` : r.value.toFixed(1);
    lines.push(`| ${r.workload} | ${r.impl} | ${r.metric} | ${v} | ${r.unit === 'B' ? 'B (K = 1024)' : r.unit} | ${aim} |`);
  }
  lines.push('', 'Medians of 3 runs. One put per change costs an Ed25519 signature and an XChaCha20-Poly1305 seal in libsodium.js (the core merges its own change from the plaintext it just sealed).', '');
  const base = existsSync(md) ? readFileSync(md, 'utf8').split('\n## weftdb package')[0].replace(/\n+$/, '\n') : '';
  writeFileSync(md, base + lines.join('\n'));
}
