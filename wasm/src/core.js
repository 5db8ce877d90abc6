// The boundary to the WebAssembly core: loading it once, one allocator
// (the core's malloc/free), scoped allocation, borrowed views copied out,
// and every non-zero return code turned into a WeftError.
//
// Memory rules (docs/API.md, "Memory"): every input is malloc'ed inside a
// Scope and freed in its `finally`; the core's outputs are borrowed views
// into its heap that the next call may move or overwrite, so they are
// copied (slice) or decoded before this module calls the core again; a
// Replica owns one handle, freed by close() (twice is harmless).
import sodium from 'libsodium-wrappers';
import WeftCore from '../dist/weftdb_core.mjs';
import { LEVEL_MAX_BYTES, RECORD_TICKET, RIGHT } from './constants.js';
import { WeftError } from './errors.js';

/** Right names by number (auth.h's RIGHT values): 'none', 'read', 'write', 'admin'. */
export const RIGHTS = Object.entries(RIGHT).reduce((a, [name, n]) => ((a[n] = name.toLowerCase()), a), ['none']);

const enc = new TextEncoder();
const dec = new TextDecoder();
const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

let loading = null;

/**
 * Loads libsodium.js and the core (once per realm). `wasm` may be a
 * WebAssembly.Module, the module's bytes, or a URL to fetch; by default the
 * .wasm file beside the package's dist/ loader.
 */
export function loadCore(opts = {}) {
  if (!loading) {
    loading = init(opts);
    loading.catch(() => {
      loading = null; // a failed load may be retried
    });
  }
  return loading;
}

async function compileWasm(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source);
  const url = source ? new URL(source, import.meta.url) : new URL('../dist/weftdb_core.wasm', import.meta.url);
  if (isNode && url.protocol === 'file:') {
    // Node's fetch cannot read files; the name is a variable so bundlers
    // for the browser leave this import alone.
    const fsName = 'node:fs/promises';
    const fs = await import(/* @vite-ignore */ fsName);
    return WebAssembly.compile(await fs.readFile(url));
  }
  const res = await fetch(url);
  if (!res.ok) throw new WeftError('WEFT_EUNAVAILABLE', `cannot load ${url}: HTTP ${res.status}`);
  if (WebAssembly.compileStreaming && (res.headers.get('content-type') || '').startsWith('application/wasm'))
    return WebAssembly.compileStreaming(res);
  return WebAssembly.compile(await res.arrayBuffer());
}

async function init(opts) {
  const [module] = await Promise.all([compileWasm(opts.wasm), sodium.ready]);
  let instance = null;
  const M = await WeftCore({
    sodium,
    // We instantiate ourselves: the emcc loader's own fetch of a file path
    // fails in Node (ENVIRONMENT.md), and this keeps one code path.
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(module, imports).then((inst) => {
        instance = inst;
        done(inst, module);
      });
      return {};
    },
    print: () => {},
    printErr: (s) => console.warn('weftdb:', s),
  });
  // -O3 minifies the wasm's export names; the loader's Module._name
  // functions know them (each becomes the raw export after its first call).
  const x = {};
  for (const name of EXPORTS) Object.defineProperty(x, name, { get: () => M['_' + name] });
  x.memory = Object.values(instance.exports).find((e) => e instanceof WebAssembly.Memory);
  const core = new Core(x);
  core.module = M;
  return core;
}

// wasm/exported_functions.json, without the leading underscores.
const EXPORTS = ['malloc', 'free', 'weft_err_name', 'weft_strerror', 'weft_version_string',
  'wdb_new', 'wdb_free', 'wdb_put', 'wdb_delete_field', 'wdb_delete_doc', 'wdb_counter_add',
  'wdb_txn_ops', 'wdb_rollback', 'wdb_commit', 'wdb_apply', 'wdb_apply_each', 'wdb_write_ops', 'wdb_vv', 'wdb_diff', 'wdb_forget',
  'wdb_change_count', 'wdb_pending_count', 'wdb_change_info', 'wdb_get_field', 'wdb_get_doc',
  'wdb_text_splice', 'wdb_text_format', 'wdb_text_spans', 'wdb_text_edit', 'wdb_text_events', 'wdb_text_length', 'wdb_text_anchor', 'wdb_text_resolve', 'wdb_text_insert_before',
  'wdb_list_edit', 'wdb_list_length', 'wdb_list_items', 'wdb_next_doc', 'wdb_collection', 'wdb_touched', 'wdb_touched_list', 'wdb_change_ops', 'wdb_state_hash', 'wdb_snapshot', 'wdb_load_snapshot',
  'wdb_publish_snapshot', 'wdb_load_sealed_snapshot', 'wdb_snapshot_header', 'wdb_keypair',
  'wdb_random', 'wdb_token_issue', 'wdb_token_verify', 'wdb_proof_sign', 'wdb_level_sign', 'wdb_level_verify', 'wdb_grant_chain_verify',
  'wdb_rekey', 'wdb_set_signer', 'wdb_add_key', 'wdb_epoch_open', 'wdb_epoch_prev', 'wdb_members_new', 'wdb_members_free', 'wdb_members_add', 'wdb_member_bytes', 'wdb_members_list',
  'wdb_grant_sign', 'wdb_invite_issue', 'wdb_invite_claim', 'wdb_ticket_decode', 'wdb_revoke_sign', 'wdb_epoch_sign', 'wdb_members_admit', 'wdb_members_author', 'wdb_members_rights', 'wdb_members_claim_open',
  'wdb_set_format_level', 'wdb_invite_bound',
  'wdb_invite_encode', 'wdb_invite_decode', 'wdb_heap_used', 'wdb_backup_seal', 'wdb_backup_open', 'wdb_member_record_len', 'wdb_link_device_sig', 'wdb_link_sign'];

/** The loaded core. Methods are low-level; see space.js for the API. */
export class Core {
  constructor(x) {
    this.x = x;
    this.memory = x.memory;
    this._u8 = new Uint8Array(this.memory.buffer);
    this._u32 = new Uint32Array(this.memory.buffer);
    this._dv = new DataView(this.memory.buffer);
    // A permanent OUT area for (pointer, length) pairs and small results.
    this.out = this.malloc(64);
    this.sodium = sodium;
    this.version = this.cstr(x.weft_version_string());
  }

  // Views are recreated when memory grows (the old buffer is detached).
  get u8() {
    if (this._u8.buffer !== this.memory.buffer) this._views();
    return this._u8;
  }
  get u32() {
    if (this._u32.buffer !== this.memory.buffer) this._views();
    return this._u32;
  }
  get dv() {
    if (this._dv.buffer !== this.memory.buffer) this._views();
    return this._dv;
  }
  _views() {
    this._u8 = new Uint8Array(this.memory.buffer);
    this._u32 = new Uint32Array(this.memory.buffer);
    this._dv = new DataView(this.memory.buffer);
  }

  /** Bytes of the WASM heap (grows, never shrinks). */
  get heapBytes() {
    return this.memory.buffer.byteLength;
  }

  /** Bytes malloc has handed out and not taken back (for leak checks). */
  get heapUsed() {
    return this.x.wdb_heap_used();
  }

  malloc(n) {
    const p = this.x.malloc(n > 0 ? n : 1);
    if (!p) throw new WeftError('WEFT_ENOMEM', `out of WASM memory allocating ${n} bytes`);
    return p;
  }
  free(p) {
    if (p) this.x.free(p);
  }

  cstr(p) {
    const u8 = this.u8;
    let e = p;
    while (u8[e]) e++;
    return dec.decode(u8.subarray(p, e));
  }

  /** Throws the WeftError for rc < 0; returns rc otherwise. */
  check(rc, what) {
    if (rc < 0) throw WeftError.fromCode(rc, what, this.cstr(this.x.weft_strerror(rc)));
    return rc;
  }

  /** Runs fn(scope) and frees everything the scope allocated. */
  scope(fn) {
    const s = new Scope(this);
    try {
      return fn(s);
    } finally {
      s.release();
    }
  }

  /** Copies the (pointer, length) pair at OUT words [i, i+1] out of the heap. */
  outBytes(i = 0) {
    const w = this.out >> 2;
    const u32 = this.u32;
    const p = u32[w + i];
    return this.u8.slice(p, p + u32[w + i + 1]);
  }
  /** A borrowed view of the pair: valid until the next call into the core. */
  outView(i = 0) {
    const w = this.out >> 2;
    const u32 = this.u32;
    const p = u32[w + i];
    return this.u8.subarray(p, p + u32[w + i + 1]);
  }

  // ---- key backups (weft/backup.h) ----

  /**
   * Loads libsodium's sumo build (Argon2id) on first use: 85 KB gzip more
   * that only backups need (SECURITY.md, "Implementation notes").
   */
  async loadSumo() {
    if (this.module.sodiumSumo) return;
    // A literal specifier: bundlers split it into a chunk of its own.
    const mod = await import('libsodium-wrappers-sumo');
    const sumo = mod.default ?? mod;
    await sumo.ready;
    this.module.sodiumSumo = sumo;
  }

  /**
   * Seals a backup (FORMAT.md §11) under `passphrase`; loadSumo() first.
   * keys: Uint8Array[] oldest first; records: Uint8Array[].
   */
  backupSeal({ space, authorSecret, ownerSecret = null, keyEpoch = 0, keys, token, records = [], level = null, relay = '' }, passphrase) {
    const cat = (list) => {
      const out = new Uint8Array(list.reduce((n, b) => n + b.length, 0));
      let o = 0;
      for (const b of list) out.set(b, o), (o += b.length);
      return out;
    };
    return this.scope((s) => {
      const ks = cat(keys), recs = cat(records), url = enc.encode(relay ?? ''), pw = enc.encode(passphrase);
      const lv = level ?? new Uint8Array(0), tok = token ?? new Uint8Array(0);
      const args = () => [s.bytes(space), s.bytes(authorSecret), ownerSecret ? s.bytes(ownerSecret) : 0, keyEpoch,
        s.bytes(ks), keys.length, s.bytes(tok), tok.length, s.bytes(recs), recs.length, s.bytes(lv), lv.length,
        s.bytes(url), url.length, s.bytes(pw), pw.length];
      let cap = 256 + ks.length + recs.length + lv.length + url.length + tok.length + 200;
      const dst = s.alloc(cap);
      this.check(this.x.wdb_backup_seal(dst, cap, this.out, ...args()), 'sealing the backup');
      return this.u8.slice(dst, dst + this.u32[this.out >> 2]);
    });
  }

  /** Opens a sealed backup with `passphrase` (loadSumo() first): its fields, copied out; the payload is wiped. */
  backupOpen(blob, passphrase) {
    return this.scope((s) => {
      const pw = enc.encode(passphrase);
      const payload = s.alloc(blob.length), out = s.alloc(13 * 4);
      try {
        this.check(this.x.wdb_backup_open(payload, blob.length, out, s.bytes(blob), blob.length, s.bytes(pw), pw.length), 'opening the backup');
        const v = this.u32.slice(out >> 2, (out >> 2) + 13);
        const at = (off, len) => this.u8.slice(payload + off, payload + off + len);
        const keys = at(v[3], v[4] * 32);
        return {
          space: at(0, 32),
          authorSecret: at(32, 64),
          ownerSecret: v[0] ? at(97, 64) : null,
          keyEpoch: v[1] + v[2] * 2 ** 32,
          keys: Array.from({ length: v[4] }, (_, i) => keys.slice(i * 32, i * 32 + 32)),
          token: at(v[5], v[6]),
          records: this.splitMemberRecords(at(v[7], v[8])),
          level: v[10] ? at(v[9], v[10]) : null,
          relay: dec.decode(at(v[11], v[12])),
        };
      } finally {
        this.u8.fill(0, payload, payload + blob.length);
      }
    });
  }

  /** Membership records kept back to back, one by one. */
  splitMemberRecords(buf) {
    const out = [];
    this.scope((s) => {
      const p = s.bytes(buf);
      for (let o = 0; o < buf.length;) {
        this.check(this.x.wdb_member_record_len(p + o, buf.length - o, this.out), 'reading a membership record');
        const n = this.u32[this.out >> 2];
        out.push(buf.slice(o, o + n));
        o += n;
      }
    });
    return out;
  }

  // ---- keys, tokens, invites ----

  keypair() {
    return this.scope((s) => {
      const pk = s.alloc(32);
      const sk = s.alloc(64);
      this.check(this.x.wdb_keypair(pk, sk), 'generating a key pair');
      return { publicKey: this.u8.slice(pk, pk + 32), secretKey: this.u8.slice(sk, sk + 64) };
    });
  }

  random(n) {
    return this.scope((s) => {
      const p = s.alloc(n);
      this.check(this.x.wdb_random(p, n), 'drawing random bytes');
      return this.u8.slice(p, p + n);
    });
  }

  /** Issues a token; times in Unix seconds (expires 0: never); grantee null: any holder. */
  tokenIssue({ space, issuerSecret, parent = null, grantee = null, rights, notBefore = 0, expires = 0 }) {
    return this.scope((s) => {
      const cap = 512;
      const dst = s.alloc(cap);
      const rc = this.x.wdb_token_issue(dst, cap, this.out, s.bytes(space), s.bytes(issuerSecret),
        parent ? s.bytes(parent) : 0, parent ? parent.length : 0, grantee ? s.bytes(grantee) : 0,
        rights, notBefore, expires);
      this.check(rc, 'issuing a token');
      return this.u8.slice(dst, dst + this.u32[this.out >> 2]);
    });
  }

  /** Verifies a token for `space` at `now` (Unix seconds). */
  tokenVerify(token, space, now) {
    return this.scope((s) => {
      const info = s.alloc(144);
      this.check(this.x.wdb_token_verify(s.bytes(token), token.length, s.bytes(space), now, info), 'verifying the token');
      const u8 = this.u8;
      const dv = this.dv;
      return {
        space: u8.slice(info, info + 32),
        issuer: u8.slice(info + 32, info + 64),
        grantee: dv.getInt32(info + 132, true) ? null : u8.slice(info + 64, info + 96),
        id: u8.slice(info + 96, info + 112),
        notBefore: dv.getFloat64(info + 112, true),
        expires: dv.getFloat64(info + 120, true),
        rights: dv.getInt32(info + 128, true),
        delegated: !!dv.getInt32(info + 136, true),
      };
    });
  }

  /**
   * Verifies a grant chain (weft/members.h: the grants that give `key` its
   * rights, shown where a token would go) for `space` at `atSeconds`.
   * Returns the rights it gives; throws its WeftError.
   */
  grantChainVerify(chain, space, key, atSeconds) {
    return this.scope((s) => {
      this.check(this.x.wdb_grant_chain_verify(s.bytes(chain), chain.length, s.bytes(space), s.bytes(key), atSeconds, this.out), 'verifying the grant chain');
      return this.u32[this.out >> 2];
    });
  }

  /** Signs a level record raising `space` to `level` (FORMAT.md §10); parent: the issuer's admin token or grant chain, null for the owner. */
  levelSign({ space, issuerSecret, parent = null, level, wallMs }) {
    return this.scope((s) => {
      const cap = LEVEL_MAX_BYTES;
      const dst = s.alloc(cap);
      const rc = this.x.wdb_level_sign(dst, cap, this.out, s.bytes(space), s.bytes(issuerSecret),
        parent ? s.bytes(parent) : 0, parent ? parent.length : 0, level, wallMs);
      this.check(rc, 'signing the level record');
      return this.u8.slice(dst, dst + this.u32[this.out >> 2]);
    });
  }

  /** Verifies a level record for `space`; returns its level. */
  levelVerify(record, space) {
    return this.scope((s) => {
      this.check(this.x.wdb_level_verify(s.bytes(record), record.length, s.bytes(space), this.out), 'verifying the level record');
      return this.u32[this.out >> 2];
    });
  }

  /**
   * The plaintext header of a sealed snapshot (FORMAT.md §8), structure
   * only: no key, no signature checked. Throws the decode's WeftError.
   * @returns {{ space: Uint8Array, publisher: Uint8Array, vv: Uint8Array, rseq: number, wallMs: number, bytes: number }}
   */
  snapshotHeader(record) {
    return this.scope((s) => {
      const info = s.alloc(40);
      const p = s.bytes(record);
      this.check(this.x.wdb_snapshot_header(p, record.length, info), 'decoding the sealed snapshot');
      const u8 = this.u8;
      const dv = this.dv;
      const at = (o) => dv.getUint32(info + o, true);
      return {
        space: u8.slice(at(0), at(0) + 32),
        publisher: u8.slice(at(4), at(4) + 32),
        vv: u8.slice(at(8), at(8) + at(12)),
        bytes: at(20),
        rseq: dv.getFloat64(info + 24, true),
        wallMs: dv.getFloat64(info + 32, true),
      };
    });
  }

  /** Signs a membership record (weft/members.h): kind 'grant' ({ member, rights, flags, until }), 'revoke' ({ member, lastSeq, epoch }) or 'epoch' ({ epoch, key, prev, members: Uint8Array[] }). Times in Unix seconds, wallMs in ms. */
  memberSign(kind, { space, issuerSecret, wallMs, ...a }) {
    return this.scope((s) => {
      const n = a.members?.length ?? 0;
      const cap = 2 + 96 + 48 + 96 + 3 + n * 112 + 64;
      const dst = s.alloc(cap);
      let rc;
      if (kind === 'grant')
        rc = this.x.wdb_grant_sign(dst, cap, this.out, s.bytes(space), s.bytes(issuerSecret), s.bytes(a.member), a.rights, a.flags ?? 0, a.until ?? 0, wallMs);
      else if (kind === 'revoke')
        rc = this.x.wdb_revoke_sign(dst, cap, this.out, s.bytes(space), s.bytes(issuerSecret), s.bytes(a.member), a.lastSeq, a.epoch, wallMs);
      else {
        const all = new Uint8Array(n * 32);
        a.members.forEach((k, i) => all.set(k, i * 32));
        rc = this.x.wdb_epoch_sign(dst, cap, this.out, s.bytes(space), s.bytes(issuerSecret), a.epoch, s.bytes(a.key), s.bytes(a.prev), s.bytes(all), n, wallMs);
      }
      this.check(rc, `signing the ${kind} record`);
      return this.u8.slice(dst, dst + this.u32[this.out >> 2]);
    });
  }

  /**
   * An invite the newcomer claims with its own key (weft/members.h): the
   * grant to a fresh invite key, signed with issuerSecret, and the ticket
   * the link carries. until: Unix seconds (0: never).
   */
  inviteIssue({ space, issuerSecret, rights, until, wallMs }) {
    return this.scope((s) => {
      const grant = s.alloc(256), ticket = s.alloc(64), lens = s.alloc(8);
      this.check(this.x.wdb_invite_issue(grant, 256, lens, ticket, s.bytes(space), s.bytes(issuerSecret), rights, until, wallMs), 'issuing the invite');
      const gl = this.u32[lens >> 2], tl = this.u32[(lens >> 2) + 1];
      const out = { grant: this.u8.slice(grant, grant + gl), ticket: this.u8.slice(ticket, ticket + tl) };
      this.u8.fill(0, ticket, ticket + tl);
      return out;
    });
  }

  /** The newcomer's claim of a ticket for its key `member`: { claim, inviteKey }. */
  inviteClaim({ space, ticket, member, wallMs }) {
    return this.scope((s) => {
      const dst = s.alloc(256), inv = s.alloc(32);
      this.check(this.x.wdb_invite_claim(dst, 256, this.out, s.bytes(space), s.bytes(ticket), ticket.length, s.bytes(member), wallMs, inv), 'claiming the invite');
      return { claim: this.u8.slice(dst, dst + this.u32[this.out >> 2]), inviteKey: this.u8.slice(inv, inv + 32) };
    });
  }

  /** A claim ticket's { rights, until } (Unix s, 0: never), or null when the bytes are not a ticket (a token). */
  ticketDecode(ticket) {
    if (ticket.length < 2 || ticket[1] !== RECORD_TICKET) return null;
    return this.scope((s) => {
      const out = s.alloc(16);
      this.check(this.x.wdb_ticket_decode(s.bytes(ticket), ticket.length, out), 'reading the invite ticket');
      const dv = new DataView(this.u8.buffer);
      return { rights: dv.getFloat64(out, true), until: dv.getFloat64(out + 8, true) };
    });
  }

  /** A device's half of a link to `person` (FORMAT.md §10, kind 9): its signature with `deviceSecret`. */
  linkDeviceSig({ space, person, deviceSecret, wallMs }) {
    return this.scope((s) => {
      const sig = s.alloc(64);
      this.check(this.x.wdb_link_device_sig(sig, s.bytes(space), s.bytes(person), s.bytes(deviceSecret), wallMs), 'signing the device link');
      return this.u8.slice(sig, sig + 64);
    });
  }

  /** Completes a link record as the person (personSecret), checking the device's half. */
  linkSign({ space, personSecret, device, wallMs, deviceSig }) {
    return this.scope((s) => {
      const cap = 2 + 96 + 10 + 128;
      const dst = s.alloc(cap);
      this.check(this.x.wdb_link_sign(dst, cap, this.out, s.bytes(space), s.bytes(personSecret), s.bytes(device), wallMs, s.bytes(deviceSig)), 'signing the device link');
      return this.u8.slice(dst, dst + this.u32[this.out >> 2]);
    });
  }

  /** Opens an epoch record's envelope for the key pair `secretKey` (64 bytes): { key, prev } (prev: the key before it). */
  epochOpen(record, secretKey) {
    return this.scope((s) => {
      const key = s.alloc(32), prev = s.alloc(32);
      this.check(this.x.wdb_epoch_open(s.bytes(record), record.length, s.bytes(secretKey), key, prev), 'opening the key epoch');
      const out = { key: this.u8.slice(key, key + 32), prev: this.u8.slice(prev, prev + 32) };
      this.u8.fill(0, key, key + 32);
      this.u8.fill(0, prev, prev + 32);
      return out;
    });
  }

  /** The previous key an epoch record holds, opened with its epoch's `key`; throws (WEFT_EFORGED: not its key). */
  epochPrev(record, key) {
    return this.scope((s) => {
      const prev = s.alloc(32);
      this.check(this.x.wdb_epoch_prev(s.bytes(record), record.length, s.bytes(key), prev), 'opening the key epoch\'s previous key');
      const out = this.u8.slice(prev, prev + 32);
      this.u8.fill(0, prev, prev + 32);
      return out;
    });
  }

  proofSign(secretKey, space, nonce) {
    return this.scope((s) => {
      const sig = s.alloc(64);
      this.check(this.x.wdb_proof_sign(sig, s.bytes(secretKey), s.bytes(space), s.bytes(nonce), nonce.length), 'signing the proof');
      return this.u8.slice(sig, sig + 64);
    });
  }

  /**
   * An invite link into the space whose keys are `meta`, issued by this
   * device (holding `have`, a RIGHT): rights ('read' | 'write' | 'admin')
   * for expiresIn ms (0: never); base: the app's URL.
   */
  invite(meta, have, { rights = 'write', expiresIn = 7 * 24 * 3600 * 1000, base = '' } = {}) {
    const r = RIGHTS.indexOf(rights);
    if (r < 1) throw new WeftError('WEFT_EINVAL', `rights must be read, write or admin, not ${rights}`);
    if (!(Number.isFinite(expiresIn) && expiresIn >= 0)) throw new WeftError('WEFT_EINVAL', 'expiresIn must be milliseconds >= 0');
    if (have < RIGHT.ADMIN) throw new WeftError('WEFT_ERIGHTS', 'only the owner or an admin can invite');
    const now = Math.floor(Date.now() / 1000);
    const owner = !!meta.spaceSecret;
    const token = this.tokenIssue({
      space: meta.space,
      issuerSecret: owner ? meta.spaceSecret : meta.authorSecret,
      parent: owner ? null : meta.token,
      grantee: null,
      rights: r,
      notBefore: Math.max(0, now - 300), // tolerate clock skew between devices
      expires: expiresIn ? now + Math.ceil(expiresIn / 1000) : 0,
    });
    return this.inviteEncode(base, meta.space, token, meta.contentKey);
  }

  inviteEncode(base, space, token, contentKey) {
    return this.scope((s) => {
      const b = enc.encode(base);
      const cap = this.x.wdb_invite_bound(b.length, token.length);
      const dst = s.alloc(cap);
      this.check(this.x.wdb_invite_encode(dst, cap, this.out, s.bytes(b), b.length, s.bytes(space),
        s.bytes(token), token.length, s.bytes(contentKey)), 'encoding the invite');
      return dec.decode(this.u8.subarray(dst, dst + this.u32[this.out >> 2]));
    });
  }

  inviteDecode(link) {
    return this.scope((s) => {
      const b = enc.encode(link);
      const space = s.alloc(32);
      const key = s.alloc(32);
      const tok = s.alloc(512);
      this.check(this.x.wdb_invite_decode(s.bytes(b), b.length, space, tok, 512, this.out, key), 'reading the invite link');
      const u8 = this.u8;
      return {
        space: u8.slice(space, space + 32),
        token: u8.slice(tok, tok + this.u32[this.out >> 2]),
        contentKey: u8.slice(key, key + 32),
      };
    });
  }

  /** Splits concatenated change records into [{ record, author, seq }]. */
  splitRecords(buf) {
    const out = [];
    if (!buf.length) return out;
    return this.scope((s) => {
      const p = s.bytes(buf);
      const info = s.alloc(32);
      let off = 0;
      while (off < buf.length) {
        this.check(this.x.wdb_change_info(p + off, buf.length - off, info), 'reading a change header');
        const dv = this.dv;
        const len = dv.getUint32(info + 4, true);
        const a = dv.getUint32(info, true);
        out.push({
          record: buf.subarray(off, off + len),
          author: this.u8.slice(a, a + 32),
          seq: dv.getFloat64(info + 8, true),
          wallMs: dv.getFloat64(info + 24, true),
        });
        off += len;
      }
      return out;
    });
  }
}

/** Allocations that live for one scope: freed together in its finally. */
class Scope {
  constructor(core) {
    this.core = core;
    this.ptrs = [];
  }
  alloc(n) {
    const p = this.core.malloc(n);
    this.ptrs.push(p);
    return p;
  }
  /** Copies bytes into the heap. */
  bytes(b) {
    const p = this.alloc(b.length);
    this.core.u8.set(b, p);
    return p;
  }
  /** Copies a string as UTF-8. Returns [pointer, byte length]. */
  str(str) {
    const cap = str.length * 3;
    const p = this.alloc(cap);
    const { written } = enc.encodeInto(str, this.core.u8.subarray(p, p + cap));
    return [p, written];
  }
  release() {
    for (const p of this.ptrs) this.core.free(p);
    this.ptrs.length = 0;
  }
}
