// Nothing leaks across the boundary: opening, using and closing many spaces
// leaves the WASM heap where it was, and a long session's heap follows the
// size of its state, not the number of writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace, memoryStats, memoryStorage } from '../../wasm/src/index.js';

async function cycle(i) {
  const a = await createSpace({ storage: 'memory' });
  const c = a.collection('items');
  await c.put(`k${i}`, { text: 'x'.repeat(100), n: i, nested: { list: [1, 2, 3] } });
  await a.transact(() => {
    for (let j = 0; j < 20; j++) c.update(`j${j}`, { j });
  });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  await b.applyChanges(a.changesSince(b.versionVector()));
  const off = b.collection('items').subscribe(() => {});
  assert.equal(b.collection('items').query({ where: { j: { gte: 10 } } }).length, 10);
  assert.equal(a.stateHash(), b.stateHash());
  off();
  await a.close();
  await b.close();
}

test('open/close 300 spaces: the WASM heap does not grow', async () => {
  for (let i = 0; i < 20; i++) await cycle(i); // warm-up: caches, first growths
  const before = await memoryStats();
  for (let i = 0; i < 300; i++) await cycle(i);
  const after = await memoryStats();
  assert.equal(after.heapUsed, before.heapUsed, `malloc'ed bytes: ${before.heapUsed} -> ${after.heapUsed}`);
  assert.equal(after.heapBytes, before.heapBytes, `heap: ${before.heapBytes} -> ${after.heapBytes}`);
});

test('a long session overwriting the same documents stays bounded (history is compacted)', async () => {
  const storage = memoryStorage();
  const s = await createSpace({ storage, historyBytes: 256 << 10 });
  let compactions = 0;
  s.on('compact', () => compactions++);
  const c = s.collection('c');
  const round = async (r) => {
    for (let i = 0; i < 500; i++) await c.put(`k${i % 50}`, { r, i, pad: 'y'.repeat(50) });
  };
  await round(0);
  await round(1);
  await s.flush();
  const before = (await memoryStats()).heapUsed;
  const hash0 = s.stateHash();
  for (let r = 2; r < 22; r++) await round(r);
  await s.flush();
  const after = (await memoryStats()).heapUsed;
  assert.ok(compactions >= 3, `compactions: ${compactions}`);
  // 10,000 writes of ~250-byte changes: without compaction the kept
  // records alone would be ~2.5 MB; bounded means the heap stays within
  // the history limit plus the (constant) state.
  assert.ok(after - before < 512 << 10, `heap grew ${after - before} bytes over 10,000 writes`);
  assert.notEqual(s.stateHash(), hash0);
  // the compacted replica holds the same state as the store, and still writes
  await c.put('final', { ok: true });
  const hash = s.stateHash();
  await s.close();
  const again = await openSpace({ space: s.id, storage });
  assert.equal(again.stateHash(), hash);
  await again.close();
});

test('a burst of writes in one task is compacted as it goes, not only once the task ends', async () => {
  // A loop of transactions that is never awaited commits every change in
  // the same task; the history must still be compacted whenever it passes
  // historyBytes, or the WASM heap grows with the whole burst. (Text edits
  // and plain writes of one task share changes now, so they no longer make
  // such a burst; transact still makes one change each.)
  const s = await createSpace({ storage: 'memory', historyBytes: 64 << 10 });
  let compactions = 0;
  s.on('compact', () => compactions++);
  const c = s.collection('docs');
  const before = (await memoryStats()).heapBytes;
  let last;
  for (let i = 0; i < 4000; i++) last = s.transact(() => c.put(`d${i % 50}`, { n: i, pad: 'x'.repeat(40) }));
  const during = compactions;
  await last;
  assert.equal(c.get('d49').n, 3999);
  // ~4,000 changes of ~250 bytes: ~1 MB of records, over 15 times the limit.
  assert.ok(during >= 5, `compactions during the burst: ${during}`);
  const after = (await memoryStats()).heapBytes;
  assert.ok(after - before <= 1 << 20, `WASM memory grew ${after - before} bytes during the burst`);
  await s.close();
});
