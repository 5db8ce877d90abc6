// Workload 4, Automerge: the document's save() bytes in IndexedDB; one map
// per document inside the root map "items" (titles as ImmutableString, a
// scalar like the others' strings, not collaborative text).
import * as A from '@automerge/automerge/slim';
import { docOf, idbGet, idbPut } from './shape.js';

export { checkAll, docOf } from './shape.js';

const NAME = 'bench-automerge';
await A.initializeWasm(new URL('./automerge.wasm', import.meta.url).href);

export async function build(n) {
  let doc = A.from({ items: {} });
  for (let j = 0; j < n; j += 1000)
    doc = A.change(doc, (d) => {
      for (let i = j; i < Math.min(n, j + 1000); i++) {
        const e = docOf(i);
        d.items[`doc${i}`] = { ...e, title: new A.ImmutableString(e.title) };
      }
    });
  await idbPut(NAME, 'doc', A.save(doc));
  A.free(doc);
}

const plain = (d) => d && { title: d.title.toString(), n: d.n, done: d.done };

export async function open(sample) {
  const t0 = performance.now();
  const doc = A.load(await idbGet(NAME, 'doc'));
  const got = sample.map((i) => plain(doc.items[`doc${i}`]));
  const t1 = performance.now();
  const all = Object.entries(doc.items).map(([k, v]) => [k, plain(v)]);
  const t2 = performance.now();
  A.free(doc);
  return { sampleMs: t1 - t0, allMs: t2 - t0, got, all };
}
