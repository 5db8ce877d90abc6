// Writes outside transact: the writes of one task are one change (closed at
// the end of the task, or before anything that must see it committed), and
// transact is all or nothing, bad arguments included (issue 21).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace, memoryStorage, WeftError } from '../../wasm/src/index.js';

test('the writes of one task are one change; reads see each at once', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('c');
  const ps = [];
  for (let i = 0; i < 100; i++) ps.push(c.put(`k${i}`, { i, gone: 'x' }));
  ps.push(c.put('k0', { i: 0 })); // replaces a document the open change wrote: its field `gone` goes
  ps.push(c.update('k1', { more: true }));
  ps.push(c.increment('k2', 'n', 5));
  ps.push(c.delete('k3'));
  assert.equal(s.status.pending, 0, 'nothing committed yet');
  assert.deepEqual(c.get('k0'), { i: 0 }); // a read of a written document commits the change
  assert.equal(s.status.pending, 1, 'one change');
  await Promise.all(ps);
  assert.deepEqual(c.get('k1'), { i: 1, gone: 'x', more: true });
  assert.deepEqual(c.get('k2'), { i: 2, gone: 'x', n: 5 });
  assert.equal(c.get('k3'), undefined);
  assert.equal(c.list().length, 99);
  // without a read, the change closes at the end of the task
  const p = c.put('later', { v: 1 });
  c.put('later2', { v: 2 });
  await p;
  const peer = await openSpace({ storage: 'memory', invite: s.invite() });
  const records = s.changesSince(peer.versionVector());
  await peer.applyChanges(records);
  assert.equal(peer.stateHash(), s.stateHash());
  assert.deepEqual(peer.collection('c').get('k0'), { i: 0 });
  await peer.close();
  await s.close();
});

test('a bad write outside transact rejects alone; the others of its change commit', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('c');
  const a = c.put('a', { v: 1 });
  const bad = c.put('b', { d: new Date(NaN) });
  const bad2 = c.put('', { v: 1 });
  const ok = c.put('c', { v: 3 });
  await assert.rejects(bad, (e) => e instanceof WeftError && e.code === 'WEFT_EINVAL');
  await assert.rejects(bad2, (e) => e.code === 'WEFT_EINVAL');
  await a;
  await ok;
  assert.deepEqual(c.list().map((r) => r.id), ['a', 'c']);
  await s.close();
});

test('transact is all or nothing, a bad argument included; every write of it rejects', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('c');
  let writes = [];
  const t = s.transact(() => {
    writes.push(c.put('a', { v: 1 }));
    writes.push(c.put('', { v: 2 }));
    writes.push(c.put('b', { v: 3 }));
  });
  await assert.rejects(t, (e) => e instanceof WeftError && e.code === 'WEFT_EINVAL');
  for (const w of writes) await assert.rejects(w, (e) => e.code === 'WEFT_EINVAL');
  assert.equal(c.get('a'), undefined);
  assert.equal(c.get('b'), undefined);
  // a bad value (found when the transaction runs) too
  writes = [];
  await assert.rejects(s.transact(() => {
    writes.push(c.put('a', { v: 1 }));
    writes.push(c.update('b', { d: new Date(NaN) }));
  }), (e) => e.code === 'WEFT_EINVAL');
  for (const w of writes) await assert.rejects(w, (e) => e.code === 'WEFT_EINVAL');
  assert.equal(c.list().length, 0);
  // a good one: its writes resolve, and `() => c.put(...)` stays a synchronous function
  await s.transact(() => c.put('x', { v: 1 }));
  assert.deepEqual(c.get('x'), { v: 1 });
  await s.close();
});

test('an open change is committed before transact, a text edit and a remote change', async () => {
  const s = await createSpace({ storage: 'memory' });
  const peer = await openSpace({ storage: 'memory', invite: s.invite() });
  await peer.collection('c').put('p', { from: 'peer' });
  const c = s.collection('c');
  const order = [];
  s.on('change', (e) => order.push(e.docs.map((d) => d[1]).join()));
  c.put('a', { v: 1 });
  const applied = s.applyChanges(peer.changesSince(s.versionVector())); // commit, then apply
  c.put('b', { v: 2 });
  const t = s.transact(() => c.put('c', { v: 3 }));
  c.put('d', { v: 4 });
  const x = s.text('c', 'e', 'body').insert(0, 'hi');
  await Promise.all([applied, t, x]);
  assert.equal(s.status.pending, 0);
  assert.deepEqual(c.list().map((r) => r.id), ['a', 'b', 'c', 'd', 'e', 'p']);
  await peer.applyChanges(s.changesSince(peer.versionVector()));
  assert.equal(peer.stateHash(), s.stateHash());
  await peer.close();
  await s.close();
});

test('bad names, keys and field names in one change: each bad one rejects alone, with its name', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('c');
  await c.put('x', { a: 1, b: 2 });
  let changes = 0;
  s.on('commit', () => changes++);
  const ok1 = c.update('x', { a: undefined, b: undefined, c: 1 }); // three ops in the core's buffer
  const long = c.put('y', { ['f'.repeat(256)]: 1 }); // a field name past 255 bytes
  const ok2 = c.increment('n', 'count', 2);
  const empty = c.increment('n', '', 1);
  const key = c.update('z', { ['\u00e9'.repeat(128)]: 1 }); // 256 bytes of UTF-8
  const ok3 = c.put('w', { v: 'last' });
  await assert.rejects(long, (e) => e.code === 'WEFT_EINVAL' && /^put c\/y/.test(e.message));
  await assert.rejects(empty, (e) => e.code === 'WEFT_EINVAL' && /^incr c\/n/.test(e.message));
  await assert.rejects(key, (e) => e.code === 'WEFT_EINVAL' && /^update c\/z/.test(e.message));
  await Promise.all([ok1, ok2, ok3]);
  assert.equal(changes, 1);
  assert.deepEqual(c.get('x'), { c: 1 });
  assert.deepEqual(c.get('n'), { count: 2 });
  assert.deepEqual(c.get('w'), { v: 'last' });
  assert.equal(c.get('y'), undefined);
  assert.equal(c.get('z'), undefined);
  await s.close();
});

test('the writes of one task return one promise, the change\'s; a bad one its own, rejected', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('c');
  const a = c.put('a', { v: 1 });
  const b = c.update('b', { v: 2 });
  const n = c.increment('n', 'count');
  const bad = c.put('x'.repeat(1025), { v: 3 });
  assert.equal(a, b);
  assert.equal(a, n);
  assert.notEqual(bad, a);
  await assert.rejects(bad, (e) => e.code === 'WEFT_EINVAL' && /^put c\/x+: a document id is longer than 1024 bytes/.test(e.message));
  await a;
  assert.deepEqual(c.list().map((r) => r.id), ['a', 'b', 'n']);
  // the next task's writes are another change, with another promise
  const later = c.put('later', { v: 4 });
  assert.notEqual(later, a);
  await later;
  await s.close();
});

test('transact: a bad field name, collection or id in the middle rejects the whole transaction', async () => {
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('c');
  for (const bad of [() => c.put('b', { '': 1 }), () => c.update('b', { ['f'.repeat(256)]: 1 }), () => s.collection('d').increment('b', '', 1), () => c.delete('')]) {
    const writes = [];
    await assert.rejects(s.transact(() => {
      writes.push(c.put('a', { v: 1 }));
      writes.push(bad());
      writes.push(c.put('c', { v: 3 }));
    }), (e) => e.code === 'WEFT_EINVAL');
    for (const w of writes) await assert.rejects(w, (e) => e.code === 'WEFT_EINVAL');
    assert.equal(c.list().length, 0);
  }
  assert.equal(s.status.pending, 0);
  await s.close();
});

test('records from elsewhere merge in one call; only the ones merged or parked are stored', async () => {
  const a = await createSpace({ storage: 'memory' });
  const other = await createSpace({ storage: 'memory' });
  await other.collection('c').put('o', { v: 0 });
  const foreign = other.changesSince();
  const storage = memoryStorage();
  const b = await openSpace({ invite: a.invite(), storage });
  const c = a.collection('c');
  await c.put('x', { v: 1 });
  const r1 = a.changesSince(b.versionVector());
  await c.put('y', { v: 2 });
  const r2 = a.changesSince(b.versionVector()).slice(r1.length);
  const errors = [];
  b.on('error', (e) => errors.push(e.code));
  const port = b._internal;
  let r = port.applyRemote(r2); // its dependency r1 is missing: parked, and stored
  assert.deepEqual([r.applied, r.kept.length], [0, 1]);
  assert.deepEqual(r.kept[0], r2);
  const all = new Uint8Array(r1.length + r2.length + foreign.length);
  all.set(r1);
  all.set(r2, r1.length);
  all.set(foreign, r1.length + r2.length);
  r = port.applyRemote(all); // r1 merges and releases r2; r2 again is held already; the foreign one is refused
  assert.equal(r.applied, 2);
  assert.equal(r.rejected, 1);
  assert.deepEqual(r.kept, [r1]);
  await r.durable;
  assert.deepEqual(errors, ['WEFT_ESPACE']);
  assert.deepEqual(b.collection('c').list().map((d) => d.id), ['x', 'y']);
  assert.equal(b.stateHash(), a.stateHash());
  const id = b.id;
  const hash = b.stateHash();
  await b.close();
  const again = await openSpace({ space: id, storage });
  assert.equal(again.stateHash(), hash, 'what was stored rebuilds the state');
  await again.close();
  await a.close();
  await other.close();
});
