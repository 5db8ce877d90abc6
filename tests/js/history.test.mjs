// space.history(collection, doc) and what a replica says below its
// snapshot (docs/API.md, "History"): Node, memory storage, no relay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace, memoryStorage } from '../../wasm/src/index.js';

async function exchange(a, b) {
  await b.applyChanges(a.changesSince(b.versionVector()));
  await a.applyChanges(b.changesSince(a.versionVector()));
}

test('history lists who changed a document, when and which fields, newest first', async () => {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  try {
    await a.collection('notes').put('n1', { title: 'x', body: 'y' });
    await a.collection('notes').put('other', { title: 'not this one' });
    await exchange(a, b);
    await b.collection('notes').update('n1', { title: 'z' });
    await b.text('notes', 'n1', 'body').insert(0, 'typed ');
    await b.flush();
    await exchange(a, b);
    await a.collection('notes').delete('n1');
    const h = a.history('notes', 'n1');
    assert.equal(h.trimmed, false);
    assert.deepEqual(h.entries.map((e) => [e.author === a.author ? 'a' : 'b', e.fields, e.deleted]), [
      ['a', [], true],
      ['b', ['body'], false],
      ['b', ['title'], false],
      ['a', ['body', 'title'], false],
    ]);
    for (const e of h.entries) assert.ok(Number.isFinite(e.at) && e.at > 1.6e12 && e.seq >= 1);
    assert.ok(h.entries[0].at >= h.entries.at(-1).at);
    assert.deepEqual(a.history('notes', 'nothing'), { entries: [], trimmed: false });
    // The same answer on the other replica once it holds the same changes.
    await exchange(a, b);
    assert.deepEqual(b.history('notes', 'n1'), a.history('notes', 'n1'));
    assert.throws(() => a.history('notes', 7), (e) => e.code === 'WEFT_EINVAL');
    assert.throws(() => a.history('', 'n1'), (e) => e.code === 'WEFT_EINVAL');
  } finally {
    await a.close();
    await b.close();
  }
});

test('after a compaction: history says older changes are gone, changesSince refuses to answer in part', async () => {
  const storage = memoryStorage();
  const s = await createSpace({ storage, historyBytes: 16 << 10 });
  const peer = await createSpace({ storage: 'memory' });
  try {
    const c = s.collection('notes');
    await c.put('n1', { title: 'first' });
    const compacted = new Promise((r) => s.on('compact', r));
    // SNAPSHOT_EVERY (1,000) records: the store folds them into a snapshot too.
    for (let i = 0; i < 1000; i++) await c.put(`filler${i}`, { v: i, pad: 'x'.repeat(60) });
    await compacted;
    await c.update('n1', { title: 'after' });
    const h = s.history('notes', 'n1');
    assert.equal(h.trimmed, true);
    assert.deepEqual(h.entries.map((e) => e.fields), [['title']], 'only what is held');
    assert.ok(s.historyBase().length > 0);
    assert.throws(() => s.changesSince(new Uint8Array(0)), (e) => e.code === 'WEFT_ETRIMMED' && e.errno === -35);
    const tail = s.changesSince(s.historyBase());
    assert.ok(tail.length > 0);
    // Reopened from storage: the stored snapshot is the base (the change
    // after it is held again).
    await s.close();
    const again = await openSpace({ storage: 'memory', space: s.id, storage });
    try {
      assert.ok(again.historyBase().length > 0);
      assert.throws(() => again.changesSince(new Uint8Array(0)), (e) => e.code === 'WEFT_ETRIMMED');
      assert.deepEqual(again.history('notes', 'n1'), h);
    } finally {
      await again.close();
    }
    // A replica that holds everything answers any vector.
    assert.equal(peer.historyBase().length, 0);
    assert.ok(peer.changesSince(new Uint8Array(0)) instanceof Uint8Array);
  } finally {
    await s.close();
    await peer.close();
  }
});
