// Workload 4, weftdb: a space in IndexedDB (the package's own storage:
// encrypted snapshot + change records), opened by id.
import { createSpace, openSpace } from '/pkg/src/index.js';
import { docOf } from './shape.js';

export { checkAll, docOf } from './shape.js';

let id;

export async function build(n) {
  const s = await createSpace({ storage: 'indexeddb' });
  const c = s.collection('items');
  for (let j = 0; j < n; j += 1000)
    await s.transact(() => {
      for (let i = j; i < Math.min(n, j + 1000); i++) c.put(`doc${i}`, docOf(i));
    });
  await s.flush();
  id = s.id;
  await s.close();
}

export async function open(sample) {
  const t0 = performance.now();
  const s = await openSpace({ space: id, storage: 'indexeddb' });
  const c = s.collection('items');
  const got = sample.map((i) => c.get(`doc${i}`));
  const t1 = performance.now();
  const all = c.list().map((r) => [r.id, r.data]);
  const t2 = performance.now();
  await s.close();
  return { sampleMs: t1 - t0, allMs: t2 - t0, got, all };
}
