// A space's membership (SECURITY.md "Members, removal and key rotation";
// docs/API.md "Members"): the signed grants, removals and key epochs the
// relay sends (HELLO flag 0x08), folded by the core (weft/members.h) the
// same way on every replica. Members verifies and keeps them with the key
// material (so a reopened space starts from them), and applies each key
// epoch sealed to this device: its key seals from then on and every earlier
// key still opens. An epoch not sealed to this device (it was removed) gives
// nothing. The space holds one and hands it a narrow host.
import { RECORD_EPOCH, RECORD_GRANT, RIGHT } from './constants.js';
import { ERRORS, WeftError } from './errors.js';
import { concatBytes, fromBase64url, toBase64url } from './util.js';

const RIGHTS_NAME = { [RIGHT.READ]: 'read', [RIGHT.WRITE]: 'write', [RIGHT.ADMIN]: 'admin' };
const STATE = ['member', 'expired', 'removed', 'none'];
const MAX_MEMBERS_LISTED = 4096;
const ERROR_NAME = new Map(Object.entries(ERRORS).map(([k, v]) => [v, k]));
const codeName = (rc) => ERROR_NAME.get(rc) ?? 'WEFT_EUNKNOWN';
/** What a device code (Members#linkRequest) starts with. */
const LINK_PREFIX = 'weft-device-1:';

/**
 * What Members needs from its space.
 * @typedef {object} MembersHost
 * @property {import('./core.js').Core} core
 * @property {() => object} meta the key material now
 * @property {(m: object) => void} setMeta replaces it
 * @property {() => import('./replica.js').Replica} rep the replica now
 * @property {(name: string, arg: unknown) => void} emit the space's events
 * @property {{ saveMeta(m: object): Promise<void> }} store
 */

/**
 * A member as the app sees it.
 * person: the key of the person this device belongs to (a link, kind 9),
 * else its own key: group by it to see one person's devices.
 * @typedef {{ key: string, person: string, rights: 'read'|'write'|'admin', admin: boolean, owner: boolean, state: 'member'|'expired'|'removed'|'none', until: number|null }} Member
 */

export class Members {
  #h;
  #m = 0; // the core's weft_members
  #cut = new Map(); // removed key (base64url) -> its last change that counts
  /** The current key epoch (0: the space's first key). */
  epoch = 0;
  /** How many content keys this device learned from key epochs since it opened (sync.js asks again for what it could not open). */
  keysLearned = 0;

  /** @param {MembersHost} host Folds the records kept with the key material. */
  constructor(host) {
    this.#h = host;
    const meta = host.meta();
    this.#m = host.core.scope((s) => {
      const out = s.alloc(4);
      host.core.check(host.core.x.wdb_members_new(out, s.bytes(meta.space)), 'creating the member list');
      return host.core.u32[out >> 2];
    });
    for (const r of meta.memberRecords ?? []) this.#add(r);
    this.epoch = this.#list().epoch;
    this.#refresh();
  }

  close() {
    if (this.#m) this.#h.core.x.wdb_members_free(this.#m);
    this.#m = 0;
  }

  /** Verifies and folds one record. Returns { status, fresh, kind, epoch } or null when it does not verify. */
  #add(record) {
    const core = this.#h.core;
    return core.scope((s) => {
      const out = s.alloc(16);
      const rc = core.x.wdb_members_add(this.#m, s.bytes(record), record.length, out);
      if (rc) return null;
      const dv = new DataView(core.u8.buffer, out, 16);
      return { status: dv.getInt32(0, true), fresh: !!dv.getInt32(4, true), kind: dv.getInt32(8, true), epoch: dv.getInt32(12, true) };
    });
  }

  /** The members now, and the current epoch. */
  #list() {
    const core = this.#h.core;
    const size = core.x.wdb_member_bytes();
    return core.scope((s) => {
      const cap = size * MAX_MEMBERS_LISTED;
      const dst = s.alloc(cap);
      core.check(core.x.wdb_members_list(this.#m, Date.now() / 1000, dst, cap, core.out), 'listing members');
      const n = core.u32[core.out >> 2], epoch = core.u32[(core.out >> 2) + 1];
      const dv = new DataView(core.u8.buffer);
      const space = toBase64url(this.#h.meta().space);
      /** @type {Member[]} */
      const members = [];
      for (let i = 0; i < n; i++) {
        const e = dst + i * size;
        const key = toBase64url(core.u8.slice(e, e + 32));
        const until = dv.getFloat64(e + 40, true);
        const person = core.u8[e + 56] ? toBase64url(core.u8.slice(e + 64, e + 96)) : key;
        members.push({ key, person, rights: RIGHTS_NAME[core.u8[e + 32]] ?? 'read', admin: !!core.u8[e + 33], owner: key === space, state: STATE[core.u8[e + 34]], until: until ? until * 1000 : null, lastSeq: dv.getFloat64(e + 48, true) });
      }
      return { members, epoch };
    });
  }

  /**
   * Who is a member, with what rights, now. A device the relay refused as
   * removed shows itself removed, though the revocation never reaches it
   * (markRemoved).
   */
  get list() {
    const list = this.#list().members.map(({ lastSeq, ...m }) => m);
    const m = this.#h.meta();
    if (!m.removedSeen || m.spaceSecret) return list;
    const me = toBase64url(m.author);
    const mine = list.find((x) => x.key === me);
    if (mine) mine.state = 'removed';
    else list.push({ key: me, person: me, rights: 'read', admin: false, owner: false, state: 'removed', until: null });
    return list;
  }

  /**
   * The relay refused this device's key as removed (REVOKED), or admitted
   * it again (removed false). The relay sends a removed key nothing, not
   * even its revocation (SECURITY.md "What a removed device sees"), so this
   * device notes the relay's word with its key material: `members` shows it
   * removed and its rights drop to read, until a relay admits the key.
   */
  markRemoved(removed) {
    const h = this.#h, m = h.meta();
    if (!this.#m || m.spaceSecret || !!m.removedSeen === removed) return Promise.resolve();
    const { removedSeen, ...rest } = m;
    const meta = removed ? { ...rest, removedSeen: Date.now() } : rest;
    h.setMeta(meta);
    h.emit('members', this.list);
    return h.store.saveMeta(meta).catch((e) => {
      h.emit('error', new WeftError('WEFT_EUNAVAILABLE', `storing the removal failed: ${e?.message ?? e}`, { cause: e }));
    });
  }

  /**
   * The changes of `buf` that count: a removed author's past its
   * revocation's last change do not, here as on the relay and every other
   * replica (from a peer, or received before the removal arrived). Returns
   * buf itself when all count.
   */
  counting(buf) {
    const cut = this.#cut;
    if (!cut.size || !buf.length) return buf;
    const keep = this.#h.core.splitRecords(buf).filter((r) => {
      const last = cut.get(toBase64url(r.author));
      return last === undefined || r.seq <= last;
    });
    const dropped = this.#h.core.splitRecords(buf).length - keep.length;
    if (!dropped) return buf;
    this.#h.emit('error', new WeftError('WEFT_EREVOKED', `${dropped} change(s) of a removed member refused`));
    const out = new Uint8Array(keep.reduce((n, r) => n + r.record.length, 0));
    let o = 0;
    for (const r of keep) {
      out.set(r.record, o);
      o += r.record.length;
    }
    return out;
  }

  /**
   * What the records alone decide about a change (author, seq) written at
   * wallMs, as every replica decides it (SECURITY.md "What peers check"):
   * { code: null } when it counts, else the WEFT_… code (REVOKED, EXPIRED,
   * RIGHTS); decided is false when the records name no grant of the author
   * (a token admitted it: the sender's token decides).
   */
  authorCheck(author, seq, wallMs) {
    const core = this.#h.core;
    const at = Math.floor(Math.min(wallMs, Date.now()) / 1000);
    return core.scope((s) => {
      const out = s.alloc(4);
      const rc = core.x.wdb_members_author(this.#m, s.bytes(author), seq, Math.max(0, at), out);
      return { code: rc ? codeName(rc) : null, decided: core.dv.getInt32(out, true) !== 0 };
    });
  }

  /** Rights of `key` now by its grants: { code: null | 'WEFT_EREVOKED' | 'WEFT_EEXPIRED', rights } (rights 0: none). */
  rightsOf(key) {
    const core = this.#h.core;
    return core.scope((s) => {
      const out = s.alloc(4);
      const rc = core.x.wdb_members_rights(this.#m, s.bytes(key), Math.floor(Date.now() / 1000), out);
      return { code: rc ? codeName(rc) : null, rights: rc ? 0 : core.dv.getInt32(out, true) };
    });
  }

  /**
   * The soonest end after now among the grants that give `key` (bytes) its
   * rights, its invite's included: when they may change by time alone (ms
   * since the epoch; Infinity: never).
   */
  nextEnd(key) {
    const now = Date.now();
    const grants = (this.#h.meta().memberRecords ?? []).filter((r) => r[1] === RECORD_GRANT && r.length > 100);
    const mine = grants.filter((g) => equal(g.subarray(66, 98), key));
    const invites = grants.filter((g) => mine.some((c) => equal(c.subarray(34, 66), g.subarray(66, 98))));
    let end = Infinity;
    for (const g of [...mine, ...invites]) {
      const until = (readGrantTail(g)?.until ?? 0) * 1000;
      if (until > now && until < end) end = until;
    }
    return end;
  }

  /** Whether a peer's claim (HELLO flag 0x10) for `key` may admit it: null, or the WEFT_… code why not. */
  claimOpen(claim, key) {
    const core = this.#h.core;
    const h = this.#h;
    const rc = core.scope((s) => core.x.wdb_members_claim_open(this.#m, s.bytes(h.meta().space), s.bytes(claim), claim.length, s.bytes(key), Math.floor(Date.now() / 1000)));
    return rc ? codeName(rc) : null;
  }

  /**
   * A claim a peer presented and proved its key for: admitted as the relay
   * admits it (nothing changes on a refusal), kept and folded. Resolves to
   * null, or the WEFT_… code of the refusal.
   */
  async admitClaim(claim) {
    const h = this.#h;
    const held = (h.meta().memberRecords ?? []).some((r) => equal(r, claim));
    const rc = h.core.scope((s) => h.core.x.wdb_members_admit(this.#m, s.bytes(claim), claim.length));
    if (rc) return codeName(rc);
    if (!held) await this.#keep(claim, this.#add(claim));
    return null;
  }

  /** A membership record from the relay: verified, folded, kept; a new key epoch sealed to this device is applied. */
  take(record) {
    const h = this.#h;
    const r = this.#add(record);
    if (!r) {
      h.emit('error', new WeftError('WEFT_ECRYPTO', 'the relay sent a membership record that does not verify'));
      return Promise.resolve();
    }
    if (!r.fresh) return Promise.resolve();
    return this.#keep(record, r);
  }

  /** Who was removed, and their cutoffs: read once per change of the records, not per apply. */
  #refresh() {
    this.#cut = new Map(this.#list().members.filter((m) => m.state === 'removed').map((m) => [m.key, m.lastSeq]));
  }

  /** Keeps a folded record with the key material, applies a key epoch, tells the app. */
  #keep(record, r) {
    const h = this.#h;
    this.#refresh();
    let meta = { ...h.meta(), memberRecords: [...(h.meta().memberRecords ?? []), record] };
    if (r.kind === RECORD_EPOCH && r.status === 0) meta = this.#applyEpoch(record, r.epoch, meta);
    if (meta.byGrant) {
      // The rights its grants give now, kept: what a device admitted by
      // grant starts from when its grants are not folded (rights.js).
      const me = this.list.find((x) => x.key === toBase64url(meta.author) && x.state === 'member');
      const n = me && Number(Object.entries(RIGHTS_NAME).find(([, v]) => v === me.rights)?.[0]);
      if (n && n !== meta.grantRights) meta = { ...meta, grantRights: n };
    }
    h.setMeta(meta);
    h.emit('members', this.list);
    return h.store.saveMeta(meta).catch((e) => {
      h.emit('error', new WeftError('WEFT_EUNAVAILABLE', `storing a membership record failed: ${e?.message ?? e}`, { cause: e }));
    });
  }

  /** The membership records this device signed (sent again on every connection; the relay answers DUPLICATE). */
  ownRecords() {
    const m = this.#h.meta();
    // A restored device also signed as the key it was restored from (its link).
    const mine = [m.author, m.spaceSecret ? m.space : null, m.restoredFrom ?? null].filter(Boolean);
    // issuer: after version, kind and space. Kept in the order they were
    // signed, which is an order the relay admits.
    return (m.memberRecords ?? []).filter((r) => mine.some((k) => k.every((b, i) => b === r[34 + i])));
  }

  /**
   * This device's grant chain (weft/members.h): the owner's grant to its
   * key, or the owner's invite and its claim, as held here, that verify now
   * and give at least `rights`; the one that lasts longest. What a device
   * admitted by grant shows where a token would go (a level record's
   * parent, a snapshot it publishes). Null when it holds none.
   */
  grantChain(rights = RIGHT.ADMIN) {
    const h = this.#h, m = h.meta();
    const records = (m.memberRecords ?? []).filter((r) => r[1] === RECORD_GRANT && r.length > 100);
    const isOwner = (r) => equal(r.subarray(34, 66), m.space);
    const now = Math.floor(Date.now() / 1000);
    let best = null, bestUntil = -1;
    for (const g of records) {
      if (!equal(g.subarray(66, 98), m.author) || g[99] !== 0) continue;
      const via = isOwner(g) ? [null] : records.filter((i) => isOwner(i) && i[99] === 1 && equal(i.subarray(66, 98), g.subarray(34, 66)));
      for (const inv of via) {
        const chain = inv ? concatBytes([inv, g]) : g;
        let got;
        try {
          got = h.core.grantChainVerify(chain, m.space, m.author, now);
        } catch {
          continue;
        }
        const until = readGrantTail(g)?.until || Infinity;
        if (got >= rights && until > bestUntil) [best, bestUntil] = [chain, until];
      }
    }
    return best;
  }

  /** Signs, checks as the relay will (nothing kept on a refusal), keeps and applies records; returns them. */
  #sign(kind, args) {
    const h = this.#h, m = h.meta();
    const issuerSecret = m.spaceSecret ?? m.authorSecret;
    const record = h.core.memberSign(kind, { space: m.space, issuerSecret, wallMs: Date.now(), ...args });
    const rc = h.core.scope((s) => h.core.x.wdb_members_admit(this.#m, s.bytes(record), record.length));
    if (rc) throw WeftError.fromCode(rc, `the ${kind} record was refused`);
    return record;
  }

  /** Signs a record, keeps it and applies it here. */
  async #signKeep(kind, args) {
    const record = this.#sign(kind, args);
    await this.#keep(record, this.#add(record)); // held already: #add only reads its status
    return record;
  }

  /** The owner's device grants itself admin before its first record, so that key epochs reach it. */
  async #selfGrant(out) {
    const m = this.#h.meta();
    const me = toBase64url(m.author);
    if (!m.spaceSecret || this.list.some((x) => x.key === me && x.state === 'member' && x.admin)) return;
    out.push(this.#sign('grant', { member: m.author, rights: RIGHT.ADMIN }));
    return this.#keep(out[0], this.#add(out[0]));
  }

  /** Owner or admin: grants `rights` to the key `member` (base64url), until `until` (ms since the epoch; null: never). Returns the records to send. */
  async grant(member, rights, until = null) {
    const m = this.#h.meta();
    // An admin's grant ends no later than its own (else OUTLIVES).
    const mine = m.spaceSecret ? null : this.#list().members.find((x) => x.key === toBase64url(m.author));
    if (mine?.until && (!until || until > mine.until)) until = mine.until;
    const out = [];
    await this.#selfGrant(out);
    out.push(await this.#signKeep('grant', { member: fromBase64url(member, 'member key'), rights, until: until ? Math.ceil(until / 1000) : 0 }));
    return out;
  }

  /**
   * Owner or admin: an invite the newcomer claims with its own key. Signs
   * the grant to a fresh invite key (checked as the relay will: an admin
   * grants no admin, nor past its own end) and returns { records, ticket }:
   * the records to send, the ticket for the link.
   */
  async invite(rights, until) {
    const h = this.#h, m = h.meta();
    const out = [];
    await this.#selfGrant(out);
    // An admin's invite ends no later than its own grant (else OUTLIVES).
    const mine = m.spaceSecret ? null : this.#list().members.find((x) => x.key === toBase64url(m.author));
    if (mine?.until && (!until || until > mine.until)) until = mine.until;
    const { grant, ticket } = h.core.inviteIssue({ space: m.space, issuerSecret: m.spaceSecret ?? m.authorSecret, rights, until: until ? Math.floor(until / 1000) : 0, wallMs: Date.now() });
    const rc = h.core.scope((s) => h.core.x.wdb_members_admit(this.#m, s.bytes(grant), grant.length));
    if (rc) throw WeftError.fromCode(rc, 'the invite was refused');
    await this.#keep(grant, this.#add(grant));
    out.push(grant);
    return { records: out, ticket };
  }

  /**
   * Grants about to lapse, renewed by this admin device: each member whose
   * access ends (and is not removed) gets one more grant with the same
   * rights for the same length again, once `share` (0..1) of its time has
   * gone by. An admin renews no longer than its own grant (it renews what
   * it can). Returns the records to send (none when nothing is due).
   */
  async renewDue(share = 0.8) {
    const h = this.#h, m = h.meta();
    const me = toBase64url(m.author);
    const list = this.#list().members;
    const mine = list.find((x) => x.key === me || (m.spaceSecret && x.owner));
    if (!m.spaceSecret && !(mine?.admin && mine.state === 'member')) return [];
    const now = Date.now();
    const out = [];
    for (const x of list) {
      if (x.owner || x.state !== 'member' || !x.until || x.key === me) continue;
      if (x.admin && !m.spaceSecret) continue; // admins renew non-admins only
      const start = this.#grantStart(x.key);
      const span = x.until - start;
      if (!(span > 0) || now < start + share * span) continue;
      let until = now + span;
      if (!m.spaceSecret && mine.until) until = Math.min(until, mine.until);
      if (until <= x.until) continue;
      const rights = Object.entries(RIGHTS_NAME).find(([, n]) => n === x.rights)?.[0];
      try {
        out.push(...(await this.grant(x.key, Number(rights), until)));
      } catch (e) {
        h.emit('error', e);
      }
    }
    return out;
  }

  /**
   * Devices linked to a member (one person, several devices; a restored
   * device is one) that hold less than their person: this admin device
   * grants each its person's rights, to its person's end (SECURITY.md
   * "One person, several devices"). The owner's device grants any; an
   * admin's, no admin rights (the owner's device completes those) and
   * never past its own end. Returns the records to send.
   */
  async completeLinks() {
    const h = this.#h, m = h.meta();
    const list = this.#list().members;
    const me = toBase64url(m.author);
    const mine = list.find((x) => x.key === me);
    const owner = !!m.spaceSecret;
    if (!owner && !(mine?.admin && mine.state === 'member')) return [];
    const byKey = new Map(list.map((x) => [x.key, x]));
    const rank = { read: 1, write: 2, admin: 3 };
    const out = [];
    for (const d of list) {
      if (d.person === d.key || d.state === 'removed' || d.owner) continue;
      const p = byKey.get(d.person);
      const person = p ?? (d.person === toBase64url(m.space) ? { rights: 'admin', admin: true, state: 'member', until: null, owner: true } : null);
      if (!person || person.state !== 'member') continue;
      const want = person.owner || person.admin ? 'admin' : person.rights;
      const give = owner ? want : want === 'admin' ? 'write' : want;
      const short = d.state !== 'member' || rank[d.rights] < rank[give] || (give === 'admin' && !d.admin);
      if (!short) continue;
      let until = person.until;
      if (!owner && mine.until) until = until ? Math.min(until, mine.until) : mine.until;
      if (until && until <= Date.now()) continue;
      try {
        out.push(...(await this.grant(d.key, rank[give], until)));
      } catch (e) {
        h.emit('error', e);
      }
    }
    return out;
  }

  /** When the grant that gives `key` its current end was signed (ms): its wall_ms. */
  #grantStart(key) {
    const want = fromBase64url(key, 'member key');
    let start = 0;
    for (const r of this.#h.meta().memberRecords ?? []) {
      if (r[1] !== RECORD_GRANT || !equal(r.subarray(66, 98), want)) continue;
      const g = readGrantTail(r);
      if (g && g.wallMs > start) start = g.wallMs;
    }
    return start;
  }

  /**
   * Owner or admin: removes `member` (base64url). Its changes up to the last
   * one this device holds count; a new content key goes to every member
   * left. Returns the records to send.
   */
  async remove(member, vv) {
    const h = this.#h, m = h.meta();
    const out = [];
    await this.#selfGrant(out);
    const key = fromBase64url(member, 'member key');
    const epoch = (m.keyEpoch ?? 0) + 1;
    // The owner included: a browser that created the space writes with the
    // space key itself.
    const left = this.list.filter((x) => x.state === 'member' && x.key !== member).map((x) => fromBase64url(x.key, 'member key'));
    if (!left.length) throw new WeftError('WEFT_EINVAL', 'no member would be left to read the space');
    out.push(await this.#signKeep('revoke', { member: key, lastSeq: seqOf(vv, key), epoch }));
    out.push(await this.#signKeep('epoch', { epoch, key: h.core.random(32), prev: h.meta().contentKey, members: left }));
    return out;
  }

  /**
   * On a new device: its half of a link to `person` (base64url), as a code
   * for the person's device (FORMAT.md §10, kind 9).
   */
  linkRequest(person) {
    const h = this.#h, m = h.meta();
    const wallMs = Date.now();
    const sig = h.core.linkDeviceSig({ space: m.space, person: fromBase64url(person, 'person key'), deviceSecret: m.authorSecret, wallMs });
    const code = new Uint8Array(32 + 8 + 64);
    code.set(m.author, 0);
    new DataView(code.buffer).setBigUint64(32, BigInt(wallMs), true);
    code.set(sig, 40);
    return LINK_PREFIX + toBase64url(code);
  }

  /** On the person's device: completes, checks as the relay will, keeps and returns the link record of a device's code. */
  async link(code) {
    const h = this.#h, m = h.meta();
    if (typeof code !== 'string' || !code.startsWith(LINK_PREFIX)) throw new WeftError('WEFT_EMALFORMED', `not a device code (it starts with "${LINK_PREFIX}")`);
    const bytes = fromBase64url(code.slice(LINK_PREFIX.length), 'device code');
    if (bytes.length !== 104) throw new WeftError('WEFT_EMALFORMED', 'a device code holds 104 bytes');
    const device = bytes.slice(0, 32);
    const wallMs = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(32, true));
    const record = h.core.linkSign({ space: m.space, personSecret: m.authorSecret, device, wallMs, deviceSig: bytes.slice(40) });
    const rc = h.core.scope((s) => h.core.x.wdb_members_admit(this.#m, s.bytes(record), record.length));
    if (rc) throw WeftError.fromCode(rc, 'the device link was refused');
    await this.#keep(record, this.#add(record));
    return { device: toBase64url(device), record };
  }

  /**
   * Keys this device can reach from the ones it holds: each epoch record
   * whose key it holds opens the key before it (the record's prev), until
   * nothing new opens. An epoch whose key is this device's content key
   * becomes its epoch (it seals with that key already). Returns meta.
   */
  #walkBack(meta) {
    const core = this.#h.core;
    const epochs = (meta.memberRecords ?? []).filter((r) => r[1] === RECORD_EPOCH);
    const held = [meta.contentKey, ...(meta.oldKeys ?? [])];
    let keyEpoch = meta.keyEpoch ?? 0;
    const added = [];
    for (let more = true; more;) {
      more = false;
      for (const r of epochs) {
        for (const k of held) {
          let prev;
          try {
            prev = core.epochPrev(r, k);
          } catch {
            continue; // not this record's key
          }
          if (k === meta.contentKey) keyEpoch = Math.max(keyEpoch, epochOf(r));
          if (!held.some((h) => equal(h, prev))) {
            held.push(prev);
            added.push(prev);
            more = true;
          }
          break;
        }
      }
    }
    if (!added.length && keyEpoch === (meta.keyEpoch ?? 0)) return meta;
    for (const k of added) this.#h.rep().addKey(k);
    this.keysLearned += added.length;
    this.epoch = Math.max(this.epoch, keyEpoch);
    return { ...meta, oldKeys: [...(meta.oldKeys ?? []), ...added], keyEpoch };
  }

  /** A key epoch newer than this device's: when sealed to it, its key seals from now on. */
  #applyEpoch(record, epoch, meta) {
    if (epoch <= (meta.keyEpoch ?? 0) || !meta.authorSecret) return meta;
    let keys;
    try {
      keys = this.#h.core.epochOpen(record, meta.authorSecret);
    } catch {
      // Not sealed to this device: what follows stays closed to it, unless
      // it holds this epoch's key already (its invite link was made after
      // the rotation): then it walks back to the older keys, to read what
      // came before it.
      return this.#walkBack(meta);
    }
    this.#h.rep().rekey(keys.key, keys.prev);
    this.keysLearned++;
    const oldKeys = [...(meta.oldKeys ?? [])];
    for (const k of [keys.prev, meta.contentKey]) if (!oldKeys.some((o) => equal(o, k)) && !equal(k, keys.key)) oldKeys.push(k);
    this.epoch = Math.max(this.epoch, epoch);
    return { ...meta, contentKey: keys.key, oldKeys, keyEpoch: epoch };
  }
}

/** An epoch record's number (FORMAT.md §10, kind 7: after version, kind, space, issuer), or 0. */
function epochOf(r) {
  let o = 66, v = 0, mul = 1, b;
  do {
    if (o >= r.length) return 0;
    b = r[o++];
    v += (b & 0x7f) * mul;
    mul *= 128;
  } while (b & 0x80);
  return v;
}

/** A grant's rights, flags, until and wall_ms (FORMAT.md §10, kind 5), or null. */
function readGrantTail(r) {
  let o = 98;
  const rights = r[o++], flags = r[o++];
  const varint = () => {
    let v = 0, mul = 1, b;
    do {
      if (o >= r.length) return NaN;
      b = r[o++];
      v += (b & 0x7f) * mul;
      mul *= 128;
    } while (b & 0x80);
    return v;
  };
  const until = varint(), wallMs = varint();
  return Number.isFinite(wallMs) ? { rights, flags, until, wallMs } : null;
}

function equal(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The highest seq of `author` in an encoded version vector (FORMAT.md §6), 0 when absent. */
function seqOf(vv, author) {
  let o = 0;
  while (o + 32 < vv.length) {
    const key = vv.subarray(o, o + 32);
    o += 32;
    let seq = 0, mul = 1, b;
    do {
      b = vv[o++];
      seq += (b & 0x7f) * mul;
      mul *= 128;
    } while (b & 0x80);
    if (equal(key, author)) return seq;
  }
  return 0;
}
