// Declared indexes (docs/API.md, "Indexes"): a query served by an index
// returns exactly what a scan of every document returns, over random
// writes, remote applies, deletes, reloads and pages read with cursors
// while documents change; and an indexed query with a limit reads only
// the documents it needs, not the whole collection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace, memoryStorage } from '../../wasm/src/index.js';
import { Replica } from '../../wasm/src/replica.js';
import { DocCache } from '../../wasm/src/collection.js';

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIELDS = ['done', 'due', 'tag'];
const INDEXED = { indexes: ['done', 'due', 'tag', 'meta.p'] };

/** A random value of a mixed type, so the index's type order is exercised too. */
function value(r) {
  const k = r();
  if (k < 0.05) return null;
  if (k < 0.25) return r() < 0.5;
  if (k < 0.7) return Math.floor(r() * 20) - 5;
  if (k < 0.95) return ['a', 'b', 'bb', 'c', ''][Math.floor(r() * 5)];
  return [1, 2];
}

function randomWrite(r, c, n) {
  const id = `d${Math.floor(r() * n)}`;
  const k = r();
  if (k < 0.1) return c.delete(id);
  const doc = {};
  for (const f of FIELDS) if (r() < 0.85) doc[f] = value(r);
  if (r() < 0.5) doc.meta = { p: Math.floor(r() * 5) };
  if (k < 0.4) return c.update(id, doc);
  return c.put(id, doc);
}

function randomQuery(r) {
  const q = {};
  const where = {};
  const f = ['done', 'due', 'tag', 'meta.p'][Math.floor(r() * 4)];
  const k = r();
  if (k < 0.3) where[f] = value(r);
  else if (k < 0.6) where[f] = { [['lt', 'lte', 'gt', 'gte'][Math.floor(r() * 4)]]: value(r) };
  else if (k < 0.7) where[f] = { gte: Math.floor(r() * 10) - 5, lt: Math.floor(r() * 10) };
  else if (k < 0.8) where[f] = { ne: value(r) };
  if (r() < 0.3) where.done = r() < 0.5;
  if (Object.keys(where).length) q.where = where;
  if (r() < 0.7) q.orderBy = `${['due', 'tag', 'done', 'meta.p', 'id'][Math.floor(r() * 5)]}${r() < 0.5 ? ' desc' : ''}`;
  if (r() < 0.7) q.limit = Math.floor(r() * 15);
  return q;
}

const plain = (rows) => ({ rows: rows.map((x) => [x.id, x.data]), cursor: rows.cursor ? rows.cursor.id : null });

test('indexed queries equal a scan over random writes, applies, deletes and a reload', async () => {
  const r = rng(21);
  const storage = memoryStorage();
  const a = await createSpace({ storage });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  const ref = await openSpace({ storage: 'memory', invite: a.invite() });
  const ca = a.collection('todos', INDEXED);
  const cb = b.collection('todos', INDEXED);
  const cref = ref.collection('todos');
  for (let round = 0; round < 30; round++) {
    const n = 1 + Math.floor(r() * 40);
    for (let i = 0; i < n; i++) randomWrite(r, r() < 0.7 ? ca : cb, 60);
    await a.flush();
    await b.flush();
    await b.applyChanges(a.changesSince(b.versionVector()));
    await a.applyChanges(b.changesSince(a.versionVector()));
    await ref.applyChanges(a.changesSince(ref.versionVector()));
    for (let k = 0; k < 10; k++) {
      const q = randomQuery(r);
      const want = plain(cref.query(q));
      assert.deepEqual(plain(ca.query(q)), want, `round ${round}, ${JSON.stringify(q)} on the writer`);
      assert.deepEqual(plain(cb.query(q)), want, `round ${round}, ${JSON.stringify(q)} on the other writer`);
    }
  }
  // A reload from storage: the indexes are rebuilt from the loaded state.
  const id = a.id;
  await a.close();
  const again = await openSpace({ space: id, storage });
  const cagain = again.collection('todos', INDEXED);
  for (let k = 0; k < 30; k++) {
    const q = randomQuery(r);
    assert.deepEqual(plain(cagain.query(q)), plain(cref.query(q)), JSON.stringify(q));
  }
  await Promise.all([again.close(), b.close(), ref.close()]);
});

test('pages read with after cursors match a scan while documents change between pages', async () => {
  const r = rng(7);
  const s = await createSpace({ storage: 'memory' });
  const ref = await openSpace({ storage: 'memory', invite: s.invite() });
  const c = s.collection('todos', INDEXED);
  const cref = ref.collection('todos');
  for (let i = 0; i < 200; i++) randomWrite(r, c, 80);
  for (const orderBy of ['due', 'due desc', 'tag desc', undefined]) {
    let after = null;
    for (let p = 0; p < 40; p++) {
      await ref.applyChanges(s.changesSince(ref.versionVector()));
      const q = { where: { done: false }, orderBy, limit: 7, after };
      const got = c.query(q);
      assert.deepEqual(plain(got), plain(cref.query(q)), `page ${p} of ${orderBy}`);
      if (!got.cursor) break;
      after = got.cursor;
      for (let i = 0; i < 5; i++) randomWrite(r, c, 80);
    }
  }
  await s.close();
  await ref.close();
});

test('a one-off indexed query with a limit reads and decodes only the documents it needs, not the collection', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('todos', { indexes: ['due'] });
  for (let j = 0; j < 10; j++) await s.transact(() => {
    for (let i = 0; i < 1000; i++) c.put(`t${j * 1000 + i}`, { done: i % 2 === 0, due: ((j * 1000 + i) * 7919) % 10000, j });
  });
  c.query({ orderBy: 'due', limit: 1 }); // builds the index: reads every document once
  await c.update('t5', { due: -1, done: false }); // and a change since
  // decoded: documents decoded from the replica; read: documents looked
  // at (decoded or cached). A scan reads all 10,000.
  const getDoc = Replica.prototype.getDoc;
  const row = DocCache.prototype.row;
  let decoded = 0;
  let read = 0;
  Replica.prototype.getDoc = function (...args) {
    decoded++;
    return getDoc.apply(this, args);
  };
  DocCache.prototype.row = function (...args) {
    read++;
    return row.apply(this, args);
  };
  try {
    const rows = s.collection('todos').query({ where: { done: false }, orderBy: 'due', limit: 20 });
    assert.equal(rows.length, 20);
    assert.equal(rows[0].id, 't5');
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].data.due <= rows[i].data.due);
    assert.ok(decoded <= 1, `decoded ${decoded} documents`); // the changed one; the rest are cached
    // Half the documents are done: ~41 read to find 21 (20 and the next page's first).
    assert.ok(read < 100, `read ${read} documents`);
    read = 0;
    const range = c.query({ where: { due: { gte: 100, lt: 110 } } });
    assert.deepEqual(range.map((x) => x.data.due).sort((x, y) => x - y), [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    assert.ok(read <= 10, `read ${read} documents for a range of 10`);
  } finally {
    Replica.prototype.getDoc = getDoc;
    DocCache.prototype.row = row;
  }
  await s.close();
});

test('collection options are checked', async () => {
  const s = await createSpace({ storage: 'memory' });
  assert.throws(() => s.collection('x', { indexes: 'due' }), (e) => e.code === 'WEFT_EINVAL');
  assert.throws(() => s.collection('x', { indexes: [''] }), (e) => e.code === 'WEFT_EINVAL');
  assert.throws(() => s.collection('x', null), (e) => e.code === 'WEFT_EINVAL');
  await s.close();
});
