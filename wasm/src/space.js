// A Space: one shared, encrypted database as the app sees it. It owns a
// Replica (the core), its write path (Changes, changes.js), its Persistence
// (persist.js: store, snapshots, compaction), its Status (status.js), its
// live queries (collection.js) and text observers (text.js), and, when a
// relay is given, a Sync link. Writes run synchronously in the core (reads
// see them at once) and resolve when they are durable in the store.
//
// The modules around it get narrow ports, not the space: each is a
// @typedef in the module that uses it, picked from #offer.
import { RIGHT } from './constants.js';
import { WeftError } from './errors.js';
import { RIGHTS } from './core.js';
import { Changes } from './changes.js';
import { FormatLevel } from './level.js';
import { Persistence, openReplica, SNAPSHOT_EVERY, SNAPSHOT_BYTES, HISTORY_BYTES } from './persist.js';
import { Status } from './status.js';
import { Collection, Subscriptions, checkName } from './collection.js';
import { Text, TextObservers } from './text.js';
import { UndoManager, UndoManagers } from './undo.js';
import { Emitter, pick, toBase64url, toHex } from './util.js';

export { SNAPSHOT_EVERY, SNAPSHOT_BYTES, HISTORY_BYTES };

export class Space {
  #core;
  #store;
  #meta;
  #rights;
  #rep;
  #events = new Emitter();
  #collections = new Map();
  #texts = new TextObservers((e) => this.#events.emit('error', e));
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
  #level; // level.js: the space's format level (FORMAT.md §10)

  /** @internal Use createSpace/openSpace. */
  constructor(core, store, meta, rights, { historyBytes = HISTORY_BYTES, textWindow } = {}) {
    this.#core = core;
    this.#store = store;
    this.#meta = meta;
    this.#rights = rights;
    this.#rep = openReplica(core, meta, rights);
    this.#level = new FormatLevel({ core, store, meta: () => this.#meta, setMeta: (m) => (this.#meta = m), rep: () => this.#rep, emit: (n, a) => this.#events.emit(n, a) });
    const emit = (n, a) => this.#events.emit(n, a);
    this.#status = new Status((s) => emit('status', s), () => (this.#sync ? this.#sync.pending : null));
    this.#persist = new Persistence({
      core, meta, rights, store, emit,
      rep: () => this.#rep,
      replace: (fresh) => {
        const old = this.#rep;
        if (this.#level.level > 1) fresh.setFormatLevel(this.#level.level);
        this.#rep = fresh;
        old.close();
        this.#subs.docs.clear(); // the same state, but nothing read from the old replica is kept
      },
      pendingChanged: () => this.#status.updatePending(this.#persist.notDurable),
    }, historyBytes);
    this.#subs = new Subscriptions((t) => {
      if (this.#closed) return false;
      this.#persist.compact();
      emit('change', { docs: t.docs, local: t.local, remote: t.remote });
      return true;
    });
    this.#changes = new Changes({
      core, emit, texts: this.#texts, persist: this.#persist, subs: this.#subs,
      rep: () => this.#rep,
      checkOpen: () => this.#open(),
      checkWrite: () => {
        if (this.#rights < RIGHT.WRITE) throw new WeftError('WEFT_ERIGHTS', `this device may only ${this.rights} in this space`);
      },
      sync: () => this.#sync,
    }, textWindow);
    this.#collectionPort = this.#port('write fail replica subscribe docs indexes');
    this.#textPort = this.#port('write replica observeText emitError inTxn');
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
  /** 'read' | 'write' | 'admin' */
  get rights() { return RIGHTS[this.#rights]; }
  get closed() { return this.#closed; }

  /**
   * Who else is here: set(state) tells the space's other online peers
   * (through the relay, sealed with the content key), on(fn) hears theirs.
   * See presence.js.
   */
  get presence() { return this.#presence; }

  /** The peer-to-peer links (openSpace({ p2p: true })), or null. See p2p.js. */
  get p2p() { return this.#p2p; }
  /** { state: 'offline'|'connecting'|'syncing'|'synced'|'version', pending } (a copy). */
  get status() { return this.#status.get(); }

  // ---- format levels (docs/API.md, "Format levels") ----

  /**
   * The space's format level: what its writers may use (FORMAT.md §10).
   * 1 until an owner or admin raises it.
   */
  get formatLevel() { return this.#level.level; }

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
   * adds them, none are dropped.
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
   * An undo manager for this device's own writes in `scope` (collection
   * names, { collection, doc } and texts): docs/API.md, "Undo".
   * opts.captureTimeout: writes closer than this (ms, default 500) are one
   * undo step.
   */
  undoManager(opts) {
    this.#open();
    return new UndoManager(this.#port('replica write text track isWriter'), opts);
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
   * An invite link granting `rights` ('read' | 'write' | 'admin') to whoever
   * holds it, for expiresIn milliseconds (0: never). base: the app's URL.
   */
  invite(opts = {}) {
    this.#open();
    return this.#core.invite(this.#meta, this.#rights, opts);
  }

  /** BLAKE2b-256 of the visible state, hex: equal on replicas holding the same changes. */
  stateHash() {
    return toHex(this.#settled().stateHash());
  }

  /** The version vector (bytes, docs/FORMAT.md §6). */
  versionVector() {
    return this.#settled().vv();
  }

  /** Every change this replica holds that the holder of `vv` lacks, concatenated. */
  changesSince(vv = new Uint8Array(0)) {
    return this.#settled().diff(vv);
  }

  /** Merges change records (concatenated) received from elsewhere; resolves when durable. */
  applyChanges(records) {
    try {
      this.#open();
      if (!(records instanceof Uint8Array)) throw new WeftError('WEFT_EINVAL', 'applyChanges takes a Uint8Array');
      return this.#changes.applyRemote(records).durable;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Resolves when every write so far is durable in the store. */
  flush() {
    this.#changes.settle();
    return this.#persist.flush();
  }

  /** Flushes, disconnects and frees the core replica. Idempotent. */
  close() {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown() {
    try {
      await this.flush().catch(() => {});
      this.#presence?.close();
      this.#p2p?.close();
      await this.#sync?.close();
      await this.#closeHook?.();
    } finally {
      this.#closed = true;
      this.#changes.detach();
      this.#subs.clear();
      this.#collections.clear();
      this.#rep.close();
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
      meta: this.#meta,
      id: this.id,
      rights: this.rights,
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
      write: (op) => this.#undoers.around(op, (o) => this.#changes.write(o), () => !this.#changes.refused),
      text: (c, d, f) => this.text(c, d, f),
      track: (m) => this.#undoers.add(m),
      fail: (e) => this.#changes.fail(e),
      subscribe: (sub) => this.#opened(this.#subs).add(sub),
      observeText: (text, cb) => this.#opened(this.#texts).add(text, cb),
      emitError: (e) => this.#events.emit('error', e),
      get docs() { return self.#subs.docs; },
      get indexes() { return self.#subs.indexes; },
      inTxn: () => this.#changes.inTxn,
      exec: (ops) => this.#changes.execLocal(ops),
      applyRemote: (buf, persist = true) => this.#changes.applyRemote(buf, persist),
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
    };
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
    return Object.assign(this.#port('load isWriter setPresence setP2P'), {
      presencePort: () => this.#port('core meta sync on'),
      peerPort: () => this.#port('core meta rights rep applyRemote sync on formatLevel'),
      syncPort: () => this.#port('core meta rights rep applyRemote ack setStatus emit takeLoadedOutbox setSync formatLevel levelRecord takeLevel'),
      tabPort: () => this.#port('id presence status on emit readStore load exec applyRemote setStatus setLoadedOutbox setCloseHook setWriter'),
    });
  }

  /** @internal For tests only (no module uses it): a p2p Link's port, and isWriter. */
  get _internal() { return this.#port('core meta rights rep applyRemote sync on isWriter formatLevel'); }

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
