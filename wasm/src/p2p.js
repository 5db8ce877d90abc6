// Peer-to-peer sync over WebRTC data channels (openSpace({ p2p: true })).
//
// Finding peers: presence.js announces `p2p` in every (sealed) PRESENCE
// message. Of two peers that hear each other, the one with the smaller
// author key dials: it makes the RTCPeerConnection and the data channel and
// sends its offer, then its ICE candidates as they come (trickle), in
// SIGNAL frames through the relay; the other answers the same way. The
// relay forwards SIGNAL only between proven connections of one space and
// stamps the sender's proven key on it; the payload is sealed with the
// content key (sender key in the associated data, target inside), so the
// relay can neither read the SDP nor swap in its own (no man in the middle
// of the DTLS handshake without the content key).
//
// On the channel the sync protocol of docs/PROTOCOL.md runs, both sides
// playing both roles: each sends HELLO (space, its key, its version vector,
// its capability token); each answers the other's HELLO, once the token
// verifies for the space and names that key (or any holder), with a
// CHALLENGE carrying a fresh nonce; each signs the nonce it got (PROOF,
// `weft_proof_sign`) and checks the proof it gets. Only once a side has
// checked the other's proof does it send the other the changes it lacks
// (the core's diff against the HELLO's vector) and accept CHANGES from it;
// from then on every local commit goes to the peer at once. CHANGES from a
// peer whose token grants only `read` are refused. Incoming changes go
// through the same path as the relay's (signature, hash chain and
// decryption in the core, then the store). Nothing is acknowledged on a
// peer link: the relay stays the place where changes become durable for
// others, and every replica's own outbox still drains to it.
//
// The links outlive the relay: signaling is only needed to set a link up.
// Runs in the tab that holds the relay link (idb.js).
import { FORMAT_LEVEL, PROTO_ERROR, RIGHT } from './constants.js';
import { WeftError } from './errors.js';
import { F, decodeFrame, encodeChallenge, encodeChanges, encodeEphemeral, encodeError, encodeHello, encodeProof } from './frames.js';
import { openMessage, sealMessage } from './presence.js';
import { Emitter, bytesEqual, toBase64url } from './util.js';

const MAX_FRAME_BYTES = 128 << 10; // below every browser's SCTP message limit
const E = PROTO_ERROR;
const enc = new TextEncoder();

/** Options from openSpace's `p2p` (true or { RTCPeerConnection, iceServers, connectTimeout }). */
export function resolveRTC(opt) {
  const o = opt === true ? {} : opt;
  if (!o || typeof o !== 'object') throw new WeftError('WEFT_EINVAL', 'p2p must be true or { RTCPeerConnection, iceServers }');
  const RTC = o.RTCPeerConnection ?? globalThis.RTCPeerConnection;
  if (typeof RTC !== 'function')
    throw new WeftError('WEFT_EUNAVAILABLE', 'peer-to-peer sync needs WebRTC (RTCPeerConnection): browsers have it; in Node pass p2p: { RTCPeerConnection } from a WebRTC package, or leave p2p off (relay only)');
  return { RTCPeerConnection: RTC, iceServers: o.iceServers ?? [], connectTimeout: o.connectTimeout ?? 15_000 };
}

function compare(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function proofMessage(space, nonce) {
  const d = enc.encode('weft-proof-v1');
  const m = new Uint8Array(d.length + 32 + nonce.length);
  m.set(d);
  m.set(space, d.length);
  m.set(nonce, d.length + 32);
  return m;
}

/**
 * What the peer links need from their space.
 * @typedef {object} PeerPort
 * @property {import('./core.js').Core} core random, splitRecords, proofSign, tokenVerify, sodium
 * @property {{ space: Uint8Array, author: Uint8Array, authorSecret: Uint8Array, contentKey: Uint8Array, token: Uint8Array }} meta
 * @property {'none' | 'read' | 'write' | 'admin'} rights a read-only replica serves no changes
 * @property {import('./replica.js').Replica} rep the replica now (a getter: compaction swaps it)
 * @property {(buf: Uint8Array) => { applied: number, rejected: number, durable: Promise<void> }} applyRemote merges and stores a peer's changes
 * @property {() => (import('./sync.js').Sync | null)} sync the relay link, which carries the signaling
 * @property {(name: string, fn: Function) => () => void} on the space's 'relay:frame' and 'commit' events
 * @property {() => number} formatLevel the space's format level (PROTOCOL.md §6: a peer that reads less is refused)
 */

export class P2P {
  #port;
  #presence;
  #links = new Map(); // author (base64url) -> Link
  #events = new Emitter();
  #offs = [];
  #closed = false;

  /** @internal Created by openSpace/createSpace with { p2p }. */
  /** @param {PeerPort} port */
  constructor(port, presence, opts) {
    this.#port = port;
    this.#presence = presence;
    this.opts = opts;
    presence.p2p = true;
  }

  /** @internal Starts once this tab holds the relay link. */
  attach() {
    if (this.#offs.length || this.#closed) return;
    this.#offs.push(this.#presence.onInternal('peer', (p) => this.#peer(p)));
    this.#offs.push(this.#port.on('relay:frame', (f) => {
      if (f.type === F.SIGNAL) this.#signal(f);
    }));
    this.#offs.push(this.#port.on('commit', (record) => {
      for (const l of this.#links.values()) l.sendLocal(record);
    }));
  }

  /** Authors (base64url) of the peers linked directly now (handshake done). */
  get peers() {
    return [...this.#links.values()].filter((l) => l.live).map((l) => l.author).sort();
  }

  /** on('peers', fn(authors)) | on('error', fn(err)). Returns an unsubscribe function. */
  on(name, fn) {
    return this.#events.on(name, fn);
  }

  /** @internal What a Link uses: si, the PeerPort (tests hand it space._internal). */
  get ctx() {
    return { si: this.#port, opts: this.opts, events: this.#events, sendSignal: (key, obj) => this.#sendSignal(key, obj) };
  }

  /** @internal A link went live or closed. */
  _changed(link, closed) {
    if (closed && this.#links.get(link.author) === link) this.#links.delete(link.author);
    if (!this.#closed) this.#events.emit('peers', this.peers);
  }

  #peer({ key, author, sid, p2p }) {
    if (!p2p || this.#closed) return;
    const l = this.#links.get(author);
    if (l && l.peerSid === sid) return; // linked or on its way
    l?.close('the peer restarted');
    if (compare(this.#port.meta.author, key) < 0) {
      const link = new Link(this, key, author, sid, toBase64url(this.#port.core.random(12)), true);
      this.#links.set(author, link);
      link.offer();
    }
    // else: the peer dials us.
  }

  #signal(f) {
    if (this.#closed) return;
    const si = this.#port;
    const msg = openMessage(si.core, si.meta, 'signal', f.peer, f.data);
    if (!msg || msg.to !== toBase64url(si.meta.author) || typeof msg.cid !== 'string') return;
    const author = toBase64url(f.peer);
    let l = this.#links.get(author);
    if (msg.t === 'offer') {
      if (l?.cid === msg.cid) return;
      l?.close('replaced by a new offer');
      l = new Link(this, f.peer.slice(), author, msg.sid, msg.cid, false);
      this.#links.set(author, l);
      l.answer(msg.sdp);
    } else if (l?.cid === msg.cid) {
      if (msg.t === 'answer') l.remoteAnswer(msg.sdp);
      else if (msg.t === 'cand') l.addCandidate(msg.c);
    }
  }

  #sendSignal(key, obj) {
    const si = this.#port;
    const sync = si.sync();
    if (!sync?.live) return false;
    const data = sealMessage(si.core, si.meta, 'signal', si.meta.author, { ...obj, to: toBase64url(key), sid: this.#presence.sid });
    return sync.sendEphemeral(encodeEphemeral(F.SIGNAL, key, data));
  }

  /** @internal Closes every link (on the space's close). */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#offs) off();
    for (const l of [...this.#links.values()]) l.close('the space closed');
    this.#links.clear();
    this.#events.clear();
  }
}

/** One RTCPeerConnection with one data channel to one peer. */
class Link {
  constructor(p2p, key, author, peerSid, cid, initiator) {
    this.p2p = p2p;
    this.ctx = p2p.ctx;
    this.key = key;
    this.author = author;
    this.peerSid = peerSid;
    this.cid = cid;
    this.live = false;
    this.closed = false;
    this.remoteSet = false;
    this.remoteCands = [];
    this.descSent = false;
    this.localCands = [];
    this.outq = []; // frames sent before the channel's 'open'
    this.sentHello = false;
    this.proved = false; // we sent our PROOF
    this.nonce = null; // the nonce we asked the peer to sign
    this.theirVv = null;
    this.theirRights = 0;
    const { RTCPeerConnection, iceServers, connectTimeout } = this.ctx.opts;
    this.pc = new RTCPeerConnection({ iceServers });
    this.pc.onicecandidate = (ev) => {
      if (!ev.candidate) return;
      const c = ev.candidate.toJSON ? ev.candidate.toJSON() : ev.candidate;
      if (this.descSent) this.#signal({ t: 'cand', c });
      else this.localCands.push(c);
    };
    this.pc.onconnectionstatechange = () => {
      const st = this.pc.connectionState;
      if (st === 'failed' || st === 'closed') this.close(`connection ${st}`);
    };
    this.timer = setTimeout(() => {
      if (!this.live) this.close('timed out');
    }, connectTimeout);
    this.timer.unref?.();
    if (initiator) this.#wire(this.pc.createDataChannel('weft', { ordered: true }));
    else this.pc.ondatachannel = (ev) => this.#wire(ev.channel);
  }

  #signal(obj) {
    this.ctx.sendSignal(this.key, { ...obj, cid: this.cid });
  }

  #descSent() {
    this.descSent = true;
    for (const c of this.localCands) this.#signal({ t: 'cand', c });
    this.localCands = [];
  }

  async #remote(desc) {
    await this.pc.setRemoteDescription(desc);
    this.remoteSet = true;
    for (const c of this.remoteCands) await this.pc.addIceCandidate(c).catch(() => {});
    this.remoteCands = [];
  }

  async offer() {
    try {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      if (this.closed) return;
      this.#signal({ t: 'offer', sdp: this.pc.localDescription.sdp });
      this.#descSent();
    } catch (e) {
      this.close(`offer failed: ${e.message}`);
    }
  }

  async answer(sdp) {
    try {
      await this.#remote({ type: 'offer', sdp });
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      if (this.closed) return;
      this.#signal({ t: 'answer', sdp: this.pc.localDescription.sdp });
      this.#descSent();
    } catch (e) {
      this.close(`answer failed: ${e.message}`);
    }
  }

  async remoteAnswer(sdp) {
    if (this.remoteSet) return;
    try {
      await this.#remote({ type: 'answer', sdp });
    } catch (e) {
      this.close(`bad answer: ${e.message}`);
    }
  }

  addCandidate(c) {
    if (!c || typeof c !== 'object') return;
    if (!this.remoteSet) this.remoteCands.push(c);
    else this.pc.addIceCandidate(c).catch(() => {});
  }

  #wire(dc) {
    this.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.onopen = () => {
      for (const b of this.outq) this.dc.send(b);
      this.outq = [];
      this.#hello();
    };
    dc.onclose = () => this.close('channel closed');
    dc.onerror = () => {};
    dc.onmessage = (ev) => {
      if (this.closed) return;
      try {
        this.#frame(new Uint8Array(ev.data));
      } catch (e) {
        this.#fail(E.UNEXPECTED, `bad frame: ${e.message}`);
      }
    };
    if (dc.readyState === 'open') this.#hello();
  }

  #send(bytes) {
    const st = this.dc?.readyState;
    if (st === 'open') this.dc.send(bytes);
    // A message can arrive before the 'open' event (werift does this on the
    // answering side): what we answer waits for it.
    else if (st === 'connecting') this.outq.push(bytes);
  }

  #hello() {
    if (this.sentHello || this.closed) return;
    this.sentHello = true;
    const { si } = this.ctx;
    const m = si.meta;
    // At level 1 a plain HELLO, which peers of every version read; above it
    // the versions block, which a peer from before negotiation refuses, as
    // it must: it could not read what we write (PROTOCOL.md §6).
    const versions = si.formatLevel() > 1 ? { formatLevel: FORMAT_LEVEL, spaceLevel: si.formatLevel(), features: 0 } : null;
    this.#send(encodeHello({ space: m.space, key: m.author, vv: si.rep.vv(), token: m.token, versions }));
  }

  #frame(buf) {
    const { si } = this.ctx;
    const m = si.meta;
    const core = si.core;
    const f = decodeFrame(buf, { peer: true });
    // The peer heard our channel open before we did (some WebRTC stacks
    // fire no 'open' on the side that made the channel).
    if (!this.sentHello) this.#hello();
    switch (f.type) {
      case F.HELLO: {
        if (this.theirVv) return this.#fail(E.UNEXPECTED, 'a second HELLO');
        if (!bytesEqual(f.space, m.space)) return this.#fail(E.AUTH, 'HELLO for another space');
        if (!bytesEqual(f.key, this.key)) return this.#fail(E.AUTH, 'HELLO names another key than the one that signaled');
        let t;
        try {
          t = core.tokenVerify(f.token, m.space, Math.floor(Date.now() / 1000));
        } catch (e) {
          return this.#fail(e.code === 'WEFT_EEXPIRED' ? E.EXPIRED : E.AUTH, `token: ${e.message}`);
        }
        if (t.rights < RIGHT.READ || (t.grantee && !bytesEqual(t.grantee, f.key))) return this.#fail(E.RIGHTS, 'the token does not grant this key');
        // A peer whose app reads less than the space's level would stall
        // on our changes (PROTOCOL.md §6): it is told to update instead.
        const theirLevel = f.versions?.formatLevel ?? 1;
        if (theirLevel < si.formatLevel()) return this.#fail(E.VERSION, `this space uses format level ${si.formatLevel()}; the peer reads up to ${theirLevel}: update the app`);
        this.theirRights = t.rights;
        this.theirVv = f.vv.slice();
        this.nonce = core.random(32);
        const versions = f.versions ? { formatLevel: FORMAT_LEVEL, spaceLevel: si.formatLevel(), features: 0 } : null;
        this.#send(encodeChallenge(this.nonce, 0, si.rep.vv(), versions));
        return undefined;
      }
      case F.CHALLENGE:
        if (!this.sentHello || this.proved) return this.#fail(E.UNEXPECTED, 'an unexpected CHALLENGE');
        this.proved = true;
        this.#send(encodeProof(core.proofSign(m.authorSecret, m.space, f.nonce)));
        return undefined;
      case F.PROOF: {
        if (!this.nonce || this.live) return this.#fail(E.UNEXPECTED, 'an unexpected PROOF');
        if (!core.sodium.crypto_sign_verify_detached(f.sig, proofMessage(m.space, this.nonce), this.key)) return this.#fail(E.PROOF, 'proof of possession failed');
        this.nonce = null;
        this.#live();
        return undefined;
      }
      case F.CHANGES: {
        if (!this.live) return this.#fail(E.UNEXPECTED, 'CHANGES before the proof');
        if (this.theirRights < RIGHT.WRITE) {
          this.#send(encodeError(E.RIGHTS, false, 'a read-only peer\'s changes are refused'));
          return undefined;
        }
        let n = 0;
        for (const e of f.entries) {
          if (e.rseq) return this.#fail(E.UNEXPECTED, 'relay sequences on a peer link');
          n += e.record.length;
        }
        const all = new Uint8Array(n);
        let o = 0;
        for (const e of f.entries) {
          all.set(e.record, o);
          o += e.record.length;
        }
        si.applyRemote(all);
        return undefined;
      }
      case F.ERROR:
        if (f.fatal) this.close(`peer: ${f.name}: ${f.message}`);
        return undefined;
      default:
        return this.#fail(E.UNEXPECTED, `frame type ${f.type} on a peer link`);
    }
  }

  #live() {
    this.live = true;
    clearTimeout(this.timer);
    const { si } = this.ctx;
    // What the peer lacks, in frames the data channel takes.
    if (si.rights !== 'read') {
      const recs = si.core.splitRecords(si.rep.diff(this.theirVv)).map((r) => r.record.slice());
      this.#sendRecords(recs);
    }
    this.theirVv = new Uint8Array(0);
    this.p2p._changed(this, false);
  }

  #sendRecords(recs) {
    let i = 0;
    while (i < recs.length) {
      const batch = [];
      let bytes = 0;
      while (i < recs.length && (batch.length === 0 || bytes + recs[i].length <= MAX_FRAME_BYTES)) {
        bytes += recs[i].length;
        batch.push(recs[i++]);
      }
      this.#send(encodeChanges(batch));
    }
  }

  /** A local commit: straight to the peer once the link is live. */
  sendLocal(record) {
    if (this.live && !this.closed) this.#send(encodeChanges([record]));
  }

  #fail(code, message) {
    try {
      this.#send(encodeError(code, true, message));
    } catch {
      // closing anyway
    }
    this.ctx.events.emit('error', new WeftError(code === E.PROOF || code === E.AUTH ? 'WEFT_ECRYPTO' : 'WEFT_EINVAL', `peer ${this.author}: ${message}`));
    this.close(message);
  }

  close(reason) {
    if (this.closed) return;
    this.closed = true;
    this.reason = reason;
    this.live = false;
    clearTimeout(this.timer);
    try {
      this.dc?.close();
    } catch {
      // already closed
    }
    try {
      this.pc.close();
    } catch {
      // already closed
    }
    this.p2p._changed(this, true);
  }
}

/** @internal For tests: one link, driven by hand. */
export { Link as _Link };
