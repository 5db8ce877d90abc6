// Workload 4, Yjs: a Y.Doc persisted by y-indexeddb (its updates in
// IndexedDB); one Y.Map per document inside the root map "items".
import * as Y from 'yjs';
import { IndexeddbPersistence } from 'y-indexeddb';
import { docOf } from './shape.js';

export { checkAll, docOf } from './shape.js';

const NAME = 'bench-yjs';

export async function build(n) {
  const doc = new Y.Doc();
  const p = new IndexeddbPersistence(NAME, doc);
  await p.whenSynced;
  const items = doc.getMap('items');
  for (let j = 0; j < n; j += 1000)
    doc.transact(() => {
      for (let i = j; i < Math.min(n, j + 1000); i++) items.set(`doc${i}`, new Y.Map(Object.entries(docOf(i))));
    });
  await p.destroy(); // closes the database once its writes are done
  doc.destroy();
}

export async function open(sample) {
  const t0 = performance.now();
  const doc = new Y.Doc();
  const p = new IndexeddbPersistence(NAME, doc);
  await p.whenSynced;
  const items = doc.getMap('items');
  const got = sample.map((i) => items.get(`doc${i}`)?.toJSON());
  const t1 = performance.now();
  const all = Object.entries(items.toJSON());
  const t2 = performance.now();
  await p.destroy();
  doc.destroy();
  return { sampleMs: t1 - t0, allMs: t2 - t0, got, all };
}
