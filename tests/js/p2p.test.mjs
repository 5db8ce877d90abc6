// Presence (Node, real relay) and peer-to-peer sync over WebRTC data
// channels (real Chromium through playwright-core, loopback host
// candidates, no STUN server), plus two tabs of one profile while offline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { createSpace, openSpace } from '../../wasm/src/index.js';
import { haveRelay, startRelay, RELAY } from './relay.mjs';
import { startServer, newPage as openPage } from './server.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const noRelay = haveRelay ? false : `no relay at ${RELAY} (tools/build native builds it)`;
const noBrowser = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (tools/setup installs it)`;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const sync = { WebSocket, minDelay: 50, maxDelay: 300 };

const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
});

async function until(what, fn, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('presence: peers see each other\'s state through the relay, sealed; updates, unsubscribe, leave and timeout', { skip: noRelay, timeout: 60_000 }, async () => {
  const relay = await startRelay();
  cleanup.push(() => relay.stop());
  const presence = { interval: 200, timeout: 800 };
  const a = await createSpace({ storage: 'memory', relay: relay.url, sync, presence });
  cleanup.push(() => a.close());
  const b = await openSpace({ storage: 'memory', invite: a.invite(), relay: relay.url, sync, presence });
  cleanup.push(() => b.close());
  // a space of its own on the same relay hears nothing
  const other = await createSpace({ storage: 'memory', relay: relay.url, sync, presence });
  cleanup.push(() => other.close());
  const seenA = [];
  const seenB = [];
  const seenOther = [];
  a.presence.on((p) => seenA.push(p));
  const offB = b.presence.on((p) => seenB.push(p));
  other.presence.on((p) => seenOther.push(p));
  // every SIGNAL/PRESENCE frame the relay hands the other space's link, sealed or not
  let framesToOther = 0;
  other.on('relay:frame', () => framesToOther++);
  other.presence.set({ name: 'stranger' });
  a.presence.set({ name: 'alice', cursor: [1, 2] });
  b.presence.set({ name: 'bob' });
  await until('a sees b', () => seenA.at(-1)?.length === 1);
  await until('b sees a', () => seenB.at(-1)?.length === 1);
  assert.deepEqual(seenA.at(-1), [{ author: b.author, state: { name: 'bob' } }]);
  assert.deepEqual(seenB.at(-1), [{ author: a.author, state: { name: 'alice', cursor: [1, 2] } }]);
  // an update arrives without waiting for the next round
  const t0 = Date.now();
  a.presence.set({ name: 'alice', cursor: [3, 4] });
  await until('b sees the update', () => seenB.at(-1)?.[0]?.state.cursor[0] === 3);
  const presenceMs = Date.now() - t0;
  // unsubscribe stops the calls
  offB();
  const n = seenB.length;
  a.presence.set({ name: 'alice', cursor: [5, 6] });
  await until('a\'s next state reaches b', () => b.presence.peers[0]?.state.cursor[0] === 5);
  assert.equal(seenB.length, n);
  // the relay's log shows nothing of the states; the other space heard no one
  assert.equal(seenOther.every((p) => p.length === 0), true);
  assert.equal(framesToOther, 0, 'the relay forwards presence only within the space');
  assert.doesNotMatch(relay.log(), /alice|bob/);
  // a peer that closes says goodbye: gone at once
  const c = await openSpace({ storage: 'memory', invite: a.invite(), relay: relay.url, sync, presence });
  c.presence.set({ name: 'carol' });
  await until('a sees carol', () => seenA.at(-1)?.length === 2);
  await c.close();
  await until('carol left', () => seenA.at(-1)?.length === 1);
  // a peer that goes silent (its link cut) times out
  const d = await openSpace({ storage: 'memory', invite: a.invite(), relay: relay.url, sync, presence });
  d.presence.set({ name: 'dave' });
  await until('a sees dave', () => seenA.at(-1)?.length === 2);
  const gone = Date.now();
  await d._internal.sync().close(); // no goodbye: the link just ends
  await until('dave timed out', () => seenA.at(-1)?.length === 1, 5_000);
  assert.ok(Date.now() - gone >= 500, 'not before the timeout');
  await d.close();
  // bad states
  assert.throws(() => a.presence.set({ f: 1n }), { code: 'WEFT_EINVAL' });
  assert.throws(() => a.presence.set('x'.repeat(70_000)), { code: 'WEFT_ETOOBIG' });
  console.log(`# presence update through the relay: ${presenceMs} ms`);
});

test('p2p in Node without WebRTC is refused with a clear error', async () => {
  await assert.rejects(createSpace({ storage: 'memory', relay: 'ws://127.0.0.1:1', p2p: true, sync }), { code: 'WEFT_EUNAVAILABLE' });
  await assert.rejects(createSpace({ storage: 'memory', p2p: { RTCPeerConnection: class {} } }), { code: 'WEFT_EINVAL' });
});

test('p2p in Node with werift\'s RTCPeerConnection: two replicas link, then sync without the relay', { skip: noRelay, timeout: 60_000 }, async (t) => {
  let werift;
  try {
    werift = await import('werift');
  } catch {
    t.skip('werift is not installed (tools/setup installs tests/js dependencies)');
    return;
  }
  const relay = await startRelay();
  cleanup.push(() => relay.stop());
  const p2p = { RTCPeerConnection: werift.RTCPeerConnection, iceServers: [] };
  const presence = { interval: 300, timeout: 3000 };
  const a = await createSpace({ storage: 'memory', relay: relay.url, sync, p2p, presence });
  cleanup.push(() => a.close());
  const b = await openSpace({ storage: 'memory', invite: a.invite(), relay: relay.url, sync, p2p, presence });
  cleanup.push(() => b.close());
  const errors = [];
  for (const s of [a, b]) s.p2p.on('error', (e) => errors.push(e.message));
  await until('linked', () => a.p2p.peers.includes(b.author) && b.p2p.peers.includes(a.author), 20_000);
  await relay.stop({ keepData: true });
  await a.collection('x').put('from-a', { v: 1 });
  await b.collection('x').put('from-b', { v: 2 });
  await until('both ways without the relay', () => a.collection('x').get('from-b')?.v === 2 && b.collection('x').get('from-a')?.v === 1);
  assert.equal(a.stateHash(), b.stateHash());
  assert.deepEqual(errors, []);
});

test('p2p with werift: a device admitted by grant (a claimed invite, no token) links and syncs without the relay', { skip: noRelay, timeout: 60_000 }, async (t) => {
  let werift;
  try {
    werift = await import('werift');
  } catch {
    t.skip('werift is not installed (tools/setup installs tests/js dependencies)');
    return;
  }
  const relay = await startRelay();
  cleanup.push(() => relay.stop());
  const p2p = { RTCPeerConnection: werift.RTCPeerConnection, iceServers: [] };
  const presence = { interval: 300, timeout: 3000 };
  const a = await createSpace({ storage: 'memory', relay: relay.url, sync, p2p, presence });
  cleanup.push(() => a.close());
  // (A space with no change yet does not hand joiners its format level:
  // the relay sends level records with the changes.)
  await a.collection('x').put('first', { v: 0 });
  const link = await a.invite({ uses: 1 });
  await until('the invite reached the relay', () => a.status.state === 'synced' && a.status.pending === 0);
  const g = await openSpace({ storage: 'memory', invite: link, relay: relay.url, sync, p2p, presence });
  cleanup.push(() => g.close());
  assert.equal(g._internal.meta.byGrant, true);
  assert.ok(g.p2p, 'p2p is on for a device admitted by grant');
  const errors = [];
  for (const s of [a, g]) s.p2p.on('error', (e) => errors.push(`${e.code} ${e.message}`));
  await until('linked', () => a.p2p.peers.includes(g.author) && g.p2p.peers.includes(a.author), 30_000).catch((e) => {
    throw new Error(`${e.message}: ${errors.join('; ')}`);
  });
  await relay.stop({ keepData: true });
  await a.collection('x').put('from-a', { v: 1 });
  await g.collection('x').put('from-g', { v: 2 });
  await until('both ways without the relay', () => a.collection('x').get('from-g')?.v === 2 && g.collection('x').get('from-a')?.v === 1);
  assert.equal(a.stateHash(), g.stateHash());
  // Until the claim reaches the owner through the relay, it admits no such key.
  assert.deepEqual(errors.filter((m) => !m.startsWith('WEFT_ENOTMEMBER')), []);
  assert.deepEqual(a.p2p.refused, {});
});

// ---- Chromium ----

let server;
let browser;

before(async () => {
  if (noBrowser) return;
  const { chromium } = await import('playwright-core');
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  cleanup.push(() => server.close());
  cleanup.push(() => browser.close());
});

const newPage = (context) => openPage(context, server.url);

/** Opens the space on the page: window.space, window.errs (space errors). */
async function open(page, args) {
  return page.evaluate(async ({ url, link, p2p, create }) => {
    const opts = { storage: 'memory', relay: url, sync: { minDelay: 50, maxDelay: 300 }, presence: { interval: 300, timeout: 3000 } };
    if (p2p) opts.p2p = { iceServers: [] };
    const s = create ? await window.weftdb.createSpace(opts) : await window.weftdb.openSpace({ invite: link, ...opts });
    window.space = s;
    window.errs = [];
    s.on('error', (e) => window.errs.push(`${e.code}: ${e.message}`));
    s.p2p?.on('error', (e) => window.errs.push(`p2p ${e.code}: ${e.message}`));
    return { link: create ? s.invite({ rights: 'write' }) : null, author: s.author };
  }, args);
}

/** Puts a doc on `from` and measures how long until `to` has it (ms, measured in the page clocks' common origin: Date.now). */
async function latency(from, to, id) {
  const wait = to.evaluate((id) => new Promise((resolve) => {
    const off = window.space.collection('lat').subscribe((rows) => {
      const r = rows.find((x) => x.id === id);
      if (r) {
        off();
        resolve(Date.now() - r.data.t);
      }
    });
  }), id);
  await from.evaluate((id) => window.space.collection('lat').put(id, { t: Date.now() }), id);
  return wait;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

test('p2p: two pages link over WebRTC, keep syncing without the relay, and converge with a relay-only page when it returns', { skip: noBrowser || noRelay, timeout: 120_000 }, async () => {
  let relay = await startRelay();
  const ctxs = await Promise.all([browser.newContext(), browser.newContext(), browser.newContext()]);
  try {
    const [a, b, c] = await Promise.all(ctxs.map((x) => newPage(x)));
    const { link, author: authorA } = await open(a, { url: relay.url, p2p: true, create: true });
    const { author: authorB } = await open(b, { url: relay.url, link, p2p: true });
    await a.waitForFunction((x) => window.space.p2p.peers.includes(x), authorB, { timeout: 20_000 });
    await b.waitForFunction((x) => window.space.p2p.peers.includes(x), authorA, { timeout: 20_000 });
    // P2P latency, both peers on the relay too: the data channel wins.
    const p2pMs = [];
    for (let i = 0; i < 10; i++) p2pMs.push(await latency(i % 2 ? a : b, i % 2 ? b : a, `p${i}`));
    // the relay goes away; the peers keep editing, both ways
    await relay.stop({ keepData: true });
    await a.waitForFunction(() => window.space.status.state !== 'synced');
    await a.evaluate(() => window.space.collection('todos').put('a-off', { by: 'a' }));
    await b.evaluate(() => window.space.collection('todos').put('b-off', { by: 'b' }));
    await a.evaluate(() => window.space.collection('ctr').increment('c', 'n', 2));
    await b.evaluate(() => window.space.collection('ctr').increment('c', 'n', 3));
    await b.waitForFunction(() => window.space.collection('todos').get('a-off')?.by === 'a');
    await a.waitForFunction(() => window.space.collection('todos').get('b-off')?.by === 'b');
    await a.waitForFunction(() => window.space.collection('ctr').get('c')?.n === 5);
    await b.waitForFunction(() => window.space.collection('ctr').get('c')?.n === 5);
    const offlineMs = [];
    for (let i = 0; i < 10; i++) offlineMs.push(await latency(i % 2 ? a : b, i % 2 ? b : a, `off${i}`));
    assert.equal(await a.evaluate(() => window.space.stateHash()), await b.evaluate(() => window.space.stateHash()));
    assert.ok(await a.evaluate(() => window.space.status.pending) >= 2, 'a\'s own offline changes wait for the relay');
    // the relay returns; a third page only uses the relay
    relay = await startRelay({ port: relay.port, dataDir: relay.data });
    await open(c, { url: relay.url, link });
    await c.waitForFunction(() => window.space.collection('todos').list().length === 2 && window.space.collection('ctr').get('c')?.n === 5, null, { timeout: 20_000 });
    await c.evaluate(() => window.space.collection('todos').put('c1', { by: 'c' }));
    await a.waitForFunction(() => window.space.collection('todos').get('c1')?.by === 'c', null, { timeout: 20_000 });
    await b.waitForFunction(() => window.space.collection('todos').get('c1')?.by === 'c', null, { timeout: 20_000 });
    for (const p of [a, b, c]) await p.waitForFunction(() => window.space.status.state === 'synced' && window.space.status.pending === 0, null, { timeout: 20_000 }).catch(async (e) => {
      throw new Error(`${e.message}: ${JSON.stringify(await Promise.all([a, b, c].map((q) => q.evaluate(() => { const y = window.space._internal.sync(); return [window.space.status, window.errs, [...y.outbox.keys()], [...y.parked], y.sent, y.parkedRetried, window.space.versionVector().length]; }))))}`);
    });
    const hashes = await Promise.all([a, b, c].map((p) => p.evaluate(() => window.space.stateHash())));
    assert.equal(hashes[0], hashes[1]);
    assert.equal(hashes[0], hashes[2]);
    // relay latency: page c (relay only) to page a
    const relayMs = [];
    for (let i = 0; i < 10; i++) relayMs.push(await latency(i % 2 ? a : c, i % 2 ? c : a, `r${i}`));
    console.log(`# latency, one put to the other page's live query (median of 10): p2p with the relay up too ${median(p2pMs)} ms, relay ${median(relayMs)} ms; p2p only (relay down) ${median(offlineMs)} ms`);
    // tools/bench sets this to put the figures beside the others.
    if (process.env.WEFT_BENCH_P2P_JSON) {
      const workload = 'sync latency: one put to the other page\'s live query, Chromium, loopback';
      const rec = (metric, value) => ({ workload, impl: 'weftdb-chromium', metric, value, unit: 'ms' });
      writeFileSync(process.env.WEFT_BENCH_P2P_JSON, JSON.stringify([
        rec('p2p (relay up too), median of 10', median(p2pMs)),
        rec('p2p only (relay down), median of 10', median(offlineMs)),
        rec('relay only (fsync before fan-out), median of 10', median(relayMs)),
      ], null, 1));
    }
    for (const p of [a, b, c]) {
      // GOING_AWAY: the relay was stopped on purpose
      assert.deepEqual((await p.evaluate(() => window.errs)).filter((e) => !/GOING_AWAY/.test(e)), []);
      assert.deepEqual(p.errors, []);
    }
  } finally {
    for (const x of ctxs) await x.close();
    await relay.stop();
    rmSync(relay.data, { recursive: true, force: true });
  }
});

test('p2p between Chromium and Node (werift): linked, then syncing without the relay', { skip: noBrowser || noRelay, timeout: 60_000 }, async (t) => {
  let werift;
  try {
    werift = await import('werift');
  } catch {
    t.skip('werift is not installed');
    return;
  }
  const relay = await startRelay();
  const context = await browser.newContext();
  let node = null;
  try {
    const page = await newPage(context);
    const { link } = await open(page, { url: relay.url, p2p: true, create: true });
    node = await openSpace({ storage: 'memory', invite: link, relay: relay.url, sync, p2p: { RTCPeerConnection: werift.RTCPeerConnection, iceServers: [] }, presence: { interval: 300, timeout: 3000 } });
    await until('linked', async () => node.p2p.peers.length === 1 && (await page.evaluate(() => window.space.p2p.peers.length)) === 1, 40_000);
    await relay.stop({ keepData: true });
    await node.collection('x').put('from-node', { v: 1 });
    await page.evaluate(() => window.space.collection('x').put('from-page', { v: 2 }));
    await page.waitForFunction(() => window.space.collection('x').get('from-node')?.v === 1);
    await until('node has the page\'s change', () => node.collection('x').get('from-page')?.v === 2);
    assert.equal(await page.evaluate(() => window.space.stateHash()), node.stateHash());
    assert.deepEqual((await page.evaluate(() => window.errs)).filter((e) => !/GOING_AWAY/.test(e)), []);
  } finally {
    await node?.close();
    await context.close();
    await relay.stop();
  }
});

test('p2p handshake: no change is accepted or served before a valid token and proof from the key that signaled', { skip: noBrowser, timeout: 60_000 }, async () => {
  const context = await browser.newContext();
  try {
    const page = await newPage(context);
    const out = await page.evaluate(async () => {
      const { _Link, peerProofSign, sdpFingerprints } = await import('/pkg/src/p2p.js');
      const Fr = await import('/pkg/src/frames.js');
      const { createSpace, openSpace } = window.weftdb;
      const s = await createSpace({ storage: 'memory' });
      await s.collection('secret').put('s1', { v: 'owner data' });
      // a real member (the attacker's best case: it holds a write invite)
      const member = await openSpace({ invite: s.invite({ rights: 'write' }), storage: 'memory' });
      await member.collection('m').put('m1', { v: 'member change' });
      const memberRecord = member.changesSince(s.versionVector());
      const mm = member._internal.meta;
      const bad = new Uint8Array(64);
      // One attacker run: a real RTCPeerConnection against a link that believes it talks to `claimed`.
      async function run(claimed, script) {
        const errors = [];
        const got = [];
        let pc;
        const remoteCands = [];
        let remoteSet = false;
        const ctx = {
          si: s._internal, space: s, opts: { RTCPeerConnection, iceServers: [], connectTimeout: 10_000 },
          events: { emit: (n, e) => errors.push(e.message) },
          sendSignal: (key, obj) => {
            if (obj.t === 'answer') pc.setRemoteDescription({ type: 'answer', sdp: obj.sdp }).then(() => {
              remoteSet = true;
              for (const c of remoteCands) pc.addIceCandidate(c);
            });
            if (obj.t === 'cand') remoteSet ? pc.addIceCandidate(obj.c) : remoteCands.push(obj.c);
          },
        };
        const link = new _Link({ ctx, _changed() {} }, claimed, 'attacker', 'sid', 'cid', false);
        pc = new RTCPeerConnection({ iceServers: [] });
        const dc = pc.createDataChannel('weft');
        dc.binaryType = 'arraybuffer';
        pc.onicecandidate = (e) => e.candidate && link.addCandidate(e.candidate.toJSON());
        await pc.setLocalDescription(await pc.createOffer());
        await link.answer(pc.localDescription.sdp);
        await new Promise((r) => (dc.onopen = r));
        const next = () => new Promise((r) => {
          if (got.length) return r(got.shift());
          dc.onmessage = (ev) => r(Fr.decodeFrame(new Uint8Array(ev.data), { peer: true }));
          setTimeout(() => r(null), 5000); // generous: a loaded machine opens data channels slowly
        });
        const frames = [];
        const hello = await next(); // the link's own HELLO
        frames.push(hello.type);
        await script(dc, next, frames, pc);
        await new Promise((r) => setTimeout(r, 200));
        pc.close();
        return { frames, errors, live: link.live, closed: link.closed };
      }
      const results = {};
      // 1. CHANGES before any handshake
      results.early = await run(mm.author, async (dc, next, frames) => {
        dc.send(Fr.encodeChanges([memberRecord]));
        const f = await next();
        frames.push(f && [f.type, f.name, f.fatal]);
      });
      results.afterEarly = s.collection('m').get('m1') ?? null;
      // 2. a HELLO naming another key than the one that signaled
      results.otherKey = await run(new Uint8Array(32).fill(9), async (dc, next, frames) => {
        dc.send(Fr.encodeHello({ space: mm.space, key: mm.author, vv: new Uint8Array(0), token: mm.token }));
        const f = await next();
        frames.push(f && [f.type, f.name, f.fatal]);
      });
      // 3. the right key and token, a forged proof: no data served
      results.badProof = await run(mm.author, async (dc, next, frames) => {
        dc.send(Fr.encodeHello({ space: mm.space, key: mm.author, vv: new Uint8Array(0), token: mm.token }));
        const ch = await next();
        frames.push(ch && ch.type);
        dc.send(Fr.encodeProof(bad));
        const f = await next();
        frames.push(f && [f.type, f.name, f.fatal]);
      });
      // 4. a real member: proof accepted, the owner's data served, its change accepted
      results.good = await run(mm.author, async (dc, next, frames, pc) => {
        dc.send(Fr.encodeHello({ space: mm.space, key: mm.author, vv: new Uint8Array(0), token: mm.token }));
        const ch = await next();
        frames.push(ch && ch.type);
        // bound to this channel: the attacker's DTLS fingerprint, then the link's
        const mine = sdpFingerprints(pc.localDescription.sdp);
        const theirs = sdpFingerprints(pc.remoteDescription.sdp);
        dc.send(Fr.encodeProof(peerProofSign(s._internal.core, mm, ch.nonce, mine, theirs)));
        const f = await next();
        frames.push(f && f.type);
        dc.send(Fr.encodeChanges([memberRecord]));
      });
      await new Promise((r) => setTimeout(r, 100));
      results.memberDoc = s.collection('m').get('m1') ?? null;
      return results;
    });
    const HELLO = 1;
    const CHALLENGE = 2;
    const CHANGES = 4;
    const ERROR = 8;
    assert.deepEqual(out.early.frames, [HELLO, [ERROR, 'UNEXPECTED', true]]);
    assert.equal(out.early.closed, true);
    assert.equal(out.afterEarly, null, 'a change sent before the handshake is not applied');
    assert.deepEqual(out.otherKey.frames, [HELLO, [ERROR, 'AUTH', true]]);
    assert.deepEqual(out.badProof.frames, [HELLO, CHALLENGE, [ERROR, 'PROOF', true]]);
    assert.equal(out.badProof.live, false);
    assert.deepEqual(out.good.frames, [HELLO, CHALLENGE, CHANGES]);
    assert.deepEqual(out.memberDoc, { v: 'member change' }, 'accepted only after the proof');
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('presence in two tabs of one profile: the follower sees the leader\'s list and sets the shared state', { skip: noBrowser || noRelay, timeout: 60_000 }, async () => {
  const relay = await startRelay();
  const context = await browser.newContext();
  let node = null;
  try {
    const opts = { storage: 'indexeddb', relay: relay.url, sync: { minDelay: 50, maxDelay: 300 }, presence: { interval: 300, timeout: 3000 } };
    const a = await newPage(context);
    const { id, link } = await a.evaluate(async (opts) => {
      window.space = await window.weftdb.createSpace(opts);
      return { id: window.space.id, link: window.space.invite() };
    }, opts);
    const b = await newPage(context);
    await b.evaluate(async ({ id, opts }) => {
      window.space = await window.weftdb.openSpace({ space: id, ...opts });
      window.seen = [];
      window.space.presence.on((p) => window.seen.push(p.map((x) => x.state.name)));
    }, { id, opts });
    node = await openSpace({ storage: 'memory', invite: link, relay: relay.url, sync, presence: { interval: 300, timeout: 3000 } });
    node.presence.set({ name: 'node' });
    await b.waitForFunction(() => window.seen.at(-1)?.[0] === 'node');
    assert.equal(await b.evaluate(() => window.space._internal.isWriter()), false, 'b follows');
    await b.evaluate(() => window.space.presence.set({ name: 'tab b' }));
    await until('node sees the tabs\' state', () => node.presence.peers[0]?.state.name === 'tab b');
    // the leader goes; the follower leads, keeps its state and its list
    await a.close();
    await b.waitForFunction(() => window.space._internal.isWriter(), null, { timeout: 20_000 });
    node.presence.set({ name: 'node 2' });
    await b.waitForFunction(() => window.seen.at(-1)?.[0] === 'node 2', null, { timeout: 20_000 });
    await until('node still sees the tab', () => node.presence.peers.length === 1 && node.presence.peers[0].state.name === 'tab b');
    assert.deepEqual(b.errors, []);
  } finally {
    await node?.close();
    await context.close();
    await relay.stop();
  }
});

test('two tabs of one profile see each other\'s edits with the network offline (BroadcastChannel)', { skip: noBrowser, timeout: 60_000 }, async () => {
  const context = await browser.newContext();
  try {
    const a = await newPage(context);
    const id = await a.evaluate(async () => {
      const s = await window.weftdb.createSpace({ storage: 'indexeddb', relay: 'ws://127.0.0.1:9', sync: { minDelay: 50, maxDelay: 300 } });
      window.space = s;
      return s.id;
    });
    const b = await newPage(context);
    await b.evaluate(async (id) => {
      window.space = await window.weftdb.openSpace({ space: id, storage: 'indexeddb', relay: 'ws://127.0.0.1:9', sync: { minDelay: 50, maxDelay: 300 } });
    }, id);
    await context.setOffline(true);
    await a.evaluate(() => window.space.collection('n').put('from-a', { v: 1 }));
    await b.evaluate(() => window.space.collection('n').put('from-b', { v: 2 }));
    await b.waitForFunction(() => window.space.collection('n').get('from-a')?.v === 1);
    await a.waitForFunction(() => window.space.collection('n').get('from-b')?.v === 2);
    assert.equal(await a.evaluate(() => window.space.stateHash()), await b.evaluate(() => window.space.stateHash()));
    assert.notEqual(await a.evaluate(() => window.space.status.state), 'synced');
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await context.close();
  }
});
