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
// its capability token, or flag 0x10 when its grant admits it); each
// answers the other's HELLO with a CHALLENGE carrying a fresh nonce once
// the peer is admitted: its token verifies for the space and names that key
// (or any holder), or (0x10) the space's membership records give that key
// rights now, or its claim (in the token field) claims an invite still open
// here, kept once the key is proved; a removed key is refused either way.
// Each signs the nonce it got together with both sides' DTLS fingerprints
// as its own connection negotiated them (PROOF, "weft-peer-proof-v1",
// PROTOCOL.md §5a) and checks the proof it gets against its own
// connection's fingerprints (peerproof.js), so someone who relays SDP
// between two members (a member who also runs the relay) cannot sit in the
// middle: each side's DTLS channel ends at the other's certificate, or the
// proofs fail. Signals carry the sender's clock and an offer is taken once,
// so a recorded offer played again cannot replace a live link. Only once a
// side has checked the other's proof does it send the other the changes it
// lacks (the core's diff against the HELLO's vector) and accept CHANGES
// from it; from then on every local commit goes to the peer at once.
//
// Every change a peer sends is checked as the relay would before it goes
// the relay's path (signature, hash chain and decryption in the core, then
// the store): the peer must hold `write` now (its token, or its grants),
// and the change's author must count by the membership records at the
// change (not past its removal, a grant in force with `write`; an author the
// records name no grant of must be one the peer's token admits). A refused
// change is dropped with its code (REVOKED, EXPIRED, RIGHTS), counted in
// `p2p.refused`, and nothing of it is stored. When a removal or a lapse
// reaches this replica, the live links of keys it strikes are closed.
// Nothing is acknowledged on a peer link: the relay stays the place where
// changes become durable for others, and every replica's own outbox still
// drains to it.
//
// The links outlive the relay: signaling is only needed to set a link up.
// Runs in the tab that holds the relay link (idb.js).
import { FORMAT_LEVEL, PROTO_ERROR, PROTO_ERROR_NAMES, RIGHT } from './constants.js';
import { WeftError } from './errors.js';
import { F, decodeFrame, encodeChallenge, encodeChanges, encodeEphemeral, encodeError, encodeHello, encodeProof } from './frames.js';
import { peerProofMessage, peerProofSign, sdpFingerprints } from './peerproof.js';
import { openMessage, sealMessage } from './presence.js';
import { Emitter, bytesEqual, concatBytes, toBase64url } from './util.js';

const MAX_FRAME_BYTES = 128 << 10; // below every browser's SCTP message limit
// Offers remembered against replays: far more than a replica takes within
// the presence window (one per peer and reconnect).
const MAX_OFFERS_SEEN = 1024;
const E = PROTO_ERROR;

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

/** The WEFT_E… name an error event carries for a protocol code. */
const EVENT_CODE = { [E.PROOF]: 'WEFT_ECRYPTO', [E.AUTH]: 'WEFT_ECRYPTO', [E.REVOKED]: 'WEFT_EREVOKED', [E.EXPIRED]: 'WEFT_EEXPIRED', [E.RIGHTS]: 'WEFT_ERIGHTS', [E.NOT_MEMBER]: 'WEFT_ENOTMEMBER', [E.REPLAY]: 'WEFT_EREPLAY' };
/** The protocol code for a claim the membership records refuse. */
const CLAIM_REFUSAL = { WEFT_EREPLAY: E.REPLAY, WEFT_EEXPIRED: E.EXPIRED, WEFT_EREVOKED: E.REVOKED, WEFT_ECRYPTO: E.AUTH, WEFT_ESPACE: E.AUTH };
/** The protocol code for a change the membership records refuse. */
const REFUSAL = { WEFT_EREVOKED: E.REVOKED, WEFT_EEXPIRED: E.EXPIRED, WEFT_ERIGHTS: E.RIGHTS };

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
 * @property {(author: Uint8Array, seq: number, wallMs: number) => { code: string | null, decided: boolean }} authorCheck the membership records' word on a change (members.js)
 * @property {(key: Uint8Array) => { code: string | null, rights: number }} rightsOf a key's rights now by its grants (members.js)
 */

export class P2P {
  #port;
  #presence;
  #links = new Map(); // author (base64url) -> Link
  #events = new Emitter();
  #offs = [];
  #closed = false;
  #refused = {}; // protocol error name -> changes refused
  #offers = new Set(); // the link ids (cid) of the offers taken lately, oldest first

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
    // A removal (or a grant that lapsed) closes the links it strikes.
    this.#offs.push(this.#port.on('members', () => {
      for (const l of [...this.#links.values()]) l.recheck();
    }));
  }

  /** Changes peers sent that were refused, by protocol error name (REVOKED, EXPIRED, RIGHTS): counts since the space opened. */
  get refused() {
    return { ...this.#refused };
  }

  /** @internal A link dropped `n` changes for `code`. */
  _refused(code, n) {
    const name = PROTO_ERROR_NAMES[code] ?? String(code);
    this.#refused[name] = (this.#refused[name] ?? 0) + n;
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
    if (this.#port.rightsOf(key).code === 'WEFT_EREVOKED') return; // removed: no link
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
    // A recorded signal played again (by the relay, say) is ignored: out of
    // the presence window, or an offer already taken, which would otherwise
    // replace the live link to its sender.
    if (!Number.isSafeInteger(msg.at) || Math.abs(Date.now() - msg.at) > this.#presence.replayWindow) return;
    const author = toBase64url(f.peer);
    let l = this.#links.get(author);
    if (msg.t === 'offer') {
      if (l?.cid === msg.cid || this.#offers.has(msg.cid) || si.rightsOf(f.peer).code === 'WEFT_EREVOKED') return;
      this.#offers.add(msg.cid);
      if (this.#offers.size > MAX_OFFERS_SEEN) this.#offers.delete(this.#offers.values().next().value);
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
    const data = sealMessage(si.core, si.meta, 'signal', si.meta.author, { ...obj, to: toBase64url(key), sid: this.#presence.sid, at: Date.now() });
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
    this.byGrant = false; // the peer was admitted by its grants (HELLO flag 0x10), not a token
    this.claim = null; // its claim, admitted once its key is proved
    this.token = null; // else its verified token
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
    // A device admitted by its grant has no token: its claim rides along,
    // as to the relay, but the peer decides by the records it holds.
    const byGrant = !!m.byGrant;
    const token = byGrant ? (m.claim ?? new Uint8Array(0)) : m.token;
    this.#send(encodeHello({ space: m.space, key: m.author, vv: si.rep.vv(), token, versions, byGrant }));
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
        // A removed key is refused whatever admits it, as by the relay.
        const grants = si.rightsOf(f.key);
        if (grants.code === 'WEFT_EREVOKED') return this.#fail(E.REVOKED, 'this key was removed from the space');
        if (f.byGrant) {
          if (grants.code === 'WEFT_EEXPIRED') return this.#fail(E.EXPIRED, 'every grant of this key has ended: ask an admin');
          if (grants.rights < RIGHT.READ) {
            // A newcomer whose claim has not reached us: its claim, checked
            // as the relay checks it, admits it once its key is proved.
            const why = f.token.length ? si.claimOpen(f.token, f.key) : 'WEFT_ENOTMEMBER';
            if (why) return this.#fail(CLAIM_REFUSAL[why] ?? E.NOT_MEMBER, why === 'WEFT_EREPLAY' ? 'this invite was already claimed by another key' : 'this key holds no grant in the space (here, yet)');
            this.claim = f.token.slice();
          }
          this.byGrant = true;
        } else {
          let t;
          try {
            t = core.tokenVerify(f.token, m.space, Math.floor(Date.now() / 1000));
          } catch (e) {
            return this.#fail(e.code === 'WEFT_EEXPIRED' ? E.EXPIRED : E.AUTH, `token: ${e.message}`);
          }
          if (t.rights < RIGHT.READ || (t.grantee && !bytesEqual(t.grantee, f.key))) return this.#fail(E.RIGHTS, 'the token does not grant this key');
          this.token = t;
        }
        // A peer whose app reads less than the space's level would stall
        // on our changes (PROTOCOL.md §6): it is told to update instead.
        const theirLevel = f.versions?.formatLevel ?? 1;
        if (theirLevel < si.formatLevel()) return this.#fail(E.VERSION, `this space uses format level ${si.formatLevel()}; the peer reads up to ${theirLevel}: update the app`);
        this.theirRights = this.byGrant ? grants.rights : this.token.rights;
        this.theirVv = f.vv.slice();
        this.nonce = core.random(32);
        const versions = f.versions ? { formatLevel: FORMAT_LEVEL, spaceLevel: si.formatLevel(), features: 0 } : null;
        this.#send(encodeChallenge(this.nonce, 0, si.rep.vv(), versions));
        return undefined;
      }
      case F.CHALLENGE: {
        if (!this.sentHello || this.proved) return this.#fail(E.UNEXPECTED, 'an unexpected CHALLENGE');
        const ch = this.#channel();
        if (!ch) return this.#fail(E.PROOF, 'the connection names no DTLS fingerprint to bind the proof to');
        this.proved = true;
        this.#send(encodeProof(peerProofSign(core, m, f.nonce, ch.mine, ch.theirs)));
        return undefined;
      }
      case F.PROOF: {
        if (!this.nonce || this.live) return this.#fail(E.UNEXPECTED, 'an unexpected PROOF');
        const ch = this.#channel();
        // The peer signed its fingerprint and ours as its connection sees
        // them: they must be ours as our connection sees them, reversed.
        if (!ch || !core.sodium.crypto_sign_verify_detached(f.sig, peerProofMessage(m.space, this.nonce, ch.theirs, ch.mine), this.key))
          return this.#fail(E.PROOF, 'proof of possession failed for this connection (a wrong key, or a DTLS channel other than the one the peer signed: someone in the middle)');
        this.nonce = null;
        if (this.claim) this.#admitClaim();
        else this.#live();
        return undefined;
      }
      case F.CHANGES: {
        if (!this.live) return this.#fail(E.UNEXPECTED, 'CHANGES before the proof');
        if (!this.recheck()) return undefined;
        if (this.theirRights < RIGHT.WRITE) {
          this.#send(encodeError(E.RIGHTS, false, 'a read-only peer\'s changes are refused'));
          this.p2p._refused(E.RIGHTS, f.entries.length);
          return undefined;
        }
        for (const e of f.entries) if (e.rseq) return this.#fail(E.UNEXPECTED, 'relay sequences on a peer link');
        this.#take(f.entries.map((e) => e.record));
        return undefined;
      }
      case F.ERROR:
        // What the peer refused, and why (a removal, a lapse, changes it
        // did not take): the app hears it as this link's error.
        this.ctx.events.emit('error', new WeftError(EVENT_CODE[f.code] ?? 'WEFT_EINVAL', `peer ${this.author}: ${f.name}: ${f.message}`));
        if (f.fatal) this.close(`peer: ${f.name}: ${f.message}`);
        return undefined;
      default:
        return this.#fail(E.UNEXPECTED, `frame type ${f.type} on a peer link`);
    }
  }

  /** The proved newcomer's claim: kept as the relay keeps it, then its grants say what it may do. */
  async #admitClaim() {
    const { si } = this.ctx;
    const why = await si.admitClaim(this.claim);
    this.claim = null;
    if (this.closed) return;
    if (why) return this.#fail(CLAIM_REFUSAL[why] ?? E.NOT_MEMBER, `the claim was refused: ${why}`);
    const g = si.rightsOf(this.key);
    if (g.rights < RIGHT.READ) return this.#fail(E.NOT_MEMBER, 'this key holds no grant in the space');
    this.theirRights = g.rights;
    this.#live();
  }

  /** This side's and the peer's DTLS fingerprints as this connection negotiated them, or null. */
  #channel() {
    const mine = sdpFingerprints(this.pc.localDescription?.sdp);
    const theirs = sdpFingerprints(this.pc.remoteDescription?.sdp);
    return mine && theirs ? { mine, theirs } : null;
  }

  /** Whether this link's token admits `author`'s changes (write, granted to it or to any holder). */
  #tokenAdmits(author) {
    const t = this.token;
    return !!t && t.rights >= RIGHT.WRITE && (!t.grantee || bytesEqual(t.grantee, author));
  }

  /**
   * Applies the records that count and drops the rest, each with the code
   * every replica (and the relay) gives it: nothing of a refused change is
   * stored, and the peer hears why (a non-fatal ERROR).
   */
  #take(records) {
    const { si } = this.ctx;
    const keep = [];
    const refused = new Map(); // protocol code -> [count, first author]
    const infos = si.core.splitRecords(concatBytes(records));
    for (const r of infos) {
      const c = si.authorCheck(r.author, r.seq, r.wallMs);
      let code = c.code && (REFUSAL[c.code] ?? E.RIGHTS);
      // An author the records name no grant of was admitted by a token:
      // only the peer's own token can vouch for it here.
      if (!code && !c.decided && !this.#tokenAdmits(r.author)) code = E.RIGHTS;
      if (!code) {
        keep.push(r.record);
        continue;
      }
      const had = refused.get(code);
      refused.set(code, had ? [had[0] + 1, had[1]] : [1, toBase64url(r.author)]);
    }
    for (const [code, [n, author]] of refused) {
      const name = PROTO_ERROR_NAMES[code];
      const message = `${n} change(s) refused (${name}), by author ${author} and maybe others: ${REFUSED_WHY[name]}`;
      this.p2p._refused(code, n);
      this.#send(encodeError(code, false, message));
      this.ctx.events.emit('error', new WeftError(EVENT_CODE[code], `peer ${this.author}: ${message}`));
    }
    if (keep.length) si.applyRemote(keep.length === infos.length ? concatBytes(records) : concatBytes(keep));
  }

  /**
   * Checks the peer's admission again (a removal, a lapse, a token's end):
   * closes the link and returns false when it no longer holds.
   */
  recheck() {
    // (A newcomer's claim, pending until its proof, is not judged yet.)
    if (this.closed || !this.theirVv || this.claim) return !this.closed;
    const g = this.ctx.si.rightsOf(this.key);
    let why = null;
    if (g.code === 'WEFT_EREVOKED') why = [E.REVOKED, 'this key was removed from the space'];
    else if (this.byGrant && g.code === 'WEFT_EEXPIRED') why = [E.EXPIRED, 'every grant of this key has ended: ask an admin'];
    else if (this.byGrant && g.rights < RIGHT.READ) why = [E.NOT_MEMBER, 'this key holds no grant in the space'];
    else if (!this.byGrant && this.token.expires && Date.now() / 1000 >= this.token.expires) why = [E.EXPIRED, 'the token has expired'];
    if (why) {
      this.#fail(...why);
      return false;
    }
    if (this.byGrant) this.theirRights = g.rights;
    return true;
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
    // Checked before every delivery, as by the relay: a token or a grant
    // may have ended since the last frame.
    if (this.live && !this.closed && this.recheck()) this.#send(encodeChanges([record]));
  }

  #fail(code, message) {
    try {
      this.#send(encodeError(code, true, message));
    } catch {
      // closing anyway
    }
    this.ctx.events.emit('error', new WeftError(EVENT_CODE[code] ?? 'WEFT_EINVAL', `peer ${this.author}: ${message}`));
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

const REFUSED_WHY = {
  REVOKED: 'past its author\'s removal',
  EXPIRED: 'every grant of its author had ended',
  RIGHTS: 'its author may not write (a read-only grant, or no grant and a token that does not name it)',
};

/** @internal For tests: one link, driven by hand. */
export { Link as _Link };
export { peerProofMessage, peerProofSign, sdpFingerprints };
