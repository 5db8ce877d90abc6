// Joining from a relay's sealed snapshot, and publishing one (docs/API.md,
// "Snapshots"; PROTOCOL.md, "Snapshots"): a real weft-relay on loopback for
// the join and the automatic publish, and a small lying relay (the `ws`
// package's server speaking the frames) for snapshots that must be refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, WebSocketServer } from 'ws';
import { createSpace, openSpace, memoryStorage } from '../../wasm/src/index.js';
import { RIGHT, FRAME, PROTOCOL_VERSION } from '../../wasm/src/constants.js';
import { decodeFrame, encodeChallenge, encodeChanges } from '../../wasm/src/frames.js';
import { Replica } from '../../wasm/src/replica.js';
import { SNAPSHOT_PUBLISH_CHANGES } from '../../wasm/src/snapshots.js';
import { haveRelay, startRelay, freePort, RELAY } from './relay.mjs';

const skip = haveRelay ? false : `no relay at ${RELAY} (tools/build native builds it)`;
const relays = [];
const spaces = [];
const servers = [];

after(async () => {
  for (const s of spaces) await s.close().catch(() => {});
  for (const r of relays) await r.stop().catch(() => {});
  for (const w of servers) await new Promise((r) => w.close(r));
});

function track(s) {
  spaces.push(s);
  return s;
}

async function until(what, fn, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A WebSocket class that counts the bytes it receives into counter.bytes. */
function countingWS(counter) {
  return class extends WebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => (counter.bytes += ev.data.byteLength ?? ev.data.length));
    }
  };
}

/** n changes, each its own transaction, over `docs` documents; resolves when all are durable. */
async function write(space, n, docs = 200) {
  const c = space.collection('notes');
  for (let i = 0; i < n; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) batch.push(space.transact(() => c.put(`n${j % docs}`, { v: j, body: `edit ${j}` })));
    await Promise.all(batch);
  }
}

test('a fresh replica joins a 50,000-change space from the relay\'s snapshot: same state hash, a fraction of the bytes', { skip, timeout: 300_000 }, async () => {
  const r = await startRelay();
  relays.push(r);
  const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
  const a = track(await createSpace({ storage: 'memory', relay: r.url, sync }));
  const published = [];
  a.on('snapshot', (e) => published.push(e));
  await write(a, 50_000);
  await until('a synced with nothing pending', () => a.status.state === 'synced' && a.status.pending === 0);
  // The admin's device published on its own once its link was idle
  // (everything it sent acknowledged), without being asked.
  await until('a snapshot published', () => published.length > 0);
  const logBytes = a.changesSince(a.historyBase()).length; // what a replay of the retained tail alone costs
  assert.ok(published.every((e) => e.published && e.rseq > 0));

  const counter = { bytes: 0 };
  const store = memoryStorage();
  const joins = [];
  const t0 = performance.now();
  const b = track(await openSpace({ storage: 'memory', invite: a.invite({ rights: 'read' }), storage: store, relay: r.url, sync: { ...sync, WebSocket: countingWS(counter) } }));
  b.on('snapshot', (e) => joins.push(e));
  const seen = [];
  b.collection('notes').subscribe({}, (rows) => seen.push(rows.length));
  await until('b converges', () => b.status.state === 'synced' && b.stateHash() === a.stateHash());
  const ms = performance.now() - t0;
  assert.equal(joins.length, 1, 'joined from a snapshot');
  assert.ok(joins[0].joined);
  assert.equal(b.collection('notes').get('n7').v, 49_807);
  await until('the live query saw the joined state', () => seen.at(-1) === 200);
  // Every change is ~200 B, so the log is ~10 MB; the join takes the
  // state (200 small documents) and the tail after the newest snapshot.
  assert.ok(counter.bytes < 1_000_000, `received ${counter.bytes} bytes (log tail alone: ${logBytes})`);
  console.log(`# join: ${counter.bytes} bytes received, ${ms.toFixed(0)} ms to converge, ${published.length} snapshots published`);
  // Below the snapshot, changesSince says so instead of answering in part.
  assert.throws(() => b.changesSince(new Uint8Array(0)), (e) => e.code === 'WEFT_ETRIMMED');
  assert.ok(b.changesSince(b.historyBase()) instanceof Uint8Array);

  // The joined snapshot is the local base: reopened from storage alone, offline.
  await b.close();
  const again = track(await openSpace({ storage: 'memory', space: b.id, storage: store }));
  assert.equal(again.stateHash(), a.stateHash());
});

test('writers and readers never publish; their joiners replay the log', { skip, timeout: 120_000 }, async () => {
  const r = await startRelay();
  relays.push(r);
  const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
  const owner = track(await createSpace({ storage: 'memory' }));
  const w = track(await openSpace({ storage: 'memory', invite: owner.invite({ rights: 'write' }), relay: r.url, sync }));
  const events = [];
  w.on('snapshot', (e) => events.push(e));
  await write(w, 2 * SNAPSHOT_PUBLISH_CHANGES, 50);
  await until('w synced', () => w.status.state === 'synced' && w.status.pending === 0);
  await new Promise((res) => setTimeout(res, 300));
  assert.deepEqual(events, []);
  const got = await fetch(`http://127.0.0.1:${r.port}/metrics`).then((x) => x.text());
  assert.match(got, /weft_relay_snapshots_stored_total 0\b/);
  const j = track(await openSpace({ storage: 'memory', invite: owner.invite({ rights: 'read' }), relay: r.url, sync }));
  const joins = [];
  j.on('snapshot', (e) => joins.push(e));
  await until('j converges', () => j.status.state === 'synced' && j.stateHash() === w.stateHash());
  assert.deepEqual(joins, []);
});

test('the relay asks its admins for a snapshot (--snapshot-wanted): the owner publishes after 40 changes, the writer is not asked', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay({ args: ['--snapshot-wanted', '30'] });
  relays.push(r);
  const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
  const owner = track(await createSpace({ storage: 'memory', relay: r.url, sync }));
  const w = track(await openSpace({ storage: 'memory', invite: owner.invite({ rights: 'write' }), relay: r.url, sync }));
  const errors = [], published = [];
  owner.on('error', (e) => errors.push(['owner', e.code]));
  w.on('error', (e) => errors.push(['w', e.code]));
  owner.on('snapshot', (e) => published.push(e));
  const metric = async (name) => Number((await fetch(`http://127.0.0.1:${r.port}/metrics`).then((x) => x.text())).match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1]);
  await write(w, 40, 10); // far below what the owner's device counts before publishing on its own
  await until('w synced', () => w.status.state === 'synced' && w.status.pending === 0);
  await until('the owner published', () => published.some((e) => e.published));
  // Asked once: the owner's session (the writer's token grants no admin).
  assert.equal(await metric('weft_relay_snapshots_wanted_total'), 1);
  assert.equal(await metric('weft_relay_snapshots_stored_total'), published.filter((e) => e.published).length);
  assert.deepEqual(errors, [], 'the request is not an error');
  // A reader joining now starts from that snapshot.
  const j = track(await openSpace({ storage: 'memory', invite: owner.invite({ rights: 'read' }), relay: r.url, sync }));
  const joins = [];
  j.on('snapshot', (e) => joins.push(e));
  await until('j converges', () => j.status.state === 'synced' && j.stateHash() === w.stateHash());
  assert.equal(joins.length, 1);
});

// ---- a relay that lies ----

function frame(type, ...parts) {
  const out = [PROTOCOL_VERSION, type];
  for (const p of parts) out.push(...p);
  return Uint8Array.from(out);
}
function varint(n) {
  const out = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}
const bytes = (b) => [...varint(b.length), ...b];

/**
 * A relay on loopback that serves `snapshot` ({ record, token }) to a
 * SNAPSHOT_GET and the whole log (`records`) to a HELLO without a far cursor.
 */
async function lyingRelay(records, snapshot) {
  const port = await freePort();
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  servers.push(wss);
  await new Promise((r) => wss.once('listening', r));
  const seen = { hellos: [], snapshotGets: 0 };
  wss.on('connection', (ws) => {
    let hello = null;
    ws.on('message', (data) => {
      const buf = new Uint8Array(data);
      // SNAPSHOT_GET has no payload, and a client's codec does not decode it.
      const f = buf[1] === FRAME.SNAPSHOT_GET ? { type: FRAME.SNAPSHOT_GET } : decodeFrame(buf, { peer: true });
      if (f.type === FRAME.HELLO) {
        hello = f;
        seen.hellos.push(f.cursor);
        ws.send(encodeChallenge(new Uint8Array(32), 1, new Uint8Array(0)));
      } else if (f.type === FRAME.PROOF) {
        const far = hello.cursor !== null && hello.cursor >= 1;
        if (!far) ws.send(encodeChanges(records));
        ws.send(frame(FRAME.ACK, varint(1)));
      } else if (f.type === FRAME.SNAPSHOT_GET) {
        seen.snapshotGets++;
        ws.send(frame(FRAME.SNAPSHOT, [0], varint(1), bytes(snapshot.token), bytes(snapshot.record)));
      }
    });
  });
  return { url: `ws://127.0.0.1:${port}`, seen };
}

test('a snapshot that fails a check is refused, never loaded; the replica takes the log', { timeout: 60_000 }, async () => {
  const a = track(await createSpace({ storage: 'memory' }));
  for (let i = 0; i < 20; i++) await a.collection('notes').put(`n${i}`, { i });
  const { core, meta } = a._internal;
  const log = a.changesSince();
  const records = core.splitRecords(log).map((x) => x.record.slice());
  const sealBy = (author, authorSecret, contentKey = meta.contentKey) => {
    const rep = new Replica(core, { space: meta.space, author, authorSecret, contentKey });
    try {
      if (contentKey === meta.contentKey) rep.apply(log);
      return rep.publishSnapshot(1, Date.now());
    } finally {
      rep.close();
    }
  };
  const writer = core.keypair();
  const writerToken = core.tokenIssue({ space: meta.space, issuerSecret: meta.spaceSecret, grantee: writer.publicKey, rights: RIGHT.WRITE });
  const good = sealBy(meta.author, meta.authorSecret);
  const badSig = good.slice();
  badSig[badSig.length - 1] ^= 1;
  const cases = [
    ['a writer published it', { record: sealBy(writer.publicKey, writer.secretKey), token: writerToken }, 'WEFT_ERIGHTS'],
    ['the signature is broken', { record: badSig, token: meta.token }, 'WEFT_ESIGNATURE'],
    ['it does not open with the space\'s key', { record: sealBy(meta.author, meta.authorSecret, core.random(32)), token: meta.token }, 'WEFT_ECRYPTO'],
    ['the admin token is for someone else', { record: good, token: writerToken }, 'WEFT_ERIGHTS'],
  ];
  for (const [what, snap, code] of cases) {
    const relay = await lyingRelay(records, snap);
    const b = track(await openSpace({ storage: 'memory', invite: a.invite({ rights: 'read' }), relay: relay.url, sync: { WebSocket, minDelay: 50, maxDelay: 400 } }));
    const errors = [];
    const joins = [];
    b.on('error', (e) => errors.push(e));
    b.on('snapshot', (e) => joins.push(e));
    await until(`${what}: b reads the log`, () => b.stateHash() === a.stateHash());
    assert.equal(errors[0]?.code, code, `${what}: ${errors[0]?.message}`);
    assert.deepEqual(joins, [], `${what}: nothing was loaded from it`);
    assert.equal(relay.seen.snapshotGets, 1, `${what}: asked once, then the log`);
    assert.equal(relay.seen.hellos[1], null, `${what}: the second HELLO asks for everything`);
    await b.close();
  }
  // The same relay with a good snapshot: joined from it.
  const relay = await lyingRelay(records, { record: good, token: meta.token });
  const b = track(await openSpace({ storage: 'memory', invite: a.invite({ rights: 'read' }), relay: relay.url, sync: { WebSocket, minDelay: 50, maxDelay: 400 } }));
  const joins = [];
  const changes = [];
  b.on('snapshot', (e) => joins.push(e));
  b.on('change', (e) => changes.push(e)); // built only when listened to: here it is
  await until('b joined from the good snapshot', () => b.stateHash() === a.stateHash());
  assert.equal(joins.length, 1);
  assert.equal(relay.seen.hellos.length, 1);
  await until('the join is told as a change of everything', () => changes.some((e) => e.all));
  assert.deepEqual(changes.find((e) => e.all), { docs: [], local: false, remote: true, all: true });
});

test('snapshots larger than the relay\'s frames go over REST both ways (POST on publish, GET on USE_REST)', { skip, timeout: 120_000 }, async () => {
  // Frames up to 1.1 MiB: the client's CHANGES frames (at most 1 MiB) fit, a 1.5 MB snapshot does not.
  const FRAME = 1_150_000;
  const r = await startRelay({ args: ['--max-frame', String(FRAME)] });
  relays.push(r);
  const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
  const a = track(await createSpace({ storage: 'memory', relay: r.url, sync }));
  const published = [];
  const errors = [];
  a.on('snapshot', (e) => published.push(e));
  a.on('error', (e) => errors.push(e));
  // ~1.5 MB of state (400 documents of ~3.6 KB), 1,100 changes.
  const c = a.collection('notes');
  for (let i = 0; i < 1100; i += 100) await Promise.all(Array.from({ length: 100 }, (_, k) => a.transact(() => c.put(`n${(i + k) % 400}`, { body: `${i + k} `.repeat(900) }))));
  await until('a published', () => published.length > 0);
  assert.ok(published[0].bytes > FRAME, `a snapshot of ${published[0].bytes} bytes, larger than a frame`);
  assert.deepEqual(errors.map((e) => e.message), []);
  const joins = [];
  const b = track(await openSpace({ storage: 'memory', invite: a.invite({ rights: 'read' }), relay: r.url, sync }));
  b.on('snapshot', (e) => joins.push(e));
  await until('b converges', () => b.status.state === 'synced' && b.stateHash() === a.stateHash());
  assert.equal(joins.length, 1, 'joined from the snapshot fetched over REST');
  const m = await fetch(`http://127.0.0.1:${r.port}/metrics`).then((x) => x.text());
  assert.match(m, /weft_relay_snapshots_served_total [1-9]/);
});

test('an admin device remembers the newest snapshot it knows: reconnecting publishes nothing until more history', { skip, timeout: 120_000 }, async () => {
  const r = await startRelay();
  relays.push(r);
  const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
  const storage = memoryStorage();
  const a = await createSpace({ storage, relay: r.url, sync });
  const events = [];
  a.on('snapshot', (e) => events.push(e));
  await write(a, SNAPSHOT_PUBLISH_CHANGES + 100, 50);
  await until('published', () => events.length === 1);
  const id = a.id;
  await a.close();
  const again = track(await openSpace({ storage: 'memory', space: id, storage, relay: r.url, sync }));
  const later = [];
  again.on('snapshot', (e) => later.push(e));
  await until('synced again', () => again.status.state === 'synced');
  await again.collection('notes').put('one more', { v: 1 });
  await until('acked', () => again.status.pending === 0);
  await new Promise((res) => setTimeout(res, 300));
  assert.deepEqual(later, [], 'nothing new to publish');
  await write(again, SNAPSHOT_PUBLISH_CHANGES, 50);
  await until('published after enough new history', () => later.length === 1);
  assert.ok(later[0].rseq > events[0].rseq);
});

test('a replica far behind, with nothing of its own to send, catches up from the snapshot', { skip, timeout: 180_000 }, async () => {
  const r = await startRelay();
  relays.push(r);
  const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
  const a = track(await createSpace({ storage: 'memory', relay: r.url, sync }));
  await write(a, 100, 50);
  await until('a synced', () => a.status.state === 'synced' && a.status.pending === 0);
  const storage = memoryStorage();
  const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'read' }), storage, relay: r.url, sync });
  await until('b synced', () => b.status.state === 'synced' && b.stateHash() === a.stateHash());
  const id = b.id;
  await b.close();
  const published = [];
  a.on('snapshot', (e) => published.push(e));
  await write(a, 3000, 50);
  await until('a published', () => published.length > 0 && a.status.pending === 0);
  const counter = { bytes: 0 };
  const again = track(await openSpace({ storage: 'memory', space: id, storage, relay: r.url, sync: { ...sync, WebSocket: countingWS(counter) } }));
  const joins = [];
  again.on('snapshot', (e) => joins.push(e));
  const seen = [];
  again.collection('notes').subscribe({}, (rows) => seen.push(rows.map((x) => x.data.v)));
  await until('b converges', () => again.status.state === 'synced' && again.stateHash() === a.stateHash());
  assert.equal(joins.length, 1, 'rejoined from the snapshot');
  assert.ok(counter.bytes < 100_000, `received ${counter.bytes} bytes for 3,000 changes`);
  await until('its live query saw the new state', () => seen.at(-1)?.includes(2999));
  assert.ok(again.historyBase().length > 0);
});
