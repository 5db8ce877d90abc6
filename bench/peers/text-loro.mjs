// Loro text adapter for run.mjs --workload text: a LoroText "t" per LoroDoc
// (delete, then insert, per patch; positions in UTF-16 code units, Loro's
// JS default), one commit() per transaction of the trace. A writer captures
// the update each commit emits (subscribeLocalUpdates); the state is
// export({mode: 'snapshot'}).
import { LoroDoc } from 'loro-crdt';
import { readFileSync } from 'node:fs';

const version = JSON.parse(
  readFileSync(new URL('../node_modules/loro-crdt/package.json', import.meta.url), 'utf8')).version;

export default {
  name: 'loro',
  version,
  encoding: "updates: subscribeLocalUpdates; state: export({mode: 'snapshot'})",
  create(id, capture = false) {
    const doc = new LoroDoc();
    doc.setPeerId(BigInt(id));
    const rep = { doc, text: doc.getText('t'), last: null, unsub: null };
    if (capture) rep.unsub = doc.subscribeLocalUpdates((u) => { rep.last = u; });
    return rep;
  },
  writeTxn(rep, patches) {
    const { doc, text } = rep;
    for (const [pos, del, ins] of patches) {
      if (del) text.delete(pos, del);
      if (ins) text.insert(pos, ins);
    }
    doc.commit();
    return rep.last;
  },
  apply(rep, update) { rep.doc.import(update); },
  // Untimed catch-up and the memory phase (run.mjs): many updates in one call.
  applyMany(rep, updates) { rep.doc.importBatch(updates); },
  read(rep) { return rep.text.toString(); },
  encodeState(rep) { return rep.doc.export({ mode: 'snapshot' }); },
  decodeState(bytes) {
    const doc = LoroDoc.fromSnapshot(bytes);
    return { doc, text: doc.getText('t'), last: null, unsub: null };
  },
  free(rep) {
    if (rep.unsub) rep.unsub();
    rep.doc.free();
  },
};
