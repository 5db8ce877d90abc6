// Storage defaults and the Node file store (wasm/src/file.js): reopening a
// space from its folder gives the same state, a torn log tail is cut off,
// damage is an error, Node without a storage choice is told to make one,
// and flush({ snapshot: true }) stores the state alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, appendFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSpace, openSpace, fileStorage, memoryStorage } from '../../wasm/src/index.js';
import { replayLog, logEntry, LOG_KIND, crc32 } from '../../wasm/src/file.js';
import * as zlib from 'node:zlib';

function tempDir() {
  return mkdtempSync(join(tmpdir(), 'weftdb-file-'));
}

test('Node without a storage choice: a clear WEFT_EINVAL, nothing kept in memory by default', async () => {
  await assert.rejects(createSpace(), (e) => e.code === 'WEFT_EINVAL' && /storage: 'file', dir/.test(e.message) && /storage: 'memory'/.test(e.message));
  await assert.rejects(createSpace({ storage: 'file' }), (e) => e.code === 'WEFT_EINVAL' && /dir/.test(e.message));
  await assert.rejects(createSpace({ storage: 'disk' }), (e) => e.code === 'WEFT_EINVAL');
});

test("storage: 'file' keeps a space across close: same documents, texts and state hash", async () => {
  const dir = tempDir();
  try {
    const s = await createSpace({ storage: 'file', dir });
    const todos = s.collection('todos');
    for (let i = 0; i < 50; i++) todos.put(`t${i}`, { title: `task ${i}`, done: i % 3 === 0, at: i });
    await todos.update('t1', { done: true });
    await todos.delete('t2');
    await s.text('notes', 'n1', 'body').insert(0, 'hello file');
    const id = s.id;
    const hash = s.stateHash();
    await s.close();
    assert.deepEqual(readdirSync(join(dir, id)).sort(), ['log', 'meta.json']);

    // A second adapter over the same folder (as a restarted process has); dir alone picks the file store.
    const again = await openSpace({ space: id, dir });
    assert.equal(again.stateHash(), hash);
    assert.equal(again.rights, 'admin');
    assert.equal(again.collection('todos').get('t1').done, true);
    assert.equal(again.collection('todos').get('t2'), undefined);
    assert.equal(again.text('notes', 'n1', 'body').toString(), 'hello file');
    // And it still writes: the next reopen sees it.
    await again.collection('todos').put('t99', { title: 'after reopen' });
    const hash2 = again.stateHash();
    await again.close();
    const third = await openSpace({ space: id, storage: fileStorage({ dir }) });
    assert.equal(third.stateHash(), hash2);
    await third.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file store: one open per folder in a process; delete removes the folder', async () => {
  const dir = tempDir();
  try {
    const s = await createSpace({ storage: 'file', dir });
    await s.collection('c').put('a', { v: 1 });
    await assert.rejects(openSpace({ space: s.id, storage: 'file', dir }), (e) => e.code === 'WEFT_ESTATE');
    const adapter = fileStorage({ dir });
    await assert.rejects(adapter.delete(s.id), (e) => e.code === 'WEFT_ESTATE');
    await s.close();
    await adapter.delete(s.id);
    assert.deepEqual(readdirSync(dir), []);
    await assert.rejects(openSpace({ space: s.id, storage: 'file', dir }), (e) => e.code === 'WEFT_ENOTFOUND');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a snapshot rewrites the log as snapshot + outbox, and the space reopens from it', async () => {
  const dir = tempDir();
  try {
    const s = await createSpace({ storage: 'file', dir });
    const c = s.collection('c');
    // SNAPSHOT_EVERY (1,000) stored changes fold into a snapshot.
    for (let i = 0; i < 1100; i++) await c.put(`d${i % 40}`, { i });
    const hash = s.stateHash();
    await s.close();
    const log = new Uint8Array(readFileSync(join(dir, s.id, 'log')));
    const r = replayLog(log);
    assert.ok(r.snapshot, 'the log holds a snapshot');
    assert.ok(r.records.length < 200, `records after the snapshot: ${r.records.length}`);
    const again = await openSpace({ space: s.id, storage: 'file', dir });
    assert.equal(again.stateHash(), hash);
    assert.equal(again.collection('c').get('d0').i, 1080);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flush({ snapshot: true }) leaves the state alone in the store, and the space reopens from it', async () => {
  const storage = memoryStorage();
  const s = await createSpace({ storage });
  const c = s.collection('c');
  for (let i = 0; i < 30; i++) await c.put(`d${i}`, { i });
  await s.text('n', 'a', 'body').insert(0, 'hello');
  let kept = await (await storage.open(s.id)).load();
  assert.equal(kept.snapshot, null); // fewer than SNAPSHOT_EVERY changes: records only
  assert.ok(kept.records.length >= 31);
  await s.flush({ snapshot: true });
  const hash = s.stateHash();
  await s.close();
  kept = await (await storage.open(s.id)).load();
  assert.ok(kept.snapshot, 'a snapshot was written');
  assert.equal(kept.records.length, 0);
  const again = await openSpace({ space: s.id, storage });
  assert.equal(again.stateHash(), hash);
  assert.equal(again.text('n', 'a', 'body').toString(), 'hello');
  assert.equal(again.collection('c').get('d29').i, 29);
  await again.close();
});

test('a torn last entry (crash mid-append) is cut off; damage before the end is WEFT_ECORRUPT', async () => {
  const dir = tempDir();
  try {
    const s = await createSpace({ storage: 'file', dir });
    await s.collection('c').put('a', { v: 1 });
    await s.collection('c').put('b', { v: 2 });
    const hash = s.stateHash();
    await s.close();
    const path = join(dir, s.id, 'log');
    const good = readFileSync(path);
    // Half an entry at the end: the first 9 bytes of a record entry.
    appendFileSync(path, logEntry(LOG_KIND.RECORD, new Uint8Array(40).fill(7)).subarray(0, 9));
    const again = await openSpace({ space: s.id, storage: 'file', dir });
    assert.equal(again.stateHash(), hash);
    await again.collection('c').put('c', { v: 3 }); // appended after the cut, not after the torn bytes
    const hash2 = again.stateHash();
    await again.close();
    const third = await openSpace({ space: s.id, storage: 'file', dir });
    assert.equal(third.stateHash(), hash2);
    await third.close();

    // A flipped byte in the first entry, with whole entries after it.
    const bad = Buffer.from(good);
    bad[12] ^= 0xff;
    writeFileSync(path, bad);
    await assert.rejects(openSpace({ space: s.id, storage: 'file', dir }), (e) => e.code === 'WEFT_ECORRUPT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the log CRC is CRC-32 (IEEE): the check value, and zlib where this Node has it', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  if (zlib.crc32) for (const n of [0, 1, 7, 1000]) {
    const b = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff);
    assert.equal(crc32(b), zlib.crc32(b));
  }
});

test('log replay: outbox entries, acks and snapshots', () => {
  const rec = (n) => new Uint8Array([n, n, n]);
  const log = Buffer.concat([
    logEntry(LOG_KIND.RECORD, rec(1)),
    logEntry(LOG_KIND.OUTBOX, rec(2), 1),
    logEntry(LOG_KIND.OUTBOX, rec(3), 2),
    logEntry(LOG_KIND.ACKED, new Uint8Array(0), 1),
    logEntry(LOG_KIND.RECORD, rec(4)),
  ]);
  let r = replayLog(new Uint8Array(log));
  assert.deepEqual(r.records.map((x) => x[0]), [1, 4]);
  assert.deepEqual([...r.outbox.keys()], [2]);
  assert.equal(r.valid, log.length);
  r = replayLog(new Uint8Array(Buffer.concat([log, logEntry(LOG_KIND.SNAPSHOT, rec(9)), logEntry(LOG_KIND.RECORD, rec(5))])));
  assert.deepEqual(r.snapshot, rec(9));
  assert.deepEqual(r.records.map((x) => x[0]), [5]);
  assert.throws(() => replayLog(new Uint8Array(Buffer.concat([logEntry(7, rec(1)), logEntry(LOG_KIND.RECORD, rec(1))]))), (e) => e.code === 'WEFT_ECORRUPT');
  // A flipped length pointing past the end, with whole entries after it: damage, not a torn tail.
  const flipped = new Uint8Array(log);
  flipped[1] ^= 0x40;
  assert.throws(() => replayLog(flipped), (e) => e.code === 'WEFT_ECORRUPT');
});

// The log decoder meets whatever a disk holds: random bytes, truncations
// and bit flips of a valid log either replay or fail with WEFT_ECORRUPT,
// never anything else, and a truncated log replays a prefix of the entries.
test('log replay of random, truncated and flipped logs: a prefix or WEFT_ECORRUPT, never another error', () => {
  let seed = 0x2757;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const entries = [];
  for (let i = 0; i < 40; i++) {
    const body = new Uint8Array(rand(60)).map(() => rand(256));
    const kind = [LOG_KIND.RECORD, LOG_KIND.OUTBOX, LOG_KIND.ACKED, LOG_KIND.SNAPSHOT][rand(4)];
    entries.push(kind === LOG_KIND.RECORD || kind === LOG_KIND.SNAPSHOT ? logEntry(kind, body) : logEntry(kind, body, rand(100)));
  }
  const log = new Uint8Array(Buffer.concat(entries));
  const whole = replayLog(log);
  assert.equal(whole.valid, log.length);
  const ends = [0];
  for (const e of entries) ends.push(ends[ends.length - 1] + e.length);
  const check = (buf, what) => {
    try {
      const r = replayLog(buf);
      assert.ok(r.valid <= buf.length, what);
      return r;
    } catch (e) {
      assert.equal(e.code, 'WEFT_ECORRUPT', `${what}: ${e.message}`);
      return null;
    }
  };
  for (let cut = 0; cut <= log.length; cut += 1 + rand(7)) {
    const r = check(log.subarray(0, cut), `cut at ${cut}`);
    assert.ok(r, `a truncated log replays (cut at ${cut})`);
    assert.equal(r.valid, Math.max(...ends.filter((e) => e <= cut)), `cut at ${cut}: every whole entry`);
  }
  for (let i = 0; i < 2000; i++) {
    const buf = log.slice();
    for (let k = 1 + rand(3); k > 0; k--) buf[rand(buf.length)] ^= 1 << rand(8);
    check(buf, `flip ${i}`);
    check(new Uint8Array(rand(200)).map(() => rand(256)), `random ${i}`);
  }
});
