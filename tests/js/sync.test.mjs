// weftdb against a real weft-relay process on loopback (Node, memory or
// custom storage in the clients, the `ws` package as Node 20's WebSocket).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { WebSocket } from 'ws';
import { createSpace, openSpace, memoryStorage, memoryStats } from '../../wasm/src/index.js';
import { haveRelay, startRelay, RELAY } from './relay.mjs';

const skip = haveRelay ? false : `no relay at ${RELAY} (tools/build native builds it)`;
const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
const relays = [];
const spaces = [];

after(async () => {
  for (const s of spaces) await s.close().catch(() => {});
  for (const r of relays) await r.stop().catch(() => {});
});

async function relay() {
  const r = await startRelay();
  relays.push(r);
  return r;
}

function track(s) {
  spaces.push(s);
  return s;
}

async function until(what, fn, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('two clients converge through the relay; live queries fire on remote changes; synced and pending', { skip, timeout: 60_000 }, async () => {
  const r = await relay();
  const a = track(await createSpace({ storage: 'memory', relay: r.url, sync }));
  await until('a synced', () => a.status.state === 'synced');
  const b = track(await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync }));
  const seen = [];
  b.collection('todos').subscribe({ where: { done: false } }, (rows) => seen.push(rows.map((x) => x.id)));
  await a.collection('todos').put('t1', { title: 'from a', done: false });
  await until('b sees a', () => seen.at(-1)?.includes('t1'));
  await b.transact(() => {
    for (let i = 0; i < 10; i++) b.collection('todos').put(`b${i}`, { i, done: i % 2 === 0 });
  });
  await b.collection('ctr').increment('c', 'n', 4);
  await a.collection('ctr').increment('c', 'n', 1);
  await until('convergence', () => a.stateHash() === b.stateHash() && a.collection('ctr').get('c')?.n === 5);
  await until('acks', () => a.status.pending === 0 && b.status.pending === 0);
  assert.equal(a.status.state, 'synced');
  assert.equal(b.status.state, 'synced');
  assert.deepEqual(b.collection('todos').query({ where: { done: false } }).map((x) => x.id), ['b1', 'b3', 'b5', 'b7', 'b9', 't1']);
});

test('offline edits merge after the relay comes back; the outbox drains', { skip, timeout: 60_000 }, async () => {
  let r = await relay();
  const a = track(await createSpace({ storage: 'memory', relay: r.url, sync }));
  const b = track(await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync }));
  await until('both synced', () => a.status.state === 'synced' && b.status.state === 'synced');
  await a.collection('notes').put('shared', { text: 'v0' });
  await until('b has v0', () => b.collection('notes').get('shared')?.text === 'v0');
  const states = [];
  a.on('status', (st) => {
    if (states.at(-1) !== st.state) states.push(st.state);
  });
  await r.stop({ keepData: true });
  await until('a offline', () => a.status.state === 'offline' || a.status.state === 'connecting');
  await a.collection('notes').put('a-off', { by: 'a' });
  await b.collection('notes').put('b-off', { by: 'b' });
  await a.collection('notes').update('shared', { text: 'a wins?' });
  await b.collection('notes').update('shared', { text: 'b wins?' });
  assert.ok(a.status.pending >= 2, `a pending ${a.status.pending}`);
  assert.ok(b.status.pending >= 2, `b pending ${b.status.pending}`);
  assert.notEqual(a.stateHash(), b.stateHash());
  const back = await startRelay({ port: r.port, dataDir: r.data });
  relays.push(back);
  await until('reconverged', () => a.stateHash() === b.stateHash() && a.status.pending === 0 && b.status.pending === 0, 20_000);
  assert.equal(a.collection('notes').get('a-off').by, 'a');
  // offline, then (possibly several) connection attempts, then synced
  assert.equal(states[0], 'offline');
  assert.ok(states.includes('connecting'), states.join(' '));
  assert.equal(states.at(-1), 'synced');
  assert.equal(b.collection('notes').get('a-off').by, 'a');
  assert.equal(a.collection('notes').get('shared').text, b.collection('notes').get('shared').text);
  rmSync(r.data, { recursive: true, force: true });
});

test('the outbox survives a reload: changes made offline reach the relay after reopening', { skip, timeout: 60_000 }, async () => {
  const r = await relay();
  const storage = memoryStorage();
  const a = await createSpace({ storage, relay: 'ws://127.0.0.1:9', sync }); // nothing listens there
  const link = a.invite();
  const id = a.id;
  await a.collection('offline').put('o1', { made: 'offline' });
  await a.collection('offline').put('o2', { made: 'offline too' });
  assert.equal(a.status.pending, 2);
  await a.close();
  const a2 = track(await openSpace({ space: id, storage, relay: r.url, sync }));
  assert.equal(a2.status.pending, 2);
  await until('outbox drained', () => a2.status.pending === 0);
  const b = track(await openSpace({ storage: 'memory', invite: link, relay: r.url, sync }));
  await until('b has both', () => b.collection('offline').list().length === 2);
  assert.equal(b.stateHash(), a2.stateHash());
  // the store's outbox is empty once acked
  const store = await storage.open(id);
  await a2.flush();
  assert.equal((await store.load()).outbox.length, 0);
});

test('a read-only member syncs but cannot write; a bad relay URL is EINVAL', { skip, timeout: 30_000 }, async () => {
  const r = await relay();
  const a = track(await createSpace({ storage: 'memory', relay: r.url, sync }));
  await a.collection('c').put('k', { v: 1 });
  const ro = track(await openSpace({ storage: 'memory', invite: a.invite({ rights: 'read' }), relay: r.url, sync }));
  await until('reader has it', () => ro.collection('c').get('k')?.v === 1);
  await assert.rejects(ro.collection('c').put('k', { v: 2 }), (e) => e.code === 'WEFT_ERIGHTS');
  await assert.rejects(createSpace({ storage: 'memory', relay: 'http://nope', sync }), (e) => e.code === 'WEFT_EINVAL');
});

test('syncing spaces opened and closed 60 times leave the WASM heap as it was', { skip, timeout: 60_000 }, async () => {
  const r = await relay();
  const cycle = async () => {
    const a = await createSpace({ storage: 'memory', relay: r.url, sync });
    const b = await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync });
    await a.collection('c').put('k', { v: 'x'.repeat(200) });
    await until('b has it', () => b.collection('c').get('k') !== undefined && a.status.pending === 0);
    await a.close();
    await b.close();
  };
  for (let i = 0; i < 10; i++) await cycle();
  const before = (await memoryStats()).heapUsed;
  for (let i = 0; i < 60; i++) await cycle();
  assert.equal((await memoryStats()).heapUsed, before);
});

test('a client whose history was compacted away still brings a late joiner up to date (the relay serves history)', { skip, timeout: 60_000 }, async () => {
  const r = await relay();
  const a = track(await createSpace({ storage: 'memory', relay: r.url, sync, historyBytes: 64 << 10 }));
  let compactions = 0;
  a.on('compact', () => compactions++);
  const c = a.collection('log');
  for (let i = 0; i < 1500; i++) await c.put(`e${i % 200}`, { i, text: 'z'.repeat(40) });
  await until('acked', () => a.status.pending === 0);
  assert.ok(compactions >= 2, `compactions: ${compactions}`);
  const late = track(await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync }));
  await until('late joiner synced', () => late.status.state === 'synced' && late.stateHash() === a.stateHash());
  assert.equal(late.collection('log').list().length, 200);
});
