// Loro adapter for run.mjs: a LoroMap "m" per LoroDoc, one commit() per
// transaction. A writer captures the update each commit emits
// (subscribeLocalUpdates, called synchronously by commit).
import { LoroDoc, VersionVector } from 'loro-crdt';
import { readFileSync } from 'node:fs';

const version = JSON.parse(
  readFileSync(new URL('../node_modules/loro-crdt/package.json', import.meta.url), 'utf8')).version;

export default {
  name: 'loro',
  version,
  // id 1, 2, 3: Loro peer ids (concurrent writes at one lamport: the higher wins).
  create(id, capture = false) {
    const doc = new LoroDoc();
    doc.setPeerId(BigInt(id));
    const rep = { doc, map: doc.getMap('m'), last: null, unsub: null };
    if (capture) rep.unsub = doc.subscribeLocalUpdates((u) => { rep.last = u; });
    return rep;
  },
  writeTxn(rep, ops, from, to) {
    const { map, doc } = rep;
    for (let i = from; i < to; i++) map.set(ops.name[ops.key[i]], ops.val[i]);
    doc.commit();
    return rep.last;
  },
  apply(rep, update) { rep.doc.import(update); },
  get(rep, key) { return rep.map.get(key); },
  size(rep) { return rep.map.size; },
  encodeState(rep) { return rep.doc.export({ mode: 'snapshot' }); },
  decodeState(bytes, id = 3, capture = false) {
    const doc = LoroDoc.fromSnapshot(bytes);
    doc.setPeerId(BigInt(id));
    const rep = { doc, map: doc.getMap('m'), last: null, unsub: null };
    if (capture) rep.unsub = doc.subscribeLocalUpdates((u) => { rep.last = u; });
    return rep;
  },
  // Each side sends its version vector; each answers with what the other lacks.
  exchange(a, b) {
    const va = a.doc.oplogVersion().encode(), vb = b.doc.oplogVersion().encode();
    const ua = a.doc.export({ mode: 'update', from: VersionVector.decode(vb) });
    const ub = b.doc.export({ mode: 'update', from: VersionVector.decode(va) });
    b.doc.import(ua);
    a.doc.import(ub);
    return va.length + vb.length + ua.length + ub.length;
  },
  free(rep) {
    if (rep.unsub) rep.unsub();
    rep.doc.free();
  },
};
