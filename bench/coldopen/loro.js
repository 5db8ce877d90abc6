// Workload 4, Loro: the document's snapshot (export({mode: 'snapshot'}))
// in IndexedDB; one LoroMap per document inside the root map "items".
import init, { LoroDoc, LoroMap } from 'loro-crdt/web';
import { docOf, idbGet, idbPut } from './shape.js';

export { checkAll, docOf } from './shape.js';

const NAME = 'bench-loro';
await init({ module_or_path: new URL('./loro.wasm', import.meta.url) });

export async function build(n) {
  const doc = new LoroDoc();
  const items = doc.getMap('items');
  for (let j = 0; j < n; j += 1000) {
    for (let i = j; i < Math.min(n, j + 1000); i++) {
      const m = items.setContainer(`doc${i}`, new LoroMap());
      for (const [k, v] of Object.entries(docOf(i))) m.set(k, v);
    }
    doc.commit();
  }
  await idbPut(NAME, 'snapshot', doc.export({ mode: 'snapshot' }));
  doc.free();
}

export async function open(sample) {
  const t0 = performance.now();
  const doc = LoroDoc.fromSnapshot(await idbGet(NAME, 'snapshot'));
  const items = doc.getMap('items');
  const got = sample.map((i) => items.get(`doc${i}`)?.toJSON());
  const t1 = performance.now();
  const all = Object.entries(items.toJSON());
  const t2 = performance.now();
  doc.free();
  return { sampleMs: t1 - t0, allMs: t2 - t0, got, all };
}
