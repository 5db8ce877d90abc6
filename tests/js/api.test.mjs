// The weftdb API in Node with memory storage: writes, reads, queries, live
// queries, transactions, invites, two replicas converging, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace, memoryStorage, WeftError, SNAPSHOT_EVERY } from '../../wasm/src/index.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

/** Copies everything each side lacks to the other (what the relay does). */
async function exchange(a, b) {
  await b.applyChanges(a.changesSince(b.versionVector()));
  await a.applyChanges(b.changesSince(a.versionVector()));
}

test('put, get, update, delete, increment and value types', async () => {
  const s = await createSpace({ storage: 'memory' });
  try {
    assert.equal(s.rights, 'admin');
    assert.match(s.id, /^[A-Za-z0-9_-]{43}$/);
    const c = s.collection('things');
    const doc = {
      s: 'héllo ✓', n: 42, neg: -7, f: 1.5, z: -0, big: 2n ** 62n, t: true, nil: null,
      bytes: new Uint8Array([0, 255, 7]), arr: [1, 'two', [3]], obj: { b: 1, a: { deep: 'x' } },
    };
    await c.put('d1', doc);
    const got = c.get('d1');
    assert.deepEqual(got, doc);
    assert.ok(Object.is(got.z, -0));
    assert.equal(typeof got.big, 'bigint');
    await c.update('d1', { n: 43, s: undefined, extra: 'e' });
    assert.equal(c.get('d1').n, 43);
    assert.equal('s' in c.get('d1'), false);
    assert.equal(c.get('d1').extra, 'e');
    // put replaces: fields not given go away
    await c.put('d1', { only: 1 });
    assert.deepEqual(c.get('d1'), { only: 1 });
    await c.increment('d2', 'count');
    await c.increment('d2', 'count', 41);
    assert.deepEqual(c.get('d2'), { count: 42 });
    await c.delete('d1');
    assert.equal(c.get('d1'), undefined);
    assert.deepEqual(c.list().map((r) => r.id), ['d2']);
    assert.equal(c.get('nope'), undefined);
  } finally {
    await s.close();
  }
});

test('query: where, orderBy, limit', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('todos');
  await s.transact(() => {
    for (let i = 0; i < 20; i++) c.put(`t${String(i).padStart(2, '0')}`, { i, done: i % 2 === 0, tag: i < 10 ? 'a' : 'b', title: `task ${i}` });
  });
  assert.equal(c.query({ where: { done: true } }).length, 10);
  assert.deepEqual(c.query({ where: { i: { gte: 15 } }, orderBy: 'i desc', limit: 3 }).map((r) => r.data.i), [19, 18, 17]);
  assert.deepEqual(c.query({ where: { tag: 'a', i: { lt: 3 } } }).map((r) => r.id), ['t00', 't01', 't02']);
  assert.deepEqual(c.query({ where: { i: { in: [4, 5] } } }).map((r) => r.data.i), [4, 5]);
  assert.deepEqual(c.query({ where: { title: { contains: 'k 1' } }, limit: 2 }).map((r) => r.data.i), [1, 10]);
  assert.deepEqual(c.query({ where: (d) => d.i % 5 === 0, orderBy: [{ field: 'tag', direction: 'desc' }, 'i'] }).map((r) => r.data.i), [10, 15, 0, 5]);
  assert.equal(c.query({ limit: 0 }).length, 0);
  assert.throws(() => c.query({ orderBy: 'i sideways' }), (e) => e instanceof WeftError && e.code === 'WEFT_EINVAL');
  await s.close();
});

test('transact makes one change; a failing op rolls all back', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('c');
  const before = s.changesSince().length;
  const r = await s.transact(() => {
    c.put('a', { x: 1 });
    c.put('b', { x: 2 });
    c.update('a', { y: 3 });
    return 'done';
  });
  assert.equal(r, 'done');
  assert.deepEqual(c.get('a'), { x: 1, y: 3 });
  // exactly one record was added
  const after = s.changesSince();
  assert.ok(after.length > before);
  const hash = s.stateHash();
  await assert.rejects(s.transact(() => {
    c.put('z', { ok: 1 });
    c.put('z2', { bad: () => 1 });
  }), (e) => e instanceof WeftError && e.code === 'WEFT_EINVAL');
  assert.equal(s.stateHash(), hash);
  assert.equal(c.get('z'), undefined);
  await assert.rejects(s.transact(async () => {}), (e) => e.code === 'WEFT_EINVAL');
  await s.close();
});

test('two replicas of one space converge through an invite', async () => {
  const a = await createSpace({ storage: 'memory' });
  const link = a.invite({ rights: 'write', expiresIn: 3600_000, base: 'https://app.example/' });
  assert.ok(link.startsWith('https://app.example/#'));
  const b = await openSpace({ storage: 'memory', invite: link });
  assert.equal(b.id, a.id);
  assert.equal(b.rights, 'write');
  assert.notEqual(b.author, a.author);
  await a.collection('notes').put('n1', { text: 'from a' });
  await b.collection('notes').put('n2', { text: 'from b' });
  await a.collection('ctr').increment('c', 'n', 2);
  await b.collection('ctr').increment('c', 'n', 3);
  await exchange(a, b);
  assert.equal(a.stateHash(), b.stateHash());
  assert.deepEqual(b.collection('ctr').get('c'), { n: 5 });
  assert.deepEqual(a.collection('notes').list().map((r) => r.id), ['n1', 'n2']);
  // concurrent writes to one field: the same winner on both
  await a.collection('notes').update('n1', { text: 'A' });
  await b.collection('notes').update('n1', { text: 'B' });
  await exchange(a, b);
  assert.equal(a.collection('notes').get('n1').text, b.collection('notes').get('n1').text);
  assert.equal(a.stateHash(), b.stateHash());
  await a.close();
  await b.close();
});

test('read-only invites cannot write; expired and forged invites fail with their codes', async () => {
  const a = await createSpace({ storage: 'memory' });
  const r = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'read' }) });
  assert.equal(r.rights, 'read');
  await assert.rejects(r.collection('x').put('k', { v: 1 }), (e) => e.code === 'WEFT_ERIGHTS');
  assert.throws(() => r.invite(), (e) => e.code === 'WEFT_ERIGHTS');
  await r.close();
  const link = a.invite({ rights: 'write', expiresIn: 1000 });
  // a token that expired: issue one whose window is in the past by tampering the clock
  const realNow = Date.now;
  Date.now = () => realNow() + 3600_000;
  try {
    await assert.rejects(openSpace({ storage: 'memory', invite: link }), (e) => e.code === 'WEFT_EEXPIRED');
  } finally {
    Date.now = realNow;
  }
  // flip a character inside the token part of the fragment
  const [base, frag] = link.split('#');
  const parts = frag.split('.');
  const t = parts[1];
  const i = 20;
  parts[1] = t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
  await assert.rejects(openSpace({ storage: 'memory', invite: `${base}#${parts.join('.')}` }), (e) => e instanceof WeftError && ['WEFT_ECRYPTO', 'WEFT_EMALFORMED', 'WEFT_EDELEGATION'].includes(e.code));
  await assert.rejects(openSpace({ storage: 'memory', invite: 'not a link' }), (e) => e.code === 'WEFT_EMALFORMED');
  await assert.rejects(openSpace({ storage: 'memory', space: a.id }), (e) => e.code === 'WEFT_ENOTFOUND');
  await a.close();
});

test('a change for another space is refused with an error event, state unchanged', async () => {
  const a = await createSpace({ storage: 'memory' });
  const other = await createSpace({ storage: 'memory' });
  await other.collection('c').put('k', { v: 1 });
  const errors = [];
  a.on('error', (e) => errors.push(e));
  const h = a.stateHash();
  await a.applyChanges(other.changesSince());
  assert.equal(a.stateHash(), h);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'WEFT_ESPACE');
  await assert.rejects(a.applyChanges(new Uint8Array([1, 2, 3])), (e) => e instanceof WeftError);
  await a.close();
  await other.close();
});

test('live queries fire on local and remote changes, once per batch', async () => {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  const seen = [];
  const off = b.collection('todos').subscribe({ where: { done: false }, orderBy: 'title' }, (rows) => seen.push(rows.map((r) => r.data.title)));
  await tick();
  assert.deepEqual(seen, [[]]);
  await b.collection('todos').put('1', { title: 'local', done: false });
  await tick();
  assert.deepEqual(seen.at(-1), ['local']);
  await a.collection('todos').put('2', { title: 'remote', done: false });
  await a.collection('todos').put('3', { title: 'done one', done: true });
  await b.applyChanges(a.changesSince(b.versionVector()));
  await tick();
  assert.deepEqual(seen.at(-1), ['local', 'remote']);
  const n = seen.length;
  // a change outside the query's results does not call back
  await b.collection('todos').update('3', { title: 'still done' });
  await b.collection('other').put('x', { y: 1 });
  await tick();
  assert.equal(seen.length, n);
  // many writes in one tick: one callback
  for (let i = 0; i < 50; i++) b.collection('todos').put(`m${i}`, { title: `m${i}`, done: false });
  await tick();
  assert.equal(seen.length, n + 1);
  off();
  await b.collection('todos').put('4', { title: 'after', done: false });
  await tick();
  assert.equal(seen.length, n + 1);
  await a.close();
  await b.close();
});

test('status and events', async () => {
  const s = await createSpace({ storage: 'memory' });
  const statuses = [];
  const changes = [];
  s.on('status', (st) => statuses.push(st));
  s.on('change', (e) => changes.push(e));
  assert.deepEqual(s.status, { state: 'offline', pending: 0 });
  const p = s.collection('c').put('a', { v: 1 });
  s.flush(); // commits the open change now (else at the end of this task)
  assert.equal(s.status.pending, 1);
  await p;
  assert.equal(s.status.pending, 0);
  await tick();
  assert.deepEqual(changes[0], { docs: [['c', 'a']], local: true, remote: false });
  assert.ok(statuses.some((x) => x.pending === 1));
  await s.close();
  assert.equal(s.closed, true);
  assert.throws(() => s.collection('c'), (e) => e.code === 'WEFT_ESTATE');
  await assert.rejects(s.transact(() => {}), (e) => e.code === 'WEFT_ESTATE');
});

test('invalid arguments are WeftError EINVAL with a clear message', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('c');
  const cases = [
    () => c.put('', { a: 1 }),
    () => c.put('k', null),
    () => c.put('k', [1]),
    () => c.put('k', { '': 1 }),
    () => c.put('k', { d: new Date(NaN) }),
    () => c.put('k', { s: Symbol('x') }),
    () => c.put('k', { big: 2n ** 64n }),
    () => c.put('k'.repeat(1025), { a: 1 }),
    () => c.increment('k', 'n', 1.5),
    () => c.put('\ud800', { a: 1 }),
  ];
  for (const f of cases) await assert.rejects(f(), (e) => e instanceof WeftError && e.code === 'WEFT_EINVAL' && e.message.length > 5, String(f));
  assert.throws(() => s.collection(''), (e) => e.code === 'WEFT_EINVAL');
  assert.throws(() => s.invite({ rights: 'owner' }), (e) => e.code === 'WEFT_EINVAL');
  let deep = 1;
  for (let i = 0; i < 40; i++) deep = [deep];
  await assert.rejects(c.put('k', { deep }), (e) => e.code === 'WEFT_ETOOBIG');
  assert.equal(c.list().length, 0);
  await s.close();
});

test('reopening from storage gives the same state hash; snapshots bound what is stored', async () => {
  const storage = memoryStorage();
  const s = await createSpace({ storage });
  const c = s.collection('c');
  for (let i = 0; i < SNAPSHOT_EVERY + 200; i++) await c.put(`k${i}`, { i });
  await s.transact(() => c.delete('k0'));
  const peer = await openSpace({ storage: 'memory', invite: s.invite() });
  await peer.applyChanges(s.changesSince(peer.versionVector()));
  const hash = s.stateHash();
  assert.equal(peer.stateHash(), hash);
  const id = s.id;
  await s.close();
  const store = await storage.open(id);
  const loaded = await store.load();
  assert.ok(loaded.snapshot, 'a snapshot was written');
  assert.ok(loaded.records.length < SNAPSHOT_EVERY, `records after the snapshot: ${loaded.records.length}`);
  // the stored snapshot is sealed: the plain state is not in it
  assert.equal(Buffer.from(loaded.snapshot).includes(Buffer.from('k999')), false);
  const r = await openSpace({ space: id, storage });
  assert.equal(r.stateHash(), hash);
  assert.equal(r.rights, 'admin');
  // and it can go on writing after the reload (author seq continues)
  await r.collection('c').put('after', { ok: true });
  await peer.applyChanges(r.changesSince(peer.versionVector()));
  assert.deepEqual(peer.collection('c').get('after'), { ok: true });
  await r.close();
  await peer.close();
});

test('a tampered stored snapshot fails to open with WEFT_ECRYPTO', async () => {
  const storage = memoryStorage();
  const s = await createSpace({ storage });
  const c = s.collection('c');
  for (let i = 0; i < SNAPSHOT_EVERY; i++) c.put(`k${i % 10}`, { i }) && s.flush(); // one change each
  await s.close();
  const store = await storage.open(s.id);
  const loaded = await store.load();
  assert.ok(loaded.snapshot);
  const bad = loaded.snapshot.slice();
  bad[bad.length - 5] ^= 1;
  await store.write({ snapshot: bad });
  await assert.rejects(openSpace({ space: s.id, storage }), (e) => e instanceof WeftError && e.code === 'WEFT_ECRYPTO');
});
