// Opening spaces, and what this device remembers between visits: the
// spaces it holds (ids and names, in localStorage; the data itself is in
// IndexedDB through weftdb) and the user's display name. Also turns
// weftdb's error codes into sentences a person can act on.
import { createSpace, openSpace, restoreSpace } from 'weftdb';

const KNOWN = 'weft-demo:spaces';
const NAME = 'weft-demo:name';
// Reconnect quickly: a demo relay restarting should not leave the UI
// "offline" for the library's default 30 s backoff cap.
const SYNC = { minDelay: 250, maxDelay: 4000 };

/** The relay's WebSocket URL: the page's own origin, or ?relay=ws://... (vite dev server). */
export function relayUrl() {
  const q = new URLSearchParams(location.search).get('relay');
  if (q) return q;
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
}

/** The base of invite links: this page's URL without its fragment. */
export function inviteBase() {
  return location.href.split('#')[0];
}

export async function create(name) {
  const space = await createSpace({ storage: 'indexeddb', relay: relayUrl(), sync: SYNC });
  await space.collection('meta').put('space', { name });
  remember(space.id, { name, rights: space.rights });
  return space;
}

export async function join(link) {
  const space = await openSpace({ invite: link, storage: 'indexeddb', relay: relayUrl(), sync: SYNC });
  remember(space.id, { rights: space.rights });
  return space;
}

/** Opens a space from a key backup (data.js makes them): same rights, a new device key. */
export async function restore(text, passphrase) {
  let space;
  try {
    space = await restoreSpace({ backup: text, passphrase, storage: 'indexeddb', relay: relayUrl(), sync: SYNC });
  } catch (e) {
    if (e?.code === 'WEFT_ESTATE') throw new Error('this space is on this device already: open it from "On this device"');
    throw e;
  }
  remember(space.id, { rights: space.rights });
  return space;
}

export async function reopen(id) {
  const space = await openSpace({ space: id, storage: 'indexeddb', relay: relayUrl(), sync: SYNC });
  remember(space.id, { rights: space.rights });
  return space;
}

/** Spaces this device holds: [{ id, name, rights, opened }], most recently opened first. */
export function knownSpaces() {
  try {
    const list = JSON.parse(localStorage.getItem(KNOWN) ?? '[]');
    return Array.isArray(list) ? list.sort((a, b) => (b.opened ?? 0) - (a.opened ?? 0)) : [];
  } catch {
    return [];
  }
}

/** Forgets a space this device held (it left or deleted it). */
export function forget(id) {
  localStorage.setItem(KNOWN, JSON.stringify(knownSpaces().filter((s) => s.id !== id)));
}

export function remember(id, patch) {
  const list = knownSpaces().filter((s) => s.id !== id);
  const old = knownSpaces().find((s) => s.id === id) ?? { id };
  list.push({ ...old, ...patch, opened: Date.now() });
  localStorage.setItem(KNOWN, JSON.stringify(list));
}

export function displayName() {
  let name = localStorage.getItem(NAME);
  if (!name) {
    name = `Guest ${Math.floor(1000 + Math.random() * 9000)}`;
    localStorage.setItem(NAME, name);
  }
  return name;
}

export function setDisplayName(name) {
  const n = name.trim().slice(0, 40);
  if (n) localStorage.setItem(NAME, n);
}

// Relay errors the link recovers from by itself (it reconnects and resends):
// the sync indicator shows them; they are not worth an error banner.
const TRANSIENT = new Set(['GOING_AWAY', 'OVERLOADED', 'RATE_LIMITED', 'SLOW_CONSUMER', 'TIMEOUT']);

export function isTransient(err) {
  return TRANSIENT.has(err?.protocolError);
}

/** A sentence for an error from weftdb (a WeftError) or the relay. */
export function explain(err, doing = '') {
  const pre = doing ? `${doing}: ` : '';
  switch (err?.protocolError) {
    case undefined:
      break;
    case 'RIGHTS':
      return `${pre}the relay refused: this invite does not allow that.`;
    case 'EXPIRED':
      return `${pre}this device's access has lapsed. Ask an admin to renew it.`;
    case 'REVOKED':
      return `${pre}this device was removed from the space. Ask an admin if this is a mistake.`;
    case 'NOT_MEMBER':
    case 'REPLAY':
      return `${pre}this device has no access: its invite link was already used by another device. Ask an admin for a new link.`;
    case 'AUTH':
    case 'PROOF':
      return `${pre}the relay did not accept this device's credentials.`;
    case 'VERSION':
      return `${pre}this app and the relay speak different protocol versions. Reload to update the app.`;
    default:
      return `${pre}${err.message}`;
  }
  switch (err?.code) {
    case 'WEFT_EEXPIRED':
      return `${pre}this invite link has expired. Ask for a new one.`;
    case 'WEFT_ENOTYET':
      return `${pre}this invite link is not valid yet. Check this device's clock.`;
    case 'WEFT_EMALFORMED':
    case 'WEFT_ECRYPTO':
    case 'WEFT_EDELEGATION':
      return `${pre}this invite link is damaged or forged. Copy the whole link again.`;
    case 'WEFT_ENOTADMIN':
      return `${pre}only an admin can do that.`;
    case 'WEFT_EOUTLIVES':
      return `${pre}an admin cannot give access for longer than their own.`;
    case 'WEFT_EPASSPHRASE':
      return `${pre}wrong passphrase, or the backup file was changed.`;
    case 'WEFT_ENOTFOUND':
      return `${pre}this space is not on this device. Open it from an invite link.`;
    case 'WEFT_ERIGHTS':
      return `${pre}your invite is read-only, so this space cannot be changed from here.`;
    case 'WEFT_EUNAVAILABLE':
      return `${pre}${err.message} (is storage blocked, e.g. in a private window?)`;
    default:
      return `${pre}${err?.message ?? String(err)}`;
  }
}
