// Invites claimed by the newcomer's own key, admins from any device, and
// renewal (SECURITY.md "Members", API.md "Members"), with a real relay:
// the owner invites an admin with a single-use link; that admin, who joined
// by link, invites a fourth person who claims and writes; the same link
// used again is refused (REPLAY); a key holding no grant is refused
// (NOT_MEMBER); grants about to lapse are renewed by an online admin
// device, and one that lapses leaves its member 'expired' without a
// reconnect loop.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { WebSocket } from 'ws';
import { createSpace, openSpace, memoryStorage } from '../../wasm/src/index.js';
import { fromBase64url } from '../../wasm/src/util.js';
import { encodeHello, decodeFrame, F } from '../../wasm/src/frames.js';
import { haveRelay, startRelay } from './relay.mjs';

const skip = haveRelay ? false : 'needs build/relay/weft-relay (tools/build native)';
const sync = { WebSocket, minDelay: 50, maxDelay: 200 };
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
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An Ed25519 key pair in libsodium's layout (secret = seed ‖ public key). */
function keypair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pk = fromBase64url(publicKey.export({ format: 'jwk' }).x, 'pk');
  const seed = fromBase64url(privateKey.export({ format: 'jwk' }).d, 'seed');
  const sk = new Uint8Array(64);
  sk.set(seed);
  sk.set(pk, 32);
  return { pk, sk };
}

test('weftdb: an admin who joined by link invites a fourth person, who claims and writes; a replayed claim and an unclaimed key are refused', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => owner.close());
  await owner.collection('notes').put('o1', { t: 'from the owner' });

  // The owner's single-use admin link; the admin claims it with its own key.
  const adminLink = await owner.invite({ rights: 'admin', uses: 1, expiresIn: 3600_000 });
  await until('owner synced', () => synced(owner));
  const admin = await openSpace({ invite: adminLink, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => admin.close());
  await until('admin synced', () => synced(admin) && admin.collection('notes').get('o1'));
  assert.equal(admin.rights, 'admin');
  await until('admin is an admin in the fold', () => admin.members.some((m) => m.key === admin.author && m.admin && m.state === 'member'));
  // A device admitted by grant has no bearer token to delegate.
  assert.throws(() => admin.invite({ rights: 'read' }), (e) => e.code === 'WEFT_EDELEGATION');

  // The admin invites a fourth person, who claims and writes.
  const link = await admin.invite({ rights: 'write', uses: 1, expiresIn: 600_000 });
  await until('admin synced', () => synced(admin));
  const fourth = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => fourth.close());
  await until('fourth synced', () => synced(fourth) && fourth.collection('notes').get('o1'));
  assert.equal(fourth.rights, 'write');
  await fourth.collection('notes').put('f1', { t: 'from the fourth' });
  await until('owner reads the fourth', () => owner.collection('notes').get('f1'));
  assert.deepEqual(owner.collection('notes').get('f1'), { t: 'from the fourth' });
  await until('owner lists the fourth', () => owner.members.some((m) => m.key === fourth.author && m.rights === 'write' && m.state === 'member'));
  // Files over REST by grant: the fourth uploads, the owner downloads.
  const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
  const ref = await fourth.files.put(bytes, { name: 'plan.bin' });
  await until('uploaded', () => fourth.status.uploads === 0);
  assert.ok(Buffer.from(await owner.files.get(ref)).equals(Buffer.from(bytes)));

  // The same link on another device: its claim is a replayed invite.
  const other = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => other.close());
  const errors = [];
  other.on('error', (e) => errors.push(e.code));
  await until('replay refused', () => other.status.state === 'denied');
  await sleep(400);
  assert.equal(other.status.state, 'denied'); // final: no reconnect loop
  assert.ok(errors.includes('WEFT_EREPLAY'), `errors: ${errors}`);
  await other.collection('notes').put('x', { t: 'never shared' }).catch(() => {});
  await sleep(200);
  assert.equal(owner.collection('notes').get('x'), undefined);

  // A key that holds no grant and claims nothing.
  const k = keypair();
  const strangers = memoryStorage();
  const st = await strangers.open(owner.id);
  await st.saveMeta({ v: 1, space: fromBase64url(owner.id, 'space'), author: k.pk, authorSecret: k.sk, contentKey: new Uint8Array(32), byGrant: true, grantRights: 2 });
  const stranger = await openSpace({ space: owner.id, storage: strangers, relay: r.url, sync });
  cleanup.push(() => stranger.close());
  const access = [];
  stranger.on('access', (e) => access.push(e));
  const strangerErrors = [];
  stranger.on('error', (e) => strangerErrors.push(e.code));
  await until('stranger refused', () => stranger.status.state === 'denied');
  assert.deepEqual(strangerErrors, ['WEFT_ENOTMEMBER']);
  assert.equal(access.length, 1);
  assert.equal(stranger.collection('notes').get('o1'), undefined);

  // On the wire: a stranger's HELLO by grant (a version-1 HELLO, even)
  // gets a fatal NOT_MEMBER before any CHALLENGE or VERSION, so it learns
  // nothing of the space.
  const first = await new Promise((resolve, reject) => {
    const ws = new WebSocket(r.url);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => ws.send(encodeHello({ space: fromBase64url(owner.id, 'space'), key: keypair().pk, vv: new Uint8Array(0), token: new Uint8Array(0), members: true, byGrant: true }));
    ws.onmessage = (m) => {
      resolve(decodeFrame(new Uint8Array(m.data)));
      ws.close();
    };
    ws.onerror = reject;
  });
  assert.equal(first.type, F.ERROR);
  assert.equal(first.name, 'NOT_MEMBER', first.message);
  assert.ok(first.fatal);

  // A writer cannot invite.
  await assert.rejects(fourth.invite({ rights: 'read', uses: 1 }), (e) => e.code === 'WEFT_ENOTADMIN');

  // The admin who joined by link removes the fourth: a new key epoch, and
  // the fourth's app says 'removed'.
  await until('admin synced', () => synced(admin));
  await admin.remove(fourth.author);
  assert.equal(admin.keyEpoch, 1);
  await until('fourth removed', () => fourth.status.state === 'removed');
  await until('owner takes the new key', () => owner.keyEpoch === 1);
  await admin.collection('notes').put('a2', { t: 'after the removal' });
  await until('owner reads it', () => owner.collection('notes').get('a2'));
});

test('weftdb: an online admin renews grants before they lapse; a lapsed member is "expired", not looping', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync, renew: { share: 0.5, everyMs: 200 } });
  cleanup.push(() => owner.close());
  const link = await owner.invite({ rights: 'write', uses: 1, expiresIn: 4000 });
  await until('owner synced', () => synced(owner));
  const m = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => m.close());
  await until('member synced', () => synced(m));
  await until('owner sees the member', () => owner.members.some((x) => x.key === m.author));
  const first = owner.members.find((x) => x.key === m.author).until;
  // Past the invite's end, the member is still live and writing: renewed.
  await sleep(5000);
  const later = owner.members.find((x) => x.key === m.author).until;
  assert.ok(later > first, `renewed: ${later} > ${first}`);
  assert.ok(later > Date.now());
  await m.collection('notes').put('m1', { t: 'after the first end' });
  await until('owner reads it', () => owner.collection('notes').get('m1'));
  assert.notEqual(m.status.state, 'expired');

  // Nobody renews once the owner is gone: the member's access lapses while
  // it is connected, and it says so once.
  await owner.close();
  const access = [];
  m.on('access', (e) => access.push(e));
  const left = m.members.find((x) => x.key === m.author).until - Date.now();
  await until('member expired', () => m.status.state === 'expired', left + 5000);
  await sleep(500);
  assert.equal(m.status.state, 'expired');
  assert.equal(access.length, 1);
  assert.match(access[0].message, /ask an admin/);
});

test('weftdb: a device admitted by grant opens with the rights its grants give now', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => owner.close());
  const link = await owner.invite({ rights: 'read', uses: 1 });
  await until('owner synced', () => synced(owner));
  const store = memoryStorage();
  const reader = await openSpace({ invite: link, storage: store, relay: r.url, sync });
  await until('reader synced', () => synced(reader));
  assert.equal(reader.rights, 'read');
  await assert.rejects(reader.collection('notes').put('x', { t: 'no' }), (e) => e.code === 'WEFT_ERIGHTS');
  await owner.grant(reader.author, 'write');
  await until('reader sees its grant', () => reader.members.some((m) => m.key === reader.author && m.rights === 'write'));
  await reader.close();
  const again = await openSpace({ space: owner.id, storage: store, relay: r.url, sync });
  cleanup.push(() => again.close());
  assert.equal(again.rights, 'write');
  await again.collection('notes').put('w', { t: 'now I write' });
  await until('owner reads it', () => owner.collection('notes').get('w'));
});

test('weftdb: a space with no changes yet tells its joiners its format level (the owner\'s invite raised it)', { skip, timeout: 30_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => owner.close());
  const link = await owner.invite({ rights: 'write', uses: 1 }); // raises the level: no change written
  await until('owner synced', () => synced(owner));
  assert.ok(owner.formatLevel > 1);
  const joiner = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  cleanup.push(() => joiner.close());
  await until('the joiner learns the level', () => joiner.formatLevel === owner.formatLevel);
});
