// Schemas (wasm/src/schema.js): any Standard Schema validator (zod here,
// and a hand-made one) checks local writes, with clear errors and nothing
// written on rejection, inside transact too; Dates are stored as ISO
// strings; migrate() shapes documents of older app versions on read, tested
// with two app versions sharing one space.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { createSpace, openSpace, WeftError } from '../../wasm/src/index.js';

const Todo = z.object({ title: z.string().min(1), done: z.boolean().default(false), due: z.date().optional() });

async function exchange(a, b) {
  await b.applyChanges(a.changesSince(b.versionVector()));
  await a.applyChanges(b.changesSince(a.versionVector()));
}

test('a zod schema checks put, update and increment; a rejected write writes nothing', async () => {
  const s = await createSpace({ storage: 'memory' });
  const todos = s.collection('todos', { schema: Todo });
  await todos.put('t1', { title: 'milk' });
  assert.deepEqual(todos.get('t1'), { title: 'milk', done: false }, 'the default is filled in');
  const before = s.changesSince().length;

  await assert.rejects(todos.put('t2', { title: '', done: 'no' }), (e) => {
    assert.ok(e instanceof WeftError && e.code === 'WEFT_EINVAL');
    assert.match(e.message, /^todos\/t2 does not match the schema: title: .+; done: .+/);
    assert.equal(e.issues.length, 2);
    return true;
  });
  await assert.rejects(todos.update('t1', { title: 42 }), (e) => e.code === 'WEFT_EINVAL' && /title/.test(e.message));
  await assert.rejects(todos.update('t1', { title: undefined }), (e) => e.code === 'WEFT_EINVAL', 'deleting a required field');
  await assert.rejects(todos.increment('t1', 'done'), (e) => e.code === 'WEFT_EINVAL', 'a counter on a boolean field');
  await s.flush();
  assert.equal(s.changesSince().length, before, 'no change was made');
  assert.equal(todos.get('t2'), undefined);
  assert.deepEqual(todos.get('t1'), { title: 'milk', done: false });

  // An update is checked as the document it leaves, and writes its own fields only.
  await todos.update('t1', { done: true });
  assert.deepEqual(todos.get('t1'), { title: 'milk', done: true });
  await s.close();
});

test('put with a schema goes through the one-buffer path: a refused document rejects alone, the task\'s others commit as one change', async () => {
  const s = await createSpace({ storage: 'memory' });
  const todos = s.collection('todos', { schema: Todo });
  let commits = 0;
  s.on('commit', () => commits++);
  const ok1 = todos.put('t1', { title: 'milk' });
  const bad = todos.put('t2', { title: '' });
  const ok2 = todos.put('t3', { title: 'eggs', done: true });
  assert.equal(ok1, ok2, 'the valid puts share the open change');
  await assert.rejects(bad, (e) => e.code === 'WEFT_EINVAL' && /^todos\/t2 does not match the schema/.test(e.message));
  await Promise.all([ok1, ok2]);
  assert.equal(commits, 1);
  assert.deepEqual(todos.get('t1'), { title: 'milk', done: false }, 'what the schema returned is what is written');
  assert.equal(todos.get('t2'), undefined);
  assert.deepEqual(todos.get('t3'), { title: 'eggs', done: true });
  await s.close();
});

test('inside transact one rejected write fails the transaction: nothing of it is written', async () => {
  const s = await createSpace({ storage: 'memory' });
  const todos = s.collection('todos', { schema: Todo });
  const writes = [];
  await assert.rejects(
    s.transact(() => {
      writes.push(todos.put('a', { title: 'fine' }));
      writes.push(todos.put('b', { title: 7 }));
      writes.push(s.collection('other').put('c', { v: 1 }));
    }),
    (e) => e.code === 'WEFT_EINVAL' && /todos\/b/.test(e.message),
  );
  for (const w of writes) await assert.rejects(w);
  assert.equal(todos.get('a'), undefined);
  assert.equal(s.collection('other').get('c'), undefined);
  assert.equal(s.changesSince().length, 0);
  await s.close();
});

test('any Standard Schema: a hand-made validator; not a schema and async schemas are refused', async () => {
  const s = await createSpace({ storage: 'memory' });
  const even = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (v) => (Number.isInteger(v?.n) && v.n % 2 === 0 ? { value: { n: v.n, half: v.n / 2 } } : { issues: [{ message: 'n must be even', path: ['n'] }] }),
    },
  };
  const c = s.collection('nums', { schema: even });
  await c.put('x', { n: 4 });
  assert.deepEqual(c.get('x'), { n: 4, half: 2 }, 'the output of the schema is written');
  await assert.rejects(c.put('y', { n: 3 }), (e) => e.message === 'nums/y does not match the schema: n: n must be even');
  assert.throws(() => s.collection('bad', { schema: { parse() {} } }), (e) => e.code === 'WEFT_EINVAL' && /Standard Schema/.test(e.message));
  const slow = s.collection('slow', { schema: z.object({ a: z.string() }).refine(async () => true) });
  await assert.rejects(slow.put('k', { a: 'x' }), (e) => e.code === 'WEFT_EINVAL' && /asynchronously/.test(e.message));
  assert.equal(slow.get('k'), undefined);
  await s.close();
});

test('Dates are stored as ISO 8601 strings (with or without a schema) and sort in time order', async () => {
  const s = await createSpace({ storage: 'memory' });
  const todos = s.collection('todos', { schema: Todo });
  const d1 = new Date('2026-01-02T03:04:05.678Z');
  const d2 = new Date('2025-12-31T00:00:00.000Z');
  await todos.put('a', { title: 'a', due: d1 });
  await todos.put('b', { title: 'b', due: d2 });
  assert.equal(todos.get('a').due, '2026-01-02T03:04:05.678Z');
  assert.deepEqual(todos.query({ orderBy: 'due' }).map((r) => r.id), ['b', 'a']);
  assert.equal(new Date(todos.get('a').due).getTime(), d1.getTime());
  // Dates in a where compare as the strings the documents hold (with an index too).
  const cut = new Date('2026-01-01T00:00:00Z');
  assert.deepEqual(todos.query({ where: { due: { lt: cut } } }).map((r) => r.id), ['b']);
  assert.deepEqual(todos.query({ where: { due: d1 } }).map((r) => r.id), ['a']);
  assert.deepEqual(todos.query({ where: { due: { in: [d2] } } }).map((r) => r.id), ['b']);
  const indexed = s.collection('todos', { indexes: ['due'] });
  assert.deepEqual(indexed.query({ where: { due: { gte: cut } }, orderBy: 'due' }).map((r) => r.id), ['a']);
  const plain = s.collection('plain');
  await plain.put('p', { at: d1, nested: { list: [d2] } });
  assert.deepEqual(plain.get('p'), { at: d1.toISOString(), nested: { list: [d2.toISOString()] } });
  await assert.rejects(plain.put('q', { at: new Date(NaN) }), (e) => e.code === 'WEFT_EINVAL' && /invalid Date/.test(e.message));
  await s.close();
});

// Version 1 of an app stores { title, done }. Version 2 renames title to
// name (migrating v1 documents on read) and adds an optional due date.
const V1 = z.object({ title: z.string(), done: z.boolean() });
const V2 = z.object({ name: z.string(), done: z.boolean(), due: z.date().or(z.string()).optional() });
function migrateV2(doc) {
  if (!('title' in doc) || 'name' in doc) return doc;
  const { title, ...rest } = doc;
  return { ...rest, name: title };
}

test('schema evolution: two app versions share a space; v2 reads v1 documents through migrate', async () => {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'write' }) });
  const v1 = a.collection('todos', { schema: V1 });
  const v2 = b.collection('todos', { schema: V2, migrate: migrateV2, indexes: ['name'] });

  await v1.put('t1', { title: 'milk', done: false });
  await exchange(a, b);
  assert.deepEqual(v2.get('t1'), { name: 'milk', done: false }, 'migrated on read');
  assert.deepEqual(v2.query({ where: { name: 'milk' } }).map((r) => r.id), ['t1'], 'queries see the migrated shape (index included)');
  assert.equal(v2.get('t1'), v2.get('t1'), 'a migrated document is cached like any other');

  // v2 updates a v1 document: validated as migrated, only its own field written.
  await v2.update('t1', { done: true, due: new Date('2026-05-01T00:00:00Z') });
  await exchange(a, b);
  assert.deepEqual(v1.get('t1'), { title: 'milk', done: true, due: '2026-05-01T00:00:00.000Z' }, 'v1 keeps its field and sees the new one');
  // v1 updates it back: v2's optional field survives (updates write their fields only).
  await v1.update('t1', { done: false });
  await exchange(a, b);
  assert.deepEqual(v2.get('t1'), { name: 'milk', done: false, due: '2026-05-01T00:00:00.000Z' });
  // v2's own documents need no migration; v2 refuses a document in v1's shape.
  await v2.put('t2', { name: 'eggs', done: false });
  await assert.rejects(v2.put('t3', { title: 'old shape', done: false }), (e) => e.code === 'WEFT_EINVAL' && /name/.test(e.message));
  await exchange(a, b);
  assert.deepEqual(v1.get('t2'), { name: 'eggs', done: false });
  assert.equal(a.stateHash(), b.stateHash());
  await a.close();
  await b.close();
});
