// Undo and redo (wasm/src/undo.js, docs/API.md "Undo") in Node with memory
// storage: only this device's own edits are undone, with a collaborator
// editing the same text and documents at once; text by its characters'
// ids, fields only where they still hold what this device wrote; redo;
// grouping by captureTimeout; stack events; scope; bad options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace } from '../../wasm/src/index.js';

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
