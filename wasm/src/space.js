// A Space: one shared, encrypted database as the app sees it. It owns a
// Replica (the core), its write path (Changes, changes.js), its Persistence
// (persist.js: store, snapshots, compaction), its Status (status.js), its
// live queries (collection.js) and text observers (text.js), and, when a
// relay is given, a Sync link. Writes run synchronously in the core (reads
// see them at once) and resolve when they are durable in the store.
//
// The modules around it get narrow ports, not the space: each is a
// @typedef in the module that uses it, picked from #offer.
import { RIGHT, LEVEL_MEMBERS } from './constants.js';
import { WeftError } from './errors.js';
import { RIGHTS } from './core.js';
import { Changes } from './changes.js';
import { FormatLevel } from './level.js';
import { Members } from './members.js';
import { Persistence, openReplica, SNAPSHOT_EVERY, SNAPSHOT_BYTES, HISTORY_BYTES } from './persist.js';
import { Status } from './status.js';
import { Collection, Subscriptions, checkName } from './collection.js';
import { Text, TextObservers } from './text.js';
import { Files } from './files.js';
import { List } from './list.js';
import { UndoManager, UndoManagers } from './undo.js';
import { Emitter, pick, reportError, toBase64url, toHex } from './util.js';
import { exportState, importState, deleteOnRelay } from './portable.js';
import { vvCovers } from './vv.js';
import { History } from './history.js';
import { relayRecords } from './relay_log.js';
import { checkPublisher } from './snapshots.js';
import { makeBackup } from './backup.js';
import { deviceRights } from './rights.js';

export { SNAPSHOT_EVERY, SNAPSHOT_BYTES, HISTORY_BYTES };

export class Space {
  #core;
  #store;
  #meta;
  #rights;
  #rep;
  #events = new Emitter((e) => this.#report(e));
  #collections = new Map();
  #texts = new TextObservers((e) => this.#report(e));
  #subs;
  #persist;
  #status;
  #changes;
  #closed = false;
  #closing = null;
  #sync = null;
  #closeHook = null;
  #presence = null; // presence.js, set by openSpace/createSpace
  #undoers = new UndoManagers();
  #p2p = null; // p2p.js, when opened with { p2p }
  #loadedOutbox = [];
  #collectionPort;
  #textPort;
  #listPort;
  #level; // level.js: the space's format level (FORMAT.md §10)
  #history; // history.js: what the held change records did
  #relay; // the relay URL it was opened with, or undefined
  #forget; // deletes the space from its storage (the adapter's delete), or null
  #files; // files.js: space.files
  #members; // members.js: grants, removals and key epochs (SECURITY.md "Members")
  #renew; // { share, everyMs }: when an admin device renews lapsing grants
  #renewTimer = null;
  #linking = null; // a pending completeLinks (setTimeout), or null
  #linkingDevice = false; // linkDevice grants the device itself
  #rightsUntil = Infinity; // when time alone may change #rights (rights.js)
  #rightsTimer = null;

  /** @internal Use createSpace/openSpace. */
  constructor(core, store, meta, { historyBytes = HISTORY_BYTES, textWindow, relay, forget = null, files, renew } = {}) {
    this.#core = core;
    this.#renew = { share: 0.8, everyMs: 60_000, ...renew };
    if (relay && renew !== false) {
      // Admin devices renew lapsing grants while online (members.js renewDue).
      this.#renewTimer = setInterval(() => {
        if (this.#sync?.live) this.renewMembers().catch((e) => this.#events.emit('error', e));
      }, this.#renew.everyMs);
      this.#renewTimer.unref?.();
      // And grant devices linked to a member their person's rights as soon
      // as the link arrives (a restored or second device waits for it).
      this.#events.on('members', () => this.#completeLinksSoon());
    }
    this.#relay = relay;
    this.#forget = forget;
    this.#store = store;
    this.#meta = meta;
    this.#members = new Members({ core, store, meta: () => this.#meta, setMeta: (m) => (this.#meta = m), rep: () => this.#rep, emit: (n, a) => this.#events.emit(n, a) });
    ({ rights: this.#rights, until: this.#rightsUntil } = deviceRights(core, meta, this.#members));
    this.#rep = openReplica(core, meta, this.#rights);
    this.#level = new FormatLevel({ core, store, meta: () => this.#meta, setMeta: (m) => (this.#meta = m), rep: () => this.#rep, emit: (n, a) => this.#events.emit(n, a), grantChain: () => this.#members.grantChain() });
    // Rights change live: a membership record, the end they hold, the
    // relay refusing this key as removed (or admitting it again).
    this.#armRightsTimer();
    this.#events.on('members', () => this.#updateRights());
    this.#events.on('access', (a) => a?.state === 'removed' && this.#members.markRemoved(true));
    this.#events.on('relay:live', () => this.#meta.removedSeen && this.#members.markRemoved(false));
    const emit = (n, a) => this.#events.emit(n, a);
    const space = this;
    this.#status = new Status((s) => emit('status', s), () => (this.#sync ? this.#sync.pending : null));
    this.#persist = new Persistence({
      core, meta, store, emit,
      get rights() { return space.#rights; },
      rep: () => this.#rep,
      replace: (fresh) => {
        const old = this.#rep;
        if (this.#level.level > 1) fresh.setFormatLevel(this.#level.level);
        // The content keys of every epoch this device holds (members.js).
        for (const k of this.#meta.oldKeys ?? []) fresh.addKey(k);
        fresh.rekey(this.#meta.contentKey);
        this.#rep = fresh;
        old.close();
        this.#subs.docs.clear(); // the same state, but nothing read from the old replica is kept
      },
      pendingChanged: () => this.#status.updatePending(this.#persist.notDurable),
      report: (e) => this.#report(e),
    }, historyBytes);
    this.#subs = new Subscriptions((t) => {
      if (this.#closed) return false;
      this.#persist.compact();
      if (this.#events.has('change')) emit('change', t.all ? { docs: [], local: false, remote: true, all: true } : { docs: t.docs, local: t.local, remote: t.remote });
      return true;
    });
    this.#changes = new Changes({
      core, emit, texts: this.#texts, persist: this.#persist, subs: this.#subs,
      rep: () => this.#rep,
      checkOpen: () => this.#open(),
      checkWrite: () => {
        if (Date.now() >= this.#rightsUntil) this.#updateRights(); // a lapse its timer has not seen yet
        if (this.#rights < RIGHT.WRITE) throw new WeftError('WEFT_ERIGHTS', `this device may only ${this.rights} in this space`);
      },
      sync: () => this.#sync,
    }, textWindow);
    this.#history = new History({ core, rep: () => this.#settled(), baseVV: () => this.#persist.baseVV });
    this.#collectionPort = this.#port('write put fail replica subscribe docs indexes report');
    this.#textPort = this.#port('write replica observeText report inTxn forwarded pendingOps');
    this.#listPort = this.#port('write fail replica subscribe report');
    this.#files = new Files(Object.assign(this.#port('core meta rights replica on emit setStatus'), { store, checkOpen: () => this.#open() }), files);
  }

  /** Loads the stored snapshot, records and outbox into the replica. */
  #load(loaded) {
    this.#loadedOutbox = loaded.outbox ?? [];
    this.#persist.load(loaded);
    this.#subs.docs.clear(); // loading touches no list: forget every decoded document
    this.#subs.indexes.reset(); // and rebuild every index on its next use
  }

  // ---- identity ----

  /** The space id: the owner's public key, base64url. */
  get id() { return toBase64url(this.#meta.space); }
  /** This device's author key, base64url. */
  get author() { return toBase64url(this.#meta.author); }
  /** 'read' | 'write' | 'admin', now: a 'rights' event follows each change (rights.js). */
  get rights() { return RIGHTS[this.#rights]; }

  /** Decides this device's rights again (rights.js) and tells the app when they changed. */
  #updateRights() {
    if (this.#closed) return;
    const { rights, until } = deviceRights(this.#core, this.#meta, this.#members);
    this.#rightsUntil = until;
    this.#armRightsTimer();
    if (rights === this.#rights) return;
    const previous = this.rights;
    const signs = (r) => r >= RIGHT.WRITE;
    // The replica signs only for a writer (persist.js openReplica).
    if (signs(rights) !== signs(this.#rights)) this.#rep.setSigner(signs(rights) ? this.#meta.authorSecret : null);
    this.#rights = rights;
    this.#events.emit('rights', { rights: this.rights, previous });
  }

  /** Wakes #updateRights when the end this device's rights hold passes. */
  #armRightsTimer() {
    clearTimeout(this.#rightsTimer);
    this.#rightsTimer = null;
    if (this.#closed || !Number.isFinite(this.#rightsUntil)) return;
    this.#rightsTimer = setTimeout(() => this.#updateRights(), Math.min(2 ** 31 - 1, Math.max(0, this.#rightsUntil - Date.now()) + 50));
    this.#rightsTimer.unref?.();
  }
  get closed() { return this.#closed; }

  /**
   * Who else is here: set(state) tells the space's other online peers
   * (through the relay, sealed with the content key), on(fn) hears theirs.
   * See presence.js.
   */
  get presence() { return this.#presence; }

  /**
   * Files beside the log (docs/API.md, "Files"): put(data, { name, type })
   * resolves to a reference to store in a field, get(ref) to the file.
   */
  get files() { return this.#files; }

  /** The peer-to-peer links (openSpace({ p2p: true })), or null. See p2p.js. */
  get p2p() { return this.#p2p; }
  /** { state: 'offline'|'connecting'|'syncing'|'synced'|'version', pending, uploads, error? } (a copy). */
  get status() { return this.#status.get(); }

  // ---- format levels (docs/API.md, "Format levels") ----

  /**
   * The space's format level: what its writers may use (FORMAT.md §10).
   * 1 until an owner or admin raises it.
   */
  get formatLevel() { return this.#level.level; }

  /**
   * Who is a member, as the space's membership records say (SECURITY.md
   * "Members"): [{ key, rights, admin, owner, state, until }], state
   * 'member', 'expired', 'removed' or 'none'. Empty until an owner or admin
   * (the CLI's `weft grant`, for now) writes one. A 'members' event follows
   * every change.
   */
  get members() { return this.#members.list; }

  /** The current content-key epoch (0: the space's first key). */
  get keyEpoch() { return this.#meta.keyEpoch ?? 0; }

  /**
   * An encrypted backup of this device's keys for the space, as text
   * (SECURITY.md "Key backup"): restoreSpace({ backup, passphrase }) opens
   * the space with the same rights on another device. passphrase: at least
   * 8 bytes; the backup is only as strong as it is. Loads libsodium's sumo
   * build (Argon2id) on first use.
   */
  async backup(passphrase) {
    this.#open();
    return makeBackup(this.#core, this.#meta, this.#relay, passphrase);
  }

  /**
   * Owner or admin: grants `rights` ('read' | 'write' | 'admin', the last
   * owner only) to the device key `member` (base64url), until `expiresAt`
   * (ms since the epoch; omitted: never). Checked here as the relay will
   * check it (a refusal throws its WeftError: WEFT_ENOTADMIN,
   * WEFT_EOUTLIVES...), kept, and sent to the relay.
   */
  async grant(member, rights, { expiresAt = null } = {}) {
    const r = RIGHTS.indexOf(rights);
    if (r < 1) throw new WeftError('WEFT_EINVAL', "rights must be 'read', 'write' or 'admin'");
    const records = await this.#members.grant(member, r, expiresAt);
    this.#sync?.sendMembers(records);
  }

  /**
   * Owner or admin: removes the device key `member` (base64url): its changes
   * after the last one this device holds stop counting everywhere, and a
   * new content key is sealed to every member left (this device seals with
   * it at once). Sync first, so that none of its earlier changes is left
   * out. The relay refuses the removed key from then on.
   */
  async remove(member) {
    // Old apps must be told to update rather than fail to open what the
    // new key seals (FORMAT.md §10): the space reads membership first.
    await this.raiseFormatLevel(LEVEL_MEMBERS);
    const records = await this.#members.remove(member, this.#rep.vv());
    this.#sync?.sendMembers(records);
  }

  /**
   * One person, several devices, step 1, on the new device (joined with an
   * invite): a code asking the person whose device key is `person`
   * (base64url; their space.author) to link this device. Show it there.
   */
  deviceCode(person) {
    this.#open();
    return this.#members.linkRequest(person);
  }

  /**
   * Step 2, on the person's device: links the device whose deviceCode()
   * `code` is (a record both signed: space.members then shows it with this
   * device's key as its person) and, when this device may, grants it this
   * person's rights (the owner: admin; an admin: write) so that new key
   * epochs reach it. Returns the device key. Unlinking a lost device is
   * remove(key).
   */
  async linkDevice(code) {
    this.#open();
    if (this.#rights >= RIGHT.ADMIN) await this.raiseFormatLevel(LEVEL_MEMBERS);
    // The link and its grant reach the relay in one frame, so that other
    // devices see the new device with its rights at once.
    this.#linkingDevice = true;
    try {
      const { device, record } = await this.#members.link(code);
      const records = [record];
      if (this.#rights >= RIGHT.ADMIN) records.push(...(await this.#members.grant(device, this.#meta.spaceSecret ? RIGHT.ADMIN : RIGHT.WRITE)));
      this.#sync?.sendMembers(records);
      return device;
    } finally {
      this.#linkingDevice = false;
    }
  }

  /**
   * Raises the space's format level to `level` (2..FORMAT_LEVEL): owner or
   * admin only. Members whose app reads less are told to update (their
   * status becomes 'version') and keep their data; do it once they have
   * updated. Resolves when the level record is stored here; it reaches
   * the relay now or on the next connection. A level at or below the
   * current one changes nothing.
   */
  async raiseFormatLevel(level) {
    this.#open();
    return this.#level.raise(level, this.#rights, this.#sync);
  }

  /** Subscribes to 'status' ({state, pending}), 'change' ({docs, local}) or 'error'. Returns an unsubscribe function. */
  on(name, fn) {
    return this.#events.on(name, fn);
  }
  off(name, fn) {
    this.#events.off(name, fn);
  }

  /**
   * The collection `name` (1..255 bytes of UTF-8). opts.indexes: field
   * paths to keep indexes on (docs/API.md, "Indexes"); declaring more later
   * adds them, none are dropped. opts.schema: a Standard Schema every local
   * write must pass; opts.migrate(doc, id): shapes documents as they are
   * read (docs/API.md, "Schemas").
   */
  collection(name, opts = undefined) {
    this.#open();
    checkName('a collection name', name, 255);
    if (opts !== undefined) this.#subs.indexes.declareFrom(name, opts);
    let c = this.#collections.get(name);
    if (!c) {
      c = new Collection(this.#collectionPort, name);
      this.#collections.set(name, c);
    }
    if (opts?.schema !== undefined || opts?.migrate !== undefined) {
      c.configure(opts);
      if (opts.migrate !== undefined) this.#subs.indexes.reset(); // index entries hold values as read
    }
    return c;
  }

  /**
   * The text field `field` of document `doc` in `collection`, edited as
   * collaborative text (docs/API.md, "Text"). The document need not exist.
   */
  text(collection, doc, field) {
    this.#open();
    return Text.open(this.#textPort, collection, doc, field);
  }

  /**
   * The list field `field` of document `doc` in `collection`: an ordered
   * list with insert, delete, move and set that merge (docs/API.md,
   * "Lists"). Needs the space at format level LEVEL_LISTS (3): see
   * raiseFormatLevel. The document need not exist.
   */
  list(collection, doc, field) {
    this.#open();
    return List.open(this.#listPort, collection, doc, field);
  }

  /**
   * An undo manager for this device's own writes in `scope` (collection
   * names, { collection, doc } and texts): docs/API.md, "Undo".
   * opts.captureTimeout: writes closer than this (ms, default 500) are one
   * undo step.
   */
  undoManager(opts) {
    this.#open();
    return new UndoManager(this.#port('replica write text track isWriter forwarded'), opts);
  }

  /**
   * Runs fn synchronously; every write it makes becomes one change.
   * Resolves to fn's result once the change is durable. Writes inside fn
   * are visible after transact returns (all at once), not during fn.
   */
  transact(fn) {
    return this.#changes.transact(fn, this);
  }

  /**
   * An invite link. With `uses: 1`: a Promise of a link the newcomer claims
   * with its own key (SECURITY.md "Members"): owner or any admin device,
   * single-use, and the member it makes is admitted by its grant from then
   * on. Without: a bearer link granting `rights` to whoever holds it (for
   * public sharing). rights: 'read' | 'write' | 'admin'; expiresIn ms (0:
   * never); base: the app's URL.
   */
  invite(opts = {}) {
    this.#open();
    if (opts.uses !== undefined) return this.#inviteClaimed(opts);
    if (this.#meta.byGrant) throw new WeftError('WEFT_EDELEGATION', 'this device is admitted by its grant: invite with { uses: 1 } (a link the newcomer claims with its key)');
    try {
      return this.#core.invite(this.#meta, this.#rights, opts);
    } catch (e) {
      // An admin by an any-holder link holds no token it may delegate.
      if (e?.code !== 'WEFT_EDELEGATION') throw e;
      throw new WeftError('WEFT_EDELEGATION', 'this device joined by an any-holder link, whose token it cannot hand on: invite with { uses: 1 } (a link the newcomer claims with its key)', { cause: e });
    }
  }

  async #inviteClaimed({ rights = 'write', expiresIn = 7 * 24 * 3600 * 1000, base = '', uses }) {
    if (uses !== 1) throw new WeftError('WEFT_EINVAL', 'uses must be 1 (a claimed invite admits one key)');
    const r = RIGHTS.indexOf(rights);
    if (r < 1) throw new WeftError('WEFT_EINVAL', "rights must be 'read', 'write' or 'admin'");
    if (!(Number.isFinite(expiresIn) && expiresIn >= 0)) throw new WeftError('WEFT_EINVAL', 'expiresIn must be milliseconds >= 0');
    // The space reads membership from now on (FORMAT.md §10).
    if (this.#rights >= RIGHT.ADMIN) await this.raiseFormatLevel(LEVEL_MEMBERS);
    const { records, ticket } = await this.#members.invite(r, expiresIn ? Date.now() + expiresIn : 0);
    this.#sync?.sendMembers(records);
    return this.#core.inviteEncode(base, this.#meta.space, ticket, this.#meta.contentKey);
  }

  /**
   * Admin devices: renews the grants that have run `share` (0..1) of their
   * time, each for the same length again (space.js calls it every
   * `renew.everyMs` while linked to a relay), and completes the grants of
   * devices linked to a member (members.js completeLinks). Resolves to the
   * number of grants written.
   */
  async renewMembers(share = this.#renew.share) {
    this.#open();
    const records = [...(await this.#members.renewDue(share)), ...(await this.#members.completeLinks())];
    this.#sync?.sendMembers(records);
    return records.length;
  }

  /** Admin devices: once per burst of membership records, completes linked devices' grants (members.js completeLinks). */
  #completeLinksSoon() {
    if (this.#rights < RIGHT.ADMIN || this.#linking || this.#linkingDevice || this.#closed) return;
    this.#linking = setTimeout(async () => {
      try {
        if (this.#closed) return;
        const records = await this.#members.completeLinks();
        this.#sync?.sendMembers(records);
      } catch (e) {
        this.#events.emit('error', e);
      } finally {
        this.#linking = null;
      }
    }, 0);
    this.#linking.unref?.();
  }

  /** BLAKE2b-256 of the visible state, hex: equal on replicas holding the same changes. */
  stateHash() {
    return toHex(this.#settled().stateHash());
  }

  /** The version vector (bytes, docs/FORMAT.md §6). */
  versionVector() {
    return this.#settled().vv();
  }

  /**
   * Every change the holder of `vv` lacks, concatenated. Throws
   * WEFT_ETRIMMED when some of those are older than the snapshot this
   * replica was loaded from (from the relay, the store or its compaction):
   * it no longer holds them, and a partial answer would look whole.
   * historyBase() says from where on it can answer.
   */
  changesSince(vv = new Uint8Array(0)) {
    const rep = this.#settled();
    const base = this.#persist.baseVV;
    if (base.length && !vvCovers(vv, base))
      throw new WeftError('WEFT_ETRIMMED', 'changesSince: the changes before this replica\'s snapshot are not held here (get them from the relay, or start from a snapshot)');
    return rep.diff(vv);
  }

  /**
   * Who changed document `doc` of `collection`, when and which fields, from
   * the change records this replica holds: { entries: [{ author, seq, at,
   * fields, deleted }] newest first, trimmed }. `trimmed` is true when
   * older changes were folded into a snapshot here (by a compaction, the
   * store, or a join from the relay's snapshot) and are not listed.
   */
  history(collection, doc) {
    this.#open();
    checkName('a collection name', collection, 255);
    if (typeof doc !== 'string') throw new WeftError('WEFT_EINVAL', 'history(collection, doc): doc is a document id (string)');
    const out = this.#history.of(collection, doc);
    // The person each device belongs to (device links, SECURITY.md).
    const person = new Map(this.#members.list.map((m) => [m.key, m.person]));
    for (const e of out.entries) e.person = person.get(e.author) ?? e.author;
    return out;
  }

  /**
   * history(), completed from the relay's log when this replica's history
   * is trimmed: every page of the relay's log is read over REST (about the
   * log's size in bytes: use it for a history view, not on every render).
   * Resolves to { entries, trimmed, unreadable }: trimmed when the relay
   * trimmed its log too (what neither holds is gone); unreadable counts
   * records this device cannot open (sealed with a key it never held).
   * Rejects WEFT_EUNAVAILABLE without a relay or when it cannot be read.
   */
  async historyFromRelay(collection, doc, { relay = this.#relay, fetch } = {}) {
    const local = this.history(collection, doc);
    if (!local.trimmed) return { ...local, unreadable: 0 };
    if (!relay) throw new WeftError('WEFT_EUNAVAILABLE', 'no relay: pass { relay } (this replica\'s own history is trimmed)');
    const state = {};
    return this.#history.fromRelay(collection, doc, relayRecords(this.#core, this.#meta, relay, state, { fetch }), state, local);
  }

  /**
   * The version vector below which this replica holds no change records
   * (those were folded into a snapshot); empty when it holds them all.
   * changesSince(vv) answers for any vv that covers it.
   */
  historyBase() {
    this.#open();
    return this.#persist.baseVV.slice();
  }

  /** Merges change records (concatenated) received from elsewhere; resolves when durable. */
  applyChanges(records) {
    try {
      this.#open();
      if (!(records instanceof Uint8Array)) throw new WeftError('WEFT_EINVAL', 'applyChanges takes a Uint8Array');
      return this.#changes.applyRemote(this.#members.counting(records)).durable;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // ---- your data is yours (docs/API.md, "Export, import, leave, delete") ----

  /** Every document of every collection as plain JSON (portable.js): { format, version, space, exportedAt, collections }. */
  exportJSON() {
    return exportState(this.#settled(), this.id);
  }

  /** Writes the documents of an export (object or JSON text) into this space; resolves to their count once durable. */
  importJSON(data) {
    try {
      this.#open();
      return importState(this, data);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Leaves the space on this device: closes it, then deletes its keys and
   * local data from the storage. Other devices and the relay keep theirs.
   */
  async leave() {
    if (!this.#forget) throw new WeftError('WEFT_EUNAVAILABLE', 'this storage adapter cannot delete a space (it has no delete)');
    await this.close();
    await this.#forget();
  }

  /**
   * Owner or admin: deletes the space and its records on the relay (REST
   * DELETE, docs/RELAY.md). relay: its URL (default: the one this space was
   * opened with). Local data stays: leave() forgets it.
   */
  deleteFromRelay({ relay = this.#relay, fetch } = {}) {
    try {
      this.#open();
      if (this.#rights < RIGHT.ADMIN) throw new WeftError('WEFT_ERIGHTS', 'only the owner or an admin may delete the space on the relay');
      if (!relay) throw new WeftError('WEFT_EINVAL', 'no relay: pass { relay }');
      return deleteOnRelay({ core: this.#core, meta: this.#meta, relay, fetch });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Resolves when every write so far is durable in the store. */
  flush({ snapshot = false } = {}) {
    this.#changes.settle();
    // A snapshot now: reopening reads the state alone, no change records.
    return snapshot ? this.#persist.snapshotNow() : this.#persist.flush();
  }

  /** Flushes, disconnects and frees the core replica. Idempotent. */
  close() {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown() {
    clearInterval(this.#renewTimer);
    clearTimeout(this.#linking);
    clearTimeout(this.#rightsTimer);
    try {
      await this.flush().catch(() => {});
      this.#presence?.close();
      this.#p2p?.close();
      await this.#files.close();
      await this.#sync?.close();
      await this.#closeHook?.();
    } finally {
      this.#closed = true;
      this.#changes.detach();
      this.#subs.clear();
      this.#collections.clear();
      this.#rep.close();
      this.#members.close();
      await this.#store.close?.();
      this.#status.set({ state: 'offline' });
      this.#events.clear();
    }
  }

  // ---- ports: what each module around the space may reach ----

  /**
   * Every member a port may hold; #port hands each module a view of the few
   * it uses (their @typedefs are in presence.js, p2p.js, sync.js, idb.js and
   * index.js).
   */
  #offer() {
    const self = this;
    return {
      core: this.#core,
      // A getter: a key epoch or a renewal replaces the key material.
      get meta() { return self.#meta; },
      id: this.id,
      get rights() { return self.rights; }, // live: a grant or a lapse changes it
      get rep() {
        self.#changes.settle(); // what sync reads (a vector, a diff) must include every write so far
        return self.#rep; // a getter: compaction swaps the replica
      },
      get presence() { return self.#presence; },
      status: () => this.#status.get(),
      sync: () => this.#sync,
      isWriter: () => !this.#changes.writer, // no tab coordinator forwards this tab's writes
      on: (n, fn) => this.#events.on(n, fn),
      emit: (n, a) => this.#events.emit(n, a),
      readStore: () => this.#store.load(),
      load: (loaded) => this.#load(loaded),
      replica: (coll, id) => this.#readable(coll, id),
      write: (op) => this.#write(op),
      // Collection.put's hot path (no op object), unless an undo manager watches.
      put: (c, id, data) => (this.#undoers.active ? this.#write({ t: 'put', c, id, data, replace: true }) : this.#changes.put(c, id, data)),
      text: (c, d, f) => this.text(c, d, f),
      track: (m) => this.#undoers.add(m),
      fail: (e) => this.#changes.fail(e),
      subscribe: (sub) => this.#opened(this.#subs).add(sub),
      observeText: (text, cb) => this.#opened(this.#texts).add(text, cb),
      report: (e) => this.#report(e),
      get docs() { return self.#subs.docs; },
      get indexes() { return self.#subs.indexes; },
      inTxn: () => this.#changes.inTxn,
      forwarded: (c, d, f) => this.#changes.writer?.forwarded?.(c, d, f) ?? [], // a follower tab's splices on their way (idb.js)
      pendingOps: (c, d, f) => this.#changes.writer?.pendingOps?.(c, d, f) ?? [], // and its formats
      exec: (ops) => this.#changes.execLocal(ops),
      applyRemote: (buf, persist = true, holdUnopened = false) => this.#changes.applyRemote(this.#members.counting(buf), persist, holdUnopened),
      keysHeld: () => this.#members.keysLearned,
      ack: (seq) => this.#persist.persist([], [], seq),
      setStatus: (s) => this.#status.set(s),
      takeLoadedOutbox: () => [this.#loadedOutbox, (this.#loadedOutbox = [])][0],
      setLoadedOutbox: (o) => (this.#loadedOutbox = o),
      setCloseHook: (fn) => (this.#closeHook = fn),
      setWriter: (w) => (this.#changes.writer = w),
      setSync: (s) => (this.#sync = s),
      setPresence: (p) => (this.#presence = p),
      setP2P: (p) => (this.#p2p = p),
      formatLevel: () => this.#level.level,
      levelRecord: () => this.#meta.levelRecord ?? null,
      takeLevel: (record) => this.#level.take(record),
      isEmpty: () => this.#isEmpty(),
      loadBase: (loaded) => this.#loadBase(loaded),
      joinSnapshot: (record, token) => this.#joinSnapshot(record, token),
      rejoinSnapshot: (record, token) => this.#rejoinSnapshot(record, token),
      publishSnapshot: (rseq) => this.#publishSnapshot(rseq),
      snapshotBase: (relay) => (this.#meta.snapshotBase?.relay === relay ? this.#meta.snapshotBase.rseq : null),
      setSnapshotBase: (relay, rseq) => this.#setSnapshotBase(relay, rseq),
      takeMember: (record) => this.#members.take(record),
      ownMemberRecords: () => this.#members.ownRecords(),
      authorCheck: (author, seq, wallMs) => this.#members.authorCheck(author, seq, wallMs),
      rightsOf: (key) => this.#members.rightsOf(key),
      claimOpen: (claim, key) => this.#members.claimOpen(claim, key),
      admitClaim: (claim) => this.#members.admitClaim(claim),
      grantChain: () => (this.#meta.byGrant ? this.#members.grantChain() : null),
    };
  }

  /** A local write, captured by the undo managers that watch its target. */
  #write(op) {
    return this.#undoers.around(op, (o) => this.#changes.write(o), () => !this.#changes.refused);
  }

  /**
   * A new object with the members `names` (space-separated) of #offer, getters kept.
   * @returns {any} the port type its caller names
   */
  #port(names) {
    return pick(this.#offer(), names);
  }

  /**
   * @internal index.js, which wires a space up: the members it uses, and
   * the ports of the modules it starts.
   * @returns {import('./index.js').OpenerPort}
   */
  _opener() {
    return Object.assign(this.#port('load isWriter setPresence setP2P emit'), {
      loadFiles: () => this.#files.load(),
      attachFiles: (url, fetchImpl) => this.#files.attach(url, fetchImpl),
      presencePort: () => this.#port('core meta sync on report'),
      peerPort: () => this.#port('core meta rights rep applyRemote sync on formatLevel authorCheck rightsOf claimOpen admitClaim'),
      syncPort: () => this.#port('core meta rights rep applyRemote ack setStatus emit takeLoadedOutbox setSync formatLevel levelRecord takeLevel takeMember ownMemberRecords grantChain keysHeld isEmpty joinSnapshot rejoinSnapshot publishSnapshot snapshotBase setSnapshotBase'),
      tabPort: () => this.#port('id presence status on emit readStore load loadBase isEmpty exec applyRemote setStatus setLoadedOutbox setCloseHook setWriter'),
    });
  }

  /** @internal For tests only (no module uses it): a p2p Link's port, and isWriter. */
  get _internal() { return this.#port('core meta rights rep applyRemote sync on isWriter formatLevel authorCheck rightsOf claimOpen admitClaim grantChain takeMember'); }

  /** Whether the replica holds nothing yet: no change, no snapshot, nothing waiting, no write open. */
  #isEmpty() {
    if (this.#closed || this.#changes.inTxn) return false;
    const rep = this.#settled();
    return rep.vv().length === 0 && rep.changeCount() === 0 && rep.pendingCount() === 0 && !this.#loadedOutbox.length;
  }

  /**
   * Loads a sealed snapshot from the relay into the empty replica
   * (snapshots.js checks the token grants its publisher admin; the core
   * checks signature, space, key and vector). Live queries and text
   * observers see the new state; the store keeps it as the local base.
   * Throws, with the replica still empty, when any check fails. Returns
   * the snapshot's header.
   */
  #joinSnapshot(record, token) {
    if (!this.#isEmpty()) throw new WeftError('WEFT_ESTATE', 'the replica is no longer empty: it takes the log instead');
    const header = checkPublisher(this.#core, this.#meta.space, record, token);
    const rep = this.#rep;
    rep.loadSealedSnapshot(record);
    if (this.#level.level > 1) rep.setFormatLevel(this.#level.level);
    this.#persist.joined(record.length);
    this.#subs.changedAll();
    if (this.#texts.size) this.#texts.dispatch(null, false, null, []);
    this.#events.emit('snapshot', { joined: true, rseq: header.rseq, bytes: record.length });
    return header;
  }

  /**
   * A replica far behind the relay takes its snapshot instead of the
   * records it lacks: a fresh replica loads it (the same checks as a join)
   * and replaces this one, but only when the snapshot covers every change
   * this one holds (else WEFT_ESTATE: the log it is), and nothing of its own
   * is unsent (the link checked its outbox) or waiting.
   */
  #rejoinSnapshot(record, token) {
    if (this.#closed || this.#changes.inTxn) throw new WeftError('WEFT_ESTATE', 'a write is open');
    const header = checkPublisher(this.#core, this.#meta.space, record, token);
    const old = this.#settled();
    if (old.pendingCount() || !vvCovers(header.vv, old.vv())) throw new WeftError('WEFT_ESTATE', 'the snapshot does not cover what this replica holds');
    const fresh = openReplica(this.#core, this.#meta, this.#rights);
    try {
      fresh.loadSealedSnapshot(record);
    } catch (e) {
      fresh.close();
      throw e;
    }
    if (this.#level.level > 1) fresh.setFormatLevel(this.#level.level);
    this.#rep = fresh;
    old.close();
    this.#persist.joined(record.length);
    this.#subs.changedAll();
    if (this.#texts.size) this.#texts.dispatch(null, false, null, []);
    this.#events.emit('snapshot', { joined: true, rseq: header.rseq, bytes: record.length });
    return header;
  }

  /**
   * Another tab of this space joined from the relay's snapshot (idb.js):
   * this tab loads what the store now holds into a fresh replica (as a
   * reload would), and everything that watches it sees the new state.
   */
  #loadBase(loaded) {
    if (this.#closed) return;
    if (!this.#isEmpty()) {
      const old = this.#rep;
      this.#rep = openReplica(this.#core, this.#meta, this.#rights);
      if (this.#level.level > 1) this.#rep.setFormatLevel(this.#level.level);
      old.close();
    }
    this.#load(loaded);
    this.#subs.changedAll();
    if (this.#texts.size) this.#texts.dispatch(null, false, null, []);
  }

  /**
   * Remembers, with the key material, the base of the newest snapshot this
   * device knows of on `relay` (joined or published), so that reconnecting
   * does not publish again before enough new history (docs/API.md).
   */
  #setSnapshotBase(relay, rseq) {
    if (this.#closed) return;
    this.#meta = { ...this.#meta, snapshotBase: { relay, rseq } };
    this.#store.saveMeta(this.#meta).catch((e) => this.#events.emit('error', new WeftError('WEFT_EUNAVAILABLE', `storing the snapshot base failed: ${e?.message ?? e}`, { cause: e })));
  }

  /** A sealed snapshot of the state for the relay, or null when this device may not publish or must wait. */
  #publishSnapshot(rseq) {
    if (this.#closed || this.#rights < RIGHT.ADMIN || this.#changes.inTxn) return null;
    const rep = this.#settled();
    if (rep.pendingCount()) return null; // parked changes: the state lags the vector's promise
    return rep.publishSnapshot(rseq, Date.now());
  }

  /**
   * An error the app's own code threw (a listener, a live query's callback)
   * or one no call can reject with: to the 'error' listeners, or to
   * console.error when there are none. Never rethrown (it would end a Node
   * process).
   */
  #report(e) {
    if (this.#events.has('error')) this.#events.emit('error', e);
    else reportError(e);
  }

  #open() {
    if (this.#closed || this.#closing) throw new WeftError('WEFT_ESTATE', 'the space is closed');
  }

  /** x, once the space is known to be open. */
  #opened(x) {
    this.#open();
    return x;
  }

  /** The replica for a read of (coll, id): it sees every write made before it. */
  #readable(coll, id) {
    this.#open();
    this.#changes.beforeRead(coll, id);
    return this.#rep;
  }

  /** The replica once every write so far is in it (what sync and hashes read). */
  #settled() {
    this.#open();
    this.#changes.settle();
    return this.#rep;
  }
}
