// Adds one section to bench/results/latest.json and latest.md, replacing
// the section of the same heading (and its records) from an earlier run,
// so a bench script can be rerun alone after tools/bench. Used by
// fanout.mjs and coldopen.mjs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @param {string} dir  bench/results
 * @param {string} heading  the section's "## " heading, without the hashes
 * @param {object[]} records  {workload, impl, metric, value, unit}
 * @param {string[]} lines  the section's markdown, after the heading
 * @param {{ first?: boolean }} [opts]  first: the section goes right after
 *   the report's title (the headline), not at the end
 */
export function mergeSection(dir, heading, records, lines, { first = false } = {}) {
  const workloads = new Set(records.map((r) => r.workload));
  const latest = join(dir, 'latest.json');
  const prev = existsSync(latest) ? JSON.parse(readFileSync(latest, 'utf8')).filter((r) => !workloads.has(r.workload)) : [];
  writeFileSync(latest, JSON.stringify([...prev, ...records], null, 2) + '\n');
  const md = join(dir, 'latest.md');
  let text = existsSync(md) ? readFileSync(md, 'utf8') : '';
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start) + (next >= 0 ? text.slice(next) : '\n');
  }
  const section = ['', `## ${heading}`, '', ...lines, ''].join('\n');
  const at = first ? text.indexOf('\n## ') : -1;
  if (at >= 0) text = text.slice(0, at).replace(/\n+$/, '\n') + section + text.slice(at);
  else text = text.replace(/\n+$/, '\n') + section;
  writeFileSync(md, text);
}

/** How many times better `weft` is than `peer`: > 1 ahead, < 1 (bold) behind. */
export function ratioText(weft, peer, higherIsBetter) {
  const q = higherIsBetter ? weft / peer : peer / weft;
  return q >= 1 ? `${q >= 10 ? q.toFixed(0) : q.toFixed(1)}×` : `**${q.toFixed(2)}×**`;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Records grouped into rows, one per (workload, metric) in first-seen
 * order: { workload, metric, unit, by: { impl: record } }. */
export function rowsByMetric(records) {
  const rows = [];
  const seen = new Map();
  for (const r of records) {
    const key = `${r.workload}\u0000${r.metric}`;
    if (!seen.has(key)) {
      const row = { workload: r.workload, metric: r.metric, unit: r.unit, by: {} };
      seen.set(key, row);
      rows.push(row);
    }
    seen.get(key).by[r.impl] = r;
  }
  return rows;
}

/** cell(record): fmt(record), with a [n] mark for its note; footnotes: the notes in mark order. */
export function footnoter(fmt) {
  const footnotes = [];
  const cell = (r) => {
    if (!r) return '—';
    if (!r.note) return fmt(r);
    let i = footnotes.indexOf(r.note);
    if (i < 0) i = footnotes.push(r.note) - 1;
    return `${fmt(r)} [${i + 1}]`;
  };
  return { cell, footnotes };
}
