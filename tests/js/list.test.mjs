// Lists in weftdb (Node, memory storage): space.list() edits and reads,
// the format level they need, concurrent moves merging to one place,
// observe deltas that replay to the array, transact, an array turning into
// a list, and a list surviving a reopen. Two people reordering one todo
// list in the demo run in Chromium (tests/e2e).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace, memoryStorage } from '../../wasm/src/index.js';
import { LEVEL_LISTS } from '../../wasm/src/constants.js';
import { diffItems } from '../../wasm/src/list.js';

async function exchange(a, b) {
  await b.applyChanges(a.changesSince(b.versionVector()));
  await a.applyChanges(b.changesSince(a.versionVector()));
}

/** Applies ListDeltas to an array, as an observer would. */
function replay(arr, deltas) {
  const a = arr.slice();
  for (const d of deltas) {
    if ('insert' in d) a.splice(d.insert, 0, d.value);
    else if ('delete' in d) a.splice(d.delete, 1);
    else if ('move' in d) a.splice(d.to, 0, a.splice(d.move, 1)[0]);
    else a[d.set] = d.value;
  }
  return a;
}

async function pair() {
  const a = await createSpace({ storage: 'memory' });
  await a.raiseFormatLevel(LEVEL_LISTS);
  const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'admin' }) });
  await b.raiseFormatLevel(LEVEL_LISTS); // offline: b learns the level by raising it too
  return [a, b];
}

test('a list needs the space at the lists level', async () => {
  const s = await createSpace({ storage: 'memory' });
  try {
    await assert.rejects(s.list('todo', 'l', 'items').push('x'), { code: 'WEFT_EVERSION' });
    assert.equal(await s.raiseFormatLevel(LEVEL_LISTS), LEVEL_LISTS);
    await s.list('todo', 'l', 'items').push('x');
    assert.deepEqual(s.list('todo', 'l', 'items').toArray(), ['x']);
  } finally {
    await s.close();
  }
});

test('insert, push, move, set, delete; the field reads as an array everywhere', async () => {
  const [s] = await pair();
  try {
    const l = s.list('todo', 'l', 'items');
    assert.deepEqual(l.toArray(), []);
    assert.equal(l.length, 0);
    await l.push('a', 'b', 'c');
    await l.insert(1, { nested: [1, 2] });
    assert.deepEqual(l.toArray(), ['a', { nested: [1, 2] }, 'b', 'c']);
    await l.move(0, 3);
    assert.deepEqual(l.toArray(), [{ nested: [1, 2] }, 'b', 'c', 'a']);
    const ids = l.entries().map((e) => e.id);
    await l.set(3, 'A');
    await l.move(3, 0);
    assert.deepEqual(l.toArray(), ['A', { nested: [1, 2] }, 'b', 'c']);
    assert.equal(l.entries()[0].id, ids[3], 'an item keeps its identity through set and move');
    await l.delete(1, 2);
    assert.deepEqual(l.toArray(), ['A', 'c']);
    assert.equal(l.length, 2);
    assert.deepEqual(s.collection('todo').get('l'), { items: ['A', 'c'] });
    assert.deepEqual(s.collection('todo').query({ where: { items: { exists: true } } }).map((r) => r.id), ['l']);
    await assert.rejects(l.insert(3, 'x'), { code: 'WEFT_ENOITEM' });
    await assert.rejects(l.move(0, 2), { code: 'WEFT_ENOITEM' });
    await assert.rejects(l.set(5, 'x'), { code: 'WEFT_ENOITEM' });
    await assert.rejects(l.insert(-2, 'x'), { code: 'WEFT_EINVAL' });
    await assert.rejects(l.insert(0, undefined), { code: 'WEFT_EINVAL' });
    assert.deepEqual(l.toArray(), ['A', 'c']);
  } finally {
    await s.close();
  }
});

test('two people move one item at once: it ends in one place; both see the same', async () => {
  const [a, b] = await pair();
  try {
    const la = a.list('todo', 'l', 'items'), lb = b.list('todo', 'l', 'items');
    await la.push(1, 2, 3, 4, 5);
    await exchange(a, b);
    await la.move(2, 0); // 3 to the front
    await lb.move(2, 4); // 3 to the end
    await lb.set(0, 10); // and 1 changes, in place
    await la.move(4, 1); // 5 moves too
    await exchange(a, b);
    assert.equal(a.stateHash(), b.stateHash());
    const got = la.toArray();
    assert.deepEqual(got, lb.toArray());
    assert.deepEqual(got.slice().sort((x, y) => x - y), [2, 3, 4, 5, 10], 'nothing duplicated or lost');
    assert.equal(got[got.indexOf(5) + 1], 10, '5 sits where a put it: before 1 (whose value is now 10)');
    assert.ok(got[0] === 3 || got[4] === 3, 'one of the two moves of 3 won');
  } finally {
    await a.close();
    await b.close();
  }
});

test('observe: deltas replay to the array, local and remote, moves reported as moves', async () => {
  const [a, b] = await pair();
  try {
    const la = a.list('todo', 'l', 'items'), lb = b.list('todo', 'l', 'items');
    let seen = la.toArray();
    const all = [];
    const off = la.observe((deltas, { array }) => {
      seen = replay(seen, deltas);
      assert.deepEqual(seen, array);
      all.push(...deltas);
    });
    await la.push('a', 'b', 'c');
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(seen, ['a', 'b', 'c']);
    await exchange(a, b);
    await lb.move(0, 2);
    await lb.set(0, 'B');
    await lb.insert(1, 'x');
    await exchange(a, b);
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(seen, ['B', 'x', 'c', 'a']);
    assert.ok(all.some((d) => 'move' in d), 'the move came as a move');
    off();
    await la.delete(0);
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(seen, ['B', 'x', 'c', 'a'], 'no calls after unsubscribing');
  } finally {
    await a.close();
    await b.close();
  }
});

test('diffItems matches items by identity', () => {
  const it = (id, v) => ({ id, value: v, raw: new Uint8Array([v]) });
  const a = [it('p', 1), it('q', 2), it('r', 3), it('s', 4)];
  const b = [it('s', 4), it('q', 9), it('t', 5), it('p', 1)];
  const d = diffItems(a, b);
  assert.deepEqual(replay(a.map((x) => x.value), d), [4, 9, 5, 1]);
  assert.ok(d.some((x) => 'delete' in x) && d.some((x) => 'move' in x) && d.some((x) => 'set' in x) && d.some((x) => 'insert' in x));
});

test('inside transact: list edits join the change; a bad one fails it whole', async () => {
  const [s] = await pair();
  try {
    const l = s.list('todo', 'l', 'items');
    await l.push('a');
    await s.transact(() => {
      s.collection('todo').put('t1', { text: 'one' });
      l.push('b');
      l.insert(0, 'c');
      l.move(0, 2);
      l.delete(0);
    });
    assert.deepEqual(l.toArray(), ['b', 'c']);
    assert.deepEqual(s.collection('todo').get('t1'), { text: 'one' });
    const hash = s.stateHash();
    await assert.rejects(s.transact(() => {
      s.collection('todo').put('t2', { text: 'two' });
      l.push('d');
      l.move(0, 3); // past the end once d is in: 3 items
    }), { code: 'WEFT_ENOITEM' });
    assert.equal(s.stateHash(), hash, 'nothing of it was written');
    assert.equal(s.collection('todo').get('t2'), undefined);
  } finally {
    await s.close();
  }
});

test('list edits beside the op buffer: a lone one commits after the open change; a bad name in transact fails the list edits too', async () => {
  const [s] = await pair();
  try {
    const todo = s.collection('todo');
    const l = s.list('todo', 'l', 'items');
    let commits = 0;
    s.on('commit', () => commits++);
    // One task: puts share the open change (one op buffer); a list edit
    // commits that change first, then itself; the put after it opens the next.
    const ps = [todo.put('a', { n: 1 }), todo.put('c', { n: 3 })];
    assert.equal(commits, 0);
    ps.push(l.push('x'));
    assert.equal(commits, 2, 'the open change, then the list edit\'s own');
    ps.push(todo.put('b', { n: 2 }));
    await Promise.all(ps);
    assert.equal(ps[0], ps[1], 'the puts share the open change\'s promise');
    assert.notEqual(ps[3], ps[0], 'the put after the list edit is in the next change');
    assert.equal(commits, 3);
    assert.deepEqual(l.toArray(), ['x']);
    assert.deepEqual([todo.get('a'), todo.get('b'), todo.get('c')], [{ n: 1 }, { n: 2 }, { n: 3 }]);
    const hash = s.stateHash();
    await assert.rejects(s.transact(() => {
      l.push('y');
      todo.put('t', { '': 1 }); // refused while it is encoded (an empty field name): the whole transaction fails
    }), { code: 'WEFT_EINVAL' });
    assert.equal(s.stateHash(), hash, 'nothing of it was written');
    assert.deepEqual(l.toArray(), ['x'], 'the list edit did not go in');
  } finally {
    await s.close();
  }
});

test('an array field becomes a list on its first edit; a string field is no list', async () => {
  const [a, b] = await pair();
  try {
    await a.collection('todo').put('l', { items: [1, 2], name: 'n' });
    const l = a.list('todo', 'l', 'items');
    assert.deepEqual(l.toArray(), [1, 2]);
    await assert.rejects(a.transact(() => {
      a.collection('todo').update('x', { n: 1 });
      l.push(3);
    }), { code: 'WEFT_ESTATE' });
    assert.equal(a.collection('todo').get('x'), undefined);
    await l.push(3);
    await l.move(2, 0);
    assert.deepEqual(l.toArray(), [3, 1, 2]);
    await exchange(a, b);
    assert.deepEqual(b.list('todo', 'l', 'items').toArray(), [3, 1, 2]);
    assert.equal(a.stateHash(), b.stateHash());
    await assert.rejects(a.list('todo', 'l', 'name').push(1), { code: 'WEFT_ENOTLIST' });
  } finally {
    await a.close();
    await b.close();
  }
});

test('a list survives closing and reopening the space', async () => {
  const storage = memoryStorage();
  const s = await createSpace({ storage });
  await s.raiseFormatLevel(LEVEL_LISTS);
  const l = s.list('todo', 'l', 'items');
  await l.push('a', 'b', 'c', 'd');
  await l.move(3, 0);
  await l.delete(2);
  const want = l.toArray(), hash = s.stateHash(), id = s.id;
  await s.close();
  const again = await openSpace({ storage: 'memory', space: id, storage });
  try {
    assert.deepEqual(again.list('todo', 'l', 'items').toArray(), want);
    assert.equal(again.stateHash(), hash);
    await again.list('todo', 'l', 'items').move(0, 2);
    assert.deepEqual(again.list('todo', 'l', 'items').toArray(), [want[1], want[2], want[0]]);
  } finally {
    await again.close();
  }
});
