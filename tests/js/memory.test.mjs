// Nothing leaks across the boundary: opening, using and closing many spaces
// leaves the WASM heap where it was, and a long session's heap follows the
// size of its state, not the number of writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace, memoryStats } from '../../wasm/src/index.js';

async function cycle(i) {
  const a = await createSpace();
  const c = a.collection('items');
  await c.put(`k${i}`, { text: 'x'.repeat(100), n: i, nested: { list: [1, 2, 3] } });
  await a.transact(() => {
    for (let j = 0; j < 20; j++) c.update(`j${j}`, { j });
  });
  const b = await openSpace({ invite: a.invite() });
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

test('a long session overwriting the same documents stays bounded', async () => {
  const s = await createSpace();
  const c = s.collection('c');
  const round = async (r) => {
    for (let i = 0; i < 500; i++) await c.put(`k${i % 50}`, { r, i, pad: 'y'.repeat(50) });
  };
  await round(0);
  await round(1);
  await s.flush();
  const before = (await memoryStats()).heapUsed;
  for (let r = 2; r < 12; r++) await round(r);
  await s.flush();
  const after = (await memoryStats()).heapUsed;
  // change records are kept for sync (keep_records), about 250 bytes a
  // write; the state itself does not grow. Allow the records, nothing more.
  const perWrite = (after - before) / 5000;
  assert.ok(perWrite < 400, `heap grew ${perWrite.toFixed(0)} bytes per write`);
  await s.close();
});
