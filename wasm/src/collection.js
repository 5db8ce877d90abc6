// Collections: the named sets of documents in a space, their writes (as ops,
// see ops.js), their queries (query.js compiles them, runQuery runs them
// over the replica) and live queries. Decoded documents are cached, frozen,
// in a DocCache that every commit and apply invalidates for the documents it
// touched. A live query keeps its matching rows in order; once per microtask
// after changes touch its collection it re-checks only the touched
// documents, and calls back only when its results differ (other ids, or a
// touched document among them). Queries whose where or orderBy names a
// declared index (indexes.js) read only the documents in the index's range.
import { WeftError } from './errors.js';
import { compareValues, compileQuery, getPath, typeRank } from './query.js';
import { Indexes, compareEntries, lowerBound } from './indexes.js';
import { checkName } from './util.js';
import { afterPatch, checkSchema, patchOf, validate } from './schema.js';

export { checkName }; // names are checked the same way everywhere (util.js)

// Writes check only what JS needs to encode them: the core checks names,
// ids and values once, when the change's op buffer reaches it (ops.js).
function checkFields(data) {
  if (data === null || typeof data !== 'object' || Array.isArray(data) || data instanceof Uint8Array)
    throw new WeftError('WEFT_EINVAL', 'a document is a plain object of fields');
}

/**
 * A live query as the space sees it: `update(ids)` re-runs it after changes
 * to the documents `ids` of collection `coll` (null: run it anyway).
 * @typedef {{ coll: string, update(ids: Set<string> | null): void }} Subscription
 */

/**
 * What a Collection needs from its space.
 * @typedef {object} CollectionPort
 * @property {(op: import('./ops.js').Op) => Promise<void>} write runs the op (joining the open change, or the open transaction)
 * @property {(coll: string, id: string, data: object) => Promise<void>} put write({ t: 'put', ... }) without the op object
 * @property {(e: Error) => Promise<never>} fail a write that failed its checks: rejects (and, inside transact, fails the transaction)
 * @property {(coll: string, id?: string) => import('./replica.js').Replica} replica the replica now, after committing the open change if it wrote what will be read; throws once the space is closed
 * @property {(sub: Subscription) => () => void} subscribe adds a live query; returns its removal
 * @property {DocCache} docs the space's decoded documents
 * @property {Indexes} indexes the space's declared indexes
 * @property {(e: unknown) => void} report an error the app's callback threw: the space's 'error' event
 */

/** A named collection of documents inside a space. */
export class Collection {
  #in;
  #schema = null;
  /** @param {CollectionPort} port */
  constructor(port, name) {
    this.#in = port;
    this.name = name;
  }

  /**
   * @internal Space.collection: opts.schema (a Standard Schema) checks
   * every local write from now on; opts.migrate(doc, id) shapes every
   * document read (both replace earlier ones).
   */
  configure({ schema, migrate }) {
    if (schema !== undefined) {
      if (schema !== null) checkSchema(schema);
      this.#schema = schema;
    }
    if (migrate !== undefined) {
      if (migrate !== null && typeof migrate !== 'function') throw new WeftError('WEFT_EINVAL', 'migrate must be a function (doc, id) => doc');
      this.#in.docs.migrate(this.name, migrate);
    }
  }

  /** Replaces the document `id` with `data` (fields not in data are removed). Resolves when durable. */
  put(id, data) {
    // The hot path: no closure per call, unlike the other writes.
    if (data === null || typeof data !== 'object' || Array.isArray(data) || data instanceof Uint8Array)
      return this.#in.fail(new WeftError('WEFT_EINVAL', 'a document is a plain object of fields'));
    if (!this.#schema) return this.#in.put(this.name, id, data);
    let valid;
    try {
      valid = this.#valid(id, data); // before anything is encoded: a refused document writes nothing
    } catch (e) {
      return this.#in.fail(e); // inside transact, this fails the transaction
    }
    return this.#in.put(this.name, id, valid);
  }

  /**
   * Sets the fields given in `patch` (a field set to undefined is deleted);
   * other fields stay. With a schema, the document the update leaves is
   * what is validated (as read now: inside transact, without the
   * transaction's own earlier writes), and only the patch's fields are written.
   */
  update(id, patch) {
    return this.#write(() => {
      checkFields(patch);
      if (this.#schema) patch = patchOf(patch, this.#valid(id, afterPatch(this.get(id), patch)));
      return { t: 'update', c: this.name, id, data: patch };
    });
  }

  /** Adds `by` (an integer) to a counter field; concurrent increments add up. */
  increment(id, field, by = 1) {
    return this.#write(() => {
      if (!Number.isSafeInteger(by)) throw new WeftError('WEFT_EINVAL', 'increment takes a safe integer');
      if (this.#schema) {
        const doc = this.get(id);
        const now = doc?.[field];
        this.#valid(id, afterPatch(doc, { [field]: (typeof now === 'number' ? now : 0) + by }));
      }
      return { t: 'incr', c: this.name, id, f: field, n: by };
    });
  }

  /** The schema's output for `doc`, a plain object, or a WEFT_EINVAL naming the issues. */
  #valid(id, doc) {
    const out = validate(this.#schema, `${this.name}/${id}`, doc);
    checkFields(out);
    return out;
  }

  /** Deletes the document. */
  delete(id) {
    return this.#write(() => {
      return { t: 'delete', c: this.name, id };
    });
  }

  #write(make) {
    let op;
    try {
      op = make();
    } catch (e) {
      return this.#in.fail(e); // inside transact, this fails the transaction
    }
    return this.#in.write(op);
  }

  /** The document's fields, or undefined. Synchronous. */
  get(id) {
    checkName('a document id', id, 1024);
    return this.#in.docs.row(this.#in.replica(this.name, id), this.name, id)?.data;
  }

  /** Every document as { id, data }, in id byte order. */
  list() {
    return this.query({});
  }

  /**
   * Documents matching { where, orderBy, limit, after }, as [{ id, data }]
   * (frozen). The array's `cursor` is its last row when `limit` cut the
   * results (pass it as `after` for the next page), else null. Synchronous.
   */
  query(q = {}) {
    return runQuery(this.#in.replica(this.name), this.#in.docs, this.name, compileQuery(q), this.#in.indexes);
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
    const { filter, order, limit, after } = compiled;
    const full = { ...compiled, limit: Infinity, after: null };
    let last = null;
    // Every matching row in result order (a cursor's rows dropped), and
    // which ids those are: a change re-checks only the documents it touched.
    let all = null;
    let ids = null;
    let active = true;
    const rerun = (rep) => {
      all = runQuery(rep, in_.docs, name, after ? { ...full, after } : full, in_.indexes);
      ids = new Map(all.map((r) => [r.id, r]));
    };
    const sub = {
      coll: name,
      update(touchedIds) {
        if (!active) return;
        let rows;
        try {
          const rep = in_.replica(name);
          if (!all || !touchedIds || touchedIds.size > 1000) rerun(rep);
          else
            for (const id of touchedIds) {
              const old = ids.get(id);
              if (old) {
                all.splice(bsearch(all, old, order), 1);
                ids.delete(id);
              }
              const row = in_.docs.row(rep, name, id);
              if (row === null || !filter(id, row.data) || (after && order(row, after) <= 0)) continue;
              all.splice(bsearch(all, row, order), 0, row);
              ids.set(id, row);
            }
          rows = page(all, limit);
        } catch (e) {
          in_.report(e);
          return;
        }
        if (last && touchedIds && !changed(last, rows, touchedIds)) return;
        last = rows;
        try {
          cb(rows);
        } catch (e) {
          in_.report(e);
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

/** Freezes v and everything in it (Uint8Array cannot be frozen: it is left as it is). */
function deepFreeze(v) {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array || Object.isFrozen(v)) return v;
  for (const k of Object.keys(v)) deepFreeze(v[k]);
  return Object.freeze(v);
}

/** How many decoded documents a space holds at most (DocCache): a scan of 100,000 fits. */
export const DOC_CACHE_ROWS = 1 << 17;

/**
 * Decoded documents as rows ({ id, data }, frozen), so that reads decode a
 * document once and hand out the same object until it changes. Entries go
 * when a commit or apply touches their document (Subscriptions.changed), all
 * of them when the replica is loaded or replaced (compaction).
 *
 * Memory stays bounded: at most `max` rows are held; past that the oldest
 * quarter is let go, each kept only through a WeakRef, so a row the app
 * still holds (a React snapshot, a live query's results) is handed out
 * again, the same object, and one nobody holds is collected and decoded
 * again when next read.
 */
export class DocCache {
  #rows = new Map(); // coll + '\0' + id -> row, or null: no such document (oldest first)
  #weak = new Map(); // coll + '\0' + id -> WeakRef of a row let go from #rows
  #gone = new FinalizationRegistry((k) => {
    if (this.#weak.get(k)?.deref() === undefined) this.#weak.delete(k);
  });
  #max;
  #migrations = new Map(); // coll -> migrate(doc, id): every read of coll goes through it

  constructor(max = DOC_CACHE_ROWS) {
    this.#max = max;
  }

  /** The frozen row { id, data } of document `id` of `coll` (migrated), or null. */
  row(rep, coll, id) {
    const k = coll + '\0' + id;
    let r = this.#rows.get(k);
    if (r !== undefined) return r;
    r = this.#weak.size ? this.#weak.get(k)?.deref() : undefined;
    if (r === undefined) {
      let data = rep.getDoc(coll, id);
      const m = data === undefined ? undefined : this.#migrations.get(coll);
      if (m) data = m(data, id);
      r = data === undefined ? null : Object.freeze({ id, data: deepFreeze(data) });
    }
    this.#weak.delete(k);
    this.#rows.set(k, r);
    if (this.#rows.size > this.#max) this.#letGo();
    return r;
  }

  /** Moves the oldest quarter of the rows to weak references. */
  #letGo() {
    let n = this.#rows.size >> 2;
    for (const [k, r] of this.#rows) {
      if (n-- <= 0) break;
      this.#rows.delete(k);
      if (r === null) continue;
      this.#weak.set(k, new WeakRef(r));
      this.#gone.register(r, k);
    }
  }

  /** Rows held (not counting those only weakly referenced). */
  get size() {
    return this.#rows.size;
  }

  /** Whether any row is cached, held or weakly referenced. */
  get any() {
    return this.#rows.size > 0 || this.#weak.size > 0;
  }

  /** Reads of `coll` go through fn(doc, id) from now on (null: none); documents read before are read again. */
  migrate(coll, fn) {
    if (fn) this.#migrations.set(coll, fn);
    else this.#migrations.delete(coll);
    this.clear();
  }

  /** touched: [[collection, doc], ...] that changed. */
  invalidate(touched) {
    if (this.any) for (const [c, d] of touched) this.invalidateOne(c, d);
  }

  /** Document `doc` of `coll` changed (a keystroke: no list to build). */
  invalidateOne(coll, doc) {
    if (!this.any) return;
    const k = coll + '\0' + doc;
    this.#rows.delete(k);
    this.#weak.delete(k);
  }

  clear() {
    this.#rows.clear();
    this.#weak.clear();
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
  /** The decoded documents; every change passes through changed(), which keeps it true. */
  docs = new DocCache();
  /** The declared indexes, told of every change here too. */
  indexes = new Indexes();

  /** @param {(batch: { readonly docs: [string, string][], local: boolean, remote: boolean, all: boolean }) => boolean} onBatch (docs: decoded when read; all: the whole state was replaced) */
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

  /**
   * touched: the documents a local or remote change altered, as
   * [[collection, doc], ...] or a Touched (replica.js), decoded only when
   * something needs the list: cached documents, indexes, live queries or
   * whoever reads the batch's `docs`.
   */
  changed(touched, local) {
    const list = () => (Array.isArray(touched) ? touched : touched.list);
    if (this.docs.any) this.docs.invalidate(list());
    if (this.indexes.size) this.indexes.touch(list());
    const t = this.#batch();
    t.parts.push(touched);
    if (local) t.local = true;
    else t.remote = true;
  }

  /**
   * The whole state was replaced (a snapshot from the relay loaded into an
   * empty replica): nothing decoded is kept, every live query re-runs.
   */
  changedAll() {
    this.docs.clear();
    this.indexes.reset();
    const t = this.#batch();
    t.all = true;
    t.remote = true;
  }

  /** The batch the next delivery hands out: its `docs` decoded from the parts only when read. */
  #batch() {
    if (!this.#touched) {
      const parts = [];
      let docs = null;
      this.#touched = {
        parts,
        get docs() {
          if (!docs) docs = parts.flatMap((p) => (Array.isArray(p) ? p : p.list));
          return docs;
        },
        local: false,
        remote: false,
        all: false,
      };
      queueMicrotask(() => this.#deliver());
    }
    return this.#touched;
  }

  #deliver() {
    const t = this.#touched;
    this.#touched = null;
    if (!t || !this.#onBatch(t) || !this.#subs.size) return;
    if (t.all) {
      for (const sub of [...this.#subs]) sub.update(null);
      return;
    }
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

/**
 * Runs a compiled query over the collection: every matching row, sorted
 * (limit and after applied), as an array whose `cursor` is its last row
 * when the limit cut it (the next page starts after it), else null. With
 * an index on orderBy's field (one key), the index is walked in result
 * order and the walk stops at the limit; else, with an index on a field
 * where compares, only the documents in its range are read; else every
 * document. Each path returns exactly what the scan would.
 */
function runQuery(rep, docs, coll, q, indexes) {
  const { filter, sort, order, limit, after, conds, keys } = q;
  if (limit > 0 && indexes) {
    const rowOf = (id) => docs.row(rep, coll, id);
    const k = keys.length === 1 && keys[0].field !== 'id' ? indexes.get(coll, keys[0].field) : undefined;
    if (k) {
      k.refresh(rep, rowOf);
      return walkIndex(k, keys[0].dir, span(k.entries, conds, k.field), q, rowOf);
    }
    for (const c of conds) {
      const ix = indexes.get(coll, c.field);
      if (!ix) continue;
      ix.refresh(rep, rowOf);
      const [lo, hi] = span(ix.entries, conds, ix.field);
      const out = [];
      for (let i = lo; i < hi; i++) {
        const row = rowOf(ix.entries[i].id);
        if (row === null || !filter(row.id, row.data)) continue;
        if (after && order(row, after) <= 0) continue;
        out.push(row);
      }
      out.sort(order);
      return page(out, limit, true);
    }
  }
  const out = [];
  if (limit > 0) {
    // Without orderBy the keys come in result order: start after the cursor, stop at the limit.
    for (const id of rep.keys(coll, !sort && after ? after.id : null)) {
      const row = docs.row(rep, coll, id);
      if (row === null || !filter(id, row.data)) continue;
      if (sort && after && order(row, after) <= 0) continue;
      out.push(row);
      if (!sort && out.length > limit) break;
    }
    if (sort) out.sort(sort);
  }
  return page(out, limit, true);
}

/**
 * The entries [lo, hi) of a sorted index on `field` that the conditions
 * on that field allow: a superset of the matches (every row is still
 * filtered), since compareValues may call values equal that equal() does
 * not (objects), and operators other than eq/lt/lte/gt/gte do not narrow.
 */
function span(entries, conds, field) {
  let lo = 0;
  let hi = entries.length;
  const from = (x, strict) => lowerBound(entries, (e) => (strict ? compareValues(e.v, x) <= 0 : compareValues(e.v, x) < 0) ? -1 : 0);
  // Comparisons only match values of the operand's type: its rank bounds them.
  const rankFrom = (r) => lowerBound(entries, (e) => (typeRank(e.v) < r ? -1 : 0));
  for (const c of conds) {
    if (c.field !== field) continue;
    if (!('ops' in c)) {
      lo = Math.max(lo, from(c.eq, false));
      hi = Math.min(hi, from(c.eq, true));
      continue;
    }
    for (const [op, x] of Object.entries(c.ops)) {
      if (op === 'eq') {
        lo = Math.max(lo, from(x, false));
        hi = Math.min(hi, from(x, true));
      } else if (op === 'gt' || op === 'gte') {
        lo = Math.max(lo, from(x, op === 'gt'));
        hi = Math.min(hi, rankFrom(typeRank(x) + 1));
      } else if (op === 'lt' || op === 'lte') {
        hi = Math.min(hi, from(x, op === 'lte'));
        lo = Math.max(lo, rankFrom(typeRank(x)));
      }
    }
  }
  return [lo, Math.max(lo, hi)];
}

/**
 * Walks entries [lo, hi) of the index on orderBy's field in result order
 * (desc: values descending, ties still by id ascending, as sort does),
 * from after the cursor, filtering, until limit + 1 rows are found.
 */
function walkIndex(ix, dir, [lo, hi], q, rowOf) {
  const { filter, limit, after } = q;
  const entries = ix.entries;
  const desc = dir === 'desc';
  const before = (e, c) => (desc ? -compareValues(e.v, c.v) || (e.id < c.id ? -1 : e.id > c.id ? 1 : 0) : compareEntries(e, c));
  const cur = after ? { v: getPath(after.data, ix.field), id: after.id } : null;
  const out = [];
  const visit = (e) => {
    if (cur && before(e, cur) <= 0) return false;
    const row = rowOf(e.id);
    if (row !== null && filter(row.id, row.data)) out.push(row);
    return out.length > limit;
  };
  if (!desc) {
    let i = cur ? Math.max(lo, lowerBound(entries, (e) => (compareEntries(e, cur) <= 0 ? -1 : 0))) : lo;
    for (; i < hi; i++) if (visit(entries[i])) break;
  } else {
    // Groups of equal values from the top; inside a group, ids ascending.
    let j = hi;
    if (cur) j = Math.min(hi, lowerBound(entries, (e) => (compareValues(e.v, cur.v) <= 0 ? -1 : 0)));
    let done = false;
    while (j > lo && !done) {
      let g = j - 1;
      while (g > lo && compareValues(entries[g - 1].v, entries[j - 1].v) === 0) g--;
      for (let i = g; i < j && !done; i++) done = visit(entries[i]);
      j = g;
    }
  }
  return page(out, limit, true);
}

/** The first `limit` of `all` (sorted; copied unless `own`), with its cursor. */
function page(all, limit, own = false) {
  const more = all.length > limit;
  const rows = more ? all.slice(0, limit) : own ? all : all.slice();
  Object.defineProperty(rows, 'cursor', { value: more && limit > 0 ? rows[rows.length - 1] : null, enumerable: false });
  return rows;
}

/** The index of row in sorted `all` (order: its total order), or where it would go. */
function bsearch(all, row, order) {
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (order(all[mid], row) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
