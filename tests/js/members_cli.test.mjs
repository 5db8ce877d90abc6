// Members as data through the native CLI and a real weft-relay
// (SECURITY.md "Members"): three members; the owner removes one while that
// member is offline; the other two keep editing and read each other; the
// removed one is refused with a clear REVOKED and, given the owner's whole
// log, cannot open what was sealed after the rotation.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
/** Runs the CLI expecting a failure: its exit code and stderr. */
const fails = (...args) => {
  const r = spawnSync(WEFT, args, { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
};

test('the owner removes an offline member; the others go on; the removed one is refused and cannot read what follows', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const dir = mkdtempSync(join(tmpdir(), 'weft-members-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const http = `http://127.0.0.1:${r.port}`;
  const at = (name) => join(dir, name);

  weft('space', 'create', at('own'), '--relay', http);
  const key = {};
  for (const who of ['a', 'b']) {
    execFileSync(WEFT, ['keygen', '--out', at(`${who}.key`)]);
    key[who] = JSON.parse(readFileSync(at(`${who}.key`), 'utf8')).public;
    weft('grant', at('own'), '--for', key[who], '--rights', 'write');
  }
  execFileSync(WEFT, ['put', at('own'), 'notes', 'n1', '{"t":"first"}']);
  weft('sync', at('own'));
  for (const who of ['a', 'b']) {
    const link = execFileSync(WEFT, ['invite', at('own'), '--rights', 'write', '--for', key[who]], { encoding: 'utf8' }).trim();
    execFileSync(WEFT, ['join', at(who), '--invite', link, '--identity', at(`${who}.key`), '--relay', http]);
    weft('sync', at(who));
  }
  // A writer cannot grant: refused here, as the relay would refuse it.
  const refused = fails('grant', at('a'), '--for', key.b, '--rights', 'admin');
  assert.equal(refused.status, 3);
  assert.match(refused.stderr, /NOTADMIN/);

  execFileSync(WEFT, ['put', at('b'), 'notes', 'b1', '{"t":"b before"}']);
  weft('sync', at('b'));
  weft('sync', at('own'));
  // b goes offline and writes on; meanwhile the owner removes it.
  execFileSync(WEFT, ['put', at('b'), 'notes', 'b2', '{"t":"b while removed"}']);
  const removed = weft('remove', at('own'), '--member', key.b);
  assert.deepEqual(removed, { removed_after_seq: 1, epoch: 1, sealed_to: 2 });
  execFileSync(WEFT, ['put', at('own'), 'notes', 'n2', '{"t":"after the removal"}']);
  weft('sync', at('own'));

  // a keeps editing, and reads what the owner sealed with the new key.
  weft('sync', at('a'));
  assert.deepEqual(weft('get', at('a'), 'notes', 'n2'), { _id: 'n2', t: 'after the removal' });
  execFileSync(WEFT, ['put', at('a'), 'notes', 'a1', '{"t":"a after"}']);
  weft('sync', at('a'));
  const last = weft('sync', at('own'));
  assert.deepEqual(weft('get', at('own'), 'notes', 'a1'), { _id: 'a1', t: 'a after' });
  assert.equal(weft('sync', at('a')).state_hash, last.state_hash);
  const seen = weft('members', at('a'));
  assert.equal(seen.epoch, 1);
  assert.equal(seen.members.find((m) => m.key === key.b).status, 'removed');
  assert.equal(seen.members.find((m) => m.key === key.a).status, 'member');

  // b comes back: refused with a clear status, not a retry loop.
  const back = fails('sync', at('b'));
  assert.equal(back.status, 3);
  assert.match(back.stderr, /REVOKED.*ask an admin/);
  // Given the owner's whole log, b's keys open what came before the
  // rotation and nothing after it.
  const merge = fails('merge', at('b'), at('own'));
  assert.notEqual(merge.status, 0);
  assert.match(merge.stderr, /cryptographic check failed/);
  assert.equal(fails('get', at('b'), 'notes', 'n2').status, 1); // not found
  // b's change made after its cutoff counts nowhere, even handed over
  // directly: the owner's replica takes b's history and refuses it.
  const merged = spawnSync(WEFT, ['merge', at('own'), at('b')], { encoding: 'utf8' });
  assert.equal(merged.status, 3, merged.stderr);
  assert.match(merged.stdout, /"rejected":1/);
  assert.equal(fails('get', at('own'), 'notes', 'b2').status, 1);
  assert.deepEqual(weft('get', at('own'), 'notes', 'b1'), { _id: 'b1', t: 'b before' });
});

async function until(what, fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a weftdb device whose key is removed gets status "removed" and an access event, not a reconnect loop', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const dir = mkdtempSync(join(tmpdir(), 'weft-members-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const http = `http://127.0.0.1:${r.port}`;
  const own = join(dir, 'own');
  weft('space', 'create', own, '--relay', http);
  const link = execFileSync(WEFT, ['invite', own, '--rights', 'write'], { encoding: 'utf8' }).trim();
  const web = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync: { WebSocket, minDelay: 50, maxDelay: 200 } });
  cleanup.push(() => web.close());
  const access = [];
  web.on('access', (e) => access.push(e));
  await web.collection('notes').put('w1', { t: 'from the browser' });
  await until('web synced', () => web.status.state === 'synced' && web.status.pending === 0);
  weft('sync', own);
  weft('grant', own, '--for', web.author, '--rights', 'write');
  assert.equal(weft('remove', own, '--member', web.author).removed_after_seq, 1);
  weft('sync', own);
  await until('web removed', () => web.status.state === 'removed');
  assert.equal(access.length, 1);
  assert.equal(access[0].state, 'removed');
  assert.match(access[0].message, /ask an admin/);
  // It stays there: no reconnects (the relay would refuse each one).
  await new Promise((res) => setTimeout(res, 600));
  assert.equal(web.status.state, 'removed');
  assert.equal(access.length, 1);
  // Its data stays readable locally.
  assert.deepEqual(web.collection('notes').get('w1'), { t: 'from the browser' });
});
