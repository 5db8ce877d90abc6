// Your data is yours (wasm/src/portable.js): a space exported as plain JSON
// and imported into a new space reads the same documents and texts; a bad
// export writes nothing; leave() forgets the space on this device; the
// owner deletes it on a real relay, a member may not.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createSpace, openSpace, memoryStorage, WeftError } from '../../wasm/src/index.js';
import { haveRelay, startRelay, RELAY } from './relay.mjs';

const relays = [];
after(async () => {
  for (const r of relays) await r.stop().catch(() => {});
});

async function until(what, fn, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('export as JSON, import into a new space: the same documents and texts', async () => {
  const a = await createSpace({ storage: 'memory' });
  const todos = a.collection('todos');
  for (let i = 0; i < 1200; i++) todos.put(`t${i}`, { title: `task ${i}`, done: i % 2 === 0 });
  await a.collection('odd').put('x', {
    bytes: new Uint8Array([0, 1, 255]),
    big: 2n ** 60n,
    float: 1.5,
    nested: { list: [null, true, 'two', { deep: [3] }] },
    looksLikeATag: { $bytes: 'AAEC' },
    at: new Date('2026-01-02T00:00:00Z'),
  });
  await a.text('notes', 'n1', 'body').insert(0, 'hello export');
  await a.collection('notes').update('n1', { title: 'first' });
  await a.collection('gone').put('g', { v: 1 });
  await a.collection('gone').delete('g');

  const json = JSON.stringify(a.exportJSON());
  const data = JSON.parse(json);
  assert.equal(data.format, 'weftdb-export');
  assert.equal(data.version, 1);
  assert.equal(data.space, a.id);
  assert.deepEqual(Object.keys(data.collections).sort(), ['notes', 'odd', 'todos'], 'an emptied collection is left out');
  assert.deepEqual(data.collections.odd.x.bytes, { $bytes: 'AAH_' });
  assert.deepEqual(data.collections.odd.x.big, { $bigint: String(2n ** 60n) });
  assert.deepEqual(data.collections.odd.x.looksLikeATag, { $map: { $bytes: 'AAEC' } });
  assert.deepEqual(data.collections.notes.n1, { body: 'hello export', title: 'first' });

  const b = await createSpace({ storage: 'memory' });
  assert.equal(await b.importJSON(json), 1202);
  for (const coll of ['todos', 'odd', 'notes']) {
    const rows = a.collection(coll).list();
    assert.deepEqual(b.collection(coll).list().map((r) => [r.id, r.data]), rows.map((r) => [r.id, r.data]), coll);
  }
  assert.deepEqual(b.collection('odd').get('x').bytes, new Uint8Array([0, 1, 255]));
  assert.equal(b.collection('odd').get('x').big, 2n ** 60n);
  assert.equal(b.text('notes', 'n1', 'body').toString(), 'hello export');
  await b.text('notes', 'n1', 'body').insert(5, ',');
  assert.equal(b.text('notes', 'n1', 'body').toString(), 'hello, export', 'the imported string edits as a text');
  await a.close();
  await b.close();
});

test('a bad export is refused whole: nothing is written', async () => {
  const s = await createSpace({ storage: 'memory' });
  const bad = [
    '{ nope',
    { format: 'other', version: 1, collections: {} },
    { format: 'weftdb-export', version: 1, collections: [] },
    { format: 'weftdb-export', version: 1, collections: { c: { a: { v: 1 }, b: 7 } } },
    { format: 'weftdb-export', version: 1, collections: { c: { a: { v: { $bigint: 'x' } } } } },
  ];
  for (const d of bad) await assert.rejects(s.importJSON(d), (e) => e.code === 'WEFT_EINVAL', JSON.stringify(d));
  await assert.rejects(s.importJSON({ format: 'weftdb-export', version: 9, collections: {} }), (e) => e.code === 'WEFT_EVERSION');
  assert.equal(s.changesSince().length, 0);
  await s.close();
});

test('leave() forgets the space on this device (file and memory storage)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weftdb-leave-'));
  try {
    const s = await createSpace({ storage: 'file', dir });
    await s.collection('c').put('a', { v: 1 });
    const id = s.id;
    assert.ok(existsSync(join(dir, id, 'meta.json')));
    await s.leave();
    assert.equal(s.closed, true);
    assert.equal(existsSync(join(dir, id)), false, 'keys and data are gone');
    await assert.rejects(openSpace({ space: id, storage: 'file', dir }), (e) => e.code === 'WEFT_ENOTFOUND');

    const adapter = memoryStorage();
    const m = await createSpace({ storage: adapter });
    await m.leave();
    await assert.rejects(openSpace({ space: m.id, storage: adapter }), (e) => e.code === 'WEFT_ENOTFOUND');
    const noDelete = { open: (sid) => memoryStorage().open(sid) };
    const n = await createSpace({ storage: noDelete });
    await assert.rejects(n.leave(), (e) => e.code === 'WEFT_EUNAVAILABLE');
    assert.equal(n.closed, false, 'nothing happened');
    await n.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deleteFromRelay: the owner deletes the space on the relay; a member may not', { skip: haveRelay ? false : `no relay at ${RELAY}` }, async () => {
  const r = await startRelay();
  relays.push(r);
  const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  const member = await openSpace({ storage: 'memory', invite: owner.invite({ rights: 'write' }), relay: r.url, sync });
  await owner.collection('c').put('a', { v: 1 });
  await until('the member has the change', () => member.collection('c').get('a')?.v === 1);

  await assert.rejects(member.deleteFromRelay(), (e) => e.code === 'WEFT_ERIGHTS');
  const errors = [];
  member.on('error', (e) => errors.push(e.protocolError));
  assert.deepEqual(await owner.deleteFromRelay(), { deleted: true });
  await until('the relay closes the member link with NOT_FOUND', () => errors.includes('NOT_FOUND'));
  assert.deepEqual(await owner.deleteFromRelay(), { deleted: false }, 'a second delete finds nothing (404)');
  await member.close();
  await owner.leave();
});

// Random documents (every value type, maps with tag-like keys) survive
// export -> JSON text -> import unchanged; random malformed exports are
// refused with a WeftError, never another exception.
test('random documents round-trip through the export; random bad exports are WeftErrors', async () => {
  let seed = 0x5eed;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const KEYS = ['a', 'b', '$bytes', '$bigint', '$map', 'é', '\u{1F600}'];
  const value = (depth) => {
    switch (rand(depth > 2 ? 7 : 9)) {
      case 0: return null;
      case 1: return rand(2) === 0;
      case 2: return rand(2000) - 1000;
      case 3: return BigInt.asIntN(64, BigInt(rand(1 << 30)) << 33n) || 2n ** 62n;
      case 4: return rand(1000) / 7;
      case 5: return `s${rand(100)}`;
      case 6: return new Uint8Array(rand(5)).map(() => rand(256));
      case 7: return Array.from({ length: rand(3) }, () => value(depth + 1));
      default: {
        const o = {};
        for (let i = rand(3); i >= 0; i--) o[KEYS[rand(KEYS.length)]] = value(depth + 1);
        return o;
      }
    }
  };
  const a = await createSpace({ storage: 'memory' });
  await a.transact(() => {
    for (let i = 0; i < 300; i++) {
      const doc = {};
      for (let f = rand(4); f >= 0; f--) doc[KEYS[rand(KEYS.length)]] = value(0);
      a.collection(`c${rand(3)}`).put(`d${i}`, doc);
    }
  });
  const b = await createSpace({ storage: 'memory' });
  await b.importJSON(JSON.stringify(a.exportJSON()));
  for (const c of ['c0', 'c1', 'c2']) assert.deepEqual(b.collection(c).list().map((r) => [r.id, r.data]), a.collection(c).list().map((r) => [r.id, r.data]), c);

  const junk = () => [null, 1, 'x', [], {}, { $bytes: 1 }, { $bigint: '1.5' }, { $map: [] }, { a: { $bytes: '!!' } }][rand(9)];
  for (let i = 0; i < 300; i++) {
    const bad = { format: 'weftdb-export', version: 1, collections: { c: { [`d${i}`]: rand(2) ? junk() : { f: junk() } } } };
    try {
      await b.importJSON(bad);
    } catch (e) {
      assert.ok(e instanceof WeftError, `${JSON.stringify(bad)}: ${e}`);
    }
  }
  await a.close();
  await b.close();
});
