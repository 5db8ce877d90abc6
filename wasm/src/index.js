// weftdb: an offline-first, end-to-end encrypted database for web apps.
//
//   import { createSpace, openSpace } from 'weftdb';
//   const space = await createSpace();   // IndexedDB in a browser
//   await space.collection('todos').put('t1', { title: 'buy milk', done: false });
//   const link = space.invite({ rights: 'write' });   // share it
//   const other = await openSpace({ invite: link, storage: 'file', dir: './data' });   // Node
//
// The API is documented in docs/API.md; types are in index.d.ts.
import { loadCore } from './core.js';
import { RIGHT, LEVEL_LISTS, LEVEL_MEMBERS, LEVEL_MARKS } from './constants.js';
import { WeftError, ERRORS } from './errors.js';
import { memoryStorage } from './memory.js';
import { fileStorage } from '#file';
import { Space, SNAPSHOT_EVERY, SNAPSHOT_BYTES, HISTORY_BYTES } from './space.js';
import { fromBase64url, toBase64url } from './util.js';
import { indexedDBStorage, coordinateTabs } from './idb.js';
import { connectRelay } from './sync.js';
import { SNAPSHOT_PUBLISH_CHANGES, SNAPSHOT_PUBLISH_BYTES } from './snapshots.js';
import { Presence } from './presence.js';
import { P2P, resolveRTC } from './p2p.js';
import { readBackup, restoredMeta } from './backup.js';
import { deliverAs } from './courier.js';
import { tokenRights } from './rights.js';

export { WeftError, ERRORS, memoryStorage, indexedDBStorage, fileStorage, SNAPSHOT_EVERY, SNAPSHOT_BYTES, HISTORY_BYTES, SNAPSHOT_PUBLISH_CHANGES, SNAPSHOT_PUBLISH_BYTES, LEVEL_LISTS, LEVEL_MEMBERS, LEVEL_MARKS };
export { isFileRef } from './files.js';

/** Loads the WASM core and libsodium.js ahead of the first space (optional). */
export async function init(opts) {
  await loadCore(opts);
}

/** WASM memory: heapBytes (reserved, grows only) and heapUsed (malloc'ed now). */
export async function memoryStats() {
  const core = await loadCore();
  return { heapBytes: core.heapBytes, heapUsed: core.heapUsed };
}

/** The core's version string. */
export async function version() {
  return (await loadCore()).version;
}

/**
 * The adapter opts.storage names. Without one: IndexedDB where there is
 * one (browsers), a file store when opts.dir is given, else an error:
 * data is never kept in memory only unless the app says so.
 */
function resolveStorage({ storage, dir }) {
  if (storage === 'memory') return memoryStorage();
  if (storage === 'indexeddb') return indexedDBStorage();
  if (storage === 'file') return fileStorage({ dir });
  if (storage && typeof storage.open === 'function') return storage;
  if (storage === undefined) {
    if (typeof indexedDB !== 'undefined') return indexedDBStorage();
    if (dir !== undefined) return fileStorage({ dir });
    throw new WeftError('WEFT_EINVAL', "no storage here: pass { storage: 'file', dir } to keep spaces in a folder, or { storage: 'memory' } to lose them on close");
  }
  throw new WeftError('WEFT_EINVAL', "storage must be 'indexeddb', 'file', 'memory' or an adapter with open(spaceId)");
}

/** Rights by their API names ('read', 'write', 'admin'), numbered as in auth.h. */
const RIGHTS = Object.freeze(Object.fromEntries(Object.entries(RIGHT).map(([name, n]) => [name.toLowerCase(), n])));

/** Creates a new space owned by this device. */
export async function createSpace(opts = {}) {
  const core = await loadCore(opts.init);
  const adapter = resolveStorage(opts);
  const owner = core.keypair();
  const meta = {
    v: 1,
    space: owner.publicKey,
    spaceSecret: owner.secretKey,
    author: owner.publicKey,
    authorSecret: owner.secretKey,
    contentKey: core.random(32),
    token: core.tokenIssue({ space: owner.publicKey, issuerSecret: owner.secretKey, grantee: owner.publicKey, rights: RIGHT.ADMIN }),
  };
  const store = await adapter.open(toBase64url(meta.space));
  try {
    await store.saveMeta(meta, { ifAbsent: false });
    return await start(core, adapter, store, meta, { snapshot: null, records: [], outbox: [] }, opts);
  } catch (e) {
    await store.close?.();
    throw e;
  }
}

/**
 * Opens a space: from an invite link (joining it, or reopening it when the
 * storage holds it already) or by id from storage ({ space }).
 */
export async function openSpace(opts = {}) {
  const core = await loadCore(opts.init);
  const adapter = resolveStorage(opts);
  let id;
  let invite = null;
  if (typeof opts.invite === 'string') {
    invite = core.inviteDecode(opts.invite);
    id = toBase64url(invite.space);
  } else if (typeof opts.space === 'string') {
    id = opts.space;
    if (fromBase64url(id, 'space id').length !== 32) throw new WeftError('WEFT_EINVAL', 'a space id is 32 bytes, base64url');
  } else {
    throw new WeftError('WEFT_EINVAL', 'openSpace needs { invite } or { space }');
  }
  const store = await adapter.open(id);
  try {
    // IndexedDB spaces load in coordinateTabs, once the tab's role is known.
    const loaded = store.loadMeta ? { meta: await store.loadMeta(), lazy: true } : await store.load();
    let meta = loaded.meta;
    const ticket = invite && core.ticketDecode(invite.token);
    if (ticket) {
      // A link claimed by this device's own key (SECURITY.md "Members"):
      // the claim is signed here with the link's invite key, and the relay
      // admits this key by the grant it makes from then on.
      if (ticket.until && Date.now() / 1000 >= ticket.until) throw new WeftError('WEFT_EEXPIRED', 'this invite has expired: ask for a new one');
      if (!meta) {
        const me = core.keypair();
        const { claim } = core.inviteClaim({ space: invite.space, ticket: invite.token, member: me.publicKey, wallMs: Date.now() });
        meta = await store.saveMeta({
          v: 1,
          space: invite.space,
          author: me.publicKey,
          authorSecret: me.secretKey,
          contentKey: invite.contentKey,
          byGrant: true,
          claim,
          grantRights: ticket.rights,
          memberRecords: [claim],
        }, { ifAbsent: true });
      }
    } else if (invite) {
      // Check the token before anything is stored: an expired or forged
      // invite fails here with its own code.
      const t = core.tokenVerify(invite.token, invite.space, Math.floor(Date.now() / 1000));
      if (!meta) {
        const me = core.keypair();
        meta = await store.saveMeta({
          v: 1,
          space: invite.space,
          author: me.publicKey,
          authorSecret: me.secretKey,
          contentKey: invite.contentKey,
          token: invite.token,
        }, { ifAbsent: true });
      } else if (!meta.spaceSecret && !meta.byGrant && t.rights > tokenRights(core, meta)) {
        meta = { ...meta, token: invite.token };
        await store.saveMeta(meta);
      }
    } else if (!meta) {
      throw new WeftError('WEFT_ENOTFOUND', `space ${id} is not in this storage (join it with an invite)`);
    }
    return await start(core, adapter, store, meta, loaded, opts);
  } catch (e) {
    await store.close?.();
    throw e;
  }
}

/**
 * Opens a space on this device from a key backup (space.backup()): the same
 * space and rights under a new device key (SECURITY.md "Key backup").
 * Nothing is stored when the passphrase is wrong (WEFT_EPASSPHRASE), the
 * backup is damaged or the rights cannot be handed on (WEFT_ERIGHTS), or
 * the storage holds the space already (WEFT_ESTATE).
 */
export async function restoreSpace(opts = {}) {
  const core = await loadCore(opts.init);
  const opened = await readBackup(core, opts.backup, opts.passphrase);
  let { meta } = restoredMeta(core, opened);
  // The CLI keeps its relay as http(s)://, weftdb as ws(s)://: one relay.
  const relay = opts.relay === undefined ? opened.relay.replace(/^http/, 'ws') || undefined : opts.relay ?? undefined;
  if (meta.courier && relay) {
    // A member admitted by grant: its key delivers the new key's link now
    // (courier.js). The relay refusing it (removed, no grant) refuses the
    // restore, before anything is stored; offline, it is tried at each open.
    const { meta: sent, error } = await deliverRestored(core, meta, { ...opts, relay });
    if (error && error.code !== 'WEFT_EUNAVAILABLE') throw new WeftError('WEFT_ERIGHTS', `the backed-up key cannot hand its rights on: ${error.message}`, { cause: error });
    meta = sent;
  }
  const adapter = resolveStorage(opts);
  const store = await adapter.open(toBase64url(meta.space));
  try {
    const held = store.loadMeta ? await store.loadMeta() : (await store.load()).meta;
    if (held) throw new WeftError('WEFT_ESTATE', `space ${toBase64url(meta.space)} is in this storage already: open it with openSpace`);
    const saved = await store.saveMeta(meta, { ifAbsent: true });
    if (saved && saved.author && !saved.author.every((v, i) => v === meta.author[i]))
      throw new WeftError('WEFT_ESTATE', 'the space was stored here while restoring: open it with openSpace');
    return await start(core, adapter, store, meta, { snapshot: null, records: [], outbox: [] }, { ...opts, relay });
  } catch (e) {
    await store.close?.();
    throw e;
  }
}

/**
 * A device restored from a member admitted by grant: its link (and an
 * admin's grant) go to the relay as the backed-up key (courier.js), once;
 * until then the backed-up secret stays with the key material. Offline or
 * refused: kept for the next open (an 'error' event says why), and the
 * space opens all the same. Resolves to { meta, error }: meta without the
 * secret once delivered (the caller stores it).
 */
async function deliverRestored(core, meta, opts) {
  let level = 1;
  try {
    if (meta.levelRecord) level = core.levelVerify(meta.levelRecord, meta.space);
  } catch {
    // the relay's CHALLENGE would say; HELLO as level 1
  }
  const restoredFrom = meta.courier.slice(32);
  const mine = (meta.memberRecords ?? []).filter((r) => restoredFrom.every((b, i) => b === r[34 + i]));
  try {
    // Node 20 has no WebSocket without a flag: the app's `ws`, as sync.js does.
    const name = 'ws';
    const WebSocket = opts.sync?.WebSocket ?? globalThis.WebSocket ?? (await import(/* @vite-ignore */ name)).WebSocket;
    await deliverAs(core, { url: opts.relay, space: meta.space, secret: meta.courier, records: mine, spaceLevel: level, WebSocket });
  } catch (error) {
    return { meta, error };
  }
  const { courier, ...rest } = meta;
  return { meta: rest, error: null };
}

/**
 * What start() needs from a new space: its own members, and the port of
 * each module it starts (see Space#_opener).
 * @typedef {object} OpenerPort
 * @property {(loaded: object) => void} load loads what the store held into the replica
 * @property {() => boolean} isWriter true when this tab commits its own writes (it leads its tabs)
 * @property {(p: Presence) => void} setPresence
 * @property {(p: P2P) => void} setP2P
 * @property {(name: string, arg: unknown) => void} emit the space's events
 * @property {() => Promise<void>} loadFiles loads the files' upload queue and reference index
 * @property {(url: string, fetchImpl?: typeof fetch) => void} attachFiles uploads and renews files through the relay
 * @property {() => import('./presence.js').PresencePort} presencePort
 * @property {() => import('./p2p.js').PeerPort} peerPort
 * @property {() => import('./sync.js').SyncPort} syncPort
 * @property {() => import('./idb.js').TabPort} tabPort
 */

async function start(core, adapter, store, meta, loaded, opts) {
  let courierError = null;
  if (meta.courier && opts.relay) {
    ({ meta, error: courierError } = await deliverRestored(core, meta, opts));
    if (!meta.courier) await store.saveMeta(meta);
  }
  const forget = typeof adapter.delete === 'function' ? () => adapter.delete(toBase64url(meta.space)) : null;
  const space = new Space(core, store, meta, { historyBytes: opts.historyBytes, textWindow: opts.textWindow, relay: opts.relay, forget, files: opts.files, renew: opts.renew });
  const port = space._opener();
  if (courierError) queueMicrotask(() => port.emit('error', courierError));
  // Before the tabs are coordinated: a follower tab forwards presence.
  const presence = new Presence(port.presencePort(), opts.presence);
  port.setPresence(presence);
  try {
    if (adapter.kind === 'indexeddb' && opts.tabs !== false) {
      // Two tabs of one space: one leader writes, the others forward (idb.js).
      await coordinateTabs(port.tabPort(), loaded);
    } else {
      port.load(loaded.lazy ? await store.load() : loaded);
    }
    await port.loadFiles();
    let p2p = null;
    // Peers admit each other by token or by grant (p2p.js).
    if (opts.p2p) {
      if (!opts.relay) throw new WeftError('WEFT_EINVAL', 'p2p needs a relay: peers find each other and exchange WebRTC offers through it');
      p2p = new P2P(port.peerPort(), presence, resolveRTC(opts.p2p));
      port.setP2P(p2p);
    }
    if (opts.relay) {
      // Only the tab that writes talks to the relay (and to peers); a
      // follower tab that becomes the leader connects then.
      const link = () => {
        connectRelay(port.syncPort(), opts.relay, opts.sync);
        port.attachFiles(opts.relay, opts.files?.fetch);
        presence.attach();
        p2p?.attach();
      };
      if (port.isWriter()) link();
      else space.on('leader', link);
    }
  } catch (e) {
    await space.close();
    throw e;
  }
  return space;
}

export { RIGHTS };
