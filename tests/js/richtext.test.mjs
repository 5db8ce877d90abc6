// Rich text in weftdb (Node, memory storage; docs/API.md "Rich text"):
// text.format and text.spans, the marks level, Peritext's expand rules,
// two replicas formatting at once and converging, observe deltas carrying
// formatting, marks surviving a reopen from storage snapshots, and an
// undo manager capturing formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace, memoryStorage } from '../../wasm/src/index.js';
import { LEVEL_MARKS } from '../../wasm/src/constants.js';

async function exchange(a, b) {
  await b.applyChanges(a.changesSince(b.versionVector()));
  await a.applyChanges(b.changesSince(a.versionVector()));
}

async function pair() {
  const a = await createSpace({ storage: 'memory' });
  await a.raiseFormatLevel(LEVEL_MARKS);
  const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'admin' }) });
  await b.raiseFormatLevel(LEVEL_MARKS); // offline: b learns the level by raising it too
  return [a, b];
}

test('formatting needs the space at the marks level', async () => {
  const s = await createSpace({ storage: 'memory' });
  try {
    const t = s.text('notes', 'n', 'body');
    await t.insert(0, 'hello');
    await assert.rejects(t.format(0, 2, { bold: true }), { code: 'WEFT_EVERSION' });
    assert.deepEqual(t.spans(), [{ insert: 'hello' }]);
    assert.equal(await s.raiseFormatLevel(LEVEL_MARKS), LEVEL_MARKS);
    await t.format(0, 2, { bold: true });
    assert.deepEqual(t.spans(), [{ insert: 'he', attributes: { bold: true } }, { insert: 'llo' }]);
  } finally {
    await s.close();
  }
});

test('format, remove, spans in UTF-16, and bad input', async () => {
  const [s] = await pair();
  try {
    const t = s.text('notes', 'n', 'body');
    assert.deepEqual(t.spans(), []);
    await t.insert(0, 'a😀 link here');
    await t.format(0, 3, { bold: true, italic: true });
    await t.format(4, 4, { link: 'https://example.com' });
    assert.deepEqual(t.spans(), [
      { insert: 'a😀', attributes: { bold: true, italic: true } },
      { insert: ' ' },
      { insert: 'link', attributes: { link: 'https://example.com' } },
      { insert: ' here' },
    ]);
    await t.format(0, 1, { italic: null });
    assert.deepEqual(t.spans()[0], { insert: 'a', attributes: { bold: true } });
    // bold grows when typing after it; link does not
    await t.insert(3, 'B');
    await t.insert(9, '!');
    assert.deepEqual(t.spans(), [
      { insert: 'a', attributes: { bold: true } },
      { insert: '😀B', attributes: { bold: true, italic: true } },
      { insert: ' ' },
      { insert: 'link', attributes: { link: 'https://example.com' } },
      { insert: '! here' },
    ]);
    const hash = s.stateHash();
    await assert.rejects(t.format(1, 1, { bold: true }), { code: 'WEFT_EINVAL' }); // inside the emoji
    await assert.rejects(t.format(0, 99, { bold: true }), { code: 'WEFT_EINVAL' });
    await assert.rejects(t.format(0, 0, { bold: true }), { code: 'WEFT_EINVAL' });
    await assert.rejects(t.format(0, 1, { ['x'.repeat(65)]: true }), { code: 'WEFT_EINVAL' });
    await assert.rejects(t.format(0, 1, null), { code: 'WEFT_EINVAL' });
    await assert.rejects(s.text('notes', 'none', 'body').format(0, 1, { bold: true }), { code: 'WEFT_ENOTFOUND' });
    await assert.rejects(s.transact(() => { t.format(0, 1, { bold: true }); }), { code: 'WEFT_ESTATE' });
    assert.equal(s.stateHash(), hash);
  } finally {
    await s.close();
  }
});

test('two replicas format at once and converge (Peritext examples)', async () => {
  const [a, b] = await pair();
  try {
    const ta = a.text('notes', 'n', 'body');
    const tb = b.text('notes', 'n', 'body');
    await ta.insert(0, 'The fox jumped.');
    await exchange(a, b);
    // overlapping bold and italic; b types at the end of a's bold range and into a's link
    await ta.format(0, 7, { bold: true });
    await ta.format(8, 6, { link: 'https://a' });
    await tb.format(4, 11, { italic: true });
    await tb.insert(7, 'es');
    await tb.insert(16, '!!'); // right after the link
    await exchange(a, b);
    const want = [
      { insert: 'The ', attributes: { bold: true } },
      { insert: 'foxes', attributes: { bold: true, italic: true } },
      { insert: ' ', attributes: { italic: true } },
      { insert: 'jumped', attributes: { italic: true, link: 'https://a' } },
      { insert: '!!.', attributes: { italic: true } },
    ];
    assert.deepEqual(ta.spans(), want);
    assert.deepEqual(tb.spans(), want);
    assert.equal(a.stateHash(), b.stateHash());
    // remove and add bold at once: the op with the greater id wins
    await ta.format(0, 9, { bold: null });
    await tb.format(0, 3, { bold: true });
    await exchange(a, b);
    assert.deepEqual(ta.spans(), tb.spans());
    assert.equal(a.stateHash(), b.stateHash());
    assert.equal(ta.toString(), 'The foxes jumped!!.');
  } finally {
    await a.close();
    await b.close();
  }
});

test('observe hears formatting, local and remote', async () => {
  const [a, b] = await pair();
  try {
    const ta = a.text('notes', 'n', 'body');
    const tb = b.text('notes', 'n', 'body');
    await ta.insert(0, 'hello world');
    await exchange(a, b);
    const heardA = [], heardB = [];
    const offA = ta.observe((ds, info) => heardA.push({ ds, local: info.local }));
    const offB = tb.observe((ds, info) => heardB.push({ ds, local: info.local }));
    await ta.format(6, 5, { bold: true });
    assert.deepEqual(heardA, [{ ds: [{ index: 6, deleteCount: 0, insert: '', format: 5 }], local: true }]);
    await exchange(a, b);
    assert.deepEqual(heardB, [{ ds: [{ index: 6, deleteCount: 0, insert: '', format: 5 }], local: false }]);
    assert.deepEqual(tb.spans(), [{ insert: 'hello ' }, { insert: 'world', attributes: { bold: true } }]);
    offA();
    offB();
  } finally {
    await a.close();
    await b.close();
  }
});

test('marks survive a reopen from storage', async () => {
  const storage = memoryStorage();
  const s = await createSpace({ storage });
  await s.raiseFormatLevel(LEVEL_MARKS);
  const t = s.text('notes', 'n', 'body');
  await t.insert(0, 'keep this');
  await t.format(5, 4, { italic: true, comment: { by: 'ann', n: 2 } });
  const key = s.id;
  const hash = s.stateHash();
  await s.close();
  const r = await openSpace({ space: key, storage });
  try {
    assert.deepEqual(r.text('notes', 'n', 'body').spans(), [
      { insert: 'keep ' },
      { insert: 'this', attributes: { comment: { by: 'ann', n: 2 }, italic: true } },
    ]);
    assert.equal(r.stateHash(), hash);
  } finally {
    await r.close();
  }
});

test('an undo manager undoes formatting with the typing of the same step, capturing without errors', async () => {
  const [s] = await pair();
  try {
    const t = s.text('notes', 'n', 'body');
    await t.insert(0, 'hello');
    const errors = [];
    s.on('error', (e) => errors.push(e));
    const consoleError = console.error; // the undo manager reports a failed capture there (util.reportError)
    console.error = (...a) => errors.push(a);
    const um = s.undoManager({ scope: ['notes'] });
    await t.insert(5, ' world');
    await t.format(0, 5, { bold: true });
    um.stopCapturing();
    assert.equal(await um.undo(), true);
    assert.equal(t.toString(), 'hello');
    assert.deepEqual(t.spans(), [{ insert: 'hello' }]); // undo.test.mjs tests formatting undo in depth
    assert.equal(await um.redo(), true);
    assert.deepEqual(t.spans(), [{ insert: 'hello', attributes: { bold: true } }, { insert: ' world' }]);
    console.error = consoleError;
    assert.deepEqual(errors, []);
  } finally {
    await s.close();
  }
});
