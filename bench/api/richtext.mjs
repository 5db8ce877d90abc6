// The rich-text workload of bench/api_bench.mjs: the automerge-paper trace
// typed one transaction per edit, with a seeded formatting op after every
// FORMAT_EVERY-th edit (bold, italic or a link over a random range of up to
// 40 code units; a quarter of them remove the mark), each through the
// library's public rich-text API: weftdb text.format, Yjs Y.Text.format,
// Loro LoroText.mark / unmark (configTextStyle: bold and italic expand
// after, links not), Automerge mark / unmark (the same expand choices).
// Figures: the apply time (edits and formats); the state's size, as one
// buffer (weftdb: the space's sealed local snapshot after
// flush({ snapshot: true }), which the store then holds alone: the text
// with its marks plus the document, the space's member and level records
// and 40 bytes of nonce and tag; Yjs: encodeStateAsUpdateV2; Loro: its
// snapshot export; Automerge: save); and loading a fresh replica from
// that state and reading the spans. Every implementation must end with
// the trace's text; the spans are not compared: the libraries differ in
// what typing next to a mark does (Yjs inherits the left character's
// attributes, the others follow their expand rules).

/** A formatting op after every FORMAT_EVERY-th edit. */
export const FORMAT_EVERY = 50;

const TYPES = ['bold', 'italic', 'link'];

/**
 * The formatting ops for a trace: [{ after: txn index, pos, len, type,
 * value (null: remove) }], placed against the text's length at that point
 * (the trace is BMP-only, so units are code points).
 */
export function makeFormats(txns, next) {
  const below = (m) => Number(((next() >> 32n) * BigInt(m)) >> 32n);
  const out = [];
  let len = 0;
  for (let i = 0; i < txns.length; i++) {
    for (const [, del, ins] of txns[i]) len += ins.length - del;
    if (i % FORMAT_EVERY !== FORMAT_EVERY - 1 || len < 2) continue;
    const pos = below(len - 1);
    const n = 1 + below(Math.min(40, len - pos));
    const kind = below(100);
    const type = TYPES[kind < 40 ? 0 : kind < 75 ? 1 : 2];
    const value = below(4) === 0 ? null : type === 'link' ? `https://example.com/${i}` : true;
    out.push({ after: i, pos, len: n, type, value });
  }
  return out;
}

const now = () => performance.now();
const gc = () => globalThis.gc?.();

/** weftdb: text.splice per edit (not awaited), text.format per op. */
export async function runWeftdb(weftdb, { txns, end, formats }, runs) {
  const { createSpace, openSpace, memoryStorage, LEVEL_MARKS } = weftdb;
  const fig = {};
  const put = (m, v) => (fig[m] ??= []).push(v);
  for (let r = 0; r < runs; r++) {
    const storage = memoryStorage();
    const s = await createSpace({ storage });
    await s.raiseFormatLevel(LEVEL_MARKS);
    const text = s.text('docs', 'd', 't');
    gc();
    let t = now();
    let last, f = 0;
    for (let i = 0; i < txns.length; i++) {
      for (const [pos, del, ins] of txns[i]) last = text.splice(pos, del, ins);
      for (; f < formats.length && formats[f].after === i; f++) {
        const o = formats[f];
        last = text.format(o.pos, o.len, { [o.type]: o.value });
      }
    }
    await last;
    await s.flush();
    put('apply (edits + formats)', now() - t);
    if (text.toString() !== end) throw new Error('weftdb: the typed text differs from the trace\'s end');
    await s.flush({ snapshot: true });
    const id = s.id;
    await s.close();
    const kept = await (await storage.open(id)).load();
    if (!kept.snapshot || kept.records.length) throw new Error('weftdb: the store does not hold the state alone');
    put('state size', kept.snapshot.length);
    gc();
    t = now();
    const o = await openSpace({ space: id, storage });
    const spans = o.text('docs', 'd', 't').spans();
    put('load + read spans', now() - t);
    if (spans.map((x) => x.insert).join('') !== end) throw new Error('weftdb: the loaded text differs');
    if (!spans.some((x) => x.attributes)) throw new Error('weftdb: no formatting survived');
    await o.close();
  }
  return { fig, notes: {} };
}

const STYLES = { bold: { expand: 'after' }, italic: { expand: 'after' }, link: { expand: 'none' } };

const PEERS = {
  async yjs() {
    const Y = await import('yjs');
    return {
      create() {
        const doc = new Y.Doc();
        doc.clientID = 1;
        return { doc, text: doc.getText('t') };
      },
      edit(rep, patches) {
        rep.doc.transact(() => {
          for (const [pos, del, ins] of patches) {
            if (del) rep.text.delete(pos, del);
            if (ins) rep.text.insert(pos, ins);
          }
        });
      },
      format(rep, o) { rep.doc.transact(() => rep.text.format(o.pos, o.len, { [o.type]: o.value })); },
      state: (rep) => Y.encodeStateAsUpdateV2(rep.doc),
      load(bytes) {
        const doc = new Y.Doc();
        Y.applyUpdateV2(doc, bytes);
        return { doc, text: doc.getText('t') };
      },
      spans: (rep) => rep.text.toDelta().map((d) => ({ insert: d.insert, attributes: d.attributes })),
      read: (rep) => rep.text.toString(),
      free(rep) { rep.doc.destroy(); },
    };
  },
  async loro() {
    const { LoroDoc } = await import('loro-crdt');
    return {
      create() {
        const doc = new LoroDoc();
        doc.setPeerId(1n);
        doc.configTextStyle(STYLES);
        return { doc, text: doc.getText('t') };
      },
      edit(rep, patches) {
        for (const [pos, del, ins] of patches) {
          if (del) rep.text.delete(pos, del);
          if (ins) rep.text.insert(pos, ins);
        }
        rep.doc.commit();
      },
      format(rep, o) {
        const range = { start: o.pos, end: o.pos + o.len };
        if (o.value === null) rep.text.unmark(range, o.type);
        else rep.text.mark(range, o.type, o.value);
        rep.doc.commit();
      },
      state: (rep) => rep.doc.export({ mode: 'snapshot' }),
      load(bytes) {
        const doc = LoroDoc.fromSnapshot(bytes);
        doc.configTextStyle(STYLES);
        return { doc, text: doc.getText('t') };
      },
      spans: (rep) => rep.text.toDelta(),
      read: (rep) => rep.text.toString(),
      free(rep) { rep.doc.free(); },
    };
  },
  async automerge() {
    const A = await import('@automerge/automerge');
    return {
      create() {
        const doc = A.change(A.init({ actor: 'a1'.repeat(16) }), (d) => { d.t = ''; });
        return { doc };
      },
      edit(rep, patches) {
        rep.doc = A.change(rep.doc, (d) => {
          for (const [pos, del, ins] of patches) A.splice(d, ['t'], pos, del, ins);
        });
      },
      format(rep, o) {
        const range = { start: o.pos, end: o.pos + o.len, expand: STYLES[o.type].expand };
        rep.doc = A.change(rep.doc, (d) => {
          if (o.value === null) A.unmark(d, ['t'], range, o.type);
          else A.mark(d, ['t'], range, o.type, o.value);
        });
      },
      state: (rep) => A.save(rep.doc),
      load: (bytes) => ({ doc: A.load(bytes) }),
      spans: (rep) => A.spans(rep.doc, ['t']),
      read: (rep) => rep.doc.t,
      free(rep) { A.free(rep.doc); },
    };
  },
};

/** Automerge makes a change per edit at ~1-10 ms each on a large text: its figure times the first CAP_TXNS edits. */
const CAP_TXNS = 26000;

/** A peer: one transaction per edit, one per formatting op. */
export async function runPeer(peer, { txns, end, formats }, runs) {
  const p = await PEERS[peer]();
  const fig = {};
  const notes = {};
  const put = (m, v) => (fig[m] ??= []).push(v);
  const n = peer === 'automerge' ? Math.min(CAP_TXNS, txns.length) : txns.length;
  if (n < txns.length) notes['apply (edits + formats)'] = `timed: the first ${n} of the ${txns.length} edits and their formats, one change each; the rest untimed`;
  for (let r = 0; r < runs; r++) {
    const w = p.create();
    gc();
    let t = now();
    let f = 0;
    const upto = (to) => {
      for (let i = 0; i < to; i++) {
        p.edit(w, txns[i]);
        for (; f < formats.length && formats[f].after === i; f++) p.format(w, formats[f]);
      }
    };
    upto(n);
    put('apply (edits + formats)', now() - t);
    // The rest, untimed: the edits up to each format in one change.
    for (let i = n; i < txns.length;) {
      const to = f < formats.length ? formats[f].after + 1 : txns.length;
      p.edit(w, txns.slice(i, to).flat());
      i = to;
      for (; f < formats.length && formats[f].after === i - 1; f++) p.format(w, formats[f]);
    }
    if (p.read(w) !== end) throw new Error(`${peer}: the typed text differs from the trace's end`);
    const state = p.state(w);
    put('state size', state.length);
    p.free(w);
    gc();
    t = now();
    const o = p.load(state);
    const spans = p.spans(o);
    put('load + read spans', now() - t);
    if (p.read(o) !== end) throw new Error(`${peer}: the loaded text differs`);
    if (!spans.some((x) => (x.attributes && Object.keys(x.attributes).length) || (x.marks && Object.keys(x.marks).length)))
      throw new Error(`${peer}: no formatting survived`);
    p.free(o);
  }
  return { fig, notes };
}
