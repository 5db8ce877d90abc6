// Automerge adapter for run.mjs: the document's root map, one
// Automerge.change per transaction, strings as ImmutableString (a scalar,
// last-writer-wins like the other implementations; a plain JS string would
// become a collaborative text object). A writer takes the change each
// transaction made (getLastLocalChange).
import * as A from '@automerge/automerge';
import { readFileSync } from 'node:fs';

const version = JSON.parse(
  readFileSync(new URL('../node_modules/@automerge/automerge/package.json', import.meta.url), 'utf8')).version;
const ACTORS = { 1: 'a1'.repeat(16), 2: 'b2'.repeat(16), 3: 'c3'.repeat(16) };

const plain = (v) => (v instanceof A.ImmutableString ? v.val : v);

export default {
  name: 'automerge',
  version,
  // Actor ids as Weft's author keys (concurrent writes at one counter: the higher actor wins).
  create(id) { return { doc: A.init({ actor: ACTORS[id] }) }; },
  writeTxn(rep, ops, from, to) {
    rep.doc = A.change(rep.doc, (d) => {
      for (let i = from; i < to; i++) {
        const v = ops.val[i];
        d[ops.name[ops.key[i]]] = typeof v === 'string' ? new A.ImmutableString(v) : v;
      }
    });
    return A.getLastLocalChange(rep.doc);
  },
  apply(rep, change) { [rep.doc] = A.applyChanges(rep.doc, [change]); },
  get(rep, key) { return plain(rep.doc[key]); },
  size(rep) { return Object.keys(rep.doc).length; },
  encodeState(rep) { return A.save(rep.doc); },
  decodeState(bytes, id = 3) { return { doc: A.load(bytes, { actor: ACTORS[id] }) }; },
  // Each side sends its heads; each answers with the changes since the
  // heads it knows (32 bytes per head hash on the wire).
  exchange(a, b) {
    const ha = A.getHeads(a.doc), hb = A.getHeads(b.doc);
    const ua = A.saveSince(a.doc, hb.filter((h) => A.hasHeads(a.doc, [h])));
    const ub = A.saveSince(b.doc, ha.filter((h) => A.hasHeads(b.doc, [h])));
    b.doc = A.loadIncremental(b.doc, ua);
    a.doc = A.loadIncremental(a.doc, ub);
    return 32 * (ha.length + hb.length) + ua.length + ub.length;
  },
  free(rep) { A.free(rep.doc); },
};
