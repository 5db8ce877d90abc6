// Format levels and version negotiation (issue 19; PROTOCOL.md §6,
// FORMAT.md §10) against real relays on loopback.
//
// Always: a raise reaches every member and writes go on; a client that
// reads less (announcing level 1, as an app of before) gets status
// 'version' once, no reconnect loop, and keeps its data; the level survives
// a reopen. With WEFT_OLD_RELAY and WEFT_OLD_CLI (tools/test-versions.sh
// builds them from an ancestor commit): the old CLI and new weftdb share a
// space through a new relay until the raise tells the CLI to update, with
// nothing lost; new clients sync through the old relay after it refuses
// their versions block; an old and a new relay on one Redis (a rolling
// upgrade, SCALING.md) serve one space during writes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { createSpace, openSpace, memoryStorage } from '../../wasm/src/index.js';
import { freePort, haveRelay, startRelay, RELAY } from './relay.mjs';
import { FORMAT_LEVEL } from '../../wasm/src/constants.js';

const WEFT = join(dirname(fileURLToPath(import.meta.url)), '../../build/cli/weft');
const OLD_RELAY = process.env.WEFT_OLD_RELAY;
const OLD_CLI = process.env.WEFT_OLD_CLI;
const skip = haveRelay ? false : `no relay at ${RELAY} (tools/build native builds it)`;
const skipOld = skip || (OLD_RELAY && OLD_CLI && existsSync(OLD_RELAY) && existsSync(OLD_CLI) ? false : 'needs WEFT_OLD_RELAY and WEFT_OLD_CLI (tools/test-versions.sh)');
const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
});

async function until(what, fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function relay(opts) {
  const r = await startRelay(opts);
  cleanup.push(() => r.stop());
  return r;
}

function track(s) {
  cleanup.push(() => s.close());
  return s;
}

async function metric(port, series) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

test('a raise reaches every member; a client that reads less gets the version state and keeps its data', { skip, timeout: 60_000 }, async () => {
  const r = await relay();
  const storage = memoryStorage();
  const a = track(await createSpace({ storage, relay: r.url, sync }));
  assert.equal(a.formatLevel, 1);
  const b = track(await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync }));
  const old = track(await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync: { ...sync, _formatLevel: 1 } }));
  await until('all synced', () => [a, b, old].every((s) => s.status.state === 'synced'));
  await a.collection('todos').put('a1', { by: 'a' });
  await b.collection('todos').put('b1', { by: 'b' });
  await old.collection('todos').put('o1', { by: 'old' });
  await until('convergence', () => a.stateHash() === b.stateHash() && b.stateHash() === old.stateHash() && a.collection('todos').get('o1'));

  const raised = [];
  b.on('formatLevel', (e) => raised.push(e));
  const told = [];
  old.on('version', (e) => told.push(e));
  assert.equal(await a.raiseFormatLevel(2), 2);
  assert.equal(a.formatLevel, 2);
  await until('b learns the level', () => b.formatLevel === 2);
  assert.deepEqual(raised, [{ level: 2, previous: 1 }]);
  await until('old told to update', () => old.status.state === 'version');
  assert.equal(told.length, 1);
  assert.match(told[0].message, /update the app/);
  // No reconnect loop: the state stays, the relay refused it once.
  const refusals = await metric(r.port, 'weft_relay_rejections_total{reason="VERSION"}');
  await new Promise((res) => setTimeout(res, 800));
  assert.equal(old.status.state, 'version');
  assert.equal(await metric(r.port, 'weft_relay_rejections_total{reason="VERSION"}'), refusals);
  assert.equal(old.formatLevel, 1); // it never got the record
  // Its data stays readable, and its own write is still there.
  assert.deepEqual(old.collection('todos').get('o1'), { by: 'old' });
  assert.ok(old.collection('todos').get('a1') && old.collection('todos').get('b1'));

  // Writes go on at the new level; a late member gets the level and everything.
  await a.collection('todos').put('a2', { by: 'a' });
  await until('b sees a2', () => b.collection('todos').get('a2'));
  const c = track(await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync }));
  await until('c synced with the level', () => c.status.state === 'synced' && c.formatLevel === 2 && c.collection('todos').get('a2'));
  assert.equal(c.stateHash(), b.stateHash());
  // Levels never go down; none above this build; only the owner or an admin raises.
  assert.equal(await a.raiseFormatLevel(1), 2);
  await assert.rejects(a.raiseFormatLevel(FORMAT_LEVEL + 1), { code: 'WEFT_EVERSION' });
  const w = track(await openSpace({ storage: 'memory', invite: a.invite({ rights: 'write' }), sync }));
  await assert.rejects(w.raiseFormatLevel(2), { code: 'WEFT_ERIGHTS' });
  // The relay's own log holds the level record among the changes, and
  // `weft log verify` reads it (file storage only).
  if (r.storage === 'file' && existsSync(WEFT)) {
    const v = JSON.parse(execFileSync(WEFT, ['log', 'verify', r.data], { encoding: 'utf8' }).trim().split('\n').at(-1));
    assert.equal(v.ok, true, JSON.stringify(v));
    const kinds = execFileSync(WEFT, ['log', 'inspect', r.data], { encoding: 'utf8' });
    assert.match(kinds, /"kind":"level","level":2/);
  }
  // The level is kept with the space: reopened from storage, it is 2.
  const id = a.id;
  await a.close();
  const again = track(await openSpace({ space: id, storage }));
  assert.equal(again.formatLevel, 2);
});

function oldCli(...args) {
  return spawnSync(OLD_CLI, args, { encoding: 'utf8' });
}

test('the old CLI and new weftdb share a space through a new relay; the raise tells the old CLI to update, nothing lost', { skip: skipOld, timeout: 90_000 }, async () => {
  const r = await relay();
  const http = `http://127.0.0.1:${r.port}`;
  const dir = mkdtempSync(join(tmpdir(), 'weft-versions-'));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  const web = track(await createSpace({ storage: 'memory', relay: r.url, sync }));
  await web.collection('todos').put('w1', { by: 'web' });
  await until('web synced', () => web.status.state === 'synced' && web.status.pending === 0);
  const link = web.invite({ rights: 'write' });
  let res = oldCli('sync', join(dir, 'old'), '--invite', link, '--relay', http);
  assert.equal(res.status, 0, res.stderr);
  assert.equal(oldCli('put', join(dir, 'old'), 'todos', 'o1', '{"by":"old"}').status, 0);
  res = oldCli('sync', join(dir, 'old'));
  assert.equal(res.status, 0, res.stderr);
  await until('web sees the old CLI', () => web.collection('todos').get('o1'));
  await web.collection('todos').put('w2', { by: 'web' });
  await until('web synced again', () => web.status.state === 'synced' && web.status.pending === 0);
  res = oldCli('sync', join(dir, 'old'));
  assert.equal(res.status, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout.trim().split('\n').at(-1)).state_hash, web.stateHash());

  await web.raiseFormatLevel(2);
  // The relay stores the raise; the old CLI is refused from then on.
  await until('the old CLI is refused', () => oldCli('sync', join(dir, 'old')).status !== 0, 10_000);
  res = oldCli('sync', join(dir, 'old'));
  assert.equal(res.status, 1);
  assert.match(res.stderr, /VERSION.*update the app/);
  // Nothing lost: its replica still holds every change it had.
  res = oldCli('get', join(dir, 'old'), 'todos', 'w2');
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /"by":"web"/);
  // This build's CLI reads the raised space.
  const fresh = JSON.parse(execFileSync(WEFT, ['sync', join(dir, 'new'), '--invite', link, '--relay', http], { encoding: 'utf8' }).trim().split('\n').at(-1));
  assert.equal(fresh.state_hash, web.stateHash());
});

test('new clients through an old relay: the versions block is refused, the plain HELLO after it syncs', { skip: skipOld, timeout: 60_000 }, async () => {
  const r = await relay({ exe: OLD_RELAY });
  const a = track(await createSpace({ storage: 'memory', relay: r.url, sync }));
  const b = track(await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync }));
  const errors = [];
  a.on('error', (e) => errors.push(e));
  await until('both synced', () => a.status.state === 'synced' && b.status.state === 'synced');
  await a.collection('todos').put('a1', { by: 'a' });
  await b.collection('todos').put('b1', { by: 'b' });
  await until('convergence', () => a.stateHash() === b.stateHash() && a.collection('todos').get('b1'));
  // Each client's first HELLO was refused, once: then plain HELLOs.
  assert.equal(await metric(r.port, 'weft_relay_rejections_total{reason="BAD_FRAME"}'), 2);
  // A raise is not sent to a relay that cannot read it: it stays here,
  // and the link goes on.
  await a.raiseFormatLevel(2);
  await a.collection('todos').put('a2', { by: 'a' });
  await until('b sees a2', () => b.collection('todos').get('a2'));
  assert.equal(b.formatLevel, 1);
  assert.deepEqual(errors, []);
});

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;

async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'weft-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: 'ignore' });
  cleanup.push(async () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 10_000;
  while (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() !== 'PONG') {
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return `redis://127.0.0.1:${port}`;
}

test('an old and a new relay on one Redis serve one space during writes; the new one holds raises back', { skip: skipOld || (haveRedis ? false : 'no redis-server'), timeout: 90_000 }, async () => {
  const url = await startRedis();
  const oldR = await relay({ exe: OLD_RELAY, storage: 'redis', args: ['--redis', url] });
  // Mid-rollout: the new relay announces and accepts only what the old one reads.
  const newR = await relay({ storage: 'redis', args: ['--redis', url, '--format-level', '1'] });
  const a = track(await createSpace({ storage: 'memory', relay: oldR.url, sync }));
  const b = track(await openSpace({ storage: 'memory', invite: a.invite(), relay: newR.url, sync }));
  const c = track(await openSpace({ storage: 'memory', invite: a.invite(), relay: oldR.url, sync }));
  await until('all synced', () => [a, b, c].every((s) => s.status.state === 'synced'));
  const writes = [];
  for (let i = 0; i < 30; i++) {
    writes.push(a.collection('todos').put(`a${i}`, { i }));
    writes.push(b.collection('todos').put(`b${i}`, { i }));
    writes.push(c.collection('n').increment('x', 'n', 1));
  }
  await Promise.all(writes);
  await until('convergence across relays', () => a.stateHash() === b.stateHash() && b.stateHash() === c.stateHash() && a.collection('todos').get('b29') && b.collection('todos').get('a29') && a.collection('n').get('x')?.n === 30, 30_000);
  // The new relay refuses a raise while held at level 1; nothing else changes.
  const errors = [];
  b.on('error', (e) => errors.push(e));
  await b.transact(() => {}); // settle
  const admin = track(await openSpace({ storage: 'memory', invite: a.invite({ rights: 'admin' }), relay: newR.url, sync }));
  await until('admin synced', () => admin.status.state === 'synced');
  const adminErrors = [];
  admin.on('error', (e) => adminErrors.push(e));
  await admin.raiseFormatLevel(2);
  await b.collection('todos').put('after', { ok: true });
  await until('a sees the write after the refused raise', () => a.collection('todos').get('after'));
  assert.equal(a.formatLevel, 1);
  assert.equal(b.formatLevel, 1);
  assert.deepEqual(errors, []);
  assert.ok(await metric(newR.port, 'weft_relay_rejections_total{reason="VERSION"}') === 0); // not sent: the relay announced level 1
});
