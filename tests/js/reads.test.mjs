// Reads decode a document once: get, query, list and live queries hand out
// the same frozen objects until the document changes (issue 21).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace, memoryStorage } from '../../wasm/src/index.js';
import { DocCache } from '../../wasm/src/collection.js';

test('results are frozen and stay the same object until their document changes', async () => {
  const storage = memoryStorage();
  const s = await createSpace({ storage });
  const c = s.collection('c');
  await c.put('a', { n: 1, o: { deep: [1, 2] }, b: new Uint8Array([1]) });
  await c.put('b', { n: 2 });
  const a = c.get('a');
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.o) && Object.isFrozen(a.o.deep));
  assert.throws(() => {
    'use strict';
    a.n = 5;
  }, TypeError);
  assert.equal(c.get('a'), a);
  const rows = c.list();
  assert.equal(rows[0].data, a);
  assert.ok(Object.isFrozen(rows[0]));
  assert.equal(c.query({ where: { n: 1 } })[0], rows[0]);
  const b = c.get('b');
  await c.update('a', { n: 3 });
  assert.notEqual(c.get('a'), a);
  assert.equal(c.get('a').n, 3);
  assert.equal(c.get('b'), b, 'an untouched document keeps its object');
  // a remote change invalidates what it touched
  const peer = await openSpace({ storage: 'memory', invite: s.invite() });
  await peer.applyChanges(s.changesSince(peer.versionVector()));
  const pb = peer.collection('c').get('b');
  await c.delete('b');
  await peer.applyChanges(s.changesSince(peer.versionVector()));
  assert.equal(peer.collection('c').get('b'), undefined);
  assert.notEqual(pb, undefined);
  await c.put('a', { n: 4 });
  // compaction (historyBytes: 1) swaps the replica after every change; reads stay right
  const k = await createSpace({ storage: 'memory', historyBytes: 1 });
  let compactions = 0;
  k.on('compact', () => compactions++);
  const kc = k.collection('c');
  for (let i = 0; i < 5; i++) {
    await kc.put('x', { i });
    await new Promise((r) => setTimeout(r, 1));
    assert.deepEqual(kc.get('x'), { i });
  }
  assert.ok(compactions > 0);
  await k.close();
  const id = s.id;
  await s.close();
  const r = await openSpace({ space: id, storage });
  assert.deepEqual(r.collection('c').get('a'), { n: 4 });
  assert.equal(r.collection('c').get('b'), undefined);
  await r.close();
  await peer.close();
});

test('query pages with a cursor, with and without orderBy', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('c');
  await s.transact(() => {
    for (let i = 0; i < 25; i++) c.put(`k${String(i).padStart(2, '0')}`, { n: i % 7, odd: i % 2 === 1 });
  });
  for (const q of [{}, { orderBy: 'n desc' }, { where: { odd: true }, orderBy: ['n', 'id'] }]) {
    const whole = c.query(q);
    assert.equal(whole.cursor, null);
    const got = [];
    let after = null;
    for (;;) {
      const rows = c.query({ ...q, limit: 4, after });
      got.push(...rows);
      if (!rows.cursor) break;
      assert.equal(rows.length, 4);
      after = rows.cursor;
    }
    assert.deepEqual(got.map((r) => r.id), whole.map((r) => r.id), JSON.stringify(q));
  }
  assert.throws(() => c.query({ after: 'k1' }), (e) => e.code === 'WEFT_EINVAL');
  await s.close();
});

test('live queries follow random changes exactly, re-checking only what changed', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('c');
  let seed = 7;
  const rnd = (n) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const queries = [
    {},
    { where: { done: false }, orderBy: 'n desc', limit: 5 },
    { orderBy: ['tag', 'n'], limit: 8 },
    { where: { n: { gte: 3 } }, limit: 3 },
  ];
  const seen = queries.map(() => null);
  const offs = queries.map((q, i) => c.subscribe(q, (rows) => (seen[i] = rows)));
  for (let round = 0; round < 40; round++) {
    for (let k = 0; k < 1 + rnd(6); k++) {
      const id = `d${rnd(30)}`;
      const r = rnd(10);
      if (r < 5) c.put(id, { n: rnd(8), done: rnd(2) === 0, tag: ['a', 'b', 'c'][rnd(3)] });
      else if (r < 8) c.update(id, { n: rnd(8) });
      else c.delete(id);
    }
    await new Promise((res) => setTimeout(res, 0));
    queries.forEach((q, i) => assert.deepEqual(seen[i].map((x) => x.id), c.query(q).map((x) => x.id), `round ${round}, ${JSON.stringify(q)}`));
  }
  offs.forEach((off) => off());
  await s.close();
});

test('the decoded-document cache holds at most its bound; a row the app holds stays the same object', () => {
  let decoded = 0;
  const rep = { getDoc: (c, id) => (decoded++, { id }) };
  const cache = new DocCache(100);
  const held = cache.row(rep, 'c', 'd0');
  for (let i = 1; i < 1000; i++) {
    cache.row(rep, 'c', `d${i}`);
    assert.ok(cache.size <= 100, `holds ${cache.size} rows`);
  }
  assert.equal(decoded, 1000);
  assert.equal(cache.row(rep, 'c', 'd0'), held, 'let go, but still held by the app: the same object');
  assert.equal(decoded, 1000);
  assert.equal(cache.row(rep, 'c', 'd999'), cache.row(rep, 'c', 'd999'));
  cache.invalidate([['c', 'd0']]);
  assert.notEqual(cache.row(rep, 'c', 'd0'), held, 'changed: decoded again');
  assert.equal(decoded, 1001);
});
