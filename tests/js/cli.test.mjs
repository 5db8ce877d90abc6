// The native `weft` CLI and a weftdb replica in Node edit one space through
// a real weft-relay and end with the same weft_state_hash: the same merge
// natively (CLI, over the relay's REST API) and in WASM (weftdb, over
// WebSocket).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { createSpace, openSpace } from '../../wasm/src/index.js';
import { haveRelay, startRelay } from './relay.mjs';

const WEFT = join(dirname(fileURLToPath(import.meta.url)), '../../build/cli/weft');
const skip = haveRelay && existsSync(WEFT) ? false : 'needs build/relay/weft-relay and build/cli/weft (tools/build native)';
const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

const weft = (...args) => JSON.parse(execFileSync(WEFT, args, { encoding: 'utf8' }).trim().split('\n').at(-1));

async function until(what, fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a CLI replica and a weftdb replica converge through the relay to one state hash', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const http = `http://127.0.0.1:${r.port}`;

  const web = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => web.close());
  await web.collection('todos').put('t1', { title: 'from the browser', done: false, n: 1.5 });
  await until('web synced', () => web.status.state === 'synced' && web.status.pending === 0);

  const link = web.invite({ rights: 'write', expiresIn: 3600_000 });
  const first = weft('sync', join(dir, 'cli'), '--invite', link, '--relay', http); // joins, then syncs
  assert.equal(first.applied, 1);
  execFileSync(WEFT, ['put', join(dir, 'cli'), 'todos', 't2', '{"title":"from the CLI","tags":["a","b"]}']);
  execFileSync(WEFT, ['put', join(dir, 'cli'), 'todos', 't1', 'done', 'true']);
  const second = weft('sync', join(dir, 'cli'));
  assert.ok(second.pushed >= 2, JSON.stringify(second));

  await until('web sees the CLI', () => web.collection('todos').get('t2') && web.collection('todos').get('t1')?.done === true);
  await web.collection('todos').update('t2', { done: true });
  await until('web synced again', () => web.status.state === 'synced' && web.status.pending === 0);
  const last = weft('sync', join(dir, 'cli'));
  assert.equal(last.state_hash, web.stateHash());
  assert.deepEqual(web.collection('todos').get('t2'), { ...web.collection('todos').get('t2'), title: 'from the CLI', done: true });
  const status = weft('status', join(dir, 'cli'));
  assert.equal(status.state_hash, web.stateHash());
});

test('weft list edits a list a weftdb replica edits too; both end with one state hash', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const dir = mkdtempSync(join(tmpdir(), 'weft-cli-list-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const http = `http://127.0.0.1:${r.port}`;
  const web = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => web.close());
  await web.raiseFormatLevel(3);
  const list = web.list('todo', 'l', 'items');
  await list.push('a', 'b', 'c');
  await until('web synced', () => web.status.state === 'synced' && web.status.pending === 0);

  const cli = join(dir, 'cli');
  weft('sync', cli, '--invite', web.invite({ rights: 'write', expiresIn: 3600_000 }), '--relay', http);
  const read = () => JSON.parse(execFileSync(WEFT, ['list', cli, 'todo', 'l', 'items'], { encoding: 'utf8' }));
  assert.deepEqual(read(), ['a', 'b', 'c']);
  // Without --level the CLI refuses: it does not know the space's level.
  assert.throws(() => execFileSync(WEFT, ['list', cli, 'todo', 'l', 'items', 'push', '"d"'], { stdio: 'pipe' }), /level 3/);
  const edit = (...a) => execFileSync(WEFT, ['list', cli, 'todo', 'l', 'items', '--level', '3', ...a]);
  edit('move', '0', '2'); // a to the end
  edit('push', '{"n":1}');
  edit('set', '0', '"B"');
  assert.deepEqual(read(), ['B', 'c', 'a', { n: 1 }]);
  await list.move(0, 2); // meanwhile, in the browser: a to the front
  await until('web synced again', () => web.status.state === 'synced' && web.status.pending === 0);
  weft('sync', cli);
  await until('web sees the CLI', () => web.list('todo', 'l', 'items').length === 4);
  await until('web synced at last', () => web.status.state === 'synced' && web.status.pending === 0);
  const last = weft('sync', cli);
  assert.equal(last.state_hash, web.stateHash());
  const got = list.toArray();
  assert.deepEqual(read(), got);
  assert.equal(got.filter((x) => x === 'a').length, 1, 'a moved twice, once in each replica: it shows once');
});

// weft export writes weftdb's export format: a weftdb replica of the same
// space exports the same collections, and importJSON reads the CLI's file.
// weft space delete asks for the space id, then deletes it on the relay.
test('weft export matches weftdb exportJSON; weft space delete confirms, then deletes on the relay', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const http = `http://127.0.0.1:${r.port}`;
  const owner = join(dir, 'owner');
  execFileSync(WEFT, ['space', 'create', owner, '--relay', http]);
  execFileSync(WEFT, ['put', owner, 'todos', 't1', '{"title":"from the CLI","big":9007199254740993,"tag":{"$map":1},"f":2.5}']);
  execFileSync(WEFT, ['put', owner, 'notes', 'n1', '{"title":"note"}']);
  execFileSync(WEFT, ['put', owner, 'odd', 'x', '{"$bytes":5}']); // a document is never a tag
  weft('sync', owner);
  const exported = weft('export', owner);
  assert.equal(exported.format, 'weftdb-export');
  assert.deepEqual(exported.collections.todos.t1, { title: 'from the CLI', big: { $bigint: '9007199254740993' }, tag: { $map: { $map: 1 } }, f: 2.5 });

  const link = execFileSync(WEFT, ['invite', owner, '--rights', 'read'], { encoding: 'utf8' }).trim();
  const web = await openSpace({ storage: 'memory', invite: link, relay: r.url, sync });
  cleanup.push(() => web.close());
  await until('web has the CLI documents', () => web.collection('notes').get('n1') && web.collection('odd').get('x'));
  assert.deepEqual(web.exportJSON().collections, exported.collections);
  const copy = await createSpace({ storage: 'memory' });
  cleanup.push(() => copy.close());
  assert.deepEqual(exported.collections.odd.x, { $bytes: 5 });
  assert.equal(await copy.importJSON(JSON.stringify(exported)), 3);
  assert.deepEqual(copy.collection('odd').get('x'), { $bytes: 5 });
  assert.equal(copy.collection('todos').get('t1').big, 9007199254740993n);

  // weft import reads weftdb's export (bytes, big ints, tag-like maps), and exports it back the same.
  const rich = await createSpace({ storage: 'memory' });
  cleanup.push(() => rich.close());
  await rich.collection('odd').put('x', { bytes: new Uint8Array([1, 2, 255]), big: -(2n ** 60n), tag: { $bytes: 'x' }, list: [{ $map: 1 }, 1.5] });
  await rich.collection('odd').put('y', { $bigint: 'just a field' });
  await rich.collection('todos').put('t9', { title: 'nine' });
  const file = join(dir, 'rich.json');
  writeFileSync(file, JSON.stringify(rich.exportJSON()));
  const back = join(dir, 'back');
  execFileSync(WEFT, ['space', 'create', back]);
  assert.deepEqual(weft('import', back, file), { imported: 3 });
  assert.deepEqual(weft('export', back).collections, rich.exportJSON().collections);
  // A bad export is refused whole (exit 3): nothing is written.
  writeFileSync(file, JSON.stringify({ format: 'weftdb-export', version: 1, collections: { a: { ok: { v: 1 } }, b: { bad: { v: { $bigint: 'nope' } } } } }));
  const bad = spawnSync(WEFT, ['import', back, file], { encoding: 'utf8' });
  assert.equal(bad.status, 3, bad.stderr);
  assert.match(bad.stderr, /b\/bad: a bad \$bigint/);
  assert.equal(weft('export', back).collections.a, undefined);

  // Deleting: a wrong id typed is refused, the right one deletes, a second delete finds nothing.
  const del = (input, ...args) => spawnSync(WEFT, ['space', 'delete', owner, ...args], { input, encoding: 'utf8' });
  let d = del('not the id\n');
  assert.equal(d.status, 1, d.stderr);
  assert.match(d.stderr, /Type the space id to confirm/);
  assert.match(d.stderr, /not deleted/);
  d = del(`${exported.space}\n`);
  assert.equal(d.status, 0, d.stderr);
  assert.deepEqual(JSON.parse(d.stdout), { deleted: true });
  d = del('', '--yes');
  assert.equal(d.status, 0, d.stderr);
  assert.deepEqual(JSON.parse(d.stdout), { deleted: false });
});
