// Automerge text adapter for run.mjs --workload text: the root map's field
// "t", a collaborative text (Automerge 3's default for strings), edited
// with Automerge.splice (delete, then insert, per patch; UTF-16 code units,
// the JS default), one Automerge.change per transaction of the trace. A
// writer takes each change (getLastLocalChange); the state is save().
import * as A from '@automerge/automerge';
import { readFileSync } from 'node:fs';

const version = JSON.parse(
  readFileSync(new URL('../node_modules/@automerge/automerge/package.json', import.meta.url), 'utf8')).version;
const ACTORS = { 1: 'a1'.repeat(16), 2: 'b2'.repeat(16), 3: 'c3'.repeat(16) };
// The text object is created by one fixed change that every replica starts
// from, so a remote replica can apply the writer's edits to the same object.
// Its time is fixed too, so it is the same change (same hash) in every
// process (run.mjs measures memory in other processes).
const base = A.save(A.change(A.init({ actor: 'f0'.repeat(16) }), { time: 0 }, (d) => { d.t = ''; }));

export default {
  name: 'automerge',
  version,
  encoding: 'updates: getLastLocalChange / applyChanges; state: save()',
  create(id) { return { doc: A.load(base, { actor: ACTORS[id] }) }; },
  writeTxn(rep, patches) {
    rep.doc = A.change(rep.doc, (d) => {
      for (const [pos, del, ins] of patches) A.splice(d, ['t'], pos, del, ins);
    });
    return A.getLastLocalChange(rep.doc);
  },
  apply(rep, change) { [rep.doc] = A.applyChanges(rep.doc, [change]); },
  // Untimed catch-up (run.mjs): many changes in one call.
  applyMany(rep, changes) { [rep.doc] = A.applyChanges(rep.doc, changes); },
  read(rep) { return rep.doc.t; },
  encodeState(rep) { return A.save(rep.doc); },
  decodeState(bytes) { return { doc: A.load(bytes, { actor: ACTORS[3] }) }; },
  free(rep) { A.free(rep.doc); },
};
