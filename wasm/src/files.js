// space.files (docs/API.md, "Files"): files too large for a change travel
// beside the log. put() seals the file in chunks with a key of its own
// (filecrypt.js), stores it in the upload queue (the store's files area,
// so it survives a reload) and returns a small reference at once: the app
// stores the reference in a field, and that change is sent like any other,
// never held back. The queue uploads in the background, chunk by chunk,
// asking the relay which chunks it holds first, so a dropped connection
// or a reload resumes where it stopped. get() downloads the chunks through
// a signed URL and opens them; a file whose chunks are not all there yet
// is WEFT_EFILE_PENDING (readers retry).
//
// Leases (docs/RELAY.md, "Files"): the relay deletes a file whose lease
// nobody renewed for its grace period. Every replica renews the files its
// state references: it indexes the references in the documents each change
// touches (kept in the store, so a reload remembers them) and asks the
// relay for their status once at start and every `renewEvery` ms after.
import { WeftError } from './errors.js';
import { BlobHttp } from './blobhttp.js';
import { chunkCount, importKey, openChunk, randomBytes, sealChunk, sha256Hex, TAG_BYTES } from './filecrypt.js';
import { fromBase64url, toBase64url, toHex } from './util.js';

/** Plaintext bytes per chunk of files put from now on (a reference carries its own). */
export const CHUNK_BYTES = 1 << 20;
/** Requests in flight per transfer. */
const PARALLEL = 4;
const RENEW_EVERY = 12 * 3600_000;
const REFS_KEY = 'refs';

/** Whether v is a file reference (a map with `$file: 1`, put() makes them). */
export function isFileRef(v) {
  return !!v && typeof v === 'object' && v.$file === 1 && typeof v.id === 'string' && /^[0-9a-f]{32}$/.test(v.id) && typeof v.key === 'string' && Number.isSafeInteger(v.size) && v.size >= 0 && Number.isSafeInteger(v.chunk) && v.chunk > 0;
}

function checkRef(ref) {
  if (!isFileRef(ref)) throw new WeftError('WEFT_EINVAL', 'not a file reference (what space.files.put returned)');
}

function fromHex(s) {
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.substr(2 * i, 2), 16);
  return b;
}

/** Runs fn(item) over items, `n` at a time; the first error stops the rest and is thrown. */
async function pool(items, n, fn) {
  let next = 0;
  let failed = null;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed) throw failed;
}

/**
 * Whether a document's canonical bytes may hold a file reference: they
 * contain the key "$file". A byte scan, so that indexing the documents of
 * every change costs no decoding unless files are in use.
 */
function mayHoldRef(bytes) {
  for (let i = bytes.indexOf(0x24); i >= 0 && i + 4 < bytes.length; i = bytes.indexOf(0x24, i + 1))
    if (bytes[i + 1] === 0x66 && bytes[i + 2] === 0x69 && bytes[i + 3] === 0x6c && bytes[i + 4] === 0x65) return true;
  return false;
}

/** Every file reference in a decoded document (fields, and maps and arrays inside them). */
function refsIn(v, out, depth = 0) {
  if (!v || typeof v !== 'object' || depth > 4 || v instanceof Uint8Array) return out;
  if (isFileRef(v)) out.add(v.id);
  else for (const x of Array.isArray(v) ? v : Object.values(v)) refsIn(x, out, depth + 1);
  return out;
}

/**
 * What files need from their space.
 * @typedef {object} FilesPort
 * @property {import('./core.js').Core} core
 * @property {{ space: Uint8Array, authorSecret: Uint8Array, token: Uint8Array }} meta
 * @property {'none' | 'read' | 'write' | 'admin'} rights
 * @property {object} store the space's store: loadFiles(), putFile(key, value), deleteFile(key) when it keeps files (else the queue is in memory only)
 * @property {(coll: string, id: string) => import('./replica.js').Replica} replica the replica for a read of a document
 * @property {(name: string, fn: Function) => () => void} on the space's 'change' events
 * @property {(name: string, arg?: unknown) => void} emit the space's 'file' and 'error' events
 * @property {(patch: { uploads: number }) => void} setStatus
 * @property {() => void} checkOpen throws WEFT_ESTATE once the space is closing
 */

export class Files {
  #port;
  #http = null;
  /** id -> { ref, bytes, loaded, error }: uploads not yet whole at the relay. */
  #queue = new Map();
  /** Document key -> the file ids it references (what this replica renews). */
  #docRefs = new Map();
  #renewed = new Map(); // id -> ms of the last renewal
  #pumping = false;
  #wake = null; // resolves the pump's backoff wait
  #timers = new Set();
  #attempt = 0;
  #closed = false;
  #saveRefs = null;
  #off = null;
  /** Documents touched since the last indexing: key -> [coll, id]. */
  #dirty = new Map();
  #indexQueued = false;
  #tabs = null; // BroadcastChannel to the space's other tabs

  /** @param {FilesPort} port */
  constructor(port, { minDelay = 250, maxDelay = 30_000, renewEvery = RENEW_EVERY } = {}) {
    this.#port = port;
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.renewEvery = renewEvery;
    this.#off = port.on('change', (ev) => this.#touched(ev.docs));
    // Tabs of one IndexedDB space share the queue; only the leader uploads.
    // A follower's put tells it to read the queue again; the leader's
    // finished uploads leave every tab's queue.
    if (typeof BroadcastChannel === 'function' && port.store.loadFiles) {
      this.#tabs = new BroadcastChannel(`weftdb-files:${toBase64url(port.meta.space)}`);
      this.#tabs.unref?.();
      this.#tabs.onmessage = (ev) => this.#fromTab(ev.data);
    }
  }

  #fromTab(m) {
    if (this.#closed || !m) return;
    if (m.done && this.#queue.delete(m.done)) this.#changed();
    if (m.queued && this.#http) this.#reread().catch((e) => this.#port.emit('error', e));
  }

  /** Takes into the queue the uploads another tab stored. */
  async #reread() {
    for (const [key, v] of (await this.#port.store.loadFiles()) ?? [])
      if (key.startsWith('u:') && isFileRef(v.ref) && !this.#queue.has(v.ref.id)) this.#queue.set(v.ref.id, { ref: v.ref, bytes: v.bytes, loaded: 0, error: null });
    this.#changed();
    this.#pump();
  }

  /** Loads the upload queue and the reference index from the store. */
  async load() {
    const all = (await this.#port.store.loadFiles?.()) ?? [];
    for (const [key, v] of all) {
      if (key === REFS_KEY) for (const [doc, ids] of v) this.#docRefs.set(doc, new Set(ids));
      else if (key.startsWith('u:') && isFileRef(v.ref)) this.#queue.set(v.ref.id, { ref: v.ref, bytes: v.bytes, loaded: 0, error: null });
    }
    this.#changed();
  }

  /** Starts uploading and renewing through the relay at `url` (the leader tab's link). */
  attach(url, fetchImpl) {
    if (this.#closed || this.#http) return;
    this.#http = new BlobHttp(this.#port, url, fetchImpl);
    // A tab that leads now takes what others queued meanwhile.
    this.#reread().catch((e) => this.#port.emit('error', e));
    this.#renewLoop(1000);
  }

  /** Uploads not yet whole at the relay: [{ ref, loaded, total, error }]. */
  get pending() {
    return [...this.#queue.values()].map((u) => ({ ref: u.ref, loaded: u.loaded, total: u.ref.size, error: u.error }));
  }

  /**
   * Seals `data` and queues it for upload. Resolves, once the queue is
   * durable in the store, to the reference to store in a field.
   * @param {Blob | Uint8Array} data
   * @param {{ name?: string, type?: string }} [opts]
   */
  async put(data, opts = {}) {
    this.#port.checkOpen();
    if (this.#port.rights === 'read' || this.#port.rights === 'none') throw new WeftError('WEFT_ERIGHTS', 'this device may only read in this space');
    let bytes;
    if (data instanceof Uint8Array) bytes = data.slice();
    else if (typeof Blob !== 'undefined' && data instanceof Blob) bytes = new Uint8Array(await data.arrayBuffer());
    else throw new WeftError('WEFT_EINVAL', 'files.put takes a File, a Blob or a Uint8Array');
    const name = opts.name ?? (typeof data.name === 'string' ? data.name : '');
    const type = opts.type ?? (typeof data.type === 'string' ? data.type : '');
    if (typeof name !== 'string' || name.length > 1024 || typeof type !== 'string' || type.length > 255) throw new WeftError('WEFT_EINVAL', 'name: a string of at most 1024 characters, type: at most 255');
    const ref = Object.freeze({ $file: 1, id: toHex(randomBytes(16)), key: toBase64url(randomBytes(32)), size: bytes.length, chunk: CHUNK_BYTES, name, type });
    await this.#port.store.putFile?.(`u:${ref.id}`, { ref, bytes });
    this.#queue.set(ref.id, { ref, bytes, loaded: 0, error: null });
    this.#changed();
    if (this.#http) this.#pump();
    else this.#tabs?.postMessage({ queued: ref.id }); // the leader uploads it
    return ref;
  }

  /**
   * Downloads and opens a file. opts.onProgress({ loaded, total }); opts.as
   * 'blob' (default where there is a document) or 'bytes'. Rejects with
   * WEFT_EFILE_PENDING while its upload is not whole at the relay.
   */
  async get(ref, opts = {}) {
    this.#port.checkOpen();
    checkRef(ref);
    const out = await this.#download(ref, opts.onProgress);
    const blob = opts.as ? opts.as === 'blob' : typeof document !== 'undefined';
    return blob ? new Blob([out], { type: ref.type }) : out;
  }

  async #download(ref, onProgress) {
    const local = this.#queue.get(ref.id);
    if (local) return local.bytes.slice();
    if (!this.#http) throw new WeftError('WEFT_EUNAVAILABLE', 'files need a relay (createSpace/openSpace with { relay })');
    const http = this.#http;
    let st = await http.status(ref.id);
    const count = chunkCount(ref.size, ref.chunk);
    for (let i = 0; i < count; i++)
      if (!st.chunks.has(i)) {
        const e = new WeftError('WEFT_EFILE_PENDING', `file ${ref.name || ref.id}: ${st.chunks.size} of ${count} chunks uploaded so far; retry later`);
        e.pending = true;
        throw e;
      }
    this.#renewed.set(ref.id, Date.now());
    const key = await importKey(fromBase64url(ref.key, 'a file key'));
    const id = fromHex(ref.id);
    const out = new Uint8Array(ref.size);
    let loaded = 0;
    await pool([...Array(count).keys()], PARALLEL, async (i) => {
      let sealed;
      try {
        sealed = await http.getChunk(st, i);
      } catch (e) {
        if (e.protocolError !== 'URL_EXPIRED') throw e;
        st = await http.status(ref.id); // a long download outlived its URL
        sealed = await http.getChunk(st, i);
      }
      const plain = await openChunk(key, id, i, count, sealed);
      const want = i < count - 1 ? ref.chunk : ref.size - (count - 1) * ref.chunk;
      if (plain.length !== want) throw new WeftError('WEFT_ECRYPTO', `file chunk ${i} has ${plain.length} bytes, not ${want}`);
      out.set(plain, i * ref.chunk);
      loaded += plain.length;
      this.#progress(onProgress, ref, 'down', loaded);
    });
    return out;
  }

  #progress(fn, ref, direction, loaded) {
    const ev = { id: ref.id, direction, loaded, total: ref.size };
    if (fn) fn(ev);
    this.#port.emit('file', ev);
  }

  #changed() {
    this.#port.setStatus({ uploads: this.#queue.size });
  }

  /** Uploads the queue, one file at a time, retrying with backoff while the relay is away. */
  async #pump() {
    if (this.#pumping || !this.#http || this.#closed) return;
    this.#pumping = true;
    try {
      for (;;) {
        const u = [...this.#queue.values()].find((x) => !x.error);
        if (!u || this.#closed) break;
        try {
          await this.#upload(u);
          this.#attempt = 0;
          this.#queue.delete(u.ref.id);
          this.#renewed.set(u.ref.id, Date.now());
          await this.#port.store.deleteFile?.(`u:${u.ref.id}`);
          this.#tabs?.postMessage({ done: u.ref.id });
          this.#changed();
          this.#port.emit('file', { id: u.ref.id, direction: 'up', loaded: u.ref.size, total: u.ref.size, done: true });
        } catch (e) {
          if (this.#closed) break;
          // 404: the space is not at the relay yet (its first connection
          // creates it).
          if (e.retry || e.status === 404) {
            await this.#backoff();
            continue;
          }
          // The relay refused it for good (rights, quota): reported; it
          // stays queued and is tried again after a reload.
          u.error = e;
          this.#port.emit('error', e);
          this.#changed();
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  #backoff() {
    const base = Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(this.#attempt++, 20));
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        this.#wake = null;
        resolve();
      }, base / 2 + Math.random() * (base / 2));
      this.#timers.add(t);
      this.#wake = () => {
        clearTimeout(t);
        this.#timers.delete(t);
        resolve();
      };
    });
  }

  async #upload(u) {
    const { ref } = u;
    const http = this.#http;
    const count = chunkCount(ref.size, ref.chunk);
    const sizeOf = (i) => (i < count - 1 ? ref.chunk : ref.size - (count - 1) * ref.chunk);
    const st = await http.status(ref.id);
    const todo = [];
    u.loaded = 0;
    for (let i = 0; i < count; i++) {
      if (st.chunks.get(i) === sizeOf(i) + TAG_BYTES) u.loaded += sizeOf(i);
      else todo.push(i);
    }
    this.#progress(null, ref, 'up', u.loaded);
    const key = await importKey(fromBase64url(ref.key, 'a file key'));
    const id = fromHex(ref.id);
    await pool(todo, PARALLEL, async (i) => {
      if (this.#closed) throw new WeftError('WEFT_ESTATE', 'the space is closed');
      const plain = u.bytes.subarray(i * ref.chunk, i * ref.chunk + sizeOf(i));
      const sealed = await sealChunk(key, id, i, count, plain);
      await http.putChunk(ref.id, i, sealed, await sha256Hex(sealed));
      u.loaded += plain.length;
      this.#progress(null, ref, 'up', u.loaded);
    });
  }

  // ---- leases ----

  /**
   * Notes the documents a change touched; they are indexed in a microtask,
   * each once however many changes of this task touched it. A document
   * costs a byte scan (mayHoldRef) unless it holds a reference.
   */
  #touched(docs) {
    if (this.#closed) return;
    for (const d of docs) this.#dirty.set(d[0] + '\0' + d[1], d);
    if (this.#indexQueued) return;
    this.#indexQueued = true;
    queueMicrotask(() => {
      this.#indexQueued = false;
      this.#indexDirty();
    });
  }

  /** Indexes the file references of the documents touched since last time. */
  #indexDirty() {
    if (this.#closed || !this.#dirty.size) return;
    const docs = [...this.#dirty.values()];
    this.#dirty.clear();
    let changed = false;
    for (const [coll, id] of docs) {
      const key = coll + '\0' + id;
      const had = this.#docRefs.get(key);
      let ids = new Set();
      try {
        const rep = this.#port.replica(coll, id);
        const bytes = rep.getDocBytes(coll, id, false); // borrowed: read before the next call
        if (bytes && mayHoldRef(bytes)) ids = refsIn(rep.getDoc(coll, id), ids);
      } catch {
        continue;
      }
      if (!ids.size && !had) continue;
      if (ids.size) this.#docRefs.set(key, ids);
      else this.#docRefs.delete(key);
      changed = true;
      for (const f of ids) if (!this.#renewed.has(f)) this.#renewed.set(f, 0); // renewed on the next round
    }
    if (changed) this.#saveRefs ??= Promise.resolve().then(() => {
      this.#saveRefs = null;
      return this.#port.store.putFile?.(REFS_KEY, [...this.#docRefs].map(([k, s]) => [k, [...s]]));
    }).catch((e) => this.#port.emit('error', e));
  }

  /** The files this replica's state references now. */
  referenced() {
    this.#indexDirty();
    const all = new Set();
    for (const s of this.#docRefs.values()) for (const id of s) all.add(id);
    return all;
  }

  /** Renews the lease of every referenced file not renewed for renewEvery ms. Resolves to how many were renewed. */
  async renew() {
    if (!this.#http) return 0;
    let n = 0;
    const now = Date.now();
    for (const id of this.referenced()) {
      if (this.#closed) break;
      if (now - (this.#renewed.get(id) ?? 0) < this.renewEvery) continue;
      try {
        await this.#http.status(id);
        this.#renewed.set(id, Date.now());
        n++;
      } catch (e) {
        if (!e.retry) this.#port.emit('error', e);
        break; // the relay is away: the next round tries again
      }
    }
    return n;
  }

  #renewLoop(delay) {
    const t = setTimeout(async () => {
      this.#timers.delete(t);
      if (this.#closed) return;
      await this.renew().catch(() => {});
      this.#renewLoop(Math.min(this.renewEvery, 3600_000));
    }, delay);
    t.unref?.();
    this.#timers.add(t);
  }

  /** Indexes what is left (the replica is still open) and stops. */
  async close() {
    this.#indexDirty();
    const saving = this.#saveRefs;
    this.#closed = true;
    this.#off?.();
    this.#tabs?.close();
    this.#wake?.();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await saving;
  }
}
