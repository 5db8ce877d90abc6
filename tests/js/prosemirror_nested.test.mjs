// weftdb/prosemirror with a standard nested schema (prosemirror-schema-basic
// + prosemirror-schema-list: bullet_list/ordered_list > list_item >
// paragraph, blockquote > block+) without a browser: random nested
// documents flatten to a text whose blocks rebuild exactly that document
// (through blocksOf, and through a real text), positions map both ways,
// random texts (any attributes, as concurrent edits leave them) always
// read as a valid document that is a fixpoint, flat texts (depth only)
// nest, and nodes the text cannot hold are refused with a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Schema } from '../../wasm/node_modules/prosemirror-model/dist/index.js';
import { schema as basic } from '../../wasm/node_modules/prosemirror-schema-basic/dist/index.js';
import { addListNodes } from '../../wasm/node_modules/prosemirror-schema-list/dist/index.js';
import { createSpace } from '../../wasm/src/index.js';
import { LEVEL_MARKS } from '../../wasm/src/constants.js';
import { blocksOf } from '../../wasm/src/blocks.js';
import { docFromBlocks, flatten, needsLead, pmToFlat, flatToPm, weftSchema } from '../../wasm/src/prosemirror_doc.js';
import { textblocks } from '../../wasm/src/prosemirror_tree.js';

const schema = new Schema({ nodes: addListNodes(basic.spec.nodes, 'paragraph block*', 'block'), marks: basic.spec.marks });

function rng(seed) {
  return (n) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
}

/** A random valid nested document with no two adjacent containers of one kind (they would join). */
function randomDoc(rnd) {
  const n = schema.nodes;
  const inline = () => {
    const out = [];
    for (let k = rnd(4); k > 0; k--) {
      if (rnd(6) === 0) out.push(n.hard_break.create());
      else {
        const marks = [];
        if (rnd(3) === 0) marks.push(schema.marks.strong.create());
        if (rnd(4) === 0) marks.push(schema.marks.em.create());
        if (rnd(6) === 0) marks.push(schema.marks.link.create({ href: `https://x/${rnd(3)}` }));
        out.push(schema.text(['ab', 'c', 'é', 'xy z'][rnd(4)], marks));
      }
    }
    return out;
  };
  const para = () => n.paragraph.create(null, inline());
  const blocks = (depth, min) => {
    const out = [];
    const count = min + rnd(3);
    for (let i = 0; i < count; i++) {
      const r = depth > 2 ? rnd(3) : rnd(7);
      const prev = out[out.length - 1]?.type;
      let node;
      if (r === 0) node = para();
      else if (r === 1) node = n.heading.create({ level: 1 + rnd(3) }, inline());
      else if (r === 2) node = n.code_block.create(null, rnd(2) ? [schema.text(['x = 1', 'a\nb'][rnd(2)])] : []);
      else if (r < 5) {
        const type = r === 3 ? n.bullet_list : n.ordered_list;
        if (prev === type) continue;
        const items = [];
        for (let k = 1 + rnd(3); k > 0; k--) items.push(n.list_item.create(null, [para(), ...blocks(depth + 1, 0)]));
        node = type.create(null, items);
      } else {
        if (prev === n.blockquote) continue;
        node = n.blockquote.create(null, blocks(depth + 1, 1));
      }
      out.push(node);
    }
    return out;
  };
  return n.doc.create(null, blocks(0, 1));
}

/** The spans of the text a document stands for (as text.spans() would give them). */
function spansOf(doc) {
  const lead = needsLead(doc);
  const { s, want, blocks } = flatten(doc, lead);
  const attrs = want.map((m) => (m && Object.keys(m).length ? m : undefined));
  for (const b of blocks) if (b.marker !== null) attrs[b.marker] = { block: b.attrs };
  return [...s].map((c, i) => (attrs[i] ? { insert: c, attributes: attrs[i] } : { insert: c }));
}

test('random nested documents: text and back gives the same document; positions map both ways', () => {
  const rnd = rng(11);
  for (let c = 0; c < 300; c++) {
    const doc = randomDoc(rnd);
    doc.check();
    const blocks = blocksOf(spansOf(doc));
    const back = docFromBlocks(schema, blocks);
    assert.ok(back.eq(doc), `${JSON.stringify(doc.toJSON())}\n${JSON.stringify(back.toJSON())}`);
    const lead = needsLead(doc);
    const tbs = textblocks(doc);
    assert.equal(tbs.length, blocks.length);
    for (const b of blocks) for (let x = b.start; x <= b.end; x++) assert.equal(pmToFlat(doc, lead, flatToPm(doc, lead, x)), x);
    // Every position inside a textblock maps to its index and back.
    for (const { node, cs } of tbs)
      for (let p = cs; p <= cs + node.content.size; p++) assert.equal(flatToPm(doc, lead, pmToFlat(doc, lead, p)), p);
  }
});

test('nested documents written into a real text read back the same, and show in the flat schema by depth', async () => {
  const s = await createSpace({ storage: 'memory' });
  try {
    await s.raiseFormatLevel(LEVEL_MARKS);
    const rnd = rng(5);
    for (let c = 0; c < 12; c++) {
      const doc = randomDoc(rnd);
      const t = s.text('notes', `n${c}`, 'body');
      const { s: str, want, blocks } = flatten(doc, needsLead(doc));
      await t.insert(0, str);
      for (const b of blocks) if (b.marker !== null) await t.setBlock(b.marker, b.attrs);
      for (let i = 0; i < want.length; i++) if (want[i] && Object.keys(want[i]).length) await t.format(i, 1, want[i]);
      assert.equal(t.toString(), str);
      assert.ok(docFromBlocks(schema, t.blocks()).eq(doc));
      // The flat schema shows the same blocks, list items with their depth.
      const flat = docFromBlocks(weftSchema, t.blocks());
      flat.check();
      assert.equal(flatten(flat, t.blocks()[0].marker === 0).s, str);
      const items = textblocks(doc).filter((x) => x.attrs.type === 'bullet' || x.attrs.type === 'ordered');
      assert.deepEqual(flat.content.content.filter((x) => x.type.name === 'list_item').map((x) => x.attrs.depth), items.map((x) => x.attrs.depth));
    }
  } finally {
    await s.close();
  }
});

test('a flat text (list items by depth, mixed kinds) nests under the items before it', () => {
  const mk = (attrs, text) => ({ attrs, spans: [{ insert: text }] });
  const doc = docFromBlocks(schema, [mk({ type: 'paragraph' }, 'intro'), mk({ type: 'bullet', depth: 0 }, 'a'), mk({ type: 'ordered', depth: 1 }, 'a1'),
    mk({ type: 'ordered', depth: 1 }, 'a2'), mk({ type: 'bullet', depth: 0 }, 'b'), mk({ type: 'blockquote' }, 'q')]);
  doc.check();
  const n = schema.nodes;
  const p = (t) => n.paragraph.create(null, schema.text(t));
  const want = n.doc.create(null, [p('intro'),
    n.bullet_list.create(null, [n.list_item.create(null, [p('a'), n.ordered_list.create(null, [n.list_item.create(null, p('a1')), n.list_item.create(null, p('a2'))])]),
      n.list_item.create(null, p('b'))]),
    n.blockquote.create(null, p('q'))]);
  assert.ok(doc.eq(want), JSON.stringify(doc.toJSON()));
  // And it writes back the attributes it was read from: depth only, no parents.
  assert.deepEqual(flatten(doc, false).blocks.map((b) => b.attrs), [{ type: 'paragraph' }, { type: 'bullet', depth: 0 }, { type: 'ordered', depth: 1 },
    { type: 'ordered', depth: 1 }, { type: 'bullet', depth: 0 }, { type: 'blockquote' }]);
});

test('random texts (any block attributes) read as valid documents that are fixpoints', () => {
  const rnd = rng(3);
  const types = ['paragraph', 'heading', 'code', 'bullet', 'ordered', 'blockquote', 'rule', 'x'];
  const conts = ['bullet', 'ordered', 'blockquote', 'nope'];
  for (let c = 0; c < 300; c++) {
    const blocks = [];
    for (let k = 1 + rnd(8); k > 0; k--) {
      const attrs = { type: types[rnd(types.length)] };
      if (rnd(2)) attrs.depth = rnd(4);
      if (rnd(2)) attrs.level = 1 + rnd(6);
      if (rnd(3) === 0) attrs.parents = Array.from({ length: rnd(4) }, () => conts[rnd(conts.length)]);
      blocks.push({ attrs, spans: rnd(3) ? [{ insert: 'ab' }] : [] });
    }
    const doc = docFromBlocks(schema, blocks);
    doc.check();
    assert.equal(textblocks(doc).length, blocks.length, 'every block is one textblock');
    const again = docFromBlocks(schema, blocksOf(spansOf(doc)));
    assert.ok(again.eq(doc), `${JSON.stringify(blocks)}\n${JSON.stringify(doc.toJSON())}\n${JSON.stringify(again.toJSON())}`);
  }
});

test('nodes the text cannot hold: a clear error', () => {
  const n = schema.nodes;
  const doc = n.doc.create(null, [n.paragraph.create(null, schema.text('a')), n.horizontal_rule.create()]);
  assert.throws(() => flatten(doc, false), (e) => e.code === 'WEFT_EINVAL' && /horizontal_rule/.test(e.message));
  const img = n.doc.create(null, [n.paragraph.create(null, [schema.text('a'), n.image.create({ src: 'x.png' })])]);
  assert.throws(() => flatten(img, false), (e) => e.code === 'WEFT_EINVAL' && /image/.test(e.message));
  assert.throws(() => docFromBlocks(new Schema({ nodes: { doc: { content: 'text*' }, text: {} } }), []), (e) => e.code === 'WEFT_EINVAL');
});
