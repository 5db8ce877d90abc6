// Merges the native and WASM result files of core_bench into
// bench/results/latest.json (one array of {workload, impl, metric, value,
// unit}) and bench/results/latest.md (one row per workload and metric, with
// the aim from the issue and whether this run met it). Run by tools/bench:
//   node bench/merge_results.mjs OUT_DIR native.json wasm.json [note...]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [outDir, nativePath, wasmPath, ...notes] = process.argv.slice(2);
const native = JSON.parse(readFileSync(nativePath, 'utf8'));
const wasm = wasmPath && wasmPath !== '-' ? JSON.parse(readFileSync(wasmPath, 'utf8')) : [];
const all = [...native, ...wasm];
writeFileSync(join(outDir, 'latest.json'), JSON.stringify(all, null, 2) + '\n');

// Aims from the issue (plain suite, as the issue states them).
const aims = [
  { workload: /^lww put(?!.*suite)/, metric: 'apply', impl: 'weft-native', ok: (v) => v >= 20e6, text: '>= 20 M ops/s' },
  { workload: /^lww put(?!.*suite)/, metric: 'apply', impl: 'weft-wasm-node', ok: (v) => v >= 10e6, text: '>= 10 M ops/s (wasm)' },
  { workload: /^snapshot/, metric: 'load snapshot', impl: 'weft-native', ok: (v) => v < 50, text: '< 50 ms (native)' },
];

function fmt(r) {
  if (!r) return '—';
  const v = r.value;
  switch (r.unit) {
    case 'ops/s': return v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : `${(v / 1e3).toFixed(1)} k`;
    case 'ms': return v.toFixed(2);
    case 'MB/s': case 'B/doc': case 'B/op': return v.toFixed(1);
    default: return Math.round(v).toLocaleString('en-US');
  }
}

const rows = [];
const seen = new Map();
for (const r of all) {
  const key = `${r.workload}\u0000${r.metric}`;
  if (!seen.has(key)) {
    const row = { workload: r.workload, metric: r.metric, unit: r.unit, by: {} };
    seen.set(key, row);
    rows.push(row);
  }
  seen.get(key).by[r.impl] = r;
}

const lines = [
  '# Weft core benchmark: latest run',
  '',
  ...notes.map((n) => `${n}  `),
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
writeFileSync(join(outDir, 'latest.md'), lines.join('\n'));
process.stdout.write(lines.join('\n'));
if (missed) process.stdout.write(`${missed} aim(s) missed in this run.\n`);
