// Blocks of a rich text (docs/API.md "Rich text", wasm/src/blocks.js): block
// markers ("\n" with a non-expanding `block` mark) read as paragraphs,
// headings, list items and code blocks; two replicas splitting, typing and
// changing a heading at once converge; bad input is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace } from '../../wasm/src/index.js';
import { LEVEL_MARKS } from '../../wasm/src/constants.js';
import { blocksOf } from '../../wasm/src/blocks.js';

async function exchange(a, b) {
  await b.applyChanges(a.changesSince(b.versionVector()));
  await a.applyChanges(b.changesSince(a.versionVector()));
}

async function pair() {
  const a = await createSpace({ storage: 'memory' });
  await a.raiseFormatLevel(LEVEL_MARKS);
  const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'admin' }) });
  await b.raiseFormatLevel(LEVEL_MARKS);
  return [a, b];
}

/** Blocks as [type(+level/depth), content] pairs: easy to compare. */
function shape(t) {
  return t.blocks().map((b) => [b.attrs.type + (b.attrs.level ?? '') + (b.attrs.depth !== undefined ? `/${b.attrs.depth}` : ''),
    b.spans.map((s) => s.insert).join('')]);
}

test('blocksOf: plain lines are paragraphs, markers start blocks, code keeps its lines', () => {
  assert.deepEqual(blocksOf([]), [{ marker: null, start: 0, end: 0, attrs: { type: 'paragraph' }, spans: [] }]);
  assert.deepEqual(blocksOf([{ insert: 'a\nb' }]).map((b) => [b.marker, b.start, b.end]), [[null, 0, 1], [1, 2, 3]]);
  const h = { type: 'heading', level: 1 };
  const code = { type: 'code' };
  const bl = blocksOf([
    { insert: '\n', attributes: { block: h } },
    { insert: 'Ti', attributes: { bold: true } },
    { insert: 'tle' },
    { insert: '\n', attributes: { block: code, bold: true } },
    { insert: 'x\ny' },
    { insert: '\n', attributes: { block: { type: 'bullet', depth: 1 } } },
    { insert: 'item\nnext' },
  ]);
  assert.deepEqual(bl.map((b) => [b.marker, b.start, b.end, b.attrs]), [
    [0, 1, 6, h], [6, 7, 10, code], [10, 11, 15, { type: 'bullet', depth: 1 }], [15, 16, 20, { type: 'paragraph' }]]);
  assert.deepEqual(bl[0].spans, [{ insert: 'Ti', attributes: { bold: true } }, { insert: 'tle' }]);
  assert.deepEqual(bl[1].spans, [{ insert: 'x\ny' }]);
  // A block mark on something else than "\n" is not a marker.
  assert.equal(blocksOf([{ insert: 'ab', attributes: { block: h } }]).length, 1);
});

test('insertBlock, setBlock, deleting a marker merges, bad input is refused', async () => {
  const [a] = await pair();
  try {
    const t = a.text('notes', 'n', 'body');
    await t.insert(0, 'Title\nfirst line');
    assert.deepEqual(shape(t), [['paragraph', 'Title'], ['paragraph', 'first line']]);
    await t.insertBlock(0, { type: 'heading', level: 1 });
    assert.equal(t.toString(), '\nTitle\nfirst line');
    await t.setBlock(6, { type: 'bullet', depth: 0 });
    await t.insertBlock(12, { type: 'bullet', depth: 1 });
    assert.deepEqual(shape(t), [['heading1', 'Title'], ['bullet/0', 'first'], ['bullet/1', ' line']]);
    // Typing right after a marker or before it stays plain text of a block.
    await t.insert(13, '-');
    await t.insert(12, '!');
    assert.deepEqual(shape(t), [['heading1', 'Title'], ['bullet/0', 'first!'], ['bullet/1', '- line']]);
    // `block` does not expand: the marks cover the markers alone.
    assert.ok(t.spans().every((s) => !s.attributes?.block || /^\n+$/.test(s.insert)), JSON.stringify(t.spans()));
    await t.delete(13, 1); // the marker: " line" joins "first!"
    assert.deepEqual(shape(t), [['heading1', 'Title'], ['bullet/0', 'first!- line']]);
    await assert.rejects(t.setBlock(1, { type: 'heading' }), { code: 'WEFT_EINVAL' }); // no "\n" there
    await assert.rejects(t.setBlock(0, { type: 'heading', level: 7 }), { code: 'WEFT_EINVAL' });
    await assert.rejects(t.setBlock(0, { level: 1 }), { code: 'WEFT_EINVAL' });
    await assert.rejects(t.insertBlock(0, 'heading'), { code: 'WEFT_EINVAL' });
    await assert.rejects(t.insertBlock(99, { type: 'paragraph' }), { code: 'WEFT_EINVAL' });
    assert.deepEqual(shape(t), [['heading1', 'Title'], ['bullet/0', 'first!- line']]); // nothing lost
  } finally {
    await a.close();
  }
});

test('two replicas: a concurrent split and typing converge', async () => {
  const [a, b] = await pair();
  try {
    const ta = a.text('notes', 'n', 'body');
    const tb = b.text('notes', 'n', 'body');
    await ta.insert(0, 'hello world');
    await exchange(a, b);
    await ta.insertBlock(5, { type: 'heading', level: 2 }); // split before " world"
    await tb.insert(11, '!');
    await tb.insert(6, 'big ');
    await tb.insert(0, '> ');
    await exchange(a, b);
    assert.equal(ta.toString(), tb.toString());
    assert.deepEqual(shape(ta), shape(tb));
    assert.deepEqual(shape(ta), [['paragraph', '> hello'], ['heading2', ' big world!']]);
    // Both split at one place at once: two markers, an empty block between.
    await ta.insertBlock(2, { type: 'bullet', depth: 0 });
    await tb.insertBlock(2, { type: 'ordered', depth: 0 });
    await exchange(a, b);
    assert.deepEqual(shape(ta), shape(tb));
    assert.equal(ta.blocks().length, 4);
  } finally {
    await a.close();
    await b.close();
  }
});

test('two replicas: concurrent heading level changes converge', async () => {
  const [a, b] = await pair();
  try {
    const ta = a.text('notes', 'n', 'body');
    const tb = b.text('notes', 'n', 'body');
    await ta.insert(0, 'intro');
    await ta.insertBlock(5, { type: 'heading', level: 1 });
    await ta.insert(6, 'Chapter');
    await exchange(a, b);
    await ta.setBlock(5, { type: 'heading', level: 2 });
    await tb.setBlock(5, { type: 'heading', level: 3 });
    await tb.insert(13, ' one');
    await exchange(a, b);
    assert.deepEqual(shape(ta), shape(tb));
    const level = ta.blocks()[1].attrs.level;
    assert.ok(level === 2 || level === 3);
    assert.equal(ta.blocks()[1].spans[0].insert, 'Chapter one');
    // One made after seeing the other wins.
    await tb.setBlock(5, { type: 'blockquote' });
    await exchange(a, b);
    assert.deepEqual(shape(ta), [['paragraph', 'intro'], ['blockquote', 'Chapter one']]);
    assert.deepEqual(shape(tb), shape(ta));
  } finally {
    await a.close();
    await b.close();
  }
});
