// Key backups (docs/SECURITY.md "Key backup", layout in docs/FORMAT.md §11):
// a device's keys for one space sealed under a passphrase by the core
// (Argon2id from libsodium's sumo build, loaded here on first use, then
// XChaCha20-Poly1305), and the key material a restored device starts from.
//
// A restored device never reuses the backed-up author key: two devices
// writing as one author would fork its hash chain, and the first device may
// still be in use. It makes a key of its own and hands itself the backed-up
// rights: the owner's secret signs it an admin token (and an admin grant
// when the space has membership records); an admin's owner-signed token
// delegates to it; an any-holder token works for any key as it is. A key
// bound to a token it cannot pass on (a reader or writer invited by key)
// cannot be restored this way: an admin must invite the new device. A
// member admitted by grant hands on what it can: a link (below), an
// admin's grant of write; the backed-up key delivers them (courier.js) and
// admin devices grant linked devices their person's rights.
// The new key is also linked to the backed-up one as the same person
// (SECURITY.md "One person, several devices") when that key may link: the
// backup holds both secrets, so both halves of the link are signed here.
import { RIGHT, RECORD_GRANT } from './constants.js';
import { WeftError } from './errors.js';
import { fromBase64url, toBase64url } from './util.js';

/** What a backup in text form starts with. */
export const BACKUP_PREFIX = 'weft-backup-1:';

/**
 * Seals the key material `meta` (and the relay's URL) under `passphrase`.
 * Returns the backup as text: BACKUP_PREFIX + base64url.
 * @param {import('./core.js').Core} core
 * @param {object} meta the space's key material
 * @param {string|undefined} relay
 * @param {string} passphrase
 */
export async function makeBackup(core, meta, relay, passphrase) {
  checkPassphrase(passphrase);
  await core.loadSumo();
  const blob = core.backupSeal({
    space: meta.space,
    authorSecret: meta.authorSecret,
    ownerSecret: meta.spaceSecret ?? null,
    keyEpoch: meta.keyEpoch ?? 0,
    keys: [...(meta.oldKeys ?? []), meta.contentKey],
    token: meta.token,
    records: meta.memberRecords ?? [],
    level: meta.levelRecord ?? null,
    relay: typeof relay === 'string' ? relay : '',
  }, passphrase);
  return BACKUP_PREFIX + toBase64url(blob);
}

/**
 * Opens a backup (text or bytes). Throws WEFT_EPASSPHRASE for a wrong
 * passphrase or an altered backup, WEFT_EMALFORMED / WEFT_EVERSION for
 * something that is not a backup this version reads.
 */
export async function readBackup(core, backup, passphrase) {
  checkPassphrase(passphrase);
  let blob;
  if (typeof backup === 'string') {
    const text = backup.trim();
    if (!text.startsWith(BACKUP_PREFIX)) throw new WeftError('WEFT_EMALFORMED', `not a weft key backup (it starts with "${BACKUP_PREFIX}")`);
    blob = fromBase64url(text.slice(BACKUP_PREFIX.length), 'backup');
  } else if (backup instanceof Uint8Array) {
    blob = backup;
  } else {
    throw new WeftError('WEFT_EINVAL', 'backup must be the text space.backup() returned, or its bytes');
  }
  await core.loadSumo();
  return core.backupOpen(blob, passphrase);
}

function checkPassphrase(passphrase) {
  if (typeof passphrase !== 'string' || new TextEncoder().encode(passphrase).length < 8)
    throw new WeftError('WEFT_EINVAL', 'a backup passphrase is a string of at least 8 bytes (longer is much safer: four or more random words)');
}

const equal = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The key material of a device restored from the opened backup `b`: a new
 * author key holding the backed-up rights (see the top of this file).
 * Returns { meta, grants }: grants are membership records signed here, to
 * send to the relay with the others. Throws WEFT_ERIGHTS when the rights
 * cannot be handed to a new key.
 */
export function restoredMeta(core, b, now = Date.now()) {
  const me = core.keypair();
  const previous = b.authorSecret.slice(32);
  const records = [...b.records];
  let token = b.token;
  let byGrant = null;
  const nowS = Math.floor(now / 1000);
  if (b.ownerSecret) {
    token = core.tokenIssue({ space: b.space, issuerSecret: b.ownerSecret, grantee: me.publicKey, rights: RIGHT.ADMIN });
    // Key epochs are sealed to granted keys: with membership records in
    // use, the new device needs a grant to receive the next key.
    if (records.length)
      records.push(core.memberSign('grant', { space: b.space, issuerSecret: b.ownerSecret, wallMs: now, member: me.publicKey, rights: RIGHT.ADMIN }));
  } else if (!token.length || token[1] === RECORD_GRANT) {
    // (A CLI replica that claimed an invite keeps its claim where a token
    // goes: its own grant, which the records may not hold yet.)
    if (token.length && !records.some((r) => equal(r, token))) records.push(token);
    if (token.length) token = new Uint8Array(0);
    // A member admitted by grant: the new key is linked to it (below) and
    // admitted by grants of its own. An admin hands it what an admin may
    // (write, to its own end) at once; an admin device of the space
    // completes the rest, the person's rights, when it sees the link
    // (members.js completeLinks). The backed-up key delivers these
    // records (courier.js): the new one has no grant to come in with yet.
    const me0 = memberState(core, b.space, records, previous);
    if (!me0 || me0.state !== 0) throw new WeftError('WEFT_ERIGHTS', `the backed-up key ${me0?.state === 2 ? 'was removed from the space' : me0?.state === 1 ? 'holds a grant that has lapsed' : 'holds no grant'}: ask an admin to invite this device`);
    if (me0.admin) records.push(core.memberSign('grant', { space: b.space, issuerSecret: b.authorSecret, wallMs: now, member: me.publicKey, rights: RIGHT.WRITE, until: me0.until }));
    byGrant = { grantRights: me0.admin ? RIGHT.WRITE : me0.rights, courier: b.authorSecret };
  } else {
    const t = core.tokenVerify(token, b.space, nowS);
    if (t.grantee && equal(t.grantee, previous)) {
      if (t.rights !== RIGHT.ADMIN || t.delegated)
        throw new WeftError('WEFT_ERIGHTS', `the backed-up key holds ${t.rights === RIGHT.ADMIN ? 'a delegated admin' : 'a'} token bound to it, which it cannot pass to a new device: ask an admin to invite this device`);
      // An owner-signed admin token delegates to the new key until it ends.
      token = core.tokenIssue({ space: b.space, issuerSecret: b.authorSecret, parent: token, grantee: me.publicKey, rights: RIGHT.ADMIN, notBefore: Math.max(0, nowS - 300), expires: t.expires });
    } else if (t.grantee) {
      throw new WeftError('WEFT_ERIGHTS', 'the backup\'s token names another key');
    }
  }
  if (mayLink(core, b.space, records, previous)) {
    const deviceSig = core.linkDeviceSig({ space: b.space, person: previous, deviceSecret: me.secretKey, wallMs: now });
    records.push(core.linkSign({ space: b.space, personSecret: b.authorSecret, device: me.publicKey, wallMs: now, deviceSig }));
  }
  const meta = {
    v: 1,
    space: b.space,
    author: me.publicKey,
    authorSecret: me.secretKey,
    contentKey: b.keys[b.keys.length - 1],
    oldKeys: b.keys.slice(0, -1),
    keyEpoch: b.keyEpoch,
    token,
    memberRecords: records,
    restoredFrom: previous,
  };
  if (b.ownerSecret) meta.spaceSecret = b.ownerSecret;
  if (byGrant) Object.assign(meta, { byGrant: true, ...byGrant });
  if (b.level) meta.levelRecord = b.level;
  return { meta, grants: records.slice(b.records.length) };
}

/** May `person` sign a device link: the owner, or a key the records grant something and do not remove? */
function mayLink(core, space, records, person) {
  if (equal(person, space)) return true;
  const m = memberState(core, space, records, person);
  // State byte: 0 member, 1 expired (both hold a counting grant).
  return !!m && m.state <= 1;
}

/** What the records say of `key` now: { state (0 member, 1 expired, 2 removed, 3 none), rights, admin, until (Unix s, 0 never) }, or null when they name it nowhere. */
function memberState(core, space, records, key) {
  const size = core.x.wdb_member_bytes();
  return core.scope((s) => {
    const out = s.alloc(16);
    core.check(core.x.wdb_members_new(out, s.bytes(space)), 'folding the backup\'s members');
    const m = core.u32[out >> 2];
    try {
      for (const r of records) core.x.wdb_members_add(m, s.bytes(r), r.length, out);
      const cap = size * (records.length + 1);
      const dst = s.alloc(cap);
      core.check(core.x.wdb_members_list(m, Date.now() / 1000, dst, cap, core.out), 'listing the backup\'s members');
      const n = core.u32[core.out >> 2];
      const dv = new DataView(core.u8.buffer);
      for (let i = 0; i < n; i++) {
        const e = dst + i * size;
        if (equal(core.u8.subarray(e, e + 32), key)) return { state: core.u8[e + 34], rights: core.u8[e + 32], admin: !!core.u8[e + 33], until: Math.ceil(dv.getFloat64(e + 40, true)) };
      }
      return null;
    } finally {
      core.x.wdb_members_free(m);
    }
  });
}

