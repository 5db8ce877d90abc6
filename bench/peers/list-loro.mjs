// Loro list adapter for the list workload (bench/api_bench.mjs): a
// LoroMovableList "l" per LoroDoc (moves are real moves, one winner per
// concurrent move, as Weft's), one commit() per transaction. State:
// export({mode: 'snapshot'}).
import { LoroDoc } from 'loro-crdt';

export default {
  name: 'loro',
  create(id) {
    const doc = new LoroDoc();
    doc.setPeerId(BigInt(id));
    return { doc, list: doc.getMovableList('l') };
  },
  writeTxn(rep, ops, from, to) {
    const { doc, list } = rep;
    for (let i = from; i < to; i++) {
      if (ops.kind[i] === 0) list.insert(ops.a[i], i);
      else if (ops.a[i] !== ops.b[i]) list.move(ops.a[i], ops.b[i]);
    }
    doc.commit();
  },
  read(rep) { return rep.list.toArray(); },
  encodeState(rep) { return rep.doc.export({ mode: 'snapshot' }); },
  decodeState(bytes) {
    const doc = LoroDoc.fromSnapshot(bytes);
    return { doc, list: doc.getMovableList('l') };
  },
  free(rep) { rep.doc.free(); },
};
