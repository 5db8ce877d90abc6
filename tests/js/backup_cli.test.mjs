// Key backups across the CLI and weftdb (FORMAT.md §11): a `weft backup`
// restores in weftdb and a space.backup() with `weft restore`, each with the
// owner's rights under a new key, reading and writing through one relay;
// the CLI opens the core's golden blob, and refuses a wrong passphrase or an
// altered file without leaving a replica behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { createSpace, openSpace, restoreSpace } from '../../wasm/src/index.js';
import { haveRelay, startRelay } from './relay.mjs';

const WEFT = join(dirname(fileURLToPath(import.meta.url)), '../../build/cli/weft');
const skip = haveRelay && existsSync(WEFT) ? false : 'needs build/relay/weft-relay and build/cli/weft (tools/build native)';
const sync = { WebSocket, minDelay: 50, maxDelay: 200 };
const PW = 'correct horse battery staple';
const env = { ...process.env, WEFT_PASSPHRASE: PW };
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

const weft = (...args) => JSON.parse(execFileSync(WEFT, args, { encoding: 'utf8', env }).trim().split('\n').at(-1));
const fails = (args, extraEnv = {}) => {
  const r = spawnSync(WEFT, args, { encoding: 'utf8', env: { ...env, ...extraEnv } });
  return { status: r.status, stderr: r.stderr };
};

async function until(what, fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'weft-backup-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return (name) => join(dir, name);
}

test('a CLI backup restores in weftdb, and a weftdb backup with `weft restore`', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const at = tempDir();
  const http = `http://127.0.0.1:${r.port}`;

  // CLI → weftdb: the relay's URL comes along (http:// becomes ws://).
  weft('space', 'create', at('cli'), '--relay', http);
  execFileSync(WEFT, ['put', at('cli'), 'notes', 'c1', '{"t":"from the CLI"}']);
  weft('sync', at('cli'));
  execFileSync(WEFT, ['backup', at('cli'), '--out', at('cli.bak')], { env });
  const text = readFileSync(at('cli.bak'), 'utf8');
  assert.match(text, /^weft-backup-1:[A-Za-z0-9_-]+\n$/);
  const web = await restoreSpace({ backup: text, passphrase: PW, storage: 'memory', sync });
  cleanup.push(() => web.close());
  assert.equal(web.id, weft('status', at('cli')).space);
  assert.equal(web.rights, 'admin');
  await until('weftdb reads the CLI\'s note', () => web.collection('notes').get('c1'));
  await web.collection('notes').put('w1', { t: 'from the restored browser' });
  await until('synced', () => web.status.state === 'synced' && web.status.pending === 0);
  weft('sync', at('cli'));
  assert.equal(weft('get', at('cli'), 'notes', 'w1').t, 'from the restored browser');

  // weftdb → CLI.
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => owner.close());
  await owner.collection('notes').put('o1', { t: 'from weftdb' });
  await until('synced', () => owner.status.state === 'synced' && owner.status.pending === 0);
  writeFileSync(at('web.bak'), await owner.backup(PW));
  const restored = weft('restore', at('web.bak'), at('restored'));
  assert.equal(restored.space, owner.id);
  assert.equal(restored.owner, true);
  assert.notEqual(restored.author, owner.author);
  assert.equal(restored.restored_from, owner.author);
  weft('sync', at('restored')); // the relay URL from the backup, as http://
  assert.equal(weft('get', at('restored'), 'notes', 'o1').t, 'from weftdb');
  execFileSync(WEFT, ['put', at('restored'), 'notes', 'r1', '{"t":"from the restored CLI"}']);
  weft('sync', at('restored'));
  await until('weftdb sees the restored CLI\'s note', () => owner.collection('notes').get('r1'));
  // The restored key is the owner's device: linked to it as the same person.
  assert.equal(weft('members', at('restored')).members.find((m) => m.key === restored.author)?.person, owner.author);
  await until('weftdb sees the link', () => owner.members.find((m) => m.key === restored.author)?.person === owner.author);
});

test('the CLI opens the golden backup, and refuses a wrong passphrase or an altered file, leaving nothing', { skip: existsSync(WEFT) ? false : 'needs build/cli/weft', timeout: 30_000 }, () => {
  const at = tempDir();
  const vec = readFileSync(new URL('../vectors/backup/v1.txt', import.meta.url), 'utf8');
  const field = (name) => vec.match(new RegExp(`^${name} (.+)$`, 'm'))[1];
  writeFileSync(at('golden.bak'), Buffer.from(field('blob'), 'hex')); // the bytes, not the text
  const g = weft('restore', at('golden.bak'), at('golden'), '--relay', '');
  assert.equal(Buffer.from(g.space, 'base64url').toString('hex'), field('space'));
  assert.equal(Buffer.from(g.restored_from, 'base64url').toString('hex'), field('author'));
  assert.equal(g.owner, true);
  assert.equal(g.key_epoch, 1);
  const members = weft('members', at('golden'));
  assert.ok(members.members.some((m) => m.key === g.author && m.admin), 'the new key holds an admin grant');

  weft('space', 'create', at('src'));
  execFileSync(WEFT, ['backup', at('src'), '--out', at('src.bak')], { env });
  let r = fails(['restore', at('src.bak'), at('wrong')], { WEFT_PASSPHRASE: 'correct horse battery stapler' });
  assert.equal(r.status, 3);
  assert.match(r.stderr, /PASSPHRASE/);
  assert.equal(existsSync(at('wrong')), false);
  const text = readFileSync(at('src.bak'), 'utf8');
  const i = text.length - 20;
  writeFileSync(at('altered.bak'), text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1));
  r = fails(['restore', at('altered.bak'), at('altered')]);
  assert.equal(r.status, 3);
  assert.match(r.stderr, /PASSPHRASE/);
  assert.equal(existsSync(at('altered')), false);
  r = fails(['backup', at('src')], { WEFT_PASSPHRASE: 'short' });
  assert.equal(r.status, 3);
  // A second restore into a replica directory refuses to overwrite it.
  weft('restore', at('src.bak'), at('twice'));
  r = fails(['restore', at('src.bak'), at('twice')]);
  assert.equal(r.status, 3);
  assert.match(r.stderr, /already holds a space/);
});

test('a key-bound admin restores under a delegated token; a key-bound writer is refused and nothing is created', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const at = tempDir();
  const http = `http://127.0.0.1:${r.port}`;
  weft('space', 'create', at('own'), '--relay', http);
  execFileSync(WEFT, ['put', at('own'), 'notes', 'n1', '{"t":"first"}']);
  weft('sync', at('own'));
  const key = {};
  for (const who of ['adm', 'wri']) {
    execFileSync(WEFT, ['keygen', '--out', at(`${who}.key`)]);
    key[who] = JSON.parse(readFileSync(at(`${who}.key`), 'utf8')).public;
    const rights = who === 'adm' ? 'admin' : 'write';
    const link = execFileSync(WEFT, ['invite', at('own'), '--rights', rights, '--for', key[who]], { encoding: 'utf8' }).trim();
    execFileSync(WEFT, ['join', at(who), '--invite', link, '--identity', at(`${who}.key`), '--relay', http]);
    execFileSync(WEFT, ['backup', at(who), '--out', at(`${who}.bak`)], { env });
  }
  // The admin's restored replica: a token its old key delegated, admin rights.
  const adm = weft('restore', at('adm.bak'), at('adm2'));
  assert.equal(adm.owner, false);
  assert.equal(adm.restored_from, key.adm);
  assert.equal(weft('status', at('adm2')).rights, 'admin');
  weft('sync', at('adm2'));
  assert.equal(weft('get', at('adm2'), 'notes', 'n1').t, 'first');
  execFileSync(WEFT, ['put', at('adm2'), 'notes', 'n2', '{"t":"restored admin"}']);
  weft('sync', at('adm2'));
  weft('sync', at('own'));
  assert.equal(weft('get', at('own'), 'notes', 'n2').t, 'restored admin');
  // A writer whose token names its key cannot hand it on.
  const refused = fails(['restore', at('wri.bak'), at('wri2')]);
  assert.equal(refused.status, 3);
  assert.match(refused.stderr, /admin must invite/);
  assert.equal(existsSync(at('wri2')), false);
  // weftdb refuses it alike.
  await assert.rejects(restoreSpace({ backup: readFileSync(at('wri.bak'), 'utf8'), passphrase: PW, storage: 'memory' }), (e) => e.code === 'WEFT_ERIGHTS');
});

test('device links across the CLI and weftdb: the same code, either side links', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const at = tempDir();
  const http = `http://127.0.0.1:${r.port}`;
  weft('space', 'create', at('own'), '--relay', http);
  weft('sync', at('own'));
  const me = weft('status', at('own')).author;
  const link = execFileSync(WEFT, ['invite', at('own'), '--rights', 'write'], { encoding: 'utf8' }).trim();
  // A browser of the CLI's person: its code, linked (and granted admin) by the CLI.
  const web = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => web.close());
  await until('web synced', () => web.status.state === 'synced');
  const linked = weft('link', at('own'), '--code', web.deviceCode(me));
  assert.deepEqual(linked, { device: web.author, person: me });
  weft('sync', at('own'));
  await until('weftdb sees itself as the CLI person\'s device', () => web.members.find((m) => m.key === web.author)?.person === me);
  assert.equal(web.members.find((m) => m.key === web.author).admin, true);
  // A CLI replica of another browser's person (granted by the owner): its
  // code, linked by weftdb; a device (web) is no person (one level deep).
  const web2 = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => web2.close());
  weft('grant', at('own'), '--for', web2.author, '--rights', 'write');
  weft('sync', at('own'));
  await until('web2 is a member', () => web2.members.some((x) => x.key === web2.author && x.state === 'member'));
  execFileSync(WEFT, ['join', at('cli2'), '--invite', link, '--relay', http]);
  const cli2 = weft('status', at('cli2')).author;
  const code = execFileSync(WEFT, ['device-code', at('cli2'), '--person', web2.author], { encoding: 'utf8' }).trim();
  assert.match(code, /^weft-device-1:/);
  await assert.rejects(web.linkDevice(code), (e) => e.code === 'WEFT_ECRYPTO'); // the code names web2
  const code1 = execFileSync(WEFT, ['device-code', at('cli2'), '--person', web.author], { encoding: 'utf8' }).trim();
  await assert.rejects(web.linkDevice(code1), (e) => e.code === 'WEFT_ENOTADMIN');
  assert.equal(await web2.linkDevice(code), cli2);
  await until('web2 synced', () => web2.status.state === 'synced' && web2.status.pending === 0);
  weft('sync', at('cli2'));
  assert.equal(weft('members', at('cli2')).members.find((x) => x.key === cli2)?.person, web2.author);
  const refused = fails(['link', at('own'), '--code', 'weft-device-1:AAAA']);
  assert.equal(refused.status, 3);
});
