// Yjs list adapter for the list workload (bench/api_bench.mjs): a Y.Array
// "l" per Y.Doc, one Y.transact per transaction. Yjs has no move: a move is
// a delete and an insert of the value (what Yjs apps do; two people moving
// one item at once then make two copies). State: encodeStateAsUpdateV2.
import * as Y from 'yjs';

export default {
  name: 'yjs',
  create(id) {
    const doc = new Y.Doc();
    doc.clientID = id;
    return { doc, list: doc.getArray('l') };
  },
  // ops: { kind: 0 insert value i at a[i] | 1 move a[i] to b[i], a, b }
  writeTxn(rep, ops, from, to) {
    const { doc, list } = rep;
    doc.transact(() => {
      for (let i = from; i < to; i++) {
        if (ops.kind[i] === 0) list.insert(ops.a[i], [i]);
        else {
          const v = list.get(ops.a[i]);
          list.delete(ops.a[i], 1);
          list.insert(ops.b[i], [v]);
        }
      }
    });
  },
  read(rep) { return rep.list.toArray(); },
  encodeState(rep) { return Y.encodeStateAsUpdateV2(rep.doc); },
  decodeState(bytes) {
    const rep = this.create(3);
    Y.applyUpdateV2(rep.doc, bytes);
    return rep;
  },
  free(rep) { rep.doc.destroy(); },
};
