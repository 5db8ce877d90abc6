// File storage for Node: the durable store of a space outside a browser
// (storage: 'file', dir). Each space is a folder `<dir>/<space id>/`:
//
//   meta.json  the key material, replaced whole: written to a temporary
//              file, fsynced, renamed over the old one, folder fsynced.
//   log        an append-only list of entries, each
//                u32 length (of kind + body) | u32 CRC32 (of kind + body) | u8 kind | body
//              kinds: 1 record (a change as it travels), 2 outbox entry
//              (u64 seq + record), 3 acked (u64 seq: drops outbox entries
//              up to it), 4 snapshot (the sealed local snapshot: the
//              records before it are no longer needed).
//
// Store.write appends one batch and fsyncs before it resolves, so a write
// promise means durable, as with IndexedDB. A batch with a snapshot
// rewrites the log as snapshot + outbox (temporary file, fsync, rename),
// which keeps the file the size of the state. On load a torn last entry (a
// crash mid-append: too short or a bad CRC with nothing valid after it) is
// cut off; a bad entry followed by any valid one is damage (an error),
// never silently skipped.
// One process at a time: a second open of the same folder in this process
// is refused (two writers would fork the author's hash chain).
import { open, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { openSync, closeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { WeftError } from './errors.js';
import { concatBytes, fromBase64url, toBase64url } from './util.js';

// CRC-32 (IEEE, as zlib's): node:zlib has crc32 only from Node 20.15, and
// the package supports every Node 20.
const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const KIND = Object.freeze({ RECORD: 1, OUTBOX: 2, ACKED: 3, SNAPSHOT: 4 });
const HEADER = 8; // u32 length + u32 CRC32
const MAX_ENTRY = 256 << 20; // a length past this is damage, not a record

function fileError(what, e) {
  return new WeftError('WEFT_EUNAVAILABLE', `file storage: ${what}: ${e?.message ?? e}`, { cause: e });
}

/** One log entry's bytes. */
function entry(kind, body, seq = null) {
  const extra = seq === null ? 0 : 8;
  const out = new Uint8Array(HEADER + 1 + extra + body.length);
  const dv = new DataView(out.buffer);
  out[HEADER] = kind;
  if (seq !== null) dv.setBigUint64(HEADER + 1, BigInt(seq));
  out.set(body, HEADER + 1 + extra);
  dv.setUint32(0, out.length - HEADER);
  dv.setUint32(4, crc32(out.subarray(HEADER)));
  return out;
}

/**
 * Replays a log: { snapshot, records, outbox (Map seq -> record), valid
 * (bytes of whole entries) }. A torn tail ends the replay; a bad entry
 * followed by a valid one throws WEFT_ECORRUPT.
 */
export function replayLog(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let snapshot = null;
  let records = [];
  const outbox = new Map();
  let o = 0;
  while (o < buf.length) {
    const len = o + HEADER <= buf.length ? dv.getUint32(o) : -1;
    const end = o + HEADER + len;
    const whole = len >= 1 && len <= MAX_ENTRY && end <= buf.length;
    if (!whole || dv.getUint32(o + 4) !== crc32(buf.subarray(o + HEADER, end))) {
      // A crash mid-append leaves the last entries short or unsynced: cut
      // them. A bad entry with a valid one after it (a flipped length
      // included, which may point past the end) is damage.
      if (validEntryAfter(buf, dv, o + 1)) throw new WeftError('WEFT_ECORRUPT', `file storage: the log is damaged at byte ${o}`);
      break;
    }
    const kind = buf[o + HEADER];
    const body = buf.subarray(o + HEADER + 1, end);
    const seqOf = () => {
      if (body.length < 8) throw new WeftError('WEFT_ECORRUPT', `file storage: a short entry at byte ${o}`);
      return Number(new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0));
    };
    if (kind === KIND.RECORD) records.push(body.slice());
    else if (kind === KIND.OUTBOX) outbox.set(seqOf(), body.slice(8));
    else if (kind === KIND.ACKED) {
      const acked = seqOf();
      for (const seq of outbox.keys()) if (seq <= acked) outbox.delete(seq);
    } else if (kind === KIND.SNAPSHOT) {
      snapshot = body.slice();
      records = [];
    } else throw new WeftError('WEFT_ECORRUPT', `file storage: unknown entry kind ${kind} at byte ${o}`);
    o = end;
  }
  return { snapshot, records, outbox, valid: o };
}

/** True when a whole entry with a good CRC starts anywhere at or after `from` (the slow path of a bad entry only). */
function validEntryAfter(buf, dv, from) {
  for (let p = from; p + HEADER < buf.length; p++) {
    const len = dv.getUint32(p);
    if (len < 1 || len > MAX_ENTRY || p + HEADER + len > buf.length) continue;
    if (dv.getUint32(p + 4) === crc32(buf.subarray(p + HEADER, p + HEADER + len))) return true;
  }
  return false;
}

// The key material as JSON: byte arrays as { $bytes: base64url }.
function metaToJSON(meta) {
  return JSON.stringify(meta, (k, v) => (v instanceof Uint8Array ? { $bytes: toBase64url(v) } : v), 1);
}
function metaFromJSON(text) {
  return JSON.parse(text, (k, v) => (v && typeof v === 'object' && typeof v.$bytes === 'string' ? fromBase64url(v.$bytes, 'meta.json bytes') : v));
}

/** Writes `data` to `path` so that a crash leaves the old file or the new one. */
async function replaceFile(dir, path, data) {
  const tmp = `${path}.tmp`;
  const f = await open(tmp, 'w');
  try {
    await f.writeFile(data);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, path);
  syncDir(dir);
}

function syncDir(dir) {
  let fd = -1;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems cannot fsync a folder; the rename is still atomic.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

// Folders a store of this process holds open. Module-wide on purpose: two
// adapters over one dir must not both write a space.
const openFolders = new Set();

/**
 * The file storage adapter: spaces in folders under `dir` (created when
 * missing).
 * @param {{ dir: string }} opts
 */
export function fileStorage({ dir } = {}) {
  if (typeof dir !== 'string' || dir === '') throw new WeftError('WEFT_EINVAL', "file storage needs { dir }: the folder to keep spaces in");
  const folder = (spaceId) => {
    fromBase64url(spaceId, 'space id'); // no '/' or '..' can reach the path
    return join(dir, spaceId);
  };
  return {
    kind: 'file',
    dir,
    async open(spaceId) {
      const d = folder(spaceId);
      if (openFolders.has(d)) throw new WeftError('WEFT_ESTATE', `file storage: space ${spaceId} is already open in this process`);
      try {
        await mkdir(d, { recursive: true });
      } catch (e) {
        throw fileError(`creating ${d}`, e);
      }
      openFolders.add(d);
      return new FileStore(d);
    },
    async delete(spaceId) {
      const d = folder(spaceId);
      if (openFolders.has(d)) throw new WeftError('WEFT_ESTATE', `file storage: space ${spaceId} is open: close it first`);
      await rm(d, { recursive: true, force: true });
    },
  };
}

class FileStore {
  #dir;
  #log = null; // the FileHandle of `log`, opened for appends on load
  #queue = Promise.resolve(); // writes run one after another
  #outbox = new Map(); // what the log holds now: a snapshot rewrite keeps it
  #closed = false;

  constructor(dir) {
    this.#dir = dir;
  }

  get #logPath() {
    return join(this.#dir, 'log');
  }

  async loadMeta() {
    try {
      return metaFromJSON(await readFile(join(this.#dir, 'meta.json'), 'utf8'));
    } catch (e) {
      if (e?.code === 'ENOENT') return null;
      if (e instanceof SyntaxError) throw new WeftError('WEFT_ECORRUPT', `file storage: ${this.#dir}/meta.json is not valid JSON`, { cause: e });
      throw fileError('reading meta.json', e);
    }
  }

  async load() {
    const meta = await this.loadMeta();
    let buf;
    try {
      buf = new Uint8Array(await readFile(this.#logPath));
    } catch (e) {
      if (e?.code !== 'ENOENT') throw fileError('reading the log', e);
      buf = new Uint8Array(0);
    }
    const r = replayLog(buf);
    try {
      this.#log = await open(this.#logPath, 'a');
      if (r.valid < buf.length) {
        await this.#log.truncate(r.valid);
        await this.#log.sync();
      }
    } catch (e) {
      throw fileError('opening the log', e);
    }
    this.#outbox = r.outbox;
    return { meta, snapshot: r.snapshot, records: r.records, outbox: [...r.outbox.values()] };
  }

  async saveMeta(meta, { ifAbsent = false } = {}) {
    if (ifAbsent) {
      const existing = await this.loadMeta();
      if (existing) return existing;
    }
    try {
      await replaceFile(this.#dir, join(this.#dir, 'meta.json'), metaToJSON(meta));
    } catch (e) {
      throw fileError('saving meta.json', e);
    }
    return meta;
  }

  write(batch) {
    const run = this.#queue.then(() => this.#write(batch));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #write({ records = [], snapshot = null, outbox = [], acked = null }) {
    if (this.#closed) throw new WeftError('WEFT_ESTATE', 'file storage: the store is closed');
    if (!this.#log) this.#log = await open(this.#logPath, 'a');
    for (const o of outbox) this.#outbox.set(o.seq, o.record);
    if (acked !== null) for (const seq of this.#outbox.keys()) if (seq <= acked) this.#outbox.delete(seq);
    try {
      if (snapshot) {
        // The snapshot holds every record: the log becomes snapshot + outbox.
        const parts = [entry(KIND.SNAPSHOT, snapshot)];
        for (const [seq, rec] of this.#outbox) parts.push(entry(KIND.OUTBOX, rec, seq));
        await this.#log.close();
        this.#log = null;
        await replaceFile(this.#dir, this.#logPath, concatBytes(parts));
        this.#log = await open(this.#logPath, 'a');
        return;
      }
      const parts = records.map((r) => entry(KIND.RECORD, r));
      for (const o of outbox) parts.push(entry(KIND.OUTBOX, o.record, o.seq));
      if (acked !== null) parts.push(entry(KIND.ACKED, new Uint8Array(0), acked));
      if (!parts.length) return;
      await this.#log.write(concatBytes(parts));
      await this.#log.datasync();
    } catch (e) {
      throw fileError('writing a batch', e);
    }
  }

  async close() {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.#log?.close();
    this.#log = null;
    openFolders.delete(this.#dir);
  }
}

// For the tests of the log format.
export { KIND as LOG_KIND, entry as logEntry, crc32 };
