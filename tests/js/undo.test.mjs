// Undo and redo (wasm/src/undo.js, docs/API.md "Undo") in Node with memory
// storage: only this device's own edits are undone, with a collaborator
// editing the same text and documents at once; text by its characters'
// ids, fields only where they still hold what this device wrote; redo;
// grouping by captureTimeout; stack events; scope; bad options;
// formatting, where only this device's marks are taken back; and random
// steps undone and redone one by one, each giving back its exact state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace } from '../../wasm/src/index.js';
import { LEVEL_MARKS } from '../../wasm/src/constants.js';

async function exchange(a, b) {
  await b.applyChanges(a.changesSince(b.versionVector()));
  await a.applyChanges(b.changesSince(a.versionVector()));
}

async function pair() {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  return [a, b];
}

test('text: undo removes only my own typing and deleting, with a collaborator typing at once; redo puts it back', async () => {
  const [a, b] = await pair();
  try {
    const ta = a.text('notes', 'n1', 'body');
    const tb = b.text('notes', 'n1', 'body');
    const um = a.undoManager({ scope: [ta] });
    const events = [];
    um.on('stack-item-added', (e) => events.push('+' + e.type));
    um.on('stack-item-popped', (e) => events.push('-' + e.type));
    assert.equal(um.canUndo(), false);
    assert.equal(await um.undo(), false);
    await ta.insert(0, 'Hello');
    await exchange(a, b);
    um.stopCapturing();
    await ta.insert(5, ' there');
    await tb.insert(5, '!!'); // B types at the same place at once
    await tb.insert(2, 'X'); // and inside A's first word
    await exchange(a, b);
    const both = ta.toString();
    assert.ok(both === 'HeXllo there!!' || both === 'HeXllo!! there', both);
    assert.equal(await um.undo(), true);
    assert.equal(ta.toString(), 'HeXllo!!');
    assert.equal(await um.undo(), true);
    assert.equal(ta.toString(), 'X!!'); // B's text stays
    assert.equal(um.canUndo(), false);
    await exchange(a, b);
    assert.equal(tb.toString(), 'X!!');
    assert.equal(a.stateHash(), b.stateHash());
    // redo: the text comes back where it was, around B's
    assert.equal(await um.redo(), true);
    assert.equal(ta.toString(), 'HeXllo!!');
    assert.equal(await um.redo(), true);
    assert.equal(um.canRedo(), false);
    const back = ta.toString();
    assert.equal(back, both);
    await exchange(a, b);
    assert.equal(tb.toString(), both);
    // deleting, undone: the deleted text is typed again in its place
    um.stopCapturing();
    const at = back.indexOf(' there');
    await ta.delete(at, 6);
    await tb.insert(0, '> ');
    await exchange(a, b);
    assert.equal(ta.toString().includes('there'), false);
    await um.undo();
    await exchange(a, b);
    assert.equal(tb.toString(), '> ' + back);
    assert.equal(ta.toString(), tb.toString());
    assert.deepEqual(events.slice(0, 4), ['+undo', '+undo', '-undo', '+redo']);
    // a new edit clears the redo stack
    await um.undo();
    assert.equal(um.canRedo(), true);
    await ta.insert(0, 'new ');
    assert.equal(um.canRedo(), false);
    // B's undo manager has nothing of A's
    const ub = b.undoManager({ scope: [tb] });
    assert.equal(ub.canUndo(), false);
    ub.destroy();
  } finally {
    await a.close();
    await b.close();
  }
});

test('fields: undo restores prior values only where the field still holds mine; created documents go away', async () => {
  const [a, b] = await pair();
  try {
    const um = a.undoManager({ scope: 'todos', captureTimeout: 0 });
    const ca = a.collection('todos');
    const cb = b.collection('todos');
    await ca.put('t1', { title: 'one', done: false });
    await exchange(a, b);
    await ca.update('t1', { done: true, note: 'mine' });
    await cb.update('t1', { title: 'uno' }); // B's concurrent change
    await exchange(a, b);
    assert.deepEqual(await ca.get('t1'), { title: 'uno', done: true, note: 'mine' });
    await um.undo(); // my update: done and note back, B's title stays
    assert.deepEqual(await ca.get('t1'), { title: 'uno', done: false });
    await um.redo();
    assert.deepEqual(await ca.get('t1'), { title: 'uno', done: true, note: 'mine' });
    await um.undo();
    // B changes done after me: my put's undo leaves it
    await exchange(a, b);
    await cb.update('t1', { done: 'later' });
    await exchange(a, b);
    await um.undo(); // the put: title is B's, done is B's: nothing of mine is left
    assert.deepEqual(await ca.get('t1'), { title: 'uno', done: 'later' });
    // a document I created, undone, is deleted; redone, back
    await ca.put('t2', { x: 1 });
    await um.undo();
    assert.equal(await ca.get('t2'), undefined);
    await um.redo();
    assert.deepEqual(await ca.get('t2'), { x: 1 });
    // a delete, undone, restores the document; counters by the opposite step
    await ca.delete('t2');
    await um.undo();
    assert.deepEqual(await ca.get('t2'), { x: 1 });
    await exchange(a, b);
    await ca.increment('t2', 'n', 5);
    await cb.increment('t2', 'n', 2);
    await exchange(a, b);
    await um.undo();
    await exchange(a, b);
    assert.equal((await cb.get('t2')).n, 2);
    // out of scope: not captured
    while (um.canUndo()) await um.undo();
    await a.collection('other').put('o', { y: 1 });
    assert.equal(um.canUndo(), false);
  } finally {
    await a.close();
    await b.close();
  }
});

test('grouping: writes within captureTimeout are one step; stopCapturing splits; bad options are refused', async () => {
  const s = await createSpace({ storage: 'memory' });
  try {
    const t = s.text('notes', 'n', 'body');
    const um = s.undoManager({ scope: { collection: 'notes', doc: 'n' }, captureTimeout: 60_000 });
    await t.insert(0, 'a');
    await t.insert(1, 'b');
    await s.collection('notes').update('n', { title: 'T' });
    um.stopCapturing();
    await t.insert(2, 'c');
    await um.undo();
    assert.equal(t.toString(), 'ab');
    await um.undo();
    assert.equal(t.toString(), '');
    assert.deepEqual(await s.collection('notes').get('n'), { body: '' });
    assert.equal(um.canUndo(), false);
    // a refused edit is not captured
    await assert.rejects(t.insert(5, 'x'), (e) => e.code === 'WEFT_EINVAL');
    assert.equal(um.canUndo(), false);
    assert.throws(() => s.undoManager({}), (e) => e.code === 'WEFT_EINVAL');
    assert.throws(() => s.undoManager({ scope: 'x', captureTimeout: -1 }), (e) => e.code === 'WEFT_EINVAL');
    assert.throws(() => s.undoManager({ scope: [42] }), (e) => e.code === 'WEFT_EINVAL');
  } finally {
    await s.close();
  }
});

async function marksPair(opts = {}) {
  const a = await createSpace({ storage: 'memory', ...opts });
  await a.raiseFormatLevel(LEVEL_MARKS);
  const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'admin' }) });
  await b.raiseFormatLevel(LEVEL_MARKS);
  return [a, b];
}

test('formatting: A bolds, B italicises overlapping; A undoes only its bold, on both; redo restores it', async () => {
  const [a, b] = await marksPair();
  try {
    const ta = a.text('notes', 'n', 'body');
    const tb = b.text('notes', 'n', 'body');
    await ta.insert(0, 'Hello world');
    await exchange(a, b);
    const um = a.undoManager({ scope: [ta] });
    um.stopCapturing();
    await ta.format(0, 8, { bold: true });
    await tb.format(4, 7, { italic: true }); // at once, overlapping
    await exchange(a, b);
    const both = [
      { insert: 'Hell', attributes: { bold: true } },
      { insert: 'o wo', attributes: { bold: true, italic: true } },
      { insert: 'rld', attributes: { italic: true } },
    ];
    assert.deepEqual(ta.spans(), both);
    assert.equal(await um.undo(), true);
    const undone = [{ insert: 'Hell' }, { insert: 'o world', attributes: { italic: true } }];
    assert.deepEqual(ta.spans(), undone);
    assert.equal(um.canRedo(), true);
    await exchange(a, b);
    assert.deepEqual(tb.spans(), undone);
    assert.equal(a.stateHash(), b.stateHash());
    assert.equal(await um.redo(), true);
    assert.deepEqual(ta.spans(), both);
    await exchange(a, b);
    assert.deepEqual(tb.spans(), both);
    assert.equal(a.stateHash(), b.stateHash());
    assert.equal(ta.toString(), 'Hello world'); // formatting never touched the string
  } finally {
    await a.close();
    await b.close();
  }
});

test('formatting: undo puts back the previous marks of each part, removed marks included, and leaves marks others set since', async () => {
  const [a, b] = await marksPair();
  try {
    const ta = a.text('notes', 'n', 'body');
    const tb = b.text('notes', 'n', 'body');
    const um = a.undoManager({ scope: 'notes', captureTimeout: 0 });
    await ta.insert(0, 'abcdefghij');
    await ta.format(2, 3, { bold: true }); // cde bold
    await ta.format(0, 10, { bold: true, link: 'u1' }); // all bold, all linked
    assert.deepEqual(ta.spans(), [{ insert: 'abcdefghij', attributes: { bold: true, link: 'u1' } }]);
    await um.undo(); // cde stays bold: it was before
    assert.deepEqual(ta.spans(), [{ insert: 'ab' }, { insert: 'cde', attributes: { bold: true } }, { insert: 'fghij' }]);
    await um.redo();
    // removing a mark, undone, puts its value back
    await ta.format(1, 3, { link: null });
    assert.deepEqual(ta.spans()[1], { insert: 'bcd', attributes: { bold: true } });
    await um.undo();
    assert.deepEqual(ta.spans(), [{ insert: 'abcdefghij', attributes: { bold: true, link: 'u1' } }]);
    // B relinks part of it after seeing mine, and types inside: my undo
    // unlinks only what still shows my link, and text inside my range goes with it
    await exchange(a, b);
    await tb.format(6, 2, { link: 'u2' });
    await tb.insert(3, 'X');
    await exchange(a, b);
    await um.undo(); // the redo of the bold+link format
    assert.deepEqual(ta.spans(), [
      { insert: 'ab' },
      { insert: 'cXde', attributes: { bold: true } },
      { insert: 'f' },
      { insert: 'gh', attributes: { link: 'u2' } },
      { insert: 'ij' },
    ]);
    await exchange(a, b);
    assert.deepEqual(tb.spans(), ta.spans());
    // a deleted range: nothing to put back, the step is skipped
    um.clear();
    await ta.format(0, 2, { italic: true });
    await ta.delete(0, 2);
    await um.undo(); // the delete
    await ta.delete(0, 2);
    um.clear();
    assert.equal(um.canUndo(), false);
    // out of scope, and refused formats, are not captured
    await a.text('other', 'o', 'body').insert(0, 'zz');
    await a.text('other', 'o', 'body').format(0, 1, { bold: true });
    await assert.rejects(ta.format(50, 2, { bold: true }), (e) => e.code === 'WEFT_EINVAL');
    assert.equal(um.canUndo(), false);
  } finally {
    await a.close();
    await b.close();
  }
});

test('formatting: typing and formatting in one step are undone together', async () => {
  const [a] = await marksPair();
  try {
    const t = a.text('notes', 'n', 'body');
    const um = a.undoManager({ scope: [t], captureTimeout: 60_000 });
    await t.insert(0, 'plain ');
    um.stopCapturing();
    await t.insert(6, 'bold');
    await t.format(6, 4, { bold: true });
    await t.insert(10, '!'); // bold expands: '!' is bold too
    assert.deepEqual(t.spans(), [{ insert: 'plain ' }, { insert: 'bold!', attributes: { bold: true } }]);
    await um.undo();
    assert.deepEqual(t.spans(), [{ insert: 'plain ' }]);
    await um.redo(); // 'bold' is typed again with new ids: the bold follows them
    assert.deepEqual(t.spans(), [{ insert: 'plain ' }, { insert: 'bold!', attributes: { bold: true } }]);
    await um.undo(); // and again, through two generations of ids
    assert.deepEqual(t.spans(), [{ insert: 'plain ' }]);
    await um.redo();
    assert.deepEqual(t.spans(), [{ insert: 'plain ' }, { insert: 'bold!', attributes: { bold: true } }]);
    // a deleted bold word, undone, comes back bold (Peritext: it is typed inside the range again)
    um.stopCapturing();
    await t.delete(6, 5);
    await um.undo();
    assert.deepEqual(t.spans(), [{ insert: 'plain ' }, { insert: 'bold!', attributes: { bold: true } }]);
  } finally {
    await a.close();
  }
});

test('random typing, deleting and formatting: undoing every step gives back each earlier text and marks; redoing them, each later one', async () => {
  const [a] = await marksPair({ textWindow: 0 }); // each awaited edit commits at once
  try {
    let seed = 0x2545f491;
    const rnd = (n) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const TYPES = [['bold', true], ['italic', true], ['link', 'u1'], ['link', 'u2'], ['bold', null], ['link', null]];
    for (let round = 0; round < 4; round++) {
      const t = a.text('notes', `r${round}`, 'body');
      const um = a.undoManager({ scope: [t], captureTimeout: 0 });
      const states = [JSON.stringify(t.spans())];
      for (let step = 0; step < 30; step++) {
        const len = t.length;
        const r = rnd(10);
        if (len < 4 || r < 4) await t.insert(rnd(len + 1), 'abcdefg'.slice(0, 1 + rnd(6)));
        else if (r < 6) {
          const pos = rnd(len - 1);
          await t.delete(pos, 1 + rnd(Math.min(4, len - pos)));
        }
        else {
          const pos = rnd(len - 1);
          const [type, value] = TYPES[rnd(TYPES.length)];
          await t.format(pos, 1 + rnd(Math.min(8, len - pos)), { [type]: value });
        }
        um.stopCapturing();
        states.push(JSON.stringify(t.spans()));
      }
      for (let cycle = 0; cycle < 2; cycle++) {
        // Each cycle retypes text whose characters earlier cycles typed again.
        for (let i = states.length - 2; i >= 0; i--) {
          await um.undo();
          assert.equal(JSON.stringify(t.spans()), states[i], `round ${round}, cycle ${cycle}: undo to step ${i}`);
        }
        for (let i = 1; i < states.length; i++) {
          await um.redo();
          assert.equal(JSON.stringify(t.spans()), states[i], `round ${round}, cycle ${cycle}: redo to step ${i}`);
        }
      }
      um.destroy();
    }
  } finally {
    await a.close();
  }
});
