// Errors never crash the host: what an app's listener or callback throws
// reaches space.on('error'), or console.error when nobody listens, and is
// never rethrown (in Node an uncaught error would end the process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace } from '../../wasm/src/index.js';

const tick = () => new Promise((r) => setTimeout(r, 20));

/** Runs fn while counting uncaught exceptions and console.error calls. */
async function watch(fn) {
  const uncaught = [];
  const logged = [];
  const onUncaught = (e) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  const realError = console.error;
  console.error = (...args) => logged.push(args);
  try {
    await fn();
    await tick();
  } finally {
    console.error = realError;
    process.off('uncaughtException', onUncaught);
  }
  return { uncaught, logged };
}

test("a throwing 'change' listener and live query callback reach on('error'), not the process", async () => {
  const s = await createSpace({ storage: 'memory' });
  const errors = [];
  s.on('error', (e) => errors.push(e.message));
  const { uncaught, logged } = await watch(async () => {
    s.on('change', () => {
      throw new Error('listener bug');
    });
    s.collection('c').subscribe(() => {
      throw new Error('query callback bug');
    });
    await s.collection('c').put('a', { v: 1 });
  });
  assert.deepEqual(uncaught, []);
  assert.deepEqual(logged, []);
  assert.ok(errors.includes('listener bug'), errors.join());
  assert.ok(errors.includes('query callback bug'), errors.join());
  // The space goes on working.
  await s.collection('c').put('b', { v: 2 });
  assert.equal(s.collection('c').get('b').v, 2);
  await s.close();
});

test('with no error listener the error goes to console.error; a throwing error listener too', async () => {
  const s = await createSpace({ storage: 'memory' });
  let r = await watch(async () => {
    s.text('t', 'd', 'f').observe(() => {
      throw new Error('observer bug');
    });
    await s.text('t', 'd', 'f').insert(0, 'x');
  });
  assert.deepEqual(r.uncaught, []);
  assert.ok(r.logged.some((args) => args.some((a) => a?.message === 'observer bug')), JSON.stringify(r.logged));

  s.on('error', () => {
    throw new Error('error listener bug');
  });
  r = await watch(async () => {
    s.presence.on(() => {
      throw new Error('presence bug');
    });
  });
  assert.deepEqual(r.uncaught, []);
  assert.ok(r.logged.some((args) => args.some((a) => a?.message === 'error listener bug')), JSON.stringify(r.logged));
  await s.close();
});
