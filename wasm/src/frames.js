// Sync protocol frames (docs/PROTOCOL.md, core/include/weft/protocol.h):
// `u8 version | u8 type | payload`, one frame per WebSocket message.
//
// The codec is JS rather than calls into the core's: the client only
// encodes HELLO, PROOF, CHANGES and the snapshot frames and decodes the relay's replies, each
// a handful of varints, and decoding in place avoids copying every incoming
// frame into the WASM heap only to copy its records out again. The records
// themselves are checked by the core when they are applied. Decoding is
// strict as the C decoder is: unknown versions, types and flags, and
// trailing bytes are errors.
import { ACK, FRAME, PROTO, PROTOCOL_VERSION, PROTO_ERROR, PROTO_ERROR_NAMES } from './constants.js';
import { WeftError } from './errors.js';

// The version, frame types, ACK statuses, bounds and protocol error codes
// are protocol.h's, written into constants.js at build time.
export { PROTOCOL_VERSION, ACK, PROTO_ERROR, PROTO_ERROR_NAMES };
export const F = FRAME;

/** A byte writer with minimal LEB128 varints (FORMAT.md §1); also for peerproof.js. */
export class Out {
  constructor(cap) {
    this.buf = new Uint8Array(cap);
    this.len = 0;
  }
  u8(b) {
    this.buf[this.len++] = b;
  }
  varint(n) {
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.len++] = n;
  }
  raw(b) {
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  bytes(b) {
    this.varint(b.length);
    this.raw(b);
  }
  done() {
    return this.buf.subarray(0, this.len);
  }
}

function bad(what) {
  return new WeftError('WEFT_EMALFORMED', `relay frame: ${what}`);
}

class In {
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;
  }
  u8() {
    if (this.pos >= this.buf.length) throw new WeftError('WEFT_ETRUNCATED', 'relay frame ends early');
    return this.buf[this.pos++];
  }
  varint() {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.u8();
      if (b === 0 && i > 0) throw bad('non-minimal varint');
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
    throw bad('varint too long');
  }
  take(n) {
    if (this.pos + n > this.buf.length) throw new WeftError('WEFT_ETRUNCATED', 'relay frame ends early');
    const s = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bytes() {
    return this.take(this.varint());
  }
  end() {
    if (this.pos !== this.buf.length) throw bad('trailing bytes');
  }
}

// The versions block of HELLO and CHALLENGE (PROTOCOL.md §6): the format
// level the sender reads, the space's level as it knows it, feature bits.
function putVersions(o, v) {
  if (!v) return;
  o.varint(v.formatLevel);
  o.varint(v.spaceLevel);
  o.varint(v.features ?? 0);
}

function readVersions(r) {
  const formatLevel = r.varint();
  const spaceLevel = r.varint();
  const features = r.varint(); // unknown bits are ignored, never errors
  if (formatLevel < 1 || spaceLevel < 1) throw bad('format level 0');
  return { formatLevel, spaceLevel, features };
}

/**
 * HELLO; versions ({ formatLevel, spaceLevel, features }) adds the versions block, null sends a version-1 HELLO; members sets the membership-records flag;
 * byGrant asks to be admitted by the key's grant, token then holding its invite claim or nothing.
 */
export function encodeHello({ space, key, vv, token, cursor = null, versions = null, members = false, byGrant = false }) {
  const o = new Out(2 + 64 + 10 + vv.length + 10 + token.length + 1 + 10 + 30);
  o.u8(PROTOCOL_VERSION);
  o.u8(F.HELLO);
  o.raw(space);
  o.raw(key);
  o.bytes(vv);
  o.bytes(token);
  // members: this client reads membership records (PROTOCOL.md, HELLO flags).
  o.u8((cursor === null ? 0 : PROTO.HELLO_CURSOR) | (versions ? PROTO.HELLO_VERSIONS : 0) | (members ? PROTO.HELLO_MEMBERS : 0) | (byGrant ? PROTO.HELLO_GRANT : 0));
  if (cursor !== null) o.varint(cursor);
  putVersions(o, versions);
  return o.done();
}

export function encodeProof(sig) {
  const o = new Out(66);
  o.u8(PROTOCOL_VERSION);
  o.u8(F.PROOF);
  o.raw(sig);
  return o.done();
}

/** One CHANGES frame (no relay sequences: those are the relay's). */
export function encodeChanges(records) {
  let n = 3;
  for (const r of records) n += 10 + r.length;
  const o = new Out(n);
  o.u8(PROTOCOL_VERSION);
  o.u8(F.CHANGES);
  o.u8(0);
  for (const r of records) o.bytes(r);
  return o.done();
}

/** SIGNAL or PRESENCE to `peer` (32 bytes; zeros: every peer, PRESENCE only). */
export function encodeEphemeral(type, peer, data) {
  if (type !== F.SIGNAL && type !== F.PRESENCE) throw new WeftError('WEFT_EINVAL', 'not an ephemeral frame type');
  if (data.length > PROTO.MAX_DATA) throw new WeftError('WEFT_ETOOBIG', `SIGNAL/PRESENCE data is at most ${PROTO.MAX_DATA} bytes`);
  const o = new Out(2 + 32 + 10 + data.length);
  o.u8(PROTOCOL_VERSION);
  o.u8(type);
  o.raw(peer);
  o.bytes(data);
  return o.done();
}

/** CHALLENGE: sent by the answering side of a peer link (p2p.js), as a relay does. */
export function encodeChallenge(nonce, head, vv, versions = null) {
  const o = new Out(2 + PROTO.NONCE_BYTES + 10 + 10 + vv.length + 30);
  o.u8(PROTOCOL_VERSION);
  o.u8(F.CHALLENGE);
  o.raw(nonce);
  o.varint(head);
  o.bytes(vv);
  putVersions(o, versions); // only in answer to a HELLO that had a block
  return o.done();
}

/** SNAPSHOT_GET: ask the relay for its newest sealed snapshot (PROTOCOL.md, "Snapshots"). */
export function encodeSnapshotGet() {
  return Uint8Array.of(PROTOCOL_VERSION, F.SNAPSHOT_GET);
}

/**
 * SNAPSHOT as a client uploads it: flags 0, rseq 0, the sealed record; no
 * token (the session's is kept), except from a device admitted by grant:
 * its grant chain.
 */
export function encodeSnapshot(record, token = new Uint8Array(0)) {
  const o = new Out(2 + 1 + 1 + 10 + 10 + token.length + record.length);
  o.u8(PROTOCOL_VERSION);
  o.u8(F.SNAPSHOT);
  o.u8(0);
  o.varint(0);
  o.bytes(token);
  o.bytes(record);
  return o.done();
}

export function encodeError(code, fatal, message) {
  const m = new TextEncoder().encode(message).subarray(0, PROTO.MAX_MESSAGE);
  const o = new Out(2 + 10 + 1 + 10 + m.length);
  o.u8(PROTOCOL_VERSION);
  o.u8(F.ERROR);
  o.varint(code);
  o.u8(fatal ? 1 : 0);
  o.bytes(m);
  return o.done();
}

/**
 * Decodes one frame. Borrowed subarrays of buf. HELLO and PROOF, which only
 * a relay receives from the relay link, are accepted with { peer: true }
 * (a peer link: both sides play both roles).
 */
export function decodeFrame(buf, { peer = false } = {}) {
  const r = new In(buf);
  const version = r.u8();
  if (version !== PROTOCOL_VERSION) throw new WeftError('WEFT_EVERSION', `relay speaks protocol version ${version}, this client ${PROTOCOL_VERSION}`);
  const type = r.u8();
  const f = { type };
  switch (type) {
    case F.HELLO: {
      if (!peer) throw bad(`unexpected frame type ${type}`);
      f.space = r.take(32);
      f.key = r.take(32);
      f.vv = r.bytes();
      f.token = r.bytes();
      if (f.token.length > PROTO.MAX_TOKEN) throw bad('token too long');
      const flags = r.u8();
      // A browser never sends an admission (0x04): only operators' tools do.
      if (flags & ~(PROTO.HELLO_CURSOR | PROTO.HELLO_VERSIONS | PROTO.HELLO_MEMBERS | PROTO.HELLO_GRANT)) throw bad('unknown HELLO flags');
      f.cursor = flags & PROTO.HELLO_CURSOR ? r.varint() : null;
      f.versions = flags & PROTO.HELLO_VERSIONS ? readVersions(r) : null;
      f.members = !!(flags & PROTO.HELLO_MEMBERS);
      f.byGrant = !!(flags & PROTO.HELLO_GRANT);
      break;
    }
    case F.PROOF:
      if (!peer) throw bad(`unexpected frame type ${type}`);
      f.sig = r.take(64);
      break;
    case F.CHALLENGE:
      f.nonce = r.take(PROTO.NONCE_BYTES);
      f.head = r.varint();
      f.vv = r.bytes();
      f.versions = r.pos < buf.length ? readVersions(r) : null;
      break;
    case F.CHANGES: {
      const flags = r.u8();
      if (flags & ~PROTO.CHANGES_RSEQ) throw bad('unknown CHANGES flags');
      f.entries = [];
      while (r.pos < buf.length) {
        const rseq = flags & PROTO.CHANGES_RSEQ ? r.varint() : 0;
        const record = r.bytes();
        if (!record.length) throw bad('empty record');
        f.entries.push({ rseq, record });
      }
      if (!f.entries.length) throw bad('empty CHANGES');
      break;
    }
    case F.ACK:
      f.cursor = r.varint();
      f.entries = [];
      while (r.pos < buf.length) {
        const status = r.u8();
        if (status > ACK.REJECTED) throw bad('unknown ACK status');
        f.entries.push({ status, value: r.varint() });
      }
      break;
    case F.SIGNAL:
    case F.PRESENCE:
      f.peer = r.take(32);
      f.data = r.bytes();
      if (f.data.length > PROTO.MAX_DATA) throw bad('SIGNAL/PRESENCE data too long');
      break;
    case F.ERROR: {
      f.code = r.varint();
      const fatal = r.u8();
      if (fatal > 1) throw bad('bad fatal flag');
      f.fatal = fatal === 1;
      f.message = new TextDecoder().decode(r.bytes());
      f.name = PROTO_ERROR_NAMES[f.code] ?? 'UNKNOWN';
      break;
    }
    case F.SNAPSHOT: {
      // From the relay: its newest snapshot (empty: none), or USE_REST.
      const flags = r.u8();
      if (flags & ~PROTO.SNAPSHOT_USE_REST) throw bad('unknown SNAPSHOT flags');
      f.useRest = (flags & PROTO.SNAPSHOT_USE_REST) !== 0;
      f.rseq = r.varint();
      f.token = r.bytes();
      if (f.token.length > PROTO.MAX_TOKEN) throw bad('token too long');
      f.record = r.bytes();
      if (f.useRest && f.record.length) throw bad('USE_REST with a record');
      break;
    }
    case F.SNAPSHOT_ACK: {
      f.status = r.u8();
      if (f.status !== ACK.STORED && f.status !== ACK.REJECTED) throw bad('unknown SNAPSHOT_ACK status');
      f.value = r.varint();
      if (f.status === ACK.REJECTED) f.name = PROTO_ERROR_NAMES[f.value] ?? 'UNKNOWN';
      break;
    }
    default:
      throw bad(`unexpected frame type ${type}`);
  }
  r.end();
  return f;
}
