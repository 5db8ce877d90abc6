// Automerge list adapter for the list workload (bench/api_bench.mjs): a
// list "l" in the document's root map, one Automerge.change per
// transaction. Automerge has no move: a move is a deleteAt and an insertAt
// of the value. State: Automerge.save.
import * as A from '@automerge/automerge';

const ACTORS = { 1: 'a1'.repeat(16), 3: 'c3'.repeat(16) };

export default {
  name: 'automerge',
  create(id) { return { doc: A.from({ l: [] }, { actor: ACTORS[id] }) }; },
  writeTxn(rep, ops, from, to) {
    rep.doc = A.change(rep.doc, (d) => {
      for (let i = from; i < to; i++) {
        if (ops.kind[i] === 0) d.l.insertAt(ops.a[i], i);
        else {
          const v = d.l[ops.a[i]];
          d.l.deleteAt(ops.a[i]);
          d.l.insertAt(ops.b[i], v);
        }
      }
    });
  },
  read(rep) { return Array.from(rep.doc.l); },
  encodeState(rep) { return A.save(rep.doc); },
  decodeState(bytes) { return { doc: A.load(bytes, { actor: ACTORS[3] }) }; },
  free(rep) { A.free(rep.doc); },
};
