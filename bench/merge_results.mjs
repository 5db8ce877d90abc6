// Merges the result files of make bench into bench/results/latest.json (one
// array of {workload, impl, metric, value, unit}, plus an optional "note")
// and bench/results/latest.md: first the headline, Weft through weftdb's
// public API beside the peers through theirs (records of section "api",
// from bench/api_bench.mjs, rendered by bench/api/report.mjs); then the
// core-only figures, labelled as such: the core benchmark as one row per workload
// and metric with the aim from the issue and whether this run met it, then
// the peer comparison (map_bench beside bench/peers/: Yjs, Loro, Automerge)
// with each Weft figure's ratio to the best peer and where Weft loses.
// Run by tools/bench:
//   node bench/merge_results.mjs OUT_DIR FILE.json... [note...]
// Arguments ending in .json are result files ("-" is skipped); the rest are
// lines for the report's header.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiSection, API_HEADING } from './api/report.mjs';
import { footnoter, rowsByMetric } from './results_section.mjs';

const [outDir, ...args] = process.argv.slice(2);
const files = args.filter((a) => a === '-' || a.endsWith('.json'));
const notes = args.filter((a) => !files.includes(a));
const records = files.filter((f) => f !== '-').flatMap((f) => JSON.parse(readFileSync(f, 'utf8')));
writeFileSync(join(outDir, 'latest.json'), JSON.stringify(records, null, 2) + '\n');
// The public-API records get their own section, first; the rest are core-only.
const api = records.filter((r) => r.section === 'api');
const all = records.filter((r) => r.section !== 'api');

// Workloads measured beside the peers get their own table below.
const PEERS = ['yjs', 'loro', 'automerge'];
const peerWorkloads = new Set(all.filter((r) => PEERS.includes(r.impl)).map((r) => r.workload));

// Aims from the issue (plain suite, as the issue states them).
const aims = [
  { workload: /^lww put(?!.*suite)/, metric: 'apply', impl: 'weft-native', ok: (v) => v >= 20e6, text: '>= 20 M ops/s' },
  { workload: /^lww put(?!.*suite)/, metric: 'apply', impl: 'weft-wasm-node', ok: (v) => v >= 10e6, text: '>= 10 M ops/s (wasm)' },
  { workload: /^snapshot/, metric: 'load snapshot', impl: 'weft-native', ok: (v) => v < 50, text: '< 50 ms (native)' },
  // Text (issue 11), where no peer ran (else in the peers table).
  { workload: /automerge-paper/, metric: 'local apply (one change per edit)', impl: 'weft-native', ok: (v) => v < 100, text: '< 100 ms (native)' },
  { workload: /automerge-paper/, metric: 'remote apply (one update per edit)', impl: 'weft-native', ok: (v) => v < 100, text: '< 100 ms (native)' },
];

function fmt(r) {
  if (!r) return '—';
  const v = r.value;
  switch (r.unit) {
    case 'ops/s': return v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : v.toFixed(0);
    case 'ms': return v.toFixed(2);
    case 'MB/s': case 'B/doc': case 'B/op': return v.toFixed(1);
    default: return Math.round(v).toLocaleString('en-US');
  }
}

const rows = [];
const seen = new Map();
for (const r of all) {
  if (peerWorkloads.has(r.workload)) continue;
  const key = `${r.workload}\u0000${r.metric}`;
  if (!seen.has(key)) {
    const row = { workload: r.workload, metric: r.metric, unit: r.unit, by: {} };
    seen.set(key, row);
    rows.push(row);
  }
  seen.get(key).by[r.impl] = r;
}

const lines = [
  '# Weft benchmark: latest run',
  '',
  ...notes.map((n) => `${n}  `),
  '',
  ...(api.length ? [`## ${API_HEADING}`, '', ...apiSection(api)] : []),
  '## Core-only figures: the C core, without weftdb\'s JS layer',
  '',
  'The C benchmarks (bench/core_bench.c), natively and compiled to WASM and run in Node: no JS glue per call, ' +
    'so an upper bound for what an app gets; the public API figures above are what it gets.',
  '',
  '| workload | metric | native | wasm (Node) | unit | aim |',
  '|---|---|---:|---:|---|---|',
];
let missed = 0;
for (const row of rows) {
  const aimTexts = [];
  for (const a of aims) {
    if (!a.workload.test(row.workload) || a.metric !== row.metric) continue;
    const r = row.by[a.impl];
    if (!r) continue;
    const ok = a.ok(r.value);
    if (!ok) missed++;
    aimTexts.push(`${a.text}: ${ok ? 'met' : '**missed**'}`);
  }
  lines.push(`| ${row.workload} | ${row.metric} | ${fmt(row.by['weft-native'])} | ` +
    `${fmt(row.by['weft-wasm-node'])} | ${row.unit} | ${aimTexts.join('; ')} |`);
}
lines.push('', 'Medians of 3 in-process runs (snapshot loads: 5). What each figure measures: bench/README.md.', '');

// ---- the peers ----
if (peerWorkloads.size) {
  const higherIsBetter = (unit) => unit === 'ops/s';
  const better = (unit, x, y) => (higherIsBetter(unit) ? x > y : x < y);
  // How many times better Weft is than the best peer: > 1 ahead, < 1 behind.
  const ratio = (unit, weft, best) => (higherIsBetter(unit) ? weft / best : best / weft);
  const fmtRatio = (q) => (q >= 1 ? `${q >= 10 ? q.toFixed(0) : q.toFixed(1)}×` : `**${q.toFixed(2)}×**`);
  const peerAims = [
    { workload: /^map LWW.*, 1k ops\/txn$/, metric: 'apply updates',
      ok: (w, by) => by.yjs && by.loro && w >= 10 * by.yjs.value && w > by.loro.value,
      text: '>= 10× Yjs and ahead of Loro' },
    { workload: /^concurrent merge/, metric: 'exchange + merge',
      ok: (w, by) => by.yjs && w * 5 <= by.yjs.value, text: '>= 5× Yjs' },
    // Text, issue 11: WASM apply faster than Loro's in the same run, native
    // under 100 ms, encoded size no larger than Yjs's. A peer figure with a
    // note (a timed subset) is not comparable: ok() returns null, "not judged".
    ...['local apply (one change per edit)', 'remote apply (one update per edit)'].flatMap((metric) => [
      { workload: /automerge-paper/, metric, side: 'WASM',
        ok: (w, by) => (!by.loro ? false : by.loro.note ? null : w < by.loro.value), text: 'faster than Loro' },
      { workload: /automerge-paper/, metric, side: 'native', ok: (w) => w < 100, text: '< 100 ms' },
    ]),
    { workload: /automerge-paper/, metric: 'encoded size',
      ok: (w, by) => by.yjs && w <= by.yjs.value, text: '<= Yjs' },
  ];
  // Rows every implementation shares by construction: no ratio.
  const noRatio = new Set(['edits', 'text']);
  const prow = rowsByMetric(all.filter((r) => peerWorkloads.has(r.workload)));
  const { cell, footnotes } = footnoter(fmt);
  lines.push('## Core-only: the C core beside the peers', '',
    'Same op sequences (one seeded generator, in C and in JS), every final map checked before any figure counts. ' +
    'Ratio: how many times better the Weft figure is than the best peer\'s (higher rate, or fewer ms or bytes); ' +
    'below 1× (bold) Weft loses. WASM: the C benchmark compiled with emcc and run in Node (no JS glue per call); ' +
    'for the bundle, the module a web app ships.', '',
    '| workload | metric | Weft native | Weft WASM | Yjs | Loro | Automerge | unit | best peer | native vs best | WASM vs best | aim |',
    '|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|---|');
  const losses = [];
  for (const row of prow) {
    const wn = row.by['weft-native'], ww = row.by['weft-wasm-node'] || row.by['weft-wasm-web'];
    let best = null;
    for (const p of PEERS) {
      const r = row.by[p];
      if (r && !r.note && (!best || better(row.unit, r.value, best.value))) best = r;
    }
    const q = (w) => (w && best && !noRatio.has(row.metric) ? ratio(row.unit, w.value, best.value) : null);
    const qn = q(wn), qw = q(ww);
    for (const [w, qq, side] of [[wn, qn, 'native'], [ww, qw, 'WASM']]) {
      if (qq !== null && qq < 1)
        losses.push(`- ${row.workload}, ${row.metric}: Weft ${side} ${fmt(w)} ${row.unit} vs ${best.impl} ` +
          `${fmt(best)} ${row.unit} (${qq.toFixed(2)}×).`);
    }
    const aimTexts = [];
    for (const a of peerAims) {
      if (!a.workload.test(row.workload) || a.metric !== row.metric) continue;
      for (const [w, side] of [[wn, 'native'], [row.by['weft-wasm-node'], 'WASM']]) {
        if (!w || (a.side && a.side !== side)) continue;
        const ok = a.ok(w.value, row.by);
        if (ok === false) missed++;
        aimTexts.push(`${a.text} (${side}): ${ok === null ? 'not judged (the peer timed a subset)' : ok ? 'met' : '**missed**'}`);
      }
    }
    lines.push(`| ${row.workload} | ${row.metric} | ${cell(wn)} | ${cell(ww)} | ` +
      PEERS.map((p) => cell(row.by[p])).join(' | ') +
      ` | ${row.unit} | ${best && !noRatio.has(row.metric) ? best.impl : '—'} | ${qn === null ? '—' : fmtRatio(qn)} | ` +
      `${qw === null ? '—' : fmtRatio(qw)} | ${aimTexts.join('; ')} |`);
  }
  lines.push('');
  footnotes.forEach((n, i) => lines.push(`[${i + 1}] ${n}  `));
  if (prow.some((r) => r.metric.startsWith('memory after') && PEERS.some((p) => r.by[p])))
    lines.push('', 'Memory rows: Weft counts the live bytes its replica holds (a counting allocator); the peers, ' +
      'the growth of the JS heap plus external memory (a WASM library\'s whole linear memory, which never shrinks) ' +
      'after a full GC, each in a fresh process: what the process pays, so for Loro and Automerge their allocator\'s ' +
      'free space and peak too.');
  lines.push('', losses.length ? '**Where Weft loses in this run:**' : 'Weft leads every compared row in this run.', '',
    ...losses, '', 'A peer figure with a footnote was measured differently and is not a candidate for best peer. ' +
    'What each figure measures: bench/README.md.', '');
}
writeFileSync(join(outDir, 'latest.md'), lines.join('\n'));
process.stdout.write(lines.join('\n'));
if (missed) process.stdout.write(`${missed} aim(s) missed in this run.\n`);
