// A Space: one shared, encrypted database as the app sees it. It owns a
// Replica (the core), its write path (Changes, ops.js), its Persistence
// (persist.js: store, snapshots, compaction), its Status (status.js), its
// live queries (collection.js) and text observers (text.js), and, when a
// relay is given, a Sync link. Writes run synchronously in the core (reads
// see them at once) and resolve when they are durable in the store.
//
// The modules around it get narrow ports, not the space: each is a
// @typedef in the module that uses it, picked from #offer.
import { FORMAT_LEVEL, RIGHT } from './constants.js';
import { WeftError } from './errors.js';
import { Changes } from './ops.js';
import { Persistence, openReplica, SNAPSHOT_EVERY, SNAPSHOT_BYTES, HISTORY_BYTES } from './persist.js';
import { Status } from './status.js';
import { Collection, Subscriptions, checkName } from './collection.js';
import { Text, TextObservers } from './text.js';
import { Emitter, toBase64url, toHex } from './util.js';

export { SNAPSHOT_EVERY, SNAPSHOT_BYTES, HISTORY_BYTES };
const RIGHTS = Object.entries(RIGHT).reduce((a, [name, n]) => ((a[n] = name.toLowerCase()), a), ['none']); // by number (auth.h)

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
  #p2p = null; // p2p.js, when opened with { p2p }
  #loadedOutbox = [];
  #collectionPort;
  #textPort;
  #level = 1; // the space's format level (FORMAT.md §10)

  /** @internal Use createSpace/openSpace. */
  constructor(core, store, meta, rights, { historyBytes = HISTORY_BYTES } = {}) {
    this.#core = core;
    this.#store = store;
    this.#meta = meta;
    this.#rights = rights;
    this.#rep = openReplica(core, meta, rights);
    // The level record this device last took (kept with the key material).
    if (meta.levelRecord) {
      try {
        this.#level = core.levelVerify(meta.levelRecord, meta.space);
        this.#rep.setFormatLevel(this.#level);
      } catch (e) {
        this.#level = 1;
        queueMicrotask(() => this.#events.emit('error', e));
      }
    }
    const emit = (n, a) => this.#events.emit(n, a);
    this.#status = new Status((s) => emit('status', s), () => (this.#sync ? this.#sync.pending : null));
    this.#persist = new Persistence({
      core, meta, rights, store, emit,
      rep: () => this.#rep,
      replace: (fresh) => {
        const old = this.#rep;
        if (this.#level > 1) fresh.setFormatLevel(this.#level);
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
    });
    this.#collectionPort = this.#port('write fail replica subscribe docs');
    this.#textPort = this.#port('write replica observeText emitError inTxn');
  }

  /** Loads the stored snapshot, records and outbox into the replica. */
  #load(loaded) {
    this.#loadedOutbox = loaded.outbox ?? [];
    this.#persist.load(loaded);
    this.#subs.docs.clear(); // loading touches no list: forget every decoded document
  }

  // ---- identity ----

  /** The space id: the owner's public key, base64url. */
  get id() {
    return toBase64url(this.#meta.space);
  }
  /** This device's author key, base64url. */
  get author() {
    return toBase64url(this.#meta.author);
  }
  /** 'read' | 'write' | 'admin' */
  get rights() {
    return RIGHTS[this.#rights];
  }
  get closed() {
    return this.#closed;
  }

  /**
   * Who else is here: set(state) tells the space's other online peers
   * (through the relay, sealed with the content key), on(fn) hears theirs.
   * See presence.js.
   */
  get presence() {
    return this.#presence;
  }

  /** The peer-to-peer links (openSpace({ p2p: true })), or null. See p2p.js. */
  get p2p() {
    return this.#p2p;
  }
  /** { state: 'offline'|'connecting'|'syncing'|'synced'|'version', pending } (a copy). */
  get status() {
    return this.#status.get();
  }

  // ---- format levels (docs/API.md, "Format levels") ----

  /**
   * The space's format level: what its writers may use (FORMAT.md §10).
   * 1 until an owner or admin raises it.
   */
  get formatLevel() {
    return this.#level;
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
    if (!Number.isInteger(level) || level < 1 || level > FORMAT_LEVEL)
      throw new WeftError(level > FORMAT_LEVEL ? 'WEFT_EVERSION' : 'WEFT_EINVAL', `format level must be 1..${FORMAT_LEVEL} (this build's), not ${level}`);
    if (level <= this.#level) return this.#level;
    if (this.#rights < RIGHT.ADMIN) throw new WeftError('WEFT_ERIGHTS', 'only the owner or an admin can raise the format level');
    const m = this.#meta;
    const owner = !!m.spaceSecret;
    const record = this.#core.levelSign({
      space: m.space,
      issuerSecret: owner ? m.spaceSecret : m.authorSecret,
      parent: owner ? null : m.token,
      level,
      wallMs: Date.now(),
    });
    await this.#takeLevel(record);
    this.#sync?.sendLevel(record);
    return this.#level;
  }

  /** Verifies a level record and, if it raises the level, applies, keeps and announces it. */
  #takeLevel(record) {
    let level;
    try {
      level = this.#core.levelVerify(record, this.#meta.space);
    } catch (e) {
      this.#events.emit('error', e);
      return Promise.resolve();
    }
    if (level <= this.#level) return Promise.resolve();
    if (level > FORMAT_LEVEL) {
      // A relay never sends this (it refuses the link first); a peer might.
      this.#events.emit('error', new WeftError('WEFT_EVERSION', `the space moved to format level ${level}; this app reads up to ${FORMAT_LEVEL}: update the app`));
      return Promise.resolve();
    }
    const previous = this.#level;
    this.#level = level;
    this.#rep.setFormatLevel(level);
    this.#meta = { ...this.#meta, levelRecord: record };
    this.#events.emit('formatLevel', { level, previous });
    return this.#store.saveMeta(this.#meta).catch((e) => {
      this.#events.emit('error', new WeftError('WEFT_EUNAVAILABLE', `storing the format level failed: ${e?.message ?? e}`, { cause: e }));
    });
  }

  /** Subscribes to 'status' ({state, pending}), 'change' ({docs, local}) or 'error'. Returns an unsubscribe function. */
  on(name, fn) {
    return this.#events.on(name, fn);
  }
  off(name, fn) {
    this.#events.off(name, fn);
  }

  /** The collection `name` (1..255 bytes of UTF-8). */
  collection(name) {
    this.#open();
    checkName('a collection name', name, 255);
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
    checkName('a collection name', collection, 255);
    checkName('a document id', doc, 1024);
    checkName('a field name', field, 255);
    return new Text(this.#textPort, collection, doc, field);
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
  invite({ rights = 'write', expiresIn = 7 * 24 * 3600 * 1000, base = '' } = {}) {
    this.#open();
    const r = RIGHTS.indexOf(rights);
    if (r < 1) throw new WeftError('WEFT_EINVAL', `rights must be read, write or admin, not ${rights}`);
    if (!(Number.isFinite(expiresIn) && expiresIn >= 0)) throw new WeftError('WEFT_EINVAL', 'expiresIn must be milliseconds >= 0');
    if (this.#rights < RIGHT.ADMIN) throw new WeftError('WEFT_ERIGHTS', 'only the owner or an admin can invite');
    const now = Math.floor(Date.now() / 1000);
    const m = this.#meta;
    const owner = !!m.spaceSecret;
    const token = this.#core.tokenIssue({
      space: m.space,
      issuerSecret: owner ? m.spaceSecret : m.authorSecret,
      parent: owner ? null : m.token,
      grantee: null,
      rights: r,
      notBefore: Math.max(0, now - 300), // tolerate clock skew between devices
      expires: expiresIn ? now + Math.ceil(expiresIn / 1000) : 0,
    });
    return this.#core.inviteEncode(base, m.space, token, m.contentKey);
  }

  /** BLAKE2b-256 of the visible state, hex: equal on replicas holding the same changes. */
  stateHash() {
    this.#open();
    this.#changes.settle();
    return toHex(this.#rep.stateHash());
  }

  /** The version vector (bytes, docs/FORMAT.md §6). */
  versionVector() {
    this.#open();
    this.#changes.settle();
    return this.#rep.vv();
  }

  /** Every change this replica holds that the holder of `vv` lacks, concatenated. */
  changesSince(vv = new Uint8Array(0)) {
    this.#open();
    this.#changes.settle();
    return this.#rep.diff(vv);
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
    if (!this.#closing) {
      this.#closing = (async () => {
        try {
          await this.flush().catch(() => {});
          this.#presence?.close();
          this.#p2p?.close();
          await this.#sync?.close();
          await this.#closeHook?.();
        } finally {
          this.#closed = true;
          this.#subs.clear();
          this.#collections.clear();
          this.#rep.close();
          await this.#store.close?.();
          this.#status.set({ state: 'offline' });
          this.#events.clear();
        }
      })();
    }
    return this.#closing;
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
      get presence() {
        return self.#presence;
      },
      status: () => this.#status.get(),
      sync: () => this.#sync,
      isWriter: () => !this.#changes.writer, // no tab coordinator forwards this tab's writes
      on: (n, fn) => this.#events.on(n, fn),
      emit: (n, a) => this.#events.emit(n, a),
      readStore: () => this.#store.load(),
      load: (loaded) => this.#load(loaded),
      replica: (coll, id) => {
        this.#open();
        this.#changes.beforeRead(coll, id); // a read sees every write made before it
        return this.#rep;
      },
      write: (op) => this.#changes.write(op),
      fail: (e) => this.#changes.fail(e),
      subscribe: (sub) => {
        this.#open();
        return this.#subs.add(sub);
      },
      observeText: (text, cb) => {
        this.#open();
        return this.#texts.add(text, cb);
      },
      emitError: (e) => this.#events.emit('error', e),
      get docs() {
        return self.#subs.docs;
      },
      inTxn: () => this.#changes.inTxn,
      exec: (ops) => this.#changes.execLocal(ops),
      applyRemote: (buf, persist = true) => this.#changes.applyRemote(buf, persist),
      ack: (seq) => this.#persist.persist([], [], seq),
      setStatus: (s) => this.#status.set(s),
      takeLoadedOutbox: () => {
        const o = this.#loadedOutbox;
        this.#loadedOutbox = [];
        return o;
      },
      setLoadedOutbox: (o) => (this.#loadedOutbox = o),
      setCloseHook: (fn) => (this.#closeHook = fn),
      setWriter: (w) => (this.#changes.writer = w),
      setSync: (s) => (this.#sync = s),
      setPresence: (p) => (this.#presence = p),
      setP2P: (p) => (this.#p2p = p),
      formatLevel: () => this.#level,
      levelRecord: () => this.#meta.levelRecord ?? null,
      takeLevel: (record) => this.#takeLevel(record),
    };
  }

  /**
   * A new object with the members `names` (space-separated) of #offer, getters kept.
   * @returns {any} the port type its caller names
   */
  #port(names) {
    const all = Object.getOwnPropertyDescriptors(this.#offer());
    const port = {};
    for (const n of names.split(' ')) {
      if (!all[n]) throw new Error(`weftdb: no port member ${n}`); // a typo here, not the app's fault
      Object.defineProperty(port, n, { ...all[n], enumerable: true });
    }
    return port;
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
  get _internal() {
    return this.#port('core meta rights rep applyRemote sync on isWriter formatLevel');
  }

  #open() {
    if (this.#closed || this.#closing) throw new WeftError('WEFT_ESTATE', 'the space is closed');
  }
}
