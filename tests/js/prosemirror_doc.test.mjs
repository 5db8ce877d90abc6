// The ProseMirror side of rich text without a browser (wasm/src/
// prosemirror_doc.js): a text's blocks become a document that flattens
// back to exactly the text, and positions map both ways, for random texts
// of markers, plain line breaks, code blocks and marks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace } from '../../wasm/src/index.js';
import { LEVEL_MARKS } from '../../wasm/src/constants.js';
import { weftSchema, docFromBlocks, flatten, pmToFlat, flatToPm } from '../../wasm/src/prosemirror_doc.js';

const KINDS = [{ type: 'paragraph' }, { type: 'heading', level: 2 }, { type: 'bullet', depth: 1 }, { type: 'ordered', depth: 0 },
  { type: 'blockquote' }, { type: 'code' }];

test('docFromBlocks then flatten gives the text back; positions map both ways (random texts)', async () => {
  const s = await createSpace({ storage: 'memory' });
  try {
    await s.raiseFormatLevel(LEVEL_MARKS);
    let seed = 7;
    const rnd = (n) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    for (let c = 0; c < 40; c++) {
      const t = s.text('notes', `n${c}`, 'body');
      for (let k = 0; k < 12; k++) {
        const len = t.length;
        const r = rnd(10);
        if (r < 5 || len === 0) await t.insert(rnd(len + 1), ['ab', 'c', 'é', '\n', 'xy z'][rnd(5)]);
        else if (r < 7) await t.insertBlock(rnd(len + 1), KINDS[rnd(KINDS.length)]);
        else if (r < 9) await t.format(rnd(len), 1, { [['bold', 'italic', 'link'][rnd(3)]]: rnd(2) ? true : 'https://x' });
        else await t.delete(rnd(len), 1);
      }
      const str = t.toString();
      const blocks = t.blocks();
      const doc = docFromBlocks(weftSchema, blocks);
      doc.check(); // valid for the schema
      assert.equal(doc.childCount, blocks.length);
      const lead = blocks[0].marker === 0;
      const flat = flatten(doc, lead);
      assert.equal(flat.s, str, JSON.stringify(blocks));
      // Every content index maps to a position and back; a marker maps to the end of the block before it.
      for (const b of blocks)
        for (let x = b.start; x <= b.end; x++) assert.equal(pmToFlat(doc, lead, flatToPm(doc, lead, x)), x);
      for (const b of blocks.slice(1)) assert.equal(pmToFlat(doc, lead, flatToPm(doc, lead, b.marker)), b.marker);
      // Marks come through, character by character (strong has no value: bold "x" and bold true both show as strong).
      doc.forEach((node, _o, i) => {
        if (node.type.spec.code) return;
        const want = blocks[i].spans.flatMap((sp) => [...sp.insert].map(() => Object.keys(sp.attributes ?? {}).filter((k) => k !== 'code').sort().join()));
        const got = [];
        node.forEach((ch) => { for (const _c of ch.text) got.push(ch.marks.map((m) => ({ strong: 'bold', em: 'italic', link: 'link' })[m.type.name]).sort().join()); });
        assert.deepEqual(got, want, JSON.stringify([blocks[i], node.toJSON()]));
      });
    }
  } finally {
    await s.close();
  }
});
