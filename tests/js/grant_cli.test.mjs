// The CLI as a member admitted by grant does what weftdb does (issue 22):
// an admin who claimed the owner's admin invite publishes snapshots with
// its grant chain (Weft-Grant-Chain), which weftdb and CLI joiners check,
// and raises the format level with it (`weft level raise`);
// a member without an admin chain is told so before the relay refuses it.
// `weft restore` of a member admitted by grant works as restoreSpace does:
// the backed-up key delivers the new key's link (and an admin's grant of
// write), an admin device completes the rest; a removed member's backup is
// refused and leaves nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { createSpace, openSpace, restoreSpace } from '../../wasm/src/index.js';
import { haveRelay, startRelay } from './relay.mjs';

const WEFT = join(dirname(fileURLToPath(import.meta.url)), '../../build/cli/weft');
const skip = haveRelay && existsSync(WEFT) ? false : 'needs build/relay/weft-relay and build/cli/weft (tools/build native)';
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

const weft = (...args) => JSON.parse(execFileSync(WEFT, args, { encoding: 'utf8' }).trim().split('\n').at(-1));
const fails = (args, env = process.env) => {
  const r = spawnSync(WEFT, args, { encoding: 'utf8', env });
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
  // It raises the format level the same way (its chain is the level record's parent).
  assert.deepEqual(weft('level', 'raise', at('adm'), '5'), { level: 5, stored: true });

  // A weftdb device joining now starts from the admin's snapshot, its chain checked.
  const joinLink = link('own', 'read');
  weft('sync', at('own'));
  const web = await openSpace({ invite: joinLink, storage: 'memory', relay: `ws://127.0.0.1:${r.port}`, sync: { WebSocket, minDelay: 50, maxDelay: 200 } });
  cleanup.push(() => web.close());
  const snaps = [];
  web.on('snapshot', (e) => snaps.push(e));
  await until('the joiner reads', () => web.collection('notes').get('a1') && web.formatLevel === 5);
  assert.deepEqual(web.collection('notes').get('n1'), { t: 'first' });

  // A CLI joiner checks the chain too, and starts from the same snapshot;
  // as a writer it holds no admin chain, and is told so before the relay.
  const subLink = link('own', 'write');
  weft('sync', at('own'));
  weft('join', at('sub'), '--invite', subLink, '--relay', http);
  const synced = weft('sync', at('sub'));
  assert.equal(synced.snapshot_rseq, published.rseq);
  assert.deepEqual(weft('get', at('sub'), 'notes', 'a1'), { _id: 'a1', t: 'by the admin' });
  for (const args of [['snapshot', 'publish', at('sub')], ['level', 'raise', at('sub'), '5']]) {
    const refused = fails(args);
    assert.equal(refused.status, 3);
    assert.match(refused.stderr, /holds no grant chain making it an admin/);
  }
});

test('CLI: `weft restore` of members admitted by grant; a removed member\'s backup is refused, nothing made', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const dir = mkdtempSync(join(tmpdir(), 'weft-grant-restore-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const http = `http://127.0.0.1:${r.port}`;
  const at = (name) => join(dir, name);
  const env = { ...process.env, WEFT_PASSPHRASE: 'correct horse battery staple' };
  // The owner is a weftdb device online: it completes linked devices' grants.
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync: { WebSocket, minDelay: 50, maxDelay: 200 } });
  cleanup.push(() => owner.close());
  await owner.collection('notes').put('o1', { t: 'hello' });
  const synced = () => owner.status.state === 'synced' && owner.status.pending === 0;
  const claimed = async (name, rights) => {
    const link = await owner.invite({ rights, uses: 1, expiresIn: 3600_000 });
    await until('owner synced', synced);
    const j = weft('join', at(name), '--invite', link, '--relay', http);
    weft('sync', at(name));
    execFileSync(WEFT, ['backup', at(name), '--out', at(`${name}.bak`)], { env });
    return j;
  };
  const wr = await claimed('wr', 'write');
  const adm = await claimed('adm', 'admin');
  const gone = await claimed('gone', 'write');
  await until('owner lists them', () => [wr, adm, gone].every((j) => owner.members.some((m) => m.key === j.author && m.state === 'member')));

  // An admin's backup: the new key gets write from the backed-up key at once.
  const adm2 = execFileSync(WEFT, ['restore', at('adm.bak'), at('adm2')], { env, encoding: 'utf8' });
  const a2 = JSON.parse(adm2.trim().split('\n').at(-1));
  assert.equal(a2.restored_from, adm.author);
  weft('sync', at('adm2'));
  execFileSync(WEFT, ['put', at('adm2'), 'notes', 'a2', '{"t":"from the restored admin"}']);
  weft('sync', at('adm2'));
  await until('owner reads the restored admin', () => owner.collection('notes').get('a2'));
  assert.equal(owner.members.find((m) => m.key === a2.author)?.person, adm.author);

  // A writer's backup: linked at once; the owner's device grants it write.
  const w2 = JSON.parse(execFileSync(WEFT, ['restore', at('wr.bak'), at('wr2')], { env, encoding: 'utf8' }).trim().split('\n').at(-1));
  await until('the owner grants the linked device', () => owner.members.find((m) => m.key === w2.author)?.rights === 'write');
  weft('sync', at('wr2'));
  assert.deepEqual(weft('get', at('wr2'), 'notes', 'o1'), { _id: 'o1', t: 'hello' });
  execFileSync(WEFT, ['put', at('wr2'), 'notes', 'w2', '{"t":"from the restored writer"}']);
  weft('sync', at('wr2'));
  await until('owner reads the restored writer', () => owner.collection('notes').get('w2'));

  // The CLI writer's backup (its claim where a token goes) restores in weftdb too.
  const web = await restoreSpace({ backup: readFileSync(at('wr.bak'), 'utf8'), passphrase: env.WEFT_PASSPHRASE, storage: 'memory', relay: r.url, sync: { WebSocket, minDelay: 50, maxDelay: 200 } });
  cleanup.push(() => web.close());
  await until('the web device is granted write', () => web.rights === 'write' && web.collection('notes').get('w2'));

  // A removed member's backup: refused, and no directory is left.
  await owner.remove(gone.author);
  await until('the relay refuses the removed key', () => /REVOKED/.test(fails(['sync', at('gone')]).stderr));
  const refused = fails(['restore', at('gone.bak'), at('gone2')], env);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /REVOKED|removed/);
  assert.equal(existsSync(at('gone2')), false);
});
