// The CLI as a member admitted by grant does what weftdb does (issue 22):
// an admin who claimed the owner's admin invite publishes snapshots with
// its grant chain (Weft-Grant-Chain), which weftdb and CLI joiners check;
// a member without an admin chain is told so before the relay refuses it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { openSpace } from '../../wasm/src/index.js';
import { haveRelay, startRelay } from './relay.mjs';

const WEFT = join(dirname(fileURLToPath(import.meta.url)), '../../build/cli/weft');
const skip = haveRelay && existsSync(WEFT) ? false : 'needs build/relay/weft-relay and build/cli/weft (tools/build native)';
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

const weft = (...args) => JSON.parse(execFileSync(WEFT, args, { encoding: 'utf8' }).trim().split('\n').at(-1));
const fails = (...args) => {
  const r = spawnSync(WEFT, args, { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
};
async function until(what, fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('CLI: an admin admitted by grant publishes a snapshot with its grant chain; a weftdb joiner starts from it', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const dir = mkdtempSync(join(tmpdir(), 'weft-grant-cli-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const http = `http://127.0.0.1:${r.port}`;
  const at = (name) => join(dir, name);
  const link = (from, rights) => execFileSync(WEFT, ['invite', at(from), '--rights', rights, '--uses', '1', '--expires', '1h'], { encoding: 'utf8' }).trim();

  weft('space', 'create', at('own'), '--relay', http);
  execFileSync(WEFT, ['put', at('own'), 'notes', 'n1', '{"t":"first"}']);
  const adminLink = link('own', 'admin');
  weft('sync', at('own'));
  assert.equal(weft('join', at('adm'), '--invite', adminLink, '--relay', http).claimed, true);
  weft('sync', at('adm'));
  execFileSync(WEFT, ['put', at('adm'), 'notes', 'a1', '{"t":"by the admin"}']);
  weft('sync', at('adm'));
  const published = weft('snapshot', 'publish', at('adm'));
  assert.equal(published.stored, true);

  // A weftdb device joining now starts from the admin's snapshot, its chain checked.
  const joinLink = link('own', 'read');
  weft('sync', at('own'));
  const web = await openSpace({ invite: joinLink, storage: 'memory', relay: `ws://127.0.0.1:${r.port}`, sync: { WebSocket, minDelay: 50, maxDelay: 200 } });
  cleanup.push(() => web.close());
  const snaps = [];
  web.on('snapshot', (e) => snaps.push(e));
  await until('the joiner reads', () => web.collection('notes').get('a1'));
  assert.deepEqual(web.collection('notes').get('n1'), { t: 'first' });

  // A CLI joiner checks the chain too, and starts from the same snapshot;
  // as a writer it holds no admin chain, and is told so before the relay.
  const subLink = link('own', 'write');
  weft('sync', at('own'));
  weft('join', at('sub'), '--invite', subLink, '--relay', http);
  const synced = weft('sync', at('sub'));
  assert.equal(synced.snapshot_rseq, published.rseq);
  assert.deepEqual(weft('get', at('sub'), 'notes', 'a1'), { _id: 'a1', t: 'by the admin' });
  const refused = fails('snapshot', 'publish', at('sub'));
  assert.equal(refused.status, 3);
  assert.match(refused.stderr, /holds no grant chain making it an admin/);
});
