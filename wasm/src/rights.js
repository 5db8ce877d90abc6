// What this device may do in its space now (docs/API.md "Members"), as the
// relay decides it: the owner's device is admin; a device admitted by grant
// has what its grants give now (its claimed invite's rights until the
// grants reach it); a device admitted by a token has the token's while it
// verifies. Removed, lapsed or expired: read (its local data stays
// readable, and nothing it would write counts anywhere). The space asks
// again when a membership record arrives and when the end it holds passes,
// so `space.rights` changes live, with a 'rights' event.
import { RIGHT } from './constants.js';

/** Rights of the stored token now (RIGHT.READ when it no longer verifies). */
export function tokenRights(core, meta) {
  if (meta.spaceSecret) return RIGHT.ADMIN;
  if (meta.byGrant) return meta.grantRights; // the claimed invite's; the relay checks the grants
  return tokenNow(core, meta).rights;
}

/** The token's rights now, and when it ends (ms; Infinity: never, or ended already). */
function tokenNow(core, meta) {
  try {
    const t = core.tokenVerify(meta.token, meta.space, Math.floor(Date.now() / 1000));
    if (t.grantee && !t.grantee.every((b, i) => b === meta.author[i])) return { rights: RIGHT.READ, until: Infinity };
    return { rights: t.rights, until: t.expires ? t.expires * 1000 : Infinity };
  } catch {
    return { rights: RIGHT.READ, until: Infinity }; // expired or not yet valid: local data stays readable
  }
}

/**
 * This device's rights now, and when time alone may change them (ms since
 * the epoch; Infinity: only a record can). members: the space's Members.
 * @param {import('./core.js').Core} core
 * @param {object} meta the key material
 * @param {import('./members.js').Members} members
 * @returns {{ rights: number, until: number }}
 */
export function deviceRights(core, meta, members) {
  if (meta.spaceSecret) return { rights: RIGHT.ADMIN, until: Infinity };
  const held = members.rightsOf(meta.author);
  // Removed: by a record held here, or by the relay's word (members.js
  // markRemoved; the relay refuses the key anyway).
  if (held.code === 'WEFT_EREVOKED' || meta.removedSeen) return { rights: RIGHT.READ, until: Infinity };
  if (!meta.byGrant) return tokenNow(core, meta);
  if (held.code === 'WEFT_EEXPIRED') return { rights: RIGHT.READ, until: Infinity };
  if (!held.rights) return { rights: meta.grantRights, until: Infinity }; // the grants have not reached it yet
  return { rights: held.rights, until: members.nextEnd(meta.author) };
}
