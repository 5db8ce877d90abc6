// What peers check (SECURITY.md "What peers check"), in Node without WebRTC
// or a relay: the real P2P, Link and Presence of wasm/src over a fake
// network. FakePC stands in for RTCPeerConnection (SDP carrying a DTLS
// fingerprint per connection, a data channel that delivers in order), and
// a bus stands in for the relay's SIGNAL and PRESENCE forwarding (it stamps
// the sender's key, as the relay does). Real WebRTC runs in p2p.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace } from '../../wasm/src/index.js';
import { P2P, _Link, peerProofMessage, peerProofSign, sdpFingerprints } from '../../wasm/src/p2p.js';
import { Presence } from '../../wasm/src/presence.js';
import * as Fr from '../../wasm/src/frames.js';
import { fromBase64url } from '../../wasm/src/util.js';

// ---- a fake WebRTC ----

const pcs = new Map();
let nextPc = 1;

function fingerprintOf(id) {
  return Array.from({ length: 32 }, (_, i) => ((id * 37 + i) & 0xff).toString(16).padStart(2, '0')).join(':');
}

class FakeDC {
  constructor() {
    this.readyState = 'connecting';
    this.peer = null;
  }

  send(bytes) {
    if (this.readyState !== 'open') throw new Error('channel not open');
    const copy = bytes.slice();
    setTimeout(() => this.peer?.readyState === 'open' && this.peer.onmessage?.({ data: copy.buffer }), 0);
  }

  _open() {
    this.readyState = 'open';
    this.onopen?.();
  }

  close() {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.onclose?.();
    // after what was sent before it, as SCTP does
    setTimeout(() => this.peer?.close(), 0);
  }
}

/** An RTCPeerConnection whose SDP names its id and its DTLS fingerprint (sdpFp: what it claims instead). */
class FakePC {
  constructor() {
    this.id = nextPc++;
    this.fp = `sha-256 ${fingerprintOf(this.id)}`;
    this.localDescription = null;
    this.remoteDescription = null;
    this.connectionState = 'new';
    pcs.set(this.id, this);
  }

  sdp() {
    return `v=0\r\na=x-fake-pc:${this.id}\r\na=fingerprint:${this.fp.toLowerCase()}\r\n`;
  }

  createDataChannel() {
    this.dc = new FakeDC();
    return this.dc;
  }

  async createOffer() {
    return { type: 'offer', sdp: this.sdp() };
  }

  async createAnswer() {
    return { type: 'answer', sdp: this.sdp() };
  }

  async setLocalDescription(d) {
    this.localDescription = d;
  }

  async setRemoteDescription(d) {
    this.remoteDescription = d;
    // The offerer takes the answer: the channel opens on both sides.
    if (d.type === 'answer' && this.dc) {
      const other = pcs.get(Number(/a=x-fake-pc:(\d+)/.exec(d.sdp)[1]));
      const theirs = new FakeDC();
      this.dc.peer = theirs;
      theirs.peer = this.dc;
      setTimeout(() => {
        other.ondatachannel?.({ channel: theirs });
        theirs._open();
        this.dc._open();
      }, 0);
    }
  }

  async addIceCandidate() {}

  close() {
    this.connectionState = 'closed';
    this.dc?.close();
  }
}

// ---- a fake relay for SIGNAL and PRESENCE ----

/** Wires spaces to one bus: each gets a Presence and a P2P of its own over FakePC. */
function network() {
  const nodes = [];
  const frames = []; // every PRESENCE frame sent: { from, bytes }
  function join(space, presenceOpts = {}) {
    const si = space._internal;
    const handlers = new Set();
    const node = { space, handlers, key: si.meta.author, errors: [], hold: false };
    const sync = {
      live: true,
      sendEphemeral(bytes) {
        if (node.hold) return true;
        const f = Fr.decodeFrame(bytes);
        frames.push({ from: node, type: f.type, bytes: bytes.slice() });
        setTimeout(() => deliver(node, f), 0); // later, as over a network

        return true;
      },
    };
    const port = Object.defineProperties({}, Object.getOwnPropertyDescriptors(si));
    port.sync = () => sync;
    port.on = (n, fn) => {
      if (n !== 'relay:frame') return si.on(n, fn);
      handlers.add(fn);
      return () => handlers.delete(fn);
    };
    port.report = (e) => node.errors.push(e);
    node.presence = new Presence(port, { interval: 100, timeout: 2000, ...presenceOpts });
    node.p2p = new P2P(port, node.presence, { RTCPeerConnection: FakePC, iceServers: [], connectTimeout: 5000 });
    node.p2p.on('error', (e) => node.errors.push(e));
    node.presence.attach();
    node.p2p.attach();
    nodes.push(node);
    return node;
  }
  function deliver(from, f) {
    const zero = f.peer.every((b) => b === 0);
    for (const n of nodes) {
      if (n === from || n.closed) continue;
      if (!zero && !f.peer.every((b, i) => b === n.key[i])) continue;
      for (const fn of n.handlers) fn({ type: f.type, peer: from.key.slice(), data: f.data.slice() });
    }
  }
  function close() {
    for (const n of nodes) {
      n.closed = true;
      n.p2p.close();
      n.presence.close();
    }
  }
  return { join, close, frames, deliver };
}

async function until(what, fn, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Hands `to` the changes of `from` it lacks, as a relay would have. */
function carry(from, to) {
  const buf = from.changesSince(to.versionVector());
  if (buf.length) to._internal.applyRemote(buf);
}

/** Hands `to` the level and membership records of `from`, as the relay would. */
async function carryRecords(from, to, { members = true } = {}) {
  const src = from._opener().syncPort();
  const dst = to._opener().syncPort();
  if (src.levelRecord()) await dst.takeLevel(src.levelRecord());
  if (members) for (const r of from._internal.meta.memberRecords ?? []) await dst.takeMember(r);
}

/** The seq `author` (base64url) has in `space`'s version vector (FORMAT.md §6), 0 when absent. */
function seqOf(space, author) {
  const vv = space.versionVector();
  const key = fromBase64url(author);
  let o = 0;
  while (o + 32 < vv.length) {
    const k = vv.subarray(o, o + 32);
    o += 32;
    let seq = 0;
    let mul = 1;
    let b;
    do {
      b = vv[o++];
      seq += (b & 0x7f) * mul;
      mul *= 128;
    } while (b & 0x80);
    if (k.every((x, i) => x === key[i])) return seq;
  }
  return 0;
}

// ---- tests ----

test('sdpFingerprints: the a=fingerprint lines, canonical, distinct and sorted', () => {
  const sdp = 'v=0\r\na=fingerprint:SHA-256 ab:cd\r\nm=application\r\na=fingerprint:sha-256 AB:CD\r\na=fingerprint:sha-1 01:02\r\n';
  assert.equal(sdpFingerprints(sdp), 'sha-1 01:02\nsha-256 AB:CD');
  assert.equal(sdpFingerprints('v=0\r\n'), '');
  assert.equal(sdpFingerprints(undefined), '');
});

test('peerProofMessage: the bytes PROTOCOL.md 5a says a peer PROOF signs', () => {
  const space = new Uint8Array(32).fill(0x11);
  const nonce = new Uint8Array(32).fill(0x22);
  const long = 'x'.repeat(200); // a two-byte varint length
  const m = peerProofMessage(space, nonce, 'sha-256 AB', long);
  const want = Buffer.concat([Buffer.from('weft-peer-proof-v1'), Buffer.from(space), Buffer.from(nonce),
    Buffer.from([10]), Buffer.from('sha-256 AB'), Buffer.from([0xc8, 0x01]), Buffer.from(long)]);
  assert.equal(Buffer.from(m).toString('hex'), want.toString('hex'));
  assert.equal(m.length, 18 + 64 + 1 + 10 + 2 + 200);
  // the order of the two fingerprints matters: each side signs its own first
  assert.notDeepEqual(peerProofMessage(space, nonce, 'a', 'b'), peerProofMessage(space, nonce, 'b', 'a'));
});

test('peers check grants: a removed member\'s change over a peer link is refused, counted and not stored; the rest is taken', { timeout: 30_000 }, async () => {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  const c = await openSpace({ storage: 'memory', invite: a.invite() });
  const net = network();
  try {
    await b.collection('n').put('b1', { v: 1 });
    carry(b, a);
    carry(b, c);
    // a removes b: b's first change counts, nothing after it. c (granted,
    // so that it gets the new key) hears of it after it took b2.
    await a.grant(c.author, 'write');
    await a.remove(b.author);
    await c.collection('n').put('c1', { v: 3 }); // before b2: a change that depends on a refused one would wait forever
    await b.collection('n').put('b2', { v: 2 });
    carry(b, c);
    await carryRecords(a, c);
    assert.equal(c.keyEpoch, 1);
    assert.equal(c.collection('n').get('b2')?.v, 2, 'c took b2: it has not heard of the removal');
    const before = a.stateHash();
    const na = net.join(a);
    const nc = net.join(c);
    await until('a and c linked', () => na.p2p.peers.includes(c.author) && nc.p2p.peers.includes(a.author));
    await until('c1 reached a', () => a.collection('n').get('c1')?.v === 3);
    assert.equal(a.collection('n').get('b2'), undefined, 'b2 is not applied');
    assert.equal(a.collection('n').get('b1')?.v, 1);
    assert.deepEqual(na.p2p.refused, { REVOKED: 1 });
    assert.notEqual(a.stateHash(), before);
    assert.equal(seqOf(a, b.author), 1, 'nothing of b2 is held');
    assert.equal(seqOf(a, c.author), 1);
    assert.deepEqual(na.errors.map((e) => e.code), ['WEFT_EREVOKED']);
    // c hears why, and the link stays up: refusing a change is not fatal
    await until('c heard the refusal', () => nc.errors.length === 1);
    assert.equal(nc.errors[0].code, 'WEFT_EREVOKED');
    assert.match(nc.errors[0].message, /1 change\(s\) refused \(REVOKED\)/);
    assert.deepEqual(na.p2p.peers, [c.author]);
  } finally {
    net.close();
    for (const s of [a, b, c]) await s.close();
  }
});

test('peers check grants: a removed member is refused at HELLO, and its live link closes when the removal arrives', { timeout: 30_000 }, async () => {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  const net = network();
  try {
    const na = net.join(a);
    const nb = net.join(b);
    await until('linked', () => na.p2p.peers.includes(b.author) && nb.p2p.peers.includes(a.author));
    await a.remove(b.author);
    await until('both ends closed', () => na.p2p.peers.length === 0 && nb.p2p.peers.length === 0);
    assert.ok(na.errors.some((e) => e.code === 'WEFT_EREVOKED'));
    assert.ok(nb.errors.some((e) => /REVOKED/.test(e.message)), 'b was told why');
    // b keeps announcing itself: it is not linked again, and what it writes does not reach a
    await b.collection('n').put('late', { v: 1 });
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(na.p2p.peers, []);
    assert.equal(a.collection('n').get('late'), undefined);
  } finally {
    net.close();
    for (const s of [a, b]) await s.close();
  }
});

test('peers check grants: a device admitted by grant (no token) links by its claim and syncs; a replayed invite is refused', { timeout: 30_000 }, async () => {
  const a = await createSpace({ storage: 'memory' });
  const c = await openSpace({ storage: 'memory', invite: a.invite() }); // a token member
  const link = await a.invite({ uses: 1, rights: 'write' });
  const g = await openSpace({ storage: 'memory', invite: link });
  const g2 = await openSpace({ storage: 'memory', invite: link }); // the same link, claimed again by another key
  assert.equal(g._internal.meta.byGrant, true);
  assert.equal(g._internal.meta.token, undefined, 'no token');
  await carryRecords(a, g); // the format level the invite raised, and the invite
  await carryRecords(a, g2);
  await carryRecords(a, c, { members: false }); // c has not heard of the invite
  const net = network();
  try {
    const na = net.join(a);
    const ng = net.join(g);
    // a issued the invite: g's claim admits it, and a keeps the claim
    await until('a and g linked', () => na.p2p.peers.includes(g.author) && ng.p2p.peers.includes(a.author));
    assert.deepEqual(a.members.find((m) => m.key === g.author)?.rights, 'write');
    await g.collection('n').put('from-g', { v: 1 });
    await a.collection('n').put('from-a', { v: 2 });
    await until('both ways', () => a.collection('n').get('from-g')?.v === 1 && g.collection('n').get('from-a')?.v === 2);
    // c holds no grant of g nor the invite: NOT_MEMBER, until the records reach it
    const nc = net.join(c);
    await until('c refuses g', () => nc.errors.some((e) => e.code === 'WEFT_ENOTMEMBER') || ng.errors.some((e) => e.code === 'WEFT_ENOTMEMBER'));
    assert.equal(nc.p2p.peers.includes(g.author), false);
    await carryRecords(a, c);
    await until('c and g linked', () => nc.p2p.peers.includes(g.author) && ng.p2p.peers.includes(c.author));
    // the second claim of the link: a replayed invite
    const n2 = net.join(g2);
    await until('g2 refused', () => na.errors.some((e) => e.code === 'WEFT_EREPLAY') || n2.errors.some((e) => e.code === 'WEFT_EREPLAY'));
    assert.equal(na.p2p.peers.includes(g2.author), false);
    assert.equal(a.members.some((m) => m.key === g2.author), false, 'nothing of the second claim is kept');
    assert.deepEqual(na.p2p.refused, {});
    assert.deepEqual(ng.p2p.refused, {});
  } finally {
    net.close();
    for (const s of [a, c, g, g2]) await s.close();
  }
});

test('peers check grants: an author the records name is judged by its grants; one they do not, by the sender\'s token', { timeout: 30_000 }, async () => {
  const a = await createSpace({ storage: 'memory' });
  const t = await openSpace({ storage: 'memory', invite: a.invite() }); // any-holder token: not in the records
  const w = await openSpace({ storage: 'memory', invite: a.invite() }); // wrote with a token, then granted read only
  const g = await openSpace({ storage: 'memory', invite: await a.invite({ uses: 1 }) }); // admitted by grant: no token
  const c = await openSpace({ storage: 'memory', invite: a.invite() }); // any-holder write token
  await a.grant(g.author, 'write');
  await t.collection('n').put('from-t', { v: 1 });
  await w.collection('n').put('from-w', { v: 2 });
  await a.grant(w.author, 'read');
  for (const x of [t, w, g, c]) await carryRecords(a, x);
  await g.collection('n').put('from-g', { v: 3 }); // before it holds t's and w's: it does not depend on them
  for (const x of [g, c]) {
    carry(t, x);
    carry(w, x);
  }
  const net = network();
  try {
    const na = net.join(a);
    net.join(g);
    await until('a and g linked', () => na.p2p.peers.includes(g.author));
    await until('g\'s own change taken', () => a.collection('n').get('from-g')?.v === 3);
    // t: no grant, and g has no token that could admit it; w: a read grant
    await until('t\'s and w\'s refused', () => na.p2p.refused.RIGHTS === 2);
    assert.equal(a.collection('n').get('from-t'), undefined);
    assert.equal(a.collection('n').get('from-w'), undefined);
    // c's any-holder write token admits t (as the relay would), not w
    net.join(c);
    await until('a and c linked', () => na.p2p.peers.includes(c.author));
    await until('t\'s change taken from c', () => a.collection('n').get('from-t')?.v === 1);
    await until('w\'s refused again', () => na.p2p.refused.RIGHTS === 3);
    assert.equal(a.collection('n').get('from-w'), undefined);
    assert.deepEqual(na.errors.map((e) => e.code), ['WEFT_ERIGHTS', 'WEFT_ERIGHTS']);
  } finally {
    net.close();
    for (const s of [a, t, w, g, c]) await s.close();
  }
});

test('DTLS binding: a proof signed for another channel than the one negotiated is refused; the right one links', { timeout: 30_000 }, async () => {
  const a = await createSpace({ storage: 'memory' });
  const m = await openSpace({ storage: 'memory', invite: a.invite() });
  const mm = m._internal.meta;
  const core = a._internal.core;
  // One run: the attacker (holding m's keys) answers a link of a's by hand.
  async function run(sign) {
    const errors = [];
    const got = [];
    let pc;
    const ctx = {
      si: a._internal,
      opts: { RTCPeerConnection: FakePC, iceServers: [], connectTimeout: 5000 },
      events: { emit: (n, e) => errors.push(e.message) },
      sendSignal: (key, obj) => {
        if (obj.t === 'answer') pc.setRemoteDescription({ type: 'answer', sdp: obj.sdp });
      },
    };
    const link = new _Link({ ctx, _changed() {}, _refused() {} }, mm.author, 'attacker', 'sid', 'cid', false);
    pc = new FakePC();
    const dc = pc.createDataChannel();
    dc.onmessage = (ev) => got.push(Fr.decodeFrame(new Uint8Array(ev.data), { peer: true }));
    await pc.setLocalDescription(await pc.createOffer());
    await link.answer(pc.localDescription.sdp);
    const next = async () => {
      await until('a frame', () => got.length > 0, 3000);
      return got.shift();
    };
    const frames = [(await next()).type]; // the link's own HELLO
    dc.send(Fr.encodeHello({ space: mm.space, key: mm.author, vv: new Uint8Array(0), token: mm.token }));
    const ch = await next();
    frames.push(ch.type);
    dc.send(Fr.encodeProof(sign(ch.nonce, pc)));
    const f = await next().catch(() => null);
    frames.push(f && (f.type === Fr.F.ERROR ? [f.name, f.fatal] : f.type));
    return { frames, errors, live: link.live, closed: link.closed };
  }
  try {
    const mine = (pc) => sdpFingerprints(pc.localDescription.sdp);
    const theirs = (pc) => sdpFingerprints(pc.remoteDescription.sdp);
    // Someone in the middle: m signed its channel to the middle, whose certificate is not a's.
    const middle = `sha-256 ${fingerprintOf(9999)}`;
    const mitm = await run((nonce, pc) => peerProofSign(core, mm, nonce, mine(pc), middle));
    assert.deepEqual(mitm.frames.slice(0, 2), [Fr.F.HELLO, Fr.F.CHALLENGE]);
    assert.deepEqual(mitm.frames[2], ['PROOF', true]);
    assert.equal(mitm.live, false);
    assert.match(mitm.errors[0], /DTLS channel/);
    // m's own certificate swapped for the middle's
    const swapped = await run((nonce, pc) => peerProofSign(core, mm, nonce, middle, theirs(pc)));
    assert.deepEqual(swapped.frames[2], ['PROOF', true]);
    // A relay's proof over the same nonce is not a peer's
    const relayProof = await run((nonce) => core.proofSign(mm.authorSecret, mm.space, nonce));
    assert.deepEqual(relayProof.frames[2], ['PROOF', true]);
    // The channel both sides negotiated: live, and a's data follows
    const good = await run((nonce, pc) => peerProofSign(core, mm, nonce, mine(pc), theirs(pc)));
    assert.equal(good.live, true);
    assert.deepEqual(good.errors, []);
  } finally {
    for (const s of [a, m]) await s.close();
  }
});

test('presence anti-replay: a replayed sealed presence frame is ignored, so is one out of the time window', { timeout: 30_000 }, async () => {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  const net = network();
  try {
    const na = net.join(a, { interval: 60_000, timeout: 60_000 });
    const nb = net.join(b, { interval: 60_000, timeout: 60_000 });
    na.presence.set({ name: 'alice', v: 1 });
    await until('b sees v1', () => nb.presence.peers[0]?.state.v === 1);
    const old = net.frames.filter((f) => f.from === na && f.type === Fr.F.PRESENCE).at(-1).bytes;
    na.presence.set({ name: 'alice', v: 2 });
    await until('b sees v2', () => nb.presence.peers[0]?.state.v === 2);
    const dropped = nb.presence.dropped;
    // The relay (or anyone on the path) sends the v1 frame again: ignored.
    net.deliver(na, Fr.decodeFrame(old));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(nb.presence.peers[0].state.v, 2);
    assert.equal(nb.presence.dropped, dropped + 1);
    // A frame sealed 31 s ago (the sender's clock then) is out of the window.
    const realNow = Date.now;
    Date.now = () => realNow() - 31_000;
    try {
      na.presence.set({ name: 'alice', v: 3 });
    } finally {
      Date.now = realNow;
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(nb.presence.peers[0].state.v, 2, 'a stale message is dropped');
    assert.equal(nb.presence.dropped, dropped + 2);
    na.presence.set({ name: 'alice', v: 4 });
    await until('b sees v4', () => nb.presence.peers[0]?.state.v === 4);
  } finally {
    net.close();
    for (const s of [a, b]) await s.close();
  }
});

test('signal anti-replay: an old offer played again does not replace the live link', { timeout: 30_000 }, async () => {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  const net = network();
  try {
    const na = net.join(a);
    const nb = net.join(b);
    await until('linked', () => na.p2p.peers.includes(b.author) && nb.p2p.peers.includes(a.author));
    const first = net.frames.find((f) => f.type === Fr.F.SIGNAL);
    // The link drops (its channel closes); the dialer offers again: a new link.
    for (const pc of pcs.values()) pc.close();
    await until('unlinked', () => na.p2p.peers.length === 0 && nb.p2p.peers.length === 0);
    await until('linked again', () => na.p2p.peers.includes(b.author) && nb.p2p.peers.includes(a.author));
    const seen = [];
    na.p2p.on('peers', (p) => seen.push(p));
    nb.p2p.on('peers', (p) => seen.push(p));
    // The first offer (the dialer's first signal), recorded and played again
    net.deliver(first.from, Fr.decodeFrame(first.bytes));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(seen, [], 'the live link stayed');
    assert.deepEqual(na.p2p.peers, [b.author]);
    assert.deepEqual([...na.errors, ...nb.errors], []);
  } finally {
    net.close();
    for (const s of [a, b]) await s.close();
  }
});
