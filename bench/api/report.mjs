// The markdown of the public-API section (bench/api_bench.mjs's records,
// section "api"): one row per workload and metric, weftdb in Node beside
// Yjs, Loro and Automerge, its ratio to the best peer, the same weftdb
// figure in Chromium and its ratio to Node's, then where Weft loses. Used
// by api_bench.mjs --merge (a subset run) and merge_results.mjs (make bench).

export const API_HEADING = 'Weft through its public API (weftdb), beside the peers through theirs';
import { footnoter, rowsByMetric } from '../results_section.mjs';

const PEERS = ['yjs', 'loro', 'automerge'];

const higher = (unit) => unit === 'ops/s';

function fmt(r) {
  if (!r) return '—';
  const v = r.value;
  switch (r.unit) {
    case 'ops/s': return v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : v.toFixed(0);
    case 'ms': return v < 10 ? v.toFixed(2) : v.toFixed(0);
    case 'B': return v >= 1 << 20 ? `${(v / (1 << 20)).toFixed(1)} MiB` : v >= 1024 ? `${(v / 1024).toFixed(1)} KiB` : v.toFixed(1);
    default: return String(v);
  }
}

/** How many times better weft is than peer: > 1 ahead, < 1 behind. */
const ratio = (unit, weft, peer) => (higher(unit) ? weft / peer : peer / weft);
const ratioText = (q) => (q >= 1 ? `${q >= 10 ? q.toFixed(0) : q.toFixed(1)}×` : `**${q.toFixed(2)}×**`);

/** The section's lines (after its heading) for `records`. */
export function apiSection(records) {
  const rows = rowsByMetric(records);
  const { cell, footnotes } = footnoter(fmt);
  const lines = [
    'Every figure through each library\'s public API in Node (weftdb: `collection.put`, `transact`, `space.text().splice`, ' +
      '`changesSince`/`applyChanges`, `openSpace`, `subscribe`; suite V1, every change signed and sealed), same op sequences ' +
      'and traces, every result checked before its time counts. Medians of 3. Ratio: how many times better weftdb is than ' +
      'the best peer (higher rate, fewer ms or bytes); below 1× (bold) Weft loses. Chromium: the same weftdb workload in ' +
      'headless Chromium (memory storage); Chromium/Node above 1 means slower in Chromium (aim: at most 2).',
    '',
    '| workload | metric | weftdb (Node) | Yjs | Loro | Automerge | unit | best peer | weftdb vs best | weftdb (Chromium) | Chromium/Node | Weft core, no JS layer |',
    '|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|',
  ];
  const losses = [];
  const slowBrowser = [];
  const vsCore = [];
  for (const row of rows) {
    const w = row.by.weftdb, c = row.by['weftdb-chromium'];
    let best = null;
    for (const p of PEERS) {
      const r = row.by[p];
      if (r && !r.note && (!best || (higher(row.unit) ? r.value > best.value : r.value < best.value))) best = r;
    }
    const q = w && best ? ratio(row.unit, w.value, best.value) : null;
    const u = (r) => (row.unit === 'B' ? fmt(r) : `${fmt(r)} ${row.unit}`);
    if (q !== null && q < 1) losses.push(`- ${row.workload}, ${row.metric}: weftdb ${u(w)} vs ${best.impl} ${u(best)} (${q.toFixed(2)}×).`);
    // Chromium vs Node: > 1 means Chromium is slower.
    const cn = w && c ? (higher(row.unit) ? w.value / c.value : c.value / w.value) : null;
    if (cn !== null && cn > 2 && row.unit !== 'B') slowBrowser.push(`- ${row.workload}, ${row.metric}: ${cn.toFixed(1)}× slower in Chromium than in Node.`);
    const core = row.by.core;
    if (w && core) vsCore.push(`- ${row.workload}, ${row.metric}: the core alone ${u(core)}, weftdb ${u(w)}: ${(ratio(row.unit, core.value, w.value)).toFixed(2)}× (aim: at most 1.5×).`);
    lines.push(`| ${row.workload} | ${row.metric} | ${cell(w)} | ${PEERS.map((p) => cell(row.by[p])).join(' | ')} | ${row.unit} | ` +
      `${best ? best.impl : '—'} | ${q === null ? '—' : ratioText(q)} | ${cell(c)} | ${cn === null ? '—' : cn.toFixed(2)} | ${cell(core)} |`);
  }
  lines.push('');
  footnotes.forEach((n, i) => lines.push(`[${i + 1}] ${n}  `));
  lines.push('', losses.length ? '**Where Weft loses in this run (public API):**' : 'weftdb leads every compared row in this run.', '', ...losses);
  if (slowBrowser.length) lines.push('', '**Chromium more than 2× slower than Node:**', '', ...slowBrowser);
  if (vsCore.length) lines.push('', '**weftdb against the core it runs on** (same sets through the C ABI, no JS layer; bench/api/core.mjs):', '', ...vsCore);
  lines.push('', 'Memory: the growth of the JS heap plus external memory (a WASM library\'s whole linear memory) after a full GC, ' +
    'in a fresh process; weftdb\'s split into its JS heap and its WASM memory below it. What each figure measures: bench/README.md, "Public API".', '');
  return lines;
}
