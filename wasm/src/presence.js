// Presence: who else has this space open now. Ephemeral, never stored.
//
// set(state) sends a PRESENCE frame to every other proven connection of the
// space through the relay (docs/PROTOCOL.md §2: the relay rewrites the frame's
// peer to the sender's proven key and forwards it only within the space),
// again every `interval` ms while the link is up, and at once on every
// (re)connect. The payload is sealed with the space's content key
// (XChaCha20-Poly1305, the sender's key in the associated data), so the
// relay can neither read it nor pass one peer's presence off as another's.
// Inside the seal each message carries the sender's clock (`t`, ms) and a
// sequence number (`n`, 1, 2, 3… per session id): a receiver drops a
// message whose time is more than `replayWindow` ms (30 s) from its own
// clock either way, or whose number is not above the last it took from
// that sender's session, so nobody (the relay included) can replay an old
// state, an old goodbye, or one older than the last.
// on(fn) calls fn([{ author, state }]) with the peers heard within `timeout`
// ms, now and whenever that list changes. A peer that hears a new peer
// answers it at once (a targeted PRESENCE), so newcomers need not wait for
// the next round. p2p.js rides on the same messages to find peers.
//
// Presence runs in the tab that holds the relay link (the leader tab; see
// idb.js); a follower tab's set() goes to the leader over the tabs'
// BroadcastChannel, and its on() gets the leader's list (tabs of a profile
// share one author key, so they are one peer to the others).
import { WeftError } from './errors.js';
import { F, encodeEphemeral } from './frames.js';
import { Emitter, bytesEqual, toBase64url } from './util.js';

export const PRESENCE_INTERVAL = 10_000;
export const PRESENCE_TIMEOUT = 30_000;
/** How far a presence message's time may be from the receiver's clock (ms), either way. */
export const PRESENCE_REPLAY_WINDOW = 30_000;
const ZERO = new Uint8Array(32);
const enc = new TextEncoder();
const dec = new TextDecoder();

function ad(kind, space, from) {
  const d = enc.encode(`weft-${kind}-v1`);
  const out = new Uint8Array(d.length + 64);
  out.set(d);
  out.set(space, d.length);
  out.set(from, d.length + 32);
  return out;
}

/** Seals a JSON message from `from` for the members of `meta.space`: nonce ‖ ciphertext. */
export function sealMessage(core, meta, kind, from, obj) {
  const s = core.sodium;
  const nonce = s.randombytes_buf(24);
  const ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(enc.encode(JSON.stringify(obj)), ad(kind, meta.space, from), null, nonce, meta.contentKey);
  const out = new Uint8Array(24 + ct.length);
  out.set(nonce);
  out.set(ct, 24);
  return out;
}

/** Opens a sealed message from `from`; null when it does not open (another key, forged, altered). */
export function openMessage(core, meta, kind, from, data) {
  if (data.length < 24 + 16) return null;
  try {
    const plain = core.sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, data.subarray(24), ad(kind, meta.space, from), data.subarray(0, 24), meta.contentKey);
    return JSON.parse(dec.decode(plain));
  } catch {
    return null;
  }
}

/**
 * What presence needs from its space.
 * @typedef {object} PresencePort
 * @property {import('./core.js').Core} core random, and the sealing of messages
 * @property {{ space: Uint8Array, author: Uint8Array, contentKey: Uint8Array }} meta
 * @property {() => (import('./sync.js').Sync | null)} sync the relay link (sendEphemeral, live), if any
 * @property {(name: string, fn: Function) => () => void} on the space's 'relay:frame' and 'relay:live' events
 * @property {(e: unknown) => void} report an error a listener threw: the space's 'error' event
 */

export class Presence {
  #port;
  #state = null;
  #peers = new Map(); // author (base64url) -> { state, sid, p2p, at }
  #events;
  #timer = null;
  #offs = [];
  #closed = false;
  #attached = false;
  #forward = null; // follower tab: sends set() to the leader tab
  #mirror = null; // follower tab: the leader's peer list
  #seq = 0; // the number of the last message sent
  #seen = new Map(); // `${author} ${sid}` -> { n, at }: the last message taken from each sender's session

  /** @internal Created by openSpace/createSpace. */
  /** @param {PresencePort} port */
  constructor(port, { interval = PRESENCE_INTERVAL, timeout = PRESENCE_TIMEOUT, replayWindow = PRESENCE_REPLAY_WINDOW } = {}) {
    this.#port = port;
    this.#events = new Emitter((e) => port.report(e));
    this.interval = interval;
    this.timeout = timeout;
    this.replayWindow = replayWindow;
    /** Messages dropped as replayed or out of their time window (counted since the space opened). */
    this.dropped = 0;
    /** This replica's session id: a peer that reloads gets a new one. */
    this.sid = toBase64url(this.#port.core.random(12));
    /** Set by p2p.js: announce that this replica accepts peer links. */
    this.p2p = false;
  }

  /** @internal Starts listening on the relay link (in the tab that holds it). */
  attach() {
    if (this.#attached || this.#closed) return;
    this.#attached = true;
    this.#offs.push(this.#port.on('relay:frame', (f) => {
      if (f.type === F.PRESENCE) this.#receive(f);
    }));
    this.#offs.push(this.#port.on('relay:live', () => this.#announce(ZERO)));
    const tick = Math.max(50, Math.min(this.interval, this.timeout / 3));
    let last = 0;
    this.#timer = setInterval(() => {
      const now = Date.now();
      if (now - last >= this.interval) {
        last = now;
        this.#announce(ZERO);
      }
      this.#sweep(now);
    }, tick);
    this.#timer.unref?.();
    this.#announce(ZERO);
  }

  /**
   * Sets this replica's presence state (any JSON value; null: none) and
   * sends it now. Peers see it within a round trip through the relay.
   */
  set(state) {
    if (this.#closed) throw new WeftError('WEFT_ESTATE', 'the space is closed');
    if (state === undefined) state = null;
    let json;
    try {
      json = JSON.stringify(state);
    } catch (e) {
      throw new WeftError('WEFT_EINVAL', `presence state must be JSON: ${e.message}`, { cause: e });
    }
    if (enc.encode(json).length > 60_000) throw new WeftError('WEFT_ETOOBIG', 'presence state is at most 60000 bytes of JSON');
    this.#state = JSON.parse(json); // a copy, as peers will see it
    if (this.#forward) this.#forward(this.#state);
    else this.#announce(ZERO);
  }

  /**
   * @internal idb.js, in a follower tab: forward(state) sends set() to the
   * leader, which holds the link; null when this tab becomes the leader.
   */
  _follow(forward) {
    this.#forward = forward;
    if (!forward && this.#mirror) {
      this.#mirror = null;
      this.#events.emit('peers', this.peers);
    }
  }

  /** @internal idb.js, in a follower tab: the leader's list. */
  _mirror(peers) {
    if (this.#closed || !this.#forward) return;
    this.#mirror = peers;
    this.#events.emit('peers', this.peers);
  }

  /** This replica's own state, as last set. */
  get state() {
    return this.#state;
  }

  /** The peers heard within `timeout` ms that have a state: [{ author, state }], by author. */
  get peers() {
    if (this.#mirror) return this.#mirror.map((p) => ({ ...p }));
    const out = [];
    for (const [author, p] of this.#peers) if (p.state !== null) out.push({ author, state: p.state });
    return out.sort((a, b) => (a.author < b.author ? -1 : a.author > b.author ? 1 : 0));
  }

  /** Calls fn(peers) now (in a microtask) and whenever the list changes. Returns an unsubscribe function. */
  on(fn) {
    const off = this.#events.on('peers', fn);
    queueMicrotask(() => {
      if (this.#events.listeners.get('peers')?.has(fn)) {
        try {
          fn(this.peers);
        } catch (e) {
          this.#port.report(e);
        }
      }
    });
    return off;
  }

  /** @internal For p2p.js: 'peer' (author bytes, { sid, p2p }) and 'gone' (author). */
  onInternal(name, fn) {
    return this.#events.on(name, fn);
  }

  /** @internal Sends `msg` to one peer (or ZERO: every peer). */
  #announce(to, extra = {}) {
    if (this.#closed) return false;
    const sync = this.#port.sync();
    if (!sync?.live) return false;
    if (this.#state === null && !this.p2p && !extra.bye) return false;
    const me = this.#port.meta.author;
    const msg = { s: this.#state, sid: this.sid, p2p: this.p2p, t: Date.now(), n: ++this.#seq, ...extra };
    return sync.sendEphemeral(encodeEphemeral(F.PRESENCE, to, sealMessage(this.#port.core, this.#port.meta, 'presence', me, msg)));
  }

  #receive(f) {
    const meta = this.#port.meta;
    if (bytesEqual(f.peer, meta.author)) return;
    const msg = openMessage(this.#port.core, meta, 'presence', f.peer, f.data);
    if (!msg || typeof msg.sid !== 'string') return; // not sealed with our key: not for us
    const author = toBase64url(f.peer);
    if (!this.#fresh(author, msg)) {
      this.dropped++;
      return;
    }
    const had = this.#peers.get(author);
    if (msg.bye) {
      if (had && had.sid === msg.sid) {
        this.#peers.delete(author);
        this.#events.emit('gone', author);
        if (had.state !== null) this.#events.emit('peers', this.peers);
      }
      return;
    }
    const state = msg.s === undefined ? null : msg.s;
    this.#peers.set(author, { state, sid: msg.sid, p2p: !!msg.p2p, at: Date.now() });
    // A newcomer (or a peer that reloaded) hears from us at once.
    if ((!had || had.sid !== msg.sid) && !msg.r) this.#announce(f.peer, { r: 1 });
    this.#events.emit('peer', { key: f.peer.slice(), author, sid: msg.sid, p2p: !!msg.p2p });
    if (!had ? state !== null : JSON.stringify(had.state) !== JSON.stringify(state)) this.#events.emit('peers', this.peers);
  }

  /** Whether a message is new: within the time window, numbered past the last taken from its sender's session. */
  #fresh(author, msg) {
    const now = Date.now();
    if (!Number.isSafeInteger(msg.t) || !Number.isSafeInteger(msg.n) || Math.abs(now - msg.t) > this.replayWindow) return false;
    const k = `${author} ${msg.sid}`;
    const last = this.#seen.get(k);
    if (last && msg.n <= last.n) return false;
    this.#seen.set(k, { n: msg.n, at: now });
    return true;
  }

  #sweep(now) {
    // A session's last number is kept until any replay of its messages is
    // out of the time window anyway (its sender's clock may run ahead by a
    // window, ours behind by one).
    for (const [k, e] of this.#seen) if (now - e.at > 3 * this.replayWindow) this.#seen.delete(k);
    let changed = false;
    for (const [author, p] of this.#peers) {
      if (now - p.at <= this.timeout) continue;
      this.#peers.delete(author);
      this.#events.emit('gone', author);
      if (p.state !== null) changed = true;
    }
    if (changed) this.#events.emit('peers', this.peers);
  }

  /** @internal Says goodbye (so peers drop us at once) and stops. */
  close() {
    if (this.#closed) return;
    if (this.#attached) this.#announce(ZERO, { bye: 1 });
    this.#closed = true;
    clearInterval(this.#timer);
    for (const off of this.#offs) off();
    this.#peers.clear();
    this.#events.clear();
  }
}
