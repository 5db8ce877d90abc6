// Collections: the named sets of documents in a space, their writes (as ops,
// see ops.js), their queries (query.js compiles them, runQuery runs them
// over the replica) and live queries. A live query re-runs once per
// microtask after changes touch its collection, and calls back only when its
// results differ (other ids, or a touched document among them).
import { WeftError } from './errors.js';
import { compileQuery } from './query.js';
import { reportError } from './util.js';

const enc = new TextEncoder();

/** Throws WEFT_EINVAL unless `s` is a non-empty, well-formed string of at most `max` bytes of UTF-8. */
export function checkName(what, s, max) {
  if (typeof s !== 'string' || s.length === 0) throw new WeftError('WEFT_EINVAL', `${what} must be a non-empty string`);
  if (s.isWellFormed && !s.isWellFormed()) throw new WeftError('WEFT_EINVAL', `${what} is not well-formed Unicode`);
  if (s.length > max / 3 && enc.encode(s).length > max) throw new WeftError('WEFT_EINVAL', `${what} is longer than ${max} bytes of UTF-8`);
}

function checkFields(data) {
  if (data === null || typeof data !== 'object' || Array.isArray(data) || data instanceof Uint8Array)
    throw new WeftError('WEFT_EINVAL', 'a document is a plain object of fields');
  for (const k of Object.keys(data)) checkName('a field name', k, 255);
}

/**
 * A live query as the space sees it: `update(ids)` re-runs it after changes
 * to the documents `ids` of collection `coll` (null: run it anyway).
 * @typedef {{ coll: string, update(ids: Set<string> | null): void }} Subscription
 */

/**
 * What a Collection needs from its space.
 * @typedef {object} CollectionPort
 * @property {(op: import('./ops.js').Op) => Promise<void> | undefined} write runs the op (or queues it in the open transaction: undefined)
 * @property {() => import('./replica.js').Replica} replica the replica now; throws once the space is closed
 * @property {(sub: Subscription) => () => void} subscribe adds a live query; returns its removal
 */

/** A named collection of documents inside a space. */
export class Collection {
  #in;
  /** @param {CollectionPort} port */
  constructor(port, name) {
    this.#in = port;
    this.name = name;
  }

  /** Replaces the document `id` with `data` (fields not in data are removed). Resolves when durable. */
  put(id, data) {
    return this.#write(() => {
      checkName('a document id', id, 1024);
      checkFields(data);
      return { t: 'put', c: this.name, id, data, replace: true };
    });
  }

  /** Sets the fields given in `patch` (a field set to undefined is deleted); other fields stay. */
  update(id, patch) {
    return this.#write(() => {
      checkName('a document id', id, 1024);
      checkFields(patch);
      return { t: 'update', c: this.name, id, data: patch };
    });
  }

  /** Adds `by` (an integer) to a counter field; concurrent increments add up. */
  increment(id, field, by = 1) {
    return this.#write(() => {
      checkName('a document id', id, 1024);
      checkName('a field name', field, 255);
      if (!Number.isSafeInteger(by)) throw new WeftError('WEFT_EINVAL', 'increment takes a safe integer');
      return { t: 'incr', c: this.name, id, f: field, n: by };
    });
  }

  /** Deletes the document. */
  delete(id) {
    return this.#write(() => {
      checkName('a document id', id, 1024);
      return { t: 'delete', c: this.name, id };
    });
  }

  #write(make) {
    try {
      return this.#in.write(make());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The document's fields, or undefined. Synchronous. */
  get(id) {
    checkName('a document id', id, 1024);
    return this.#in.replica().getDoc(this.name, id);
  }

  /** Every document as { id, data }, in id byte order. */
  list() {
    return this.query({});
  }

  /** Documents matching { where, orderBy, limit }, as [{ id, data }]. Synchronous. */
  query(q = {}) {
    return runQuery(this.#in.replica(), this.name, compileQuery(q));
  }

  /**
   * A live query: calls cb(results) now (in a microtask) and whenever a
   * local or remote change alters its results. Returns an unsubscribe function.
   * subscribe(cb) watches the whole collection.
   */
  subscribe(q, cb) {
    if (typeof q === 'function') [q, cb] = [{}, q];
    if (typeof cb !== 'function') throw new WeftError('WEFT_EINVAL', 'subscribe needs a callback');
    const compiled = compileQuery(q);
    const in_ = this.#in;
    const name = this.name;
    let last = null;
    let active = true;
    const sub = {
      coll: name,
      update(touchedIds) {
        if (!active) return;
        let rows;
        try {
          rows = runQuery(in_.replica(), name, compiled);
        } catch (e) {
          reportError(e);
          return;
        }
        if (last && touchedIds && !changed(last, rows, touchedIds)) return;
        last = rows;
        try {
          cb(rows);
        } catch (e) {
          reportError(e);
        }
      },
    };
    const off = in_.subscribe(sub);
    queueMicrotask(() => sub.update(null));
    return () => {
      active = false;
      off();
    };
  }
}

/**
 * The space's live queries and the documents changed since they last ran.
 * changed() collects touched documents; once per microtask, `onBatch` sees
 * the batch first (it returns false when the space closed meanwhile), then
 * every live query on a touched collection re-runs.
 */
export class Subscriptions {
  #subs = new Set();
  #touched = null;
  #onBatch;

  /** @param {(batch: { docs: [string, string][], local: boolean, remote: boolean }) => boolean} onBatch */
  constructor(onBatch) {
    this.#onBatch = onBatch;
  }

  /** @param {Subscription} sub */
  add(sub) {
    this.#subs.add(sub);
    return () => this.#subs.delete(sub);
  }

  clear() {
    this.#subs.clear();
  }

  /** touched: [[collection, doc], ...] a local or remote change altered. */
  changed(touched, local) {
    if (!this.#touched) {
      this.#touched = { docs: [], local: false, remote: false };
      queueMicrotask(() => this.#deliver());
    }
    const t = this.#touched;
    for (const d of touched) t.docs.push(d);
    if (local) t.local = true;
    else t.remote = true;
  }

  #deliver() {
    const t = this.#touched;
    this.#touched = null;
    if (!t || !this.#onBatch(t)) return;
    const byColl = new Map();
    for (const [c, d] of t.docs) {
      if (!byColl.has(c)) byColl.set(c, new Set());
      byColl.get(c).add(d);
    }
    for (const sub of [...this.#subs]) {
      const ids = byColl.get(sub.coll);
      if (ids) sub.update(ids);
    }
  }
}

function changed(prev, next, touched) {
  if (prev.length !== next.length) return true;
  for (let i = 0; i < prev.length; i++) if (prev[i].id !== next[i].id) return true;
  for (const r of next) if (touched.has(r.id)) return true;
  return false;
}

function runQuery(rep, coll, { filter, sort, limit }) {
  const out = [];
  if (limit === 0) return out;
  for (const id of rep.keys(coll)) {
    const data = rep.getDoc(coll, id);
    if (data === undefined || !filter(id, data)) continue;
    out.push({ id, data });
    if (!sort && out.length >= limit) break;
  }
  if (sort) {
    out.sort(sort);
    if (out.length > limit) out.length = limit;
  }
  return out;
}
