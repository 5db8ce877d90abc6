// Yjs text adapter for run.mjs --workload text: a Y.Text "t" per Y.Doc, one
// Y.transact per transaction of the trace (Y.Text delete, then insert, per
// patch). A writer captures the V1 update each transaction emits (the
// `update` event: for one-edit transactions V1 is smaller and faster than
// V2, as in the map workload); the state is encodeStateAsUpdateV2 (smaller).
import * as Y from 'yjs';
import { readFileSync } from 'node:fs';

const version = JSON.parse(
  readFileSync(new URL('../node_modules/yjs/package.json', import.meta.url), 'utf8')).version;

export default {
  name: 'yjs',
  version,
  encoding: 'updates: V1 (update event, applyUpdate); state: encodeStateAsUpdateV2',
  create(id, capture = false) {
    const doc = new Y.Doc();
    doc.clientID = id;
    const rep = { doc, text: doc.getText('t'), last: null };
    if (capture) doc.on('update', (u) => { rep.last = u; });
    return rep;
  },
  // patches: [pos, del, ins] in UTF-16 code units (run.mjs converts).
  writeTxn(rep, patches) {
    const { doc, text } = rep;
    doc.transact(() => {
      for (const [pos, del, ins] of patches) {
        if (del) text.delete(pos, del);
        if (ins) text.insert(pos, ins);
      }
    });
    return rep.last;
  },
  apply(rep, update) { Y.applyUpdate(rep.doc, update); },
  read(rep) { return rep.text.toString(); },
  encodeState(rep) { return Y.encodeStateAsUpdateV2(rep.doc); },
  decodeState(bytes) {
    const rep = this.create(3);
    Y.applyUpdateV2(rep.doc, bytes);
    return rep;
  },
  free(rep) { rep.doc.destroy(); },
};
