// Devices admitted by grant (SECURITY.md "Members"; issue 22) do what
// their rights allow, as token holders do: an admin who joined by a
// claimed link raises the format level and publishes sealed snapshots
// (its grant chain stands where a token would, checked by the relay and
// by every joiner); a writer by grant may do neither; a grant chain that
// names another key or gives no admin is refused over the sync link and
// over REST.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { createSpace, openSpace, restoreSpace, memoryStorage } from '../../wasm/src/index.js';
import { postSnapshot, checkPublisher } from '../../wasm/src/snapshots.js';
import { encodeSnapshot } from '../../wasm/src/frames.js';
import { haveRelay, startRelay } from './relay.mjs';

const skip = haveRelay ? false : 'needs build/relay/weft-relay (tools/build native)';
const sync = { WebSocket, minDelay: 50, maxDelay: 200, recheckDelay: 200, recheckMaxDelay: 1000 };
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function until(what, fn, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const synced = (s) => s.status.state === 'synced' && s.status.pending === 0;
const PW = 'correct horse battery staple';

test('weftdb: an admin admitted by grant raises the format level and publishes snapshots; joiners check its grant chain', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay({ args: ['--snapshot-wanted', '8'] });
  cleanup.push(() => r.stop());
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  await owner.collection('notes').put('o1', { t: 'from the owner' });
  const adminLink = await owner.invite({ rights: 'admin', uses: 1, expiresIn: 3600_000 });
  const writerLink = await owner.invite({ rights: 'write', uses: 1, expiresIn: 3600_000 });
  await until('owner synced', () => synced(owner));
  assert.equal(owner.formatLevel, 4); // its claimed invites raised it
  await owner.close(); // only the admin by grant is left to publish

  const admin = await openSpace({ invite: adminLink, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => admin.close());
  const writer = await openSpace({ invite: writerLink, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => writer.close());
  await until('both synced', () => synced(admin) && synced(writer) && admin.collection('notes').get('o1'));
  const errors = [];
  admin.on('error', (e) => errors.push(e));

  // The level: a record whose parent is the admin's grant chain.
  await assert.rejects(writer.raiseFormatLevel(5), (e) => e.code === 'WEFT_ERIGHTS');
  assert.equal(await admin.raiseFormatLevel(5), 5);
  await until('the writer learns the level', () => writer.formatLevel === 5);

  // Snapshots: the relay asks its admins once the log grew; the admin by
  // grant publishes, its chain kept where a token would be.
  const published = new Promise((resolve) => admin.on('snapshot', (e) => e.published && resolve(e)));
  for (let i = 0; i < 12; i++) await admin.collection('notes').put(`a${i}`, { t: `admin ${i}` });
  const snap = await Promise.race([published, new Promise((_, no) => setTimeout(() => no(new Error('no snapshot published')), 10_000))]);
  assert.ok(Number.isInteger(snap.rseq) && snap.bytes > 0, JSON.stringify(snap));
  assert.deepEqual(errors.map((e) => e.code), []);

  // A newcomer the admin invites joins from that snapshot: the chain checks out.
  const link = await admin.invite({ rights: 'read', uses: 1, expiresIn: 600_000 });
  await until('admin synced', () => synced(admin));
  const joiner = await openSpace({ invite: link, storage: memoryStorage(), relay: r.url, sync });
  cleanup.push(() => joiner.close());
  const joined = [];
  joiner.on('snapshot', (e) => joined.push(e));
  await until('joiner synced', () => synced(joiner) && joiner.collection('notes').get('a11'));
  assert.ok(joined.some((e) => e.joined), 'joined from the snapshot');
  assert.equal(joiner.formatLevel, 5);
  assert.deepEqual(joiner.collection('notes').get('o1'), { t: 'from the owner' });

  // The same checks a joiner runs, by hand: the chain verifies for its
  // publisher only.
  const ip = admin._internal;
  const chain = ip.grantChain();
  assert.ok(chain && chain[1] === 5, 'a grant chain');
  const record = ip.rep.publishSnapshot(0, Date.now());
  assert.ok(checkPublisher(ip.core, ip.meta.space, record, chain));
  const wp = writer._internal;
  const wrec = wp.rep.publishSnapshot(0, Date.now());
  assert.throws(() => checkPublisher(ip.core, ip.meta.space, wrec, chain), (e) => e.code === 'WEFT_EDELEGATION');
  assert.equal(wp.grantChain(), null); // a writer holds no admin chain

  // Over REST (records too large for a frame): by grant, with the chain.
  await admin.collection('notes').put('rest', { t: 'after the first snapshot' });
  await until('admin synced', () => synced(admin));
  const base = await postSnapshot(ip.core, ip.meta, r.url, ip.rep.publishSnapshot(0, Date.now()), chain);
  assert.ok(Number.isInteger(base));
  // The writer with the admin's chain, or with none: RIGHTS.
  await assert.rejects(postSnapshot(wp.core, wp.meta, r.url, wrec, chain), /HTTP 403.*RIGHTS/s);
  // Over the sync link: a writer's upload with the admin's chain is refused.
  const refused = new Promise((resolve) => writer.on('error', (e) => /snapshot/.test(e.message) && resolve(e)));
  // (No public hook: the frame goes on the writer's link as the link would
  // send its own, and its SNAPSHOT_ACK is read as an answer to it.)
  wp.sync().publishing = { bytes: wrec.length, head: 0 };
  wp.sync()._send(encodeSnapshot(wrec, chain));
  const e = await refused;
  assert.match(e.message, /RIGHTS/);
});

test('weftdb: members admitted by grant back up and restore; a restored or linked device gets its person\'s rights from an admin device', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => owner.close());
  await owner.collection('notes').put('o1', { t: 'from the owner' });
  const adminLink = await owner.invite({ rights: 'admin', uses: 1, expiresIn: 3600_000 });
  const writerLink = await owner.invite({ rights: 'write', uses: 1, expiresIn: 3600_000 });
  await until('owner synced', () => synced(owner));
  const admin = await openSpace({ invite: adminLink, storage: 'memory', relay: r.url, sync });
  const writer = await openSpace({ invite: writerLink, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => admin.close(), () => writer.close());
  await until('both synced', () => synced(admin) && synced(writer));
  await writer.collection('notes').put('w1', { t: 'from the writer' });
  await until('writer synced', () => synced(writer));

  // The writer's backup, restored on a fresh device: the backed-up key
  // delivers the link, an admin device grants the new key write, and the
  // restored device comes in without being reopened.
  const wb = await writer.backup(PW);
  const w2 = await restoreSpace({ backup: wb, passphrase: PW, storage: memoryStorage(), relay: r.url, sync });
  cleanup.push(() => w2.close());
  assert.notEqual(w2.author, writer.author);
  assert.equal(w2.rights, 'write');
  await until('restored writer synced', () => synced(w2) && w2.collection('notes').get('w1'));
  await until('the owner lists it as the writer\'s device', () => owner.members.some((m) => m.key === w2.author && m.person === writer.author && m.rights === 'write' && m.state === 'member'));
  await w2.collection('notes').put('w2', { t: 'written after restoring' });
  await until('owner reads it', () => owner.collection('notes').get('w2'));
  assert.equal(owner.history('notes', 'w2').entries[0].person, writer.author);

  // The admin's backup: the new key gets write from the backed-up admin
  // at once and admin from the owner's device; reopened, it is an admin.
  const ab = await admin.backup(PW);
  const store = memoryStorage();
  let a2 = await restoreSpace({ backup: ab, passphrase: PW, storage: store, relay: r.url, sync });
  assert.equal(a2.rights, 'write');
  await until('restored admin synced', () => synced(a2) && a2.collection('notes').get('w2'));
  await until('the owner made it an admin', () => a2.members.some((m) => m.key === a2.author && m.admin && m.person === admin.author));
  const id = a2.id;
  await a2.close();
  a2 = await openSpace({ space: id, storage: store, relay: r.url, sync });
  cleanup.push(() => a2.close());
  assert.equal(a2.rights, 'admin');
  await until('reopened admin synced', () => synced(a2));
  const link = await a2.invite({ rights: 'read', uses: 1 });
  await until('a2 synced', () => synced(a2));
  const reader = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => reader.close());
  await until('its invitee reads', () => synced(reader) && reader.collection('notes').get('o1'));

  // An admin by grant links a second device (its grant ends with the
  // admin's own, which is not forever): the device writes as that person.
  const phone = await openSpace({ invite: owner.invite({ rights: 'read' }), storage: 'memory', relay: r.url, sync });
  cleanup.push(() => phone.close());
  await until('phone synced', () => synced(phone));
  const device = await admin.linkDevice(phone.deviceCode(admin.author));
  assert.equal(device, phone.author);
  await until('the phone is the admin\'s, with a grant', () => owner.members.some((m) => m.key === phone.author && m.person === admin.author && m.state === 'member' && m.admin));

  // A removed member's backup restores nothing.
  await owner.remove(reader.author);
  await until('reader removed', () => reader.status.state === 'removed');
  const rb = await reader.backup(PW);
  await assert.rejects(restoreSpace({ backup: rb, passphrase: PW, storage: memoryStorage(), relay: r.url, sync }), (e) => e.code === 'WEFT_ERIGHTS' && /removed/.test(e.message));
});

test('weftdb: a newcomer invited after a key rotation reads what came before it (the older keys from the epoch records), with no error', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => owner.close());
  await owner.collection('notes').put('old', { t: 'under the first key' });
  const gone = await openSpace({ invite: await owner.invite({ rights: 'write', uses: 1 }), storage: 'memory', relay: r.url, sync });
  cleanup.push(() => gone.close());
  await until('synced', () => synced(owner) && synced(gone));
  for (let epoch = 1; epoch <= 2; epoch++) {
    const x = await openSpace({ invite: await owner.invite({ rights: 'read', uses: 1 }), storage: 'memory', relay: r.url, sync });
    cleanup.push(() => x.close());
    await until('synced', () => synced(owner) && synced(x));
    await owner.remove(x.author);
    await owner.collection('notes').put(`e${epoch}`, { t: `under key ${epoch}` });
    await until('owner synced', () => synced(owner));
  }
  assert.equal(owner.keyEpoch, 2);
  const admin = await openSpace({ invite: await owner.invite({ rights: 'admin', uses: 1 }), storage: 'memory', relay: r.url, sync });
  cleanup.push(() => admin.close());
  await until('admin synced', () => synced(admin) && admin.collection('notes').get('e2'));
  // An admin who joined after the rotations invites one more: its link holds the newest key only.
  const link = await admin.invite({ rights: 'read', uses: 1 });
  await until('admin synced', () => synced(admin));
  const late = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => late.close());
  const errors = [];
  late.on('error', (e) => errors.push(e.code));
  await until('the late reader reads every epoch', () => synced(late) && late.collection('notes').get('old') && late.collection('notes').get('e1') && late.collection('notes').get('e2'));
  assert.deepEqual(late.collection('notes').get('old'), { t: 'under the first key' });
  assert.equal(late.keyEpoch, 2);
  assert.deepEqual(errors, []);
});
