// Yjs adapter for run.mjs: a Y.Map "m" per Y.Doc, one Y.transact per
// transaction. A writer captures the update its transaction emits, as a
// syncing app does. Each workload gets the better encoding for it: V1
// updates (Yjs's default) for one-set transactions, where they are smaller
// and faster to write (V2 sets up its column encoders per update); V2 for
// 1,000-set transactions, the state and the sync, where it is smaller.
import * as Y from 'yjs';
import { readFileSync } from 'node:fs';

const version = JSON.parse(
  readFileSync(new URL('../node_modules/yjs/package.json', import.meta.url), 'utf8')).version;

let v1 = false;

export default {
  name: 'yjs',
  version,
  setup({ batch }) { v1 = batch === 1; },
  // id 1, 2, 3: Yjs client ids (concurrent writes to a key: the higher wins).
  create(id, capture = false) {
    const doc = new Y.Doc();
    doc.clientID = id;
    const rep = { doc, map: doc.getMap('m'), last: null };
    if (capture) doc.on(v1 ? 'update' : 'updateV2', (u) => { rep.last = u; });
    return rep;
  },
  writeTxn(rep, ops, from, to) {
    const { map, doc } = rep;
    doc.transact(() => {
      for (let i = from; i < to; i++) map.set(ops.name[ops.key[i]], ops.val[i]);
    });
    return rep.last;
  },
  apply(rep, update) { (v1 ? Y.applyUpdate : Y.applyUpdateV2)(rep.doc, update); },
  get(rep, key) { return rep.map.get(key); },
  size(rep) { return rep.map.size; },
  encodeState(rep) { return Y.encodeStateAsUpdateV2(rep.doc); },
  decodeState(bytes, id = 3, capture = false) {
    const rep = this.create(id, capture);
    Y.applyUpdateV2(rep.doc, bytes);
    return rep;
  },
  // Each side sends its state vector; each answers with what the other lacks.
  exchange(a, b) {
    const va = Y.encodeStateVector(a.doc), vb = Y.encodeStateVector(b.doc);
    const ua = Y.encodeStateAsUpdateV2(a.doc, vb), ub = Y.encodeStateAsUpdateV2(b.doc, va);
    Y.applyUpdateV2(b.doc, ua);
    Y.applyUpdateV2(a.doc, ub);
    return va.length + vb.length + ua.length + ub.length;
  },
  free(rep) { rep.doc.destroy(); },
};
