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

test('weftdb devices: the removed one gets status "removed" (no reconnect loop), the other takes the new key epoch and reads on', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const dir = mkdtempSync(join(tmpdir(), 'weft-members-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const http = `http://127.0.0.1:${r.port}`;
  const own = join(dir, 'own');
  weft('space', 'create', own, '--relay', http);
  const link = execFileSync(WEFT, ['invite', own, '--rights', 'write'], { encoding: 'utf8' }).trim();
  const sync = { WebSocket, minDelay: 50, maxDelay: 200 };
  const stay = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  const gone = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => stay.close(), () => gone.close());
  const access = [], lists = [];
  gone.on('access', (e) => access.push(e));
  stay.on('members', (m) => lists.push(m));
  await gone.collection('notes').put('g1', { t: 'from the removed one' });
  await stay.collection('notes').put('s1', { t: 'from the one who stays' });
  for (const w of [stay, gone]) await until('synced', () => w.status.state === 'synced' && w.status.pending === 0);
  weft('sync', own);
  weft('grant', own, '--for', stay.author, '--rights', 'write');
  weft('grant', own, '--for', gone.author, '--rights', 'write');
  assert.deepEqual(weft('remove', own, '--member', gone.author), { removed_after_seq: 1, epoch: 1, sealed_to: 2 });
  execFileSync(WEFT, ['put', own, 'notes', 'n2', '{"t":"sealed with the new key"}']);
  weft('sync', own);

  // The removed device: a final state and one event, no reconnects.
  await until('gone removed', () => gone.status.state === 'removed');
  assert.equal(access.length, 1);
  assert.equal(access[0].state, 'removed');
  assert.match(access[0].message, /ask an admin/);
  await new Promise((res) => setTimeout(res, 600));
  assert.equal(gone.status.state, 'removed');
  assert.equal(access.length, 1);
  assert.deepEqual(gone.collection('notes').get('g1'), { t: 'from the removed one' }); // its data stays
  assert.equal(gone.collection('notes').get('n2'), undefined);

  // The device that stays: the records, the new key, the new data.
  await until('stay reads the new key\'s data', () => stay.collection('notes').get('n2'));
  assert.deepEqual(stay.collection('notes').get('n2'), { t: 'sealed with the new key' });
  assert.equal(stay.keyEpoch, 1);
  const byKey = Object.fromEntries(stay.members.map((m) => [m.key, m]));
  assert.equal(byKey[gone.author].state, 'removed');
  assert.equal(byKey[stay.author].state, 'member');
  assert.equal(byKey[stay.author].rights, 'write');
  assert.ok(lists.length >= 1);
  // What it writes now is sealed with the new key, and the owner reads it.
  await stay.collection('notes').put('s2', { t: 'after the rotation' });
  await until('stay synced', () => stay.status.state === 'synced' && stay.status.pending === 0);
  weft('sync', own);
  assert.deepEqual(weft('get', own, 'notes', 's2'), { _id: 's2', t: 'after the rotation' });
  assert.equal(weft('sync', own).state_hash, stay.stateHash());
});

test('CLI: invites claimed by the newcomer\'s key, from an admin who joined by link; a replayed link is refused', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const dir = mkdtempSync(join(tmpdir(), 'weft-claims-'));
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
  assert.deepEqual(weft('get', at('adm'), 'notes', 'n1'), { _id: 'n1', t: 'first' });
  // The admin who joined by link invites a fourth person, who claims and writes.
  const fourthLink = link('adm', 'write');
  weft('sync', at('adm'));
  const fourth = weft('join', at('four'), '--invite', fourthLink, '--relay', http);
  assert.equal(fourth.rights, 'write');
  weft('sync', at('four'));
  execFileSync(WEFT, ['put', at('four'), 'notes', 'f1', '{"t":"from the fourth"}']);
  weft('sync', at('four'));
  weft('sync', at('own'));
  assert.deepEqual(weft('get', at('own'), 'notes', 'f1'), { _id: 'f1', t: 'from the fourth' });
  const seen = weft('members', at('own'));
  assert.equal(seen.members.find((m) => m.key === fourth.author).status, 'member');
  // The same link again: another key's claim is a replayed invite.
  weft('join', at('five'), '--invite', fourthLink, '--relay', http);
  const replay = fails('sync', at('five'));
  assert.notEqual(replay.status, 0);
  assert.match(replay.stderr, /REPLAY/);
  // A weftdb device claims a link the CLI admin made, and reads.
  const webLink = link('adm', 'read');
  weft('sync', at('adm'));
  const web = await openSpace({ invite: webLink, storage: 'memory', relay: `ws://127.0.0.1:${r.port}`, sync: { WebSocket, minDelay: 50, maxDelay: 200 } });
  cleanup.push(() => web.close());
  const deadline = Date.now() + 15_000;
  while (!web.collection('notes').get('f1') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(web.collection('notes').get('f1'), { t: 'from the fourth' });
  assert.equal(web.rights, 'read');
});
