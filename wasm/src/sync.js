// The WebSocket link to weft-relay (docs/PROTOCOL.md §3): HELLO with our
// version vector and token, PROOF of the relay's nonce, then changes both
// ways. Reconnects with exponential backoff and jitter, resuming from the
// version vector (and the relay-sequence cursor of the last connection).
//
// The outbox holds every own change the relay has not acknowledged as
// durable (STORED or DUPLICATE), keyed by seq; it is persisted with the
// change itself (the store's `outbox`) and shrunk when acks come, so it
// survives a reload and is resent on every (re)connect. Changes the relay
// lacks that the outbox does not cover (older own changes, or other
// authors' changes that reached us another way) come from the core's diff
// against the vector in the relay's CHALLENGE.
//
// Status: 'connecting' until the PROOF is sent, 'syncing' while catching
// up, 'synced' once an ACK's cursor reaches the head the CHALLENGE named,
// 'offline' between connections, 'version' for good once the relay said
// the space uses a format level this build does not read (update the app;
// local data stays).
//
// Snapshots (PROTOCOL.md, "Snapshots"; snapshots.js): an empty replica
// joins from the relay's newest sealed snapshot: a HELLO with a cursor
// past any head (so nothing comes before the snapshot), SNAPSHOT_GET, the
// checks and load, then the changes after the snapshot's base. A snapshot
// that fails a check is reported ('error') and the link reconnects at once
// to take the whole log instead (this relay is not asked again for one).
// An admin's link publishes one once enough history went by
// (shouldPublish) or the relay asks for one (SNAPSHOT_WANTED), after
// everything it sent was acknowledged.
//
// Too big (API.md, "Large values"): the core refuses to commit a change
// above MAX_COMMIT_BYTES, so this build makes none a relay with the default
// --max-frame refuses. A relay with a lower --max-frame, or a change
// committed by an older build, gets a fatal TOO_BIG: frames of several
// records are then made smaller; a change sent alone can never be stored,
// and every later own change depends on it, so own changes from it on stay
// in the outbox unsent (status.error 'CHANGE_TOO_BIG', one 'error' event)
// while the link keeps receiving: no reconnect loop.
//
// Versions (PROTOCOL.md §6): the HELLO carries the format level this build
// reads and the space's level as we know it. A relay that predates
// negotiation refuses that HELLO with a fatal BAD_FRAME before any
// CHALLENGE; the link then reconnects at once with a plain HELLO and keeps
// doing so for this relay (level 1 there). Level records (FORMAT.md §10)
// that arrive among the changes go to the space, not the replica.
import { FORMAT_LEVEL, RECORD_GRANT, RECORD_LEVEL, RECORD_LINK } from './constants.js';
import { WeftError } from './errors.js';
import { ACK, F, PROTO_ERROR_NAMES, decodeFrame, encodeChanges, encodeHello, encodeProof, encodeSnapshot, encodeSnapshotGet } from './frames.js';
import { SNAPSHOT_FRAME_RECORD_MAX, SNAPSHOT_JOIN_BEHIND, fetchSnapshot, postSnapshot, recordsBehind, shouldPublish } from './snapshots.js';

const MAX_FRAME_RECORDS = 256;
// What a level record in flight stands as in `sent` (where own changes
// have their seq): not in the outbox, but its rejection is the app's news.
const LEVEL = 'level';
const MEMBER = 'member';
const MAX_FRAME_BYTES = 1 << 20;
// A HELLO cursor past any head: the relay sends nothing before the snapshot.
const JOIN_CURSOR = Number.MAX_SAFE_INTEGER;
// Snapshot refusals that only mean "not now": no error for the app.
const PUBLISH_LATER = new Set(['UNCOVERED', 'STALE_SNAPSHOT']);
// The smallest frame target a TOO_BIG makes us try before giving up.
const MIN_FRAME_BYTES = 16 << 10;
// Errors after which reconnecting cannot help until the app acts.
const FINAL = new Set(['VERSION', 'AUTH', 'PROOF', 'RIGHTS', 'EXPIRED', 'REVOKED', 'NOT_MEMBER', 'REPLAY']);
// Final states an app shows as a sentence, not as "offline": update the app,
// or ask an admin (removed from the space, or access lapsed).
// NOT_MEMBER / REPLAY: this key holds no grant (its invite was claimed by
// another key, or never reached the relay).
// Of those, the refusals of a key admitted by grant that an admin's grant
// or renewal ends: such a link asks again now and then (Sync#_recheck).
const WAIT_FOR_GRANT = new Set(['EXPIRED', 'NOT_MEMBER']);
const FINAL_STATE = { VERSION: 'version', REVOKED: 'removed', EXPIRED: 'expired', NOT_MEMBER: 'denied', REPLAY: 'denied' };
const CODE_FOR = { RIGHTS: 'WEFT_ERIGHTS', EXPIRED: 'WEFT_EEXPIRED', AUTH: 'WEFT_ECRYPTO', PROOF: 'WEFT_ECRYPTO', VERSION: 'WEFT_EVERSION', CHAIN: 'WEFT_ECHAIN', WRONG_SPACE: 'WEFT_ESPACE', BAD_SIGNATURE: 'WEFT_ECRYPTO', BAD_CHANGE: 'WEFT_EMALFORMED', PENDING_FULL: 'WEFT_EPENDING_FULL', REVOKED: 'WEFT_EREVOKED', NOT_MEMBER: 'WEFT_ENOTMEMBER', REPLAY: 'WEFT_EREPLAY' };

function protoError(name, message) {
  const e = new WeftError(CODE_FOR[name] ?? 'WEFT_EUNAVAILABLE', `relay: ${name}: ${message}`);
  e.protocolError = name;
  return e;
}

/**
 * What the relay link needs from its space.
 * @typedef {object} SyncPort
 * @property {import('./core.js').Core} core splitRecords, proofSign
 * @property {{ space: Uint8Array, author: Uint8Array, authorSecret: Uint8Array, token: Uint8Array }} meta
 * @property {'none' | 'read' | 'write' | 'admin'} rights a read-only replica sends nothing
 * @property {import('./replica.js').Replica} rep the replica now (a getter: compaction swaps it)
 * @property {(buf: Uint8Array, persist?: boolean, holdUnopened?: boolean) => { applied: number, rejected: number, durable: Promise<void>, unopened: number }} applyRemote merges and stores changes the relay sent (holdUnopened: records no held key opens are counted, not reported)
 * @property {(seq: number) => Promise<void>} ack stores that the relay holds every own change up to seq
 * @property {(patch: { state?: string, pending?: number, error?: string }) => void} setStatus
 * @property {(name: string, arg?: unknown) => void} emit the space's 'error', 'relay:frame' and 'relay:live' events
 * @property {() => Uint8Array[]} takeLoadedOutbox the stored outbox, once (a second call gets [])
 * @property {(sync: Sync) => void} setSync makes this the space's link (its pending count, local commits, close)
 * @property {() => number} formatLevel the space's format level as this replica knows it
 * @property {() => Uint8Array | null} levelRecord the level record that set it (null at level 1)
 * @property {(record: Uint8Array) => void} takeLevel verifies and applies a level record from the relay
 * @property {() => boolean} isEmpty the replica holds nothing yet (it may join from a snapshot)
 * @property {(record: Uint8Array, token: Uint8Array) => { rseq: number }} joinSnapshot checks and loads a relay's sealed snapshot (throws, replica unchanged, when a check fails)
 * @property {(record: Uint8Array, token: Uint8Array) => { rseq: number }} rejoinSnapshot the same for a replica far behind: a fresh replica from it replaces this one (WEFT_ESTATE when it does not cover what this one holds)
 * @property {(rseq: number) => Uint8Array | null} publishSnapshot a sealed snapshot of the state, or null when this device may not publish now
 * @property {(relay: string) => number | null} snapshotBase the stored base of the newest snapshot known on that relay
 * @property {(relay: string, rseq: number) => void} setSnapshotBase stores it
 * @property {(record: Uint8Array) => void} takeMember verifies and folds a membership record from the relay
 * @property {() => Uint8Array[]} ownMemberRecords the membership records this device signed
 * @property {() => Uint8Array | null} grantChain a device admitted by grant: the grant chain making it an admin now (members.js), else null
 * @property {() => number} keysHeld how many content keys the space learned from key epochs since it opened
 */

/** Starts syncing the space of `port` with the relay at `url` (ws:// or wss://). */
export function connectRelay(port, url, opts = {}) {
  const sync = new Sync(port, url, opts);
  port.setSync(sync);
  sync.start();
  return sync;
}

export class Sync {
  /** @param {SyncPort} port */
  // _formatLevel: the level announced in HELLO, for tests that play an app
  // of before (never above what this build reads).
  constructor(port, url, { WebSocket = null, minDelay = 250, maxDelay = 30_000, recheckDelay = 2_000, recheckMaxDelay = 60_000, _formatLevel = FORMAT_LEVEL } = {}) {
    if (typeof url !== 'string' || !/^wss?:\/\//.test(url)) throw new WeftError('WEFT_EINVAL', `relay must be a ws:// or wss:// URL, not ${url}`);
    this.port = port;
    this.url = url;
    this.WS = WebSocket;
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.recheckDelay = recheckDelay;
    this.recheckMaxDelay = recheckMaxDelay;
    this.waiting = null; // refused for want of a grant: { state, code, attempt }, asking again (see _fail)
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.closed = false;
    this.stopped = null; // a final error: no more reconnects
    this.cursor = null;
    this.outbox = new Map(); // own seq -> record
    this.sent = []; // FIFO of CHANGES frames in flight: [[seq|null, ...]]
    this.queue = []; // own records committed while connected, sent once per microtask
    this.authed = false;
    this.head = 0;
    this.parked = new Set(); // own seqs the relay parked on this connection
    this.parkedRetried = false;
    this.parkTimer = null;
    this.parkAttempts = 0;
    this.legacy = false; // the relay predates negotiation: plain HELLOs (no versions block, no membership flag)
    this.sentVersions = false; // this connection's HELLO had a versions block
    this.relayLevel = 1; // the format level the relay reads (its CHALLENGE)
    this.formatLevel = Math.min(_formatLevel, FORMAT_LEVEL);
    this.join = null; // this connection joins from a snapshot: { rest, held }
    this.noJoin = false; // a snapshot from this relay was refused: take the log
    this.farBehind = false; // the next connection joins although the replica holds something
    this.snapBase = port.snapshotBase(url); // base of the newest snapshot known (relay sequence)
    this.bytesSince = 0; // change bytes through the link since it
    this.changesSeen = 0; // and change records
    this.lastSnapBytes = 0; // size of the last snapshot published here
    this.publishing = null; // { bytes } while an upload waits for its answer
    this.wanted = false; // the relay asked for a snapshot (SNAPSHOT_WANTED)
    this.frameRecordMax = SNAPSHOT_FRAME_RECORD_MAX; // larger snapshots go over REST
    this.frameBytes = MAX_FRAME_BYTES; // lowered by a TOO_BIG
    this.unopened = 0; // records held back on this connection for want of a key (_changes)
    this.keysAt = port.keysHeld(); // the space's count of keys learned when last read
    this.blockedSeq = Infinity; // own changes from this seq on are not sent (TOO_BIG)
    for (const rec of this.port.takeLoadedOutbox()) this._remember(rec);
  }

  get pending() {
    return this.outbox.size;
  }

  _remember(record) {
    for (const r of this.port.core.splitRecords(record)) this.outbox.set(r.seq, r.record.slice());
  }

  start() {
    this._connect();
  }

  async _ctor() {
    if (this.WS) return this.WS;
    if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket;
    // Node 20 has no WebSocket without a flag: use the app's `ws` package.
    try {
      const name = 'ws';
      this.WS = (await import(/* @vite-ignore */ name)).WebSocket;
      return this.WS;
    } catch (e) {
      throw new WeftError('WEFT_EUNAVAILABLE', 'no WebSocket here: install the `ws` package or pass sync: { WebSocket }', { cause: e });
    }
  }

  async _connect() {
    if (this.closed || this.stopped) return;
    // Asking again for a grant: the app keeps showing 'denied' or 'expired'.
    if (!this.waiting) this.port.setStatus({ state: 'connecting' });
    let WS;
    try {
      WS = await this._ctor();
    } catch (e) {
      this._fail(e, true);
      return;
    }
    if (this.closed) return;
    let ws;
    try {
      ws = new WS(this.url, 'weft');
    } catch (e) {
      this._fail(new WeftError('WEFT_EINVAL', `cannot connect to ${this.url}: ${e.message}`, { cause: e }), true);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.authed = false;
    this.sent = [];
    this.unopened = 0;
    this.join = null;
    this.publishing = null;
    this.parked.clear();
    this.parkedRetried = false;
    this.parkAttempts = 0;
    clearTimeout(this.parkTimer);
    this.parkTimer = null;
    ws.onopen = () => this._hello();
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      try {
        this._frame(new Uint8Array(ev.data));
      } catch (e) {
        this.port.emit('error', e instanceof WeftError ? e : new WeftError('WEFT_EMALFORMED', `relay link: ${e.message}`, { cause: e }));
        ws.close();
      }
    };
    ws.onerror = () => {}; // onclose follows
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.authed = false;
      // After a final error the state it set ('version', 'offline') stays.
      if (this.closed || this.stopped) return;
      if (this.waiting) return this._recheck(); // closed before the relay answered
      this.port.setStatus({ state: 'offline' });
      this._schedule();
    };
  }

  _schedule() {
    if (this.closed || this.stopped || this.timer) return;
    const base = Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    const delay = base / 2 + Math.random() * (base / 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      this._connect();
    }, delay);
  }

  _fail(err, final) {
    const wait = final && this.port.meta.byGrant && WAIT_FOR_GRANT.has(err.protocolError);
    if (wait && this.waiting?.code === err.protocolError) {
      // Asked again, refused again: nothing new to tell the app.
      this.ws?.close();
      return;
    }
    this.port.emit('error', err);
    if (wait) {
      // An admin may grant or renew any moment now (the app says "ask an
      // admin"): the relay is asked again, quietly, with a slow backoff,
      // so that the grant lets this device in without a reopen.
      this.waiting = { state: FINAL_STATE[err.protocolError], code: err.protocolError, attempt: 0 };
      this.port.setStatus({ state: this.waiting.state });
      this.port.emit('access', { state: this.waiting.state, message: err.message });
      this.ws?.close();
      return;
    }
    if (final) {
      this.waiting = null;
      this.stopped = err;
      this.ws?.close();
      // Reconnecting cannot help: updating the app does (VERSION), or an
      // admin (REVOKED: this key was removed; EXPIRED: access lapsed).
      const state = FINAL_STATE[err.protocolError] ?? 'offline';
      this.port.setStatus({ state });
      if (state === 'version') this.port.emit('version', { message: err.message, formatLevel: FORMAT_LEVEL });
      if (state === 'removed' || state === 'expired' || state === 'denied') this.port.emit('access', { state, message: err.message });
    }
  }

  /** Waiting for a grant: the next HELLO after recheckDelay, doubling up to recheckMaxDelay. */
  _recheck() {
    if (this.closed || this.timer) return;
    const delay = Math.min(this.recheckMaxDelay, this.recheckDelay * 2 ** Math.min(this.waiting.attempt++, 20));
    this.timer = setTimeout(() => {
      this.timer = null;
      this._connect();
    }, delay);
    this.timer.unref?.();
  }

  _send(bytes) {
    this.ws.send(bytes);
  }

  /** Sends a SIGNAL or PRESENCE frame once the link is proven; false when it is not. */
  sendEphemeral(bytes) {
    if (!this.ws || !this.authed || this.closed || this.ws.readyState !== 1) return false;
    this.ws.send(bytes);
    return true;
  }

  get live() {
    return !!(this.ws && this.authed && !this.closed);
  }

  _hello() {
    const m = this.port.meta;
    const rep = this.port.rep;
    this.sentVersions = !this.legacy;
    const versions = this.legacy ? null : { formatLevel: this.formatLevel, spaceLevel: this.port.formatLevel(), features: 0 };
    const far = this.farBehind;
    this.farBehind = false;
    // A relay that predates negotiation predates snapshots too: it would refuse SNAPSHOT_GET.
    this.join = !this.legacy && !this.noJoin && !this.outbox.size && (far || this.port.isEmpty()) ? { rest: false, held: [], far } : null;
    const cursor = this.join ? JOIN_CURSOR : this.cursor;
    // A device that joined by claiming an invite is admitted by its grant:
    // its claim rides in the token field (the relay stores it once).
    const byGrant = !!m.byGrant;
    const token = byGrant ? (m.claim ?? new Uint8Array(0)) : m.token;
    this._send(encodeHello({ space: m.space, key: m.author, vv: rep.vv(), token, cursor, versions, members: !this.legacy, byGrant }));
  }

  _frame(buf) {
    // While the snapshot comes over REST, what follows it waits.
    if (this.join?.rest) {
      this.join.held.push(buf.slice());
      return undefined;
    }
    const f = decodeFrame(buf);
    switch (f.type) {
      case F.SNAPSHOT:
        return this._snapshot(f);
      case F.SNAPSHOT_ACK:
        return this._snapshotAck(f);
      case F.CHALLENGE:
        return this._challenge(f);
      case F.CHANGES:
        return this._changes(f);
      case F.ACK:
        return this._ack(f);
      case F.SIGNAL:
      case F.PRESENCE:
        // For presence.js and p2p.js, which listen on the space.
        this.port.emit('relay:frame', f);
        return undefined;
      case F.ERROR: {
        // A SIGNAL whose target left: p2p.js's business, not the app's.
        if (f.name === 'NO_PEER') return undefined;
        if (f.fatal && f.name === 'BAD_FRAME' && !this.authed && this.sentVersions) {
          // A relay from before negotiation refused the versions block: say
          // HELLO as it knows it, now, and treat it as level 1.
          this.legacy = true;
          const ws = this.ws;
          this.ws = null;
          ws?.close();
          this._connect();
          return undefined;
        }
        if (f.name === 'SNAPSHOT_WANTED') {
          // The relay asks its admins for a snapshot (--snapshot-wanted):
          // published once nothing is in flight, whatever this device counted.
          this.wanted = true;
          this._maybePublish();
          return undefined;
        }
        if (f.name === 'TOO_BIG' && this.publishing) {
          // This relay takes smaller frames than the default: a snapshot
          // this big goes over REST once the link is back.
          this.frameRecordMax = Math.min(this.frameRecordMax, this.publishing.bytes - 1);
          this.publishing = null;
          return undefined;
        }
        if (f.fatal && f.name === 'TOO_BIG') return this._tooBig(f);
        const err = protoError(f.name, f.message);
        this._fail(err, f.fatal && FINAL.has(f.name));
        // A dropped frame (rate limit) gets no ACK, so later ACKs could no
        // longer be matched to frames: start over on a new connection,
        // which resends everything unacknowledged.
        if (!f.fatal && f.name === 'RATE_LIMITED') this.ws?.close();
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** A fatal TOO_BIG (see the top): smaller frames, or stop sending from the change that can never be stored. */
  _tooBig(f) {
    let big = null;
    for (const fr of this.sent) if (!big || fr.bytes > big.bytes) big = fr;
    if (big && big.length > 1 && this.frameBytes > MIN_FRAME_BYTES) {
      this.frameBytes = Math.max(MIN_FRAME_BYTES, Math.min(this.frameBytes, big.bytes) >> 1);
      return; // the relay closes; the reconnect resends in smaller frames
    }
    const seq = big?.length === 1 && typeof big[0] === 'number' ? big[0] : null;
    if (seq === null) {
      this._fail(protoError('TOO_BIG', f.message), false);
      return;
    }
    this.blockedSeq = Math.min(this.blockedSeq, seq);
    const e = new WeftError('WEFT_ECHANGE_TOO_BIG', `relay: TOO_BIG: own change ${seq} (${big.bytes} bytes) is above the relay's --max-frame: it and every later change of this device stay unsent; store large values as files`);
    e.protocolError = 'TOO_BIG';
    e.seq = seq;
    this.port.setStatus({ error: 'CHANGE_TOO_BIG' });
    this.port.emit('error', e);
  }

  /** Whether an own change may be sent (not from a change the relay can never store on). */
  _sendable(seq) {
    return typeof seq !== 'number' || seq < this.blockedSeq;
  }

  _challenge(f) {
    const m = this.port.meta;
    // Far behind, with nothing of our own to send: the snapshot costs less
    // than the records (when it covers what we hold; else the log it is).
    if (!this.join && !this.noJoin && !this.outbox.size && !this.queue.length && recordsBehind(this.port.rep.vv(), f.vv) >= SNAPSHOT_JOIN_BEHIND) {
      this.farBehind = true;
      const ws = this.ws;
      this.ws = null;
      ws?.close();
      this._connect();
      return;
    }
    this._send(encodeProof(this.port.core.proofSign(m.authorSecret, m.space, f.nonce)));
    this.authed = true;
    if (this.waiting) {
      // A grant came: the relay admits this key again.
      this.waiting = null;
      this.attempt = 0;
      this.port.emit('access', { state: 'member', message: 'access granted: syncing again' });
    }
    this.head = f.head;
    if (this.snapBase !== null && this.snapBase > f.head) this.snapBase = null; // another relay's, or a wiped one
    this.relayLevel = f.versions?.formatLevel ?? 1;
    if (this.join) {
      // No changes to send (the replica is empty): ask for the snapshot.
      // Membership records signed here go first all the same (a restored
      // device's grant and link, backup.js).
      this.port.setStatus({ state: 'syncing' });
      this.port.emit('relay:live');
      // Membership records signed here need no replica (an invite made
      // before the first change): they go now.
      const items = this.port.rights === 'read' ? [] : this.port.ownMemberRecords().map((record) => ({ record, seq: MEMBER }));
      // And a level raised here before the first change (an owner's
      // invite): else a space with no changes never tells its joiners its
      // level, and their peers refuse each other ("update the app").
      const level = this.port.formatLevel();
      const rec = this.port.levelRecord();
      if (rec && level > (f.versions?.spaceLevel ?? 1) && this.relayLevel >= level) items.push({ record: rec, seq: LEVEL });
      if (items.length) this._sendRecords(items);
      this._send(encodeSnapshotGet());
      return;
    }
    this.port.setStatus({ state: f.head === 0 || (this.cursor ?? 0) >= f.head ? 'synced' : 'syncing' });
    this.port.emit('relay:live');
    if (this.port.rights === 'read') return;
    // What the relay lacks: the core's diff against its vector, plus the
    // outbox (own changes older than a local snapshot are only there).
    const fromDiff = this.port.core.splitRecords(this.port.rep.diff(f.vv));
    const me = m.author;
    const own = (a) => a.every((b, i) => b === me[i]);
    const inDiff = new Set();
    for (const r of fromDiff) if (own(r.author)) inDiff.add(r.seq);
    // Causal order, so the relay parks nothing: first the outbox entries the
    // replica no longer holds (own changes from before its last compaction,
    // older than anything it does hold), in seq order, then the diff.
    const items = [];
    for (const [seq, record] of [...this.outbox].sort((a, b) => a[0] - b[0]))
      if (!inDiff.has(seq)) items.push({ record, seq });
    for (const r of fromDiff) items.push({ record: r.record, seq: own(r.author) ? r.seq : null });
    // A level raised here (offline, or through a relay that lost it) goes
    // first, where the relay reads it, so that writers elsewhere learn it.
    const level = this.port.formatLevel();
    const rec = this.port.levelRecord();
    if (rec && level > (f.versions?.spaceLevel ?? 1) && this.relayLevel >= level) items.unshift({ record: rec, seq: LEVEL });
    // Membership records signed here come first of all (a key epoch before
    // the changes sealed with its key); held ones are DUPLICATE.
    items.unshift(...this.port.ownMemberRecords().map((record) => ({ record, seq: MEMBER })));
    this.parked.clear();
    this._sendRecords(items.filter((it) => this._sendable(it.seq)));
  }

  /** Membership records signed here: to the relay now when the link is live (every CHALLENGE sends them again). */
  sendMembers(records) {
    if (this.ws && this.authed && !this.closed) this._sendRecords(records.map((record) => ({ record, seq: MEMBER })));
  }

  /** A level record raised here: to the relay now when the link is live (else on the next CHALLENGE). */
  sendLevel(record) {
    if (this.ws && this.authed && !this.closed && this.relayLevel >= this.port.formatLevel()) this._sendRecords([{ record, seq: LEVEL }]);
  }

  _sendRecords(items) {
    let i = 0;
    while (i < items.length) {
      const batch = [];
      let bytes = 0;
      while (i < items.length && batch.length < MAX_FRAME_RECORDS && (batch.length === 0 || bytes + items[i].record.length <= this.frameBytes)) {
        bytes += items[i].record.length;
        batch.push(items[i++]);
      }
      this._send(encodeChanges(batch.map((b) => b.record)));
      const seqs = batch.map((b) => b.seq);
      seqs.bytes = bytes; // for a TOO_BIG
      this.sent.push(seqs);
    }
  }

  // ---- snapshots ----

  /** The relay's answer to SNAPSHOT_GET: a record, none, or USE_REST. */
  _snapshot(f) {
    if (!this.join) return; // not asked for on this connection
    if (!f.useRest) {
      this._joinWith(f.record.length ? { record: f.record.slice(), token: f.token.slice(), rseq: f.rseq } : null);
      return;
    }
    this.join.rest = true;
    const ws = this.ws;
    fetchSnapshot(this.port.core, this.port.meta, this.url).then(
      (snap) => {
        if (this.ws !== ws) return;
        // None over REST after the frame said there was one: the relay
        // sends only the changes after its base, so the log it must be.
        if (!snap) this._refuseSnapshot(new WeftError('WEFT_ENOTFOUND', 'the relay\'s snapshot was gone when fetched over REST'));
        else this._joinWith(snap);
      },
      (e) => {
        if (this.ws === ws) this._refuseSnapshot(e);
      },
    );
  }

  _joinWith(snap) {
    const { held, far } = this.join;
    this.join = null;
    if (snap) {
      try {
        if (far) this.port.rejoinSnapshot(snap.record, snap.token);
        else this.port.joinSnapshot(snap.record, snap.token);
      } catch (e) {
        this._refuseSnapshot(e);
        return;
      }
      this._knowBase(snap.rseq);
    }
    // The relay now sends what follows the base (all of the log without a snapshot).
    this.cursor = snap ? snap.rseq : 0;
    for (const b of held) this._frame(b);
  }

  /** A snapshot that failed a check (or vanished): report it, take the whole log on a new connection. */
  _refuseSnapshot(e) {
    this.join = null;
    this.noJoin = true;
    // Someone wrote meanwhile: not the snapshot's fault, the log it is.
    if (e?.code !== 'WEFT_ESTATE') {
      const err = new WeftError(e?.code ?? 'WEFT_ECRYPTO', `the relay's snapshot was refused (${e?.message ?? e}); reading the whole log instead`, { cause: e });
      this.port.emit('error', err);
    }
    const ws = this.ws;
    this.ws = null;
    this.authed = false;
    ws?.close();
    this._connect();
  }

  /** Once synced with nothing in flight: an admin's device publishes when enough history went by. */
  _maybePublish() {
    if (this.legacy || this.publishing || this.join || this.sent.length || this.outbox.size || this.port.rights !== 'admin') return;
    // A device admitted by grant shows joiners its grant chain instead of a
    // token (none: an admin made by another admin's grant does not publish).
    const chain = this.port.meta.byGrant ? this.port.grantChain() : null;
    if (this.port.meta.byGrant && !chain) return;
    const head = Math.max(this.head, this.cursor ?? 0);
    if (!this.wanted && !shouldPublish({ head, base: this.snapBase, changes: this.changesSeen, bytes: this.bytesSince, lastBytes: this.lastSnapBytes })) return;
    this.wanted = false;
    let record;
    try {
      record = this.port.publishSnapshot(head);
    } catch (e) {
      this.port.emit('error', e);
      this._knowBase(head); // not again before more history
      return;
    }
    if (!record) return;
    const bytes = record.length;
    this.publishing = { bytes, head };
    if (bytes <= this.frameRecordMax) {
      this._send(encodeSnapshot(record, chain ?? undefined));
      return;
    }
    const ws = this.ws;
    postSnapshot(this.port.core, this.port.meta, this.url, record, chain).then(
      (base) => this.ws === ws && this._published(base),
      (e) => this.ws === ws && this._publishRefused('STORAGE', e),
    );
  }

  /** The newest snapshot known is at `rseq`: counting starts again, and the store remembers it. */
  _knowBase(rseq) {
    this.snapBase = rseq;
    this.bytesSince = 0;
    this.changesSeen = 0;
    this.port.setSnapshotBase(this.url, rseq);
  }

  _snapshotAck(f) {
    if (!this.publishing) return;
    if (f.status === ACK.STORED) this._published(f.value);
    else this._publishRefused(f.name);
  }

  _published(base) {
    const { bytes } = this.publishing;
    this.publishing = null;
    this._knowBase(Math.max(this.snapBase ?? 0, base));
    this.lastSnapBytes = bytes;
    this.port.emit('snapshot', { published: true, rseq: base, bytes });
  }

  _publishRefused(name, cause = null) {
    const { head } = this.publishing;
    this.publishing = null;
    // Not again before another threshold's worth of history.
    this._knowBase(Math.max(this.snapBase ?? 0, head));
    if (!PUBLISH_LATER.has(name)) {
      const e = cause ?? protoError(name, 'the relay refused a snapshot');
      this.port.emit('error', e);
    }
  }

  _changes(f) {
    if (this.join) return; // before the snapshot: they come again after it
    let entries = f.entries;
    if (entries.some((e) => e.record[1] === RECORD_LEVEL)) {
      for (const e of entries) if (e.record[1] === RECORD_LEVEL) this.port.takeLevel(e.record.slice());
      entries = entries.filter((e) => e.record[1] !== RECORD_LEVEL);
    }
    // Membership records (kinds 5-9): folded by members.js, before the
    // changes of the same frame, which a new key epoch may be needed for.
    const member = (e) => e.record[1] >= RECORD_GRANT && e.record[1] <= RECORD_LINK;
    if (entries.some(member)) {
      for (const e of entries) if (member(e)) this.port.takeMember(e.record.slice());
      entries = entries.filter((e) => !member(e));
    }
    for (const e of f.entries) if (e.rseq) this.cursor = Math.max(this.cursor ?? 0, e.rseq);
    if (!entries.length) return;
    for (const e of entries) this.bytesSince += e.record.length;
    this.changesSeen += entries.length;
    let buf;
    if (entries.length === 1) buf = entries[0].record;
    else {
      let n = 0;
      for (const e of entries) n += e.record.length;
      buf = new Uint8Array(n);
      let o = 0;
      for (const e of entries) {
        buf.set(e.record, o);
        o += e.record.length;
      }
    }
    // Records this device cannot open yet are held back, not reported: a
    // key epoch later in the log may give their key (a link made after a
    // rotation holds the newest key only), and then they come again.
    const r = this.port.applyRemote(buf, true, true);
    this.unopened += r?.unopened ?? 0;
  }

  /** Caught up: what could not be opened is read again when keys came since (true: reconnecting), else reported. */
  _unopenedCheck() {
    const n = this.unopened;
    this.unopened = 0;
    if (this.port.keysHeld() !== this.keysAt) {
      this.keysAt = this.port.keysHeld();
      this.cursor = null; // the relay sends everything past the replica's vector again
      const ws = this.ws;
      this.ws = null;
      this.authed = false;
      ws?.close();
      this._connect();
      return true;
    }
    this.port.emit('error', new WeftError('WEFT_ECRYPTO', `${n} incoming change(s) refused: this device holds no key that opens them`));
    return false;
  }

  _ack(f) {
    // Before the snapshot, the relay's "synced" is about the far cursor.
    if (!this.join) this.cursor = Math.max(this.cursor ?? 0, f.cursor);
    if (f.entries.length) {
      const seqs = this.sent.shift();
      if (!seqs || seqs.length !== f.entries.length) {
        this.port.emit('error', new WeftError('WEFT_EMALFORMED', 'relay link: an ACK does not match the frame it acknowledges; reconnecting'));
        this.ws?.close();
        return;
      }
      let rejected = null;
      f.entries.forEach((e, i) => {
        const seq = seqs[i];
        if (seq === LEVEL) {
          if (e.status === ACK.REJECTED) this.port.emit('error', protoError(PROTO_ERROR_NAMES[e.value] ?? 'UNKNOWN', 'the relay refused the format level raise'));
          return;
        }
        if (seq === MEMBER) {
          if (e.status === ACK.REJECTED) this.port.emit('error', protoError(PROTO_ERROR_NAMES[e.value] ?? 'UNKNOWN', 'the relay refused a membership record'));
          return;
        }
        if (seq === null || seq === undefined) return;
        if (e.status === ACK.STORED) {
          this.bytesSince += this.outbox.get(seq)?.length ?? 0;
          this.changesSeen++;
        }
        if (e.status === ACK.STORED || e.status === ACK.DUPLICATE) this.outbox.delete(seq);
        else if (e.status === ACK.REJECTED) {
          // Resending cannot help: drop it from the outbox, tell the app.
          this.outbox.delete(seq);
          rejected ??= e.value;
        }
        else if (e.status === ACK.PARKED) this.parked.add(seq);
        // PARKED: not durable, and the relay will not say when it is: it
        // stays in the outbox and is sent again below (or on reconnect).
      });
      if (rejected !== null) this.port.emit('error', protoError(PROTO_ERROR_NAMES[rejected] ?? 'UNKNOWN', 'the relay refused a change'));
      this._persistAck();
      this._resendParked();
    }
    if (this.join) this.port.setStatus({});
    else if (this.cursor >= this.head) {
      this.attempt = 0;
      if (this.unopened && this._unopenedCheck()) return;
      this.port.setStatus({ state: 'synced' });
      this._maybePublish();
    } else this.port.setStatus({});
  }

  /**
   * Once every frame in flight is acknowledged, parked own changes whose
   * dependencies have arrived since are stored by the relay: sending them
   * again gets DUPLICATE (durable) acks. At once the first time, then with
   * backoff (minDelay..maxDelay) while the relay still parks them.
   */
  _resendParked() {
    if (this.sent.length || !this.parked.size) return;
    if (this.parkedRetried) {
      // Still parked: the dependency may come from another client later
      // (one that reached us peer to peer, say), and the relay does not tell
      // us when it does. Try again with backoff.
      this._parkLater();
      return;
    }
    this.parkedRetried = true;
    const items = [...this.parked].filter((q) => this.outbox.has(q) && this._sendable(q)).sort((a, b) => a - b).map((q) => ({ record: this.outbox.get(q), seq: q }));
    this.parked.clear();
    if (items.length && this.ws && this.authed) this._sendRecords(items);
  }

  _parkLater() {
    if (this.parkTimer || this.closed) return;
    const delay = Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(this.parkAttempts++, 20));
    this.parkTimer = setTimeout(() => {
      this.parkTimer = null;
      this.parkedRetried = false;
      if (this.ws && this.authed) this._resendParked();
    }, delay);
    this.parkTimer.unref?.();
  }

  /** Tells the store which own changes the relay holds: all seqs below the smallest unacked. */
  _persistAck() {
    let min = Infinity;
    for (const s of this.outbox.keys()) if (s < min) min = s;
    const acked = min === Infinity ? Number.MAX_SAFE_INTEGER : min - 1;
    if (acked > 0) this.port.ack(acked);
    else this.port.setStatus({});
  }

  /** A local commit: remember it, send it with the others of this microtask. */
  sendLocal(record, seq) {
    this.outbox.set(seq, record);
    if (!this.ws || !this.authed || this.closed || !this._sendable(seq)) return;
    if (!this.queue.length)
      queueMicrotask(() => {
        const q = this.queue;
        this.queue = [];
        if (this.ws && this.authed) this._sendRecords(q);
      });
    this.queue.push({ record, seq });
  }

  async close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.parkTimer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    }
  }
}
