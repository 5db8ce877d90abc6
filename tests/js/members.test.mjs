// Members in weftdb alone (SECURITY.md "Members", API.md "Members"): the
// owner's browser grants two members, then removes one of them while it
// is offline; the other keeps editing under the new content key; the
// removed one comes back and is refused with status 'removed'; a grant
// signed by a mere writer is refused with its own code.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { createSpace, openSpace, memoryStorage } from '../../wasm/src/index.js';
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

test('weftdb: grant, remove an offline member with key rotation, the others go on, the removed one is refused', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  const link = owner.invite({ rights: 'write', expiresIn: 3600_000 });
  const a = await openSpace({ invite: link, storage: 'memory', relay: r.url, sync });
  const bStore = memoryStorage(); // survives b.close(): b comes back later
  const b = await openSpace({ invite: link, storage: bStore, relay: r.url, sync });
  cleanup.push(() => owner.close(), () => a.close(), () => b.close());
  assert.deepEqual(owner.members.map((m) => m.owner), [true]); // the owner alone
  await a.collection('notes').put('a1', { t: 'a before' });
  await b.collection('notes').put('b1', { t: 'b before' });
  for (const s of [owner, a, b]) await until('synced', () => synced(s));
  await until('owner has both', () => owner.collection('notes').get('a1') && owner.collection('notes').get('b1'));

  await owner.grant(a.author, 'write');
  await owner.grant(b.author, 'write');
  await until('a sees the grants', () => a.members.filter((m) => m.state === 'member').length === 3);
  // A writer cannot grant (refused here, before the relay would).
  await assert.rejects(a.grant(b.author, 'admin'), (e) => e.code === 'WEFT_ENOTADMIN');

  // b goes offline and writes on; the owner removes it meanwhile.
  await b.close();
  const offline = await openSpace({ space: owner.id, storage: bStore });
  await offline.collection('notes').put('b2', { t: 'b while removed' });
  await offline.close();
  await owner.remove(b.author);
  assert.equal(owner.keyEpoch, 1);
  await owner.collection('notes').put('o2', { t: 'after the removal' });
  await until('owner synced', () => synced(owner));
  await until('a takes the new key', () => a.keyEpoch === 1 && a.collection('notes').get('o2'));
  assert.deepEqual(a.collection('notes').get('o2'), { t: 'after the removal' });
  assert.equal(a.members.find((m) => m.key === b.author).state, 'removed');
  await a.collection('notes').put('a2', { t: 'a after' });
  await until('owner reads a', () => owner.collection('notes').get('a2'));
  assert.equal(owner.stateHash(), a.stateHash());

  // b comes back, with what it wrote offline: refused for good, one
  // 'access' event, no reconnect loop, its data kept.
  const back = await openSpace({ space: owner.id, storage: bStore, relay: r.url, sync });
  cleanup.push(() => back.close());
  const access = [];
  back.on('access', (e) => access.push(e));
  await until('b refused', () => back.status.state === 'removed');
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(back.status.state, 'removed');
  assert.ok(access.length <= 1); // one, unless it came before the listener
  assert.deepEqual(back.collection('notes').get('b1'), { t: 'b before' });
  assert.equal(back.collection('notes').get('o2'), undefined);
  assert.equal(owner.collection('notes').get('b2'), undefined);
  // b's change past its cutoff, handed over directly (as a peer would):
  // every replica refuses it, as the relay does.
  const errors = [];
  a.on('error', (e) => errors.push(e.code));
  await a.applyChanges(back.changesSince(a.versionVector()));
  assert.equal(a.collection('notes').get('b2'), undefined);
  assert.ok(errors.includes('WEFT_EREVOKED'));
  assert.deepEqual(a.collection('notes').get('b1'), { t: 'b before' });
});

test('weftdb: one person, two devices: the second device asks, the first links and grants it; a link needs both signatures', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const owner = await createSpace({ storage: 'memory', relay: r.url, sync });
  const ann = await openSpace({ invite: owner.invite({ rights: 'admin', expiresIn: 3600_000 }), storage: 'memory', relay: r.url, sync });
  cleanup.push(() => owner.close(), () => ann.close());
  for (const s of [owner, ann]) await until('synced', () => synced(s));
  await owner.grant(ann.author, 'admin');
  await until('ann is an admin', () => ann.members.some((m) => m.key === ann.author && m.admin));

  // Ann's phone joins with an invite (the owner's: an admin who joined by
  // link cannot invite yet), then asks her laptop to link it.
  const phone = await openSpace({ invite: owner.invite({ rights: 'write', expiresIn: 3600_000 }), storage: 'memory', relay: r.url, sync });
  cleanup.push(() => phone.close());
  await until('phone synced', () => synced(phone));
  const code = phone.deviceCode(ann.author);
  assert.match(code, /^weft-device-1:[A-Za-z0-9_-]{139}$/); // QR-sized
  // Another member cannot use the code: it names ann as the person.
  await assert.rejects(owner.linkDevice(code), (e) => e.code === 'WEFT_ECRYPTO');
  assert.equal(await ann.linkDevice(code), phone.author);

  const seen = (s) => s.members.find((m) => m.key === phone.author);
  for (const s of [owner, ann, phone]) await until('every device sees the link', () => seen(s)?.person === ann.author && seen(s)?.state === 'member');
  // An admin links with a write grant (admins grant no admin); the owner's
  // device, online, completes it to the person's rights (members.js
  // completeLinks).
  await until('the owner makes the phone an admin as ann is', () => seen(owner)?.rights === 'admin' && seen(owner)?.admin);
  const annsDevices = owner.members.filter((m) => m.person === ann.author).map((m) => m.key);
  assert.deepEqual(annsDevices.sort(), [ann.author, phone.author].sort());
  // Changes stay signed per device; both are ann's.
  await phone.collection('notes').put('p1', { t: 'from the phone' });
  await until('owner reads it', () => owner.collection('notes').get('p1'));
  const [entry] = owner.history('notes', 'p1').entries;
  assert.equal(entry.author, phone.author);
  assert.equal(entry.person, ann.author); // history shows the person

  // A lost phone is unlinked by removing its key: the person stays.
  await owner.remove(phone.author);
  await until('ann sees the removal', () => seen(ann)?.state === 'removed');
  assert.equal(ann.members.find((m) => m.key === ann.author).state, 'member');
});
