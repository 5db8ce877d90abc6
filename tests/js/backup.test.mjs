// Key backups in weftdb (SECURITY.md "Key backup", API.md "Key backup"):
// a backup restores the same space and rights on a fresh device under a
// new device key; a wrong passphrase, an altered or foreign blob and a
// space already held are refused with their own codes and store nothing;
// the golden blob the core's test pins opens here too.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { createSpace, openSpace, restoreSpace, memoryStorage } from '../../wasm/src/index.js';
import { toBase64url } from '../../wasm/src/util.js';
import { haveRelay, startRelay } from './relay.mjs';

const skip = haveRelay ? false : 'needs build/relay/weft-relay (tools/build native)';
const sync = { WebSocket, minDelay: 50, maxDelay: 200 };
const PW = 'correct horse battery staple';
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function until(what, fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const synced = (s) => s.status.state === 'synced' && s.status.pending === 0;

/** A memory storage that counts the spaces it was asked to open. */
function countingStorage() {
  const inner = memoryStorage();
  const adapter = { opened: 0, kind: 'memory', open: (id) => ((adapter.opened += 1), inner.open(id)) };
  return adapter;
}

test('weftdb: the owner backs up, a fresh device restores the space with the owner\'s rights under a new key', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => owner.close());
  await owner.collection('notes').put('n1', { t: 'before the backup' });
  await until('owner synced', () => synced(owner));
  const backup = await owner.backup(PW);
  assert.match(backup, /^weft-backup-1:[A-Za-z0-9_-]+$/);
  assert.ok(backup.length < 1000, `a fresh owner's backup is small (${backup.length} chars)`);

  // The relay's URL travels in the backup: no relay option needed.
  const again = await restoreSpace({ backup, passphrase: PW, storage: 'memory', sync });
  cleanup.push(() => again.close());
  assert.equal(again.id, owner.id);
  assert.equal(again.rights, 'admin');
  assert.notEqual(again.author, owner.author, 'a restored device writes under a key of its own');
  await until('restored device reads the space', () => again.collection('notes').get('n1'));
  assert.deepEqual(again.collection('notes').get('n1'), { t: 'before the backup' });
  // Both devices write at once: no fork, each has its own chain.
  await again.collection('notes').put('n2', { t: 'from the restored device' });
  await owner.collection('notes').put('n3', { t: 'from the first device' });
  await until('both see both', () => owner.collection('notes').get('n2') && again.collection('notes').get('n3'));
  // The owner's space used no membership records: the restored device is
  // linked to the backed-up key as the same person anyway (the owner may).
  await until('the first device sees the link', () => owner.members.find((m) => m.key === again.author)?.person === owner.author);
  // The restored owner invites, as the owner does.
  const guest = await openSpace({ invite: again.invite({ rights: 'read' }), storage: 'memory', relay: r.url, sync });
  cleanup.push(() => guest.close());
  await until('guest reads', () => guest.collection('notes').get('n2'));
});

test('weftdb: a member restored from a backup keeps its rights and every content key, after a rotation too', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  const link = owner.invite({ rights: 'write', expiresIn: 3600_000 });
  const a = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  const b = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => owner.close(), () => a.close(), () => b.close());
  await owner.collection('notes').put('old', { t: 'under the first key' });
  await owner.grant(a.author, 'write');
  await owner.grant(b.author, 'write');
  await until('a sees the grants', () => a.members.filter((m) => m.state === 'member').length === 3);
  await owner.remove(b.author);
  await owner.collection('notes').put('new', { t: 'under the second key' });
  await until('a takes the new key', () => a.keyEpoch === 1 && a.collection('notes').get('new'));

  const backup = await a.backup(PW);
  const a2 = await restoreSpace({ backup, passphrase: PW, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => a2.close());
  assert.equal(a2.rights, 'write');
  assert.equal(a2.keyEpoch, 1);
  assert.notEqual(a2.author, a.author);
  await until('restored member reads both epochs', () => a2.collection('notes').get('old') && a2.collection('notes').get('new'));
  await a2.collection('notes').put('a2', { t: 'written after restoring' });
  await until('owner sees it', () => owner.collection('notes').get('a2'));
  // The member list came along, and the restored key is the same person.
  assert.equal(a2.members.find((m) => m.key === b.author)?.state, 'removed');
  await until('the owner sees a2 as a\'s device', () => owner.members.find((m) => m.key === a2.author)?.person === a.author);
  assert.equal(owner.history('notes', 'a2').entries[0].person, a.author);
});

test('weftdb: a wrong passphrase, an altered or foreign backup, a short passphrase: refused, nothing stored', { timeout: 60_000 }, async () => {
  const owner = await createSpace({ storage: 'memory' });
  cleanup.push(() => owner.close());
  const backup = await owner.backup(PW);
  const storage = countingStorage();
  const refused = async (opts, code) => {
    await assert.rejects(restoreSpace({ storage, ...opts }), (e) => e.code === code);
    assert.equal(storage.opened, 0, `${code}: nothing opened in the storage`);
  };
  await refused({ backup, passphrase: 'correct horse battery stapler' }, 'WEFT_EPASSPHRASE');
  // One base64url character changed in the sealed part.
  const at = backup.length - 30;
  const altered = backup.slice(0, at) + (backup[at] === 'A' ? 'B' : 'A') + backup.slice(at + 1);
  await refused({ backup: altered, passphrase: PW }, 'WEFT_EPASSPHRASE');
  await refused({ backup: backup.slice(0, 60), passphrase: PW }, 'WEFT_ETRUNCATED');
  await refused({ backup: 'weft-backup-1:' + toBase64url(new TextEncoder().encode('NOTABKUP' + 'x'.repeat(80))), passphrase: PW }, 'WEFT_EMALFORMED');
  await refused({ backup: 'hello', passphrase: PW }, 'WEFT_EMALFORMED');
  await refused({ backup, passphrase: 'short' }, 'WEFT_EINVAL');
  await assert.rejects(owner.backup('short'), (e) => e.code === 'WEFT_EINVAL');
  // A storage that holds the space already keeps what it holds.
  const held = memoryStorage();
  const first = await restoreSpace({ backup, passphrase: PW, storage: held });
  const author = first.author;
  await first.close();
  await assert.rejects(restoreSpace({ backup, passphrase: PW, storage: held }), (e) => e.code === 'WEFT_ESTATE');
  const reopened = await openSpace({ space: owner.id, storage: held });
  assert.equal(reopened.author, author);
  await reopened.close();
});

test('weftdb: opens the golden backup the core seals (tests/vectors/backup/v1.txt)', { timeout: 30_000 }, async () => {
  const text = readFileSync(new URL('../vectors/backup/v1.txt', import.meta.url), 'utf8');
  const field = (name) => text.match(new RegExp(`^${name} (.+)$`, 'm'))[1];
  const blob = Uint8Array.from(field('blob').match(/../g), (h) => parseInt(h, 16));
  const space = await restoreSpace({ backup: blob, passphrase: field('passphrase'), storage: 'memory' });
  cleanup.push(() => space.close());
  assert.equal(Buffer.from(space.id, 'base64url').toString('hex'), field('space'));
  assert.equal(space.rights, 'admin'); // the vector holds the owner's secret
  assert.notEqual(Buffer.from(space.author, 'base64url').toString('hex'), field('author'));
  // Its one membership record, and the grant the restored owner signed its new key.
  assert.ok(space.members.some((m) => Buffer.from(m.key, 'base64url').toString('hex') === field('author')));
  assert.ok(space.members.some((m) => m.key === space.author && m.admin));
});
