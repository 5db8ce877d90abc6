// react_bench.mjs: weftdb/react's useQuery over 10,000 rows when one row
// changes: ms from the write (collection.update) to the DOM showing it,
// in Node with happy-dom (React 19, createRoot, React.memo rows). Beside
// it, the big-list pattern (useIds for the list, useDoc per row: one
// component re-renders) and the floor: React alone, the same 10,000 memo rows held in useState
// and one row replaced (what any store must at least cost React). Aim:
// < 16 ms (one frame).
//
//   node bench/react_bench.mjs [--rows N] [--runs N] [--merge DIR]
// --merge adds the section "React: useQuery update" to DIR/latest.json and
// latest.md (results_section.mjs).
import { register } from 'node:module';
import { parseArgs } from 'node:util';
import { Window } from 'happy-dom';
import { median, mergeSection } from './results_section.mjs';

register('./react_resolve.mjs', import.meta.url);
const { values: opt } = parseArgs({ options: { rows: { type: 'string', default: '10000' }, runs: { type: 'string', default: '30' }, merge: { type: 'string' } } });
const ROWS = Number(opt.rows);
const RUNS = Number(opt.runs);

process.env.NODE_ENV ??= 'production'; // React's production build, as an app ships it
const window = new Window();
for (const k of ['window', 'document', 'navigator', 'MutationObserver', 'HTMLElement'])
  Object.defineProperty(globalThis, k, { value: k === 'window' ? window : window[k], configurable: true, writable: true });
const React = await import('react');
const { createRoot } = await import('react-dom/client');
const { flushSync } = await import('react-dom');
const { createSpace } = await import('../wasm/src/index.js');
const { SpaceProvider, useQuery, useIds, useDoc } = await import('../wasm/src/react.js');
const h = React.createElement;

const id = (i) => `t${String(i).padStart(5, '0')}`;
const Row = React.memo(function Row({ row }) {
  return h('li', { id: row.id }, row.data.title);
});

/**
 * Resolves with the time once the row `rowId` shows `text`. The row keeps
 * its element (same key, same place), so only that element is watched: a
 * query over 10,000 nodes per mutation would be the bench's own cost.
 */
function shown(container, rowId, text) {
  const el = container.querySelector(`#${rowId}`);
  return new Promise((resolve) => {
    const obs = new window.MutationObserver(() => {
      if (el.textContent !== text) return;
      obs.disconnect();
      resolve(performance.now());
    });
    obs.observe(el, { subtree: true, childList: true, characterData: true });
  });
}

async function mount(element) {
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container);
  flushSync(() => root.render(element));
  await new Promise((r) => setTimeout(r, 50));
  return { container, root };
}

async function weftdb() {
  const space = await createSpace({ storage: 'memory' });
  const todos = space.collection('todos');
  await space.transact(() => {
    for (let i = 0; i < ROWS; i++) todos.put(id(i), { title: `task ${i}`, done: false });
  });
  function List() {
    const rows = useQuery('todos'); // id order: the row keeps its place, as in the baseline
    return rows ? h('ul', null, rows.map((r) => h(Row, { key: r.id, row: r }))) : null;
  }
  const { container, root } = await mount(h(SpaceProvider, { space }, h(List)));
  if (container.querySelectorAll('li').length !== ROWS) throw new Error('weftdb: not every row rendered');
  const times = [];
  for (let run = 0; run < RUNS; run++) {
    const rowId = id((run * 7919) % ROWS);
    const title = `changed ${run}`;
    const done = shown(container, rowId, title);
    const t0 = performance.now();
    todos.update(rowId, { title });
    times.push((await done) - t0);
  }
  root.unmount();
  await space.close();
  return times;
}

// The big-list pattern: the list renders ids (useIds), each row its own document (useDoc).
async function weftdbIds() {
  const space = await createSpace({ storage: 'memory' });
  const todos = space.collection('todos');
  await space.transact(() => {
    for (let i = 0; i < ROWS; i++) todos.put(id(i), { title: `task ${i}`, done: false });
  });
  const Item = React.memo(function Item({ docId }) {
    const doc = useDoc('todos', docId);
    return h('li', { id: docId }, doc?.title);
  });
  function List() {
    const ids = useIds('todos');
    return ids ? h('ul', null, ids.map((i) => h(Item, { key: i, docId: i }))) : null;
  }
  const { container, root } = await mount(h(SpaceProvider, { space }, h(List)));
  if (container.querySelectorAll('li').length !== ROWS) throw new Error('weftdb ids: not every row rendered');
  const times = [];
  for (let run = 0; run < RUNS; run++) {
    const rowId = id((run * 7919) % ROWS);
    const title = `changed ${run}`;
    const done = shown(container, rowId, title);
    const t0 = performance.now();
    todos.update(rowId, { title });
    times.push((await done) - t0);
  }
  root.unmount();
  await space.close();
  return times;
}

async function reactAlone() {
  let setRows;
  const initial = Array.from({ length: ROWS }, (_, i) => Object.freeze({ id: id(i), data: Object.freeze({ title: `task ${i}`, done: false }) }));
  function List() {
    const [rows, set] = React.useState(initial);
    setRows = set;
    return h('ul', null, rows.map((r) => h(Row, { key: r.id, row: r })));
  }
  const { container, root } = await mount(h(List));
  const times = [];
  for (let run = 0; run < RUNS; run++) {
    const i = (run * 7919) % ROWS;
    const title = `changed ${run}`;
    const done = shown(container, id(i), title);
    const t0 = performance.now();
    setRows((rows) => rows.map((r, k) => (k === i ? Object.freeze({ id: r.id, data: Object.freeze({ ...r.data, title }) }) : r)));
    times.push((await done) - t0);
  }
  root.unmount();
  return times;
}

// Alternate, so that neither gets the warmer JIT.
const w = [];
const r = [];
const d = [];
for (let round = 0; round < 2; round++) {
  r.push(...(await reactAlone()));
  w.push(...(await weftdb()));
  d.push(...(await weftdbIds()));
}
const mw = median(w);
const mr = median(r);
const md = median(d);
const fmt = (x) => x.toFixed(2);
console.log(`rows ${ROWS}, ${w.length} updates each (node ${process.version}, happy-dom)`);
console.log(`weftdb useQuery  median ${fmt(mw)} ms  (min ${fmt(Math.min(...w))}, max ${fmt(Math.max(...w))})`);
console.log(`weftdb useIds+useDoc median ${fmt(md)} ms  (min ${fmt(Math.min(...d))}, max ${fmt(Math.max(...d))})`);
console.log(`React useState   median ${fmt(mr)} ms  (min ${fmt(Math.min(...r))}, max ${fmt(Math.max(...r))})`);
console.log(`weftdb useQuery / React alone: ${(mw / mr).toFixed(2)}×; useIds+useDoc / React alone: ${(md / mr).toFixed(3)}×; aim < 16 ms: useQuery ${mw < 16 ? 'met' : 'missed'}, useIds+useDoc ${md < 16 ? 'met' : 'missed'}`);
if (opt.merge) {
  const records = [
    { workload: 'react-usequery', impl: 'weftdb', metric: 'update_ms_median', value: mw, unit: 'ms' },
    { workload: 'react-usequery', impl: 'weftdb-useids-usedoc', metric: 'update_ms_median', value: md, unit: 'ms' },
    { workload: 'react-usequery', impl: 'react-usestate', metric: 'update_ms_median', value: mr, unit: 'ms' },
  ];
  mergeSection(opt.merge, 'React: useQuery update', records, [
    `${ROWS.toLocaleString('en')} rows rendered as React.memo components; one row's title changes; ms from the write to the DOM showing it (median of ${w.length}; Node ${process.version}, happy-dom, React ${React.version}; bench/react_bench.mjs).`,
    '',
    '| implementation | median ms | vs React alone |',
    '|---|---|---|',
    `| weftdb/react useQuery (collection.update) | ${fmt(mw)} | ${(mw / mr).toFixed(2)}× |`,
    `| weftdb/react useIds list + useDoc rows | ${fmt(md)} | ${(md / mr).toFixed(3)}× |`,
    `| React alone (useState, one row replaced) | ${fmt(mr)} | 1× |`,
  ]);
}
