// The native `weft` CLI and a weftdb replica in Node edit one space through
// a real weft-relay and end with the same weft_state_hash: the same merge
// natively (CLI, over the relay's REST API) and in WASM (weftdb, over
// WebSocket).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { createSpace } from '../../wasm/src/index.js';
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
