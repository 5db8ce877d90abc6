// Workload 4 of issue 10: cold open in Chromium of 100,000 documents stored
// in IndexedDB, each implementation with its own persistence
// (bench/coldopen/*.js): weftdb's IndexedDB storage, Yjs with y-indexeddb,
// Automerge's save() bytes and Loro's snapshot in an object store. Every
// document is {title: "item i", n: i, done: i even}, written 1,000 per
// transaction. Each implementation runs in its own browser context (its
// own IndexedDB): the store is built once, untimed, then opened --runs
// times, the library already loaded, as an app reopening its data:
//
//   open + sample: from nothing in memory to 100 documents read
//   open + read all: the same, then every document read out as JS values
//
// Before any time counts, the sample and every document read must hold
// exactly what was written (count and values).
//
//   node bench/coldopen.mjs [--docs 100000] [--runs 3] [--only NAME]
//        [--json F] [--merge DIR]
// Needs /usr/bin/chromium (or $CHROMIUM) and tests/js's playwright-core.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { median, mergeSection, ratioText } from './results_section.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { values: opt } = parseArgs({
  options: {
    docs: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' },
    only: { type: 'string' }, json: { type: 'string' }, merge: { type: 'string' },
  },
});
const N = Number(opt.docs), RUNS = Number(opt.runs);
const IMPLS = [
  { impl: 'weftdb-chromium', label: 'weftdb', module: '/c/weft.js' },
  { impl: 'yjs', label: 'Yjs + y-indexeddb', module: '/b/yjs.js' },
  { impl: 'loro', label: 'Loro', module: '/b/loro.js' },
  { impl: 'automerge', label: 'Automerge', module: '/b/automerge.js' },
].filter((x) => !opt.only || x.impl.startsWith(opt.only));

const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const pwPath = join(root, 'tests/js/node_modules/playwright-core/index.mjs');
if (!existsSync(chromiumPath) || !existsSync(pwPath)) {
  console.error('coldopen: needs Chromium and tests/js/node_modules (tools/setup)');
  process.exit(1);
}
const { chromium } = await import(pathToFileURL(pwPath).href);

// The peers bundled for the browser (esbuild, as bench/peers/bundle.mjs),
// their WASM beside them.
const out = mkdtempSync(join(tmpdir(), 'weft-coldopen-'));
await build({
  entryPoints: ['yjs', 'loro', 'automerge'].map((p) => join(here, `coldopen/${p}.js`)),
  outdir: out, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'error',
});
cpSync(join(here, 'node_modules/loro-crdt/web/loro_wasm_bg.wasm'), join(out, 'loro.wasm'));
cpSync(join(here, 'node_modules/@automerge/automerge/dist/automerge.wasm'), join(out, 'automerge.wasm'));

const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
const page = `<!doctype html><script type="importmap">{ "imports": {
  "libsodium-wrappers": "/pkg/node_modules/libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs",
  "libsodium": "/pkg/node_modules/libsodium/dist/modules-esm/libsodium.mjs" } }</script>`;
const dirs = { '/pkg/': join(root, 'wasm'), '/c/': join(here, 'coldopen'), '/b/': out };
const server = createServer((req, res) => {
  const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  if (p === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
  const prefix = Object.keys(dirs).find((d) => p.startsWith(d));
  if (!prefix || p.includes('..')) return res.writeHead(404).end();
  try {
    const body = readFileSync(join(dirs[prefix], p.slice(prefix.length)));
    res.writeHead(200, { 'content-type': types[p.slice(p.lastIndexOf('.'))] ?? 'application/octet-stream' }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

const sample = Array.from({ length: 100 }, (_, k) => (k * 1009) % N);
sample[99] = N - 1;
const records = [];
const rec = (workload, impl, metric, value, unit) => {
  records.push({ workload, impl, metric, value, unit });
  console.log(`${impl.padEnd(16)} ${workload.padEnd(54)} ${metric.padEnd(18)} ${value.toFixed(1)} ${unit}`);
};
const workload = `cold open in Chromium: ${N.toLocaleString('en-US')} docs in IndexedDB`;
const browser = await chromium.launch({ executablePath: chromiumPath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'] });
try {
  for (const x of IMPLS) {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    p.on('pageerror', (e) => console.error(`${x.impl}: page error: ${e.message}`));
    await p.goto(url);
    const t = performance.now();
    await p.evaluate(async ([m, n]) => (window.m = await import(m)).build(n), [x.module, N]);
    const buildS = (performance.now() - t) / 1000;
    const sampleMs = [], allMs = [];
    for (let r = 0; r < RUNS; r++) {
      const res = await p.evaluate(async ([n, sample]) => {
        const { sampleMs, allMs, got, all } = await window.m.open(sample);
        const bad = window.m.checkAll(all, n);
        sample.forEach((i, k) => {
          const e = window.m.docOf(i), g = got[k];
          if (!g || g.title !== e.title || g.n !== e.n || g.done !== e.done) bad.push(`sample doc${i}: ${JSON.stringify(g)}`);
        });
        return { sampleMs, allMs, bad };
      }, [N, sample]);
      if (res.bad.length) throw new Error(`${x.impl}: wrong documents after open: ${res.bad.slice(0, 4).join('; ')}`);
      sampleMs.push(res.sampleMs);
      allMs.push(res.allMs);
    }
    console.log(`coldopen: ${x.impl} built its store in ${buildS.toFixed(1)} s`);
    rec(workload, x.impl, 'open + sample', median(sampleMs), 'ms');
    rec(workload, x.impl, 'open + read all', median(allMs), 'ms');
    await ctx.close();
  }
} finally {
  await browser.close();
  server.close();
  rmSync(out, { recursive: true, force: true });
}

if (opt.json) writeFileSync(opt.json, JSON.stringify(records, null, 2) + '\n');
if (opt.merge) {
  const lines = [
    `\`bench/coldopen.mjs\`: ${N.toLocaleString('en-US')} documents {title, n, done}, written 1,000 per transaction, ` +
      'each library with its own IndexedDB persistence (weftdb: its IndexedDB storage, encrypted snapshot + change records; ' +
      'Yjs: y-indexeddb; Loro: its snapshot in an object store; Automerge: save() bytes in an object store); ' +
      'each in its own browser context, then reopened there from IndexedDB (the library already loaded, nothing of the data in memory). ' +
      '"open + sample": until 100 documents are read; ' +
      `"open + read all": until every document is read out as JS values. Medians of ${RUNS} opens; ` +
      'the count and every value checked before any time counts.',
    '',
    '| metric | weftdb | Yjs + y-indexeddb | Loro | Automerge | unit | best peer | weftdb vs best |',
    '|---|---:|---:|---:|---:|---|---|---:|',
  ];
  for (const metric of ['open + sample', 'open + read all']) {
    const v = (impl) => records.find((r) => r.impl === impl && r.metric === metric)?.value;
    const peers = ['yjs', 'loro', 'automerge'].filter((p) => v(p) !== undefined);
    const best = peers.sort((a, b) => v(a) - v(b))[0];
    const w = v('weftdb-chromium');
    const cell = (impl) => (v(impl) === undefined ? '—' : v(impl).toFixed(1));
    lines.push(`| ${metric} | ${cell('weftdb-chromium')} | ${cell('yjs')} | ${cell('loro')} | ${cell('automerge')} | ms | ` +
      `${best ?? '—'} | ${w !== undefined && best ? ratioText(w, v(best), false) : '—'} |`);
  }
  lines.push('', 'Below 1× (bold) weftdb loses.');
  mergeSection(opt.merge, 'Cold open in Chromium (workload 4)', records, lines);
}
