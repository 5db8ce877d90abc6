// Declared indexes of a space's collections (docs/API.md, "Indexes"):
// space.collection(name, { indexes: ['done', 'due'] }) keeps, per field
// path, every document of the collection as an entry { v, id } sorted by
// the field's value (compareValues: missing < null-likes < booleans <
// numbers < strings < bytes < arrays < objects) and then by id as orderBy
// breaks ties, so that a query's where (equality, lt/lte/gt/gte) and
// orderBy on that field read only the documents in the range they need.
//
// Invariants: an index is either stale (built on its next use, from every
// document of the collection) or holds exactly one entry per document,
// except for the ids in `dirty`, which a commit, apply or load touched
// since; those are re-read (decoding only them) before the next use. A
// compaction keeps the state, so it keeps the indexes; a load of stored
// state makes every index stale.
import { compareValues, getPath } from './query.js';
import { WeftError } from './errors.js';
import { checkName } from './util.js';

/** The order of entries: the value, then the id as orderBy breaks ties. */
export function compareEntries(a, b) {
  return compareValues(a.v, b.v) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The first index i of sorted `arr` with cmp(arr[i]) >= 0 (cmp: negative while before the target). */
export function lowerBound(arr, cmp) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(arr[mid]) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One field's index over one collection. */
export class FieldIndex {
  entries = []; // { v, id }, sorted by compareEntries
  #byId = new Map(); // id -> its entry
  #dirty = new Set();
  #stale = true;

  constructor(coll, field) {
    this.coll = coll;
    this.field = field;
  }

  /** A commit, apply or load changed document `id`. */
  touch(id) {
    if (!this.#stale) this.#dirty.add(id);
  }

  reset() {
    this.#stale = true;
    this.#dirty.clear();
    this.entries = [];
    this.#byId.clear();
  }

  /**
   * Brings the index up to date: every document read if stale, else only
   * the dirty ones. rowOf(id) is the document's cached row, or null.
   */
  refresh(rep, rowOf) {
    if (this.#stale) {
      const entries = [];
      this.#byId.clear();
      for (const id of rep.keys(this.coll, null)) {
        const row = rowOf(id);
        if (row === null) continue;
        const e = { v: getPath(row.data, this.field), id };
        entries.push(e);
        this.#byId.set(id, e);
      }
      entries.sort(compareEntries);
      this.entries = entries;
      this.#stale = false;
      this.#dirty.clear();
      return;
    }
    if (!this.#dirty.size) return;
    // Many changes at once: one sort beats a splice per document.
    const bulk = this.#dirty.size > 64;
    for (const id of this.#dirty) {
      const old = this.#byId.get(id);
      if (old) {
        if (!bulk) this.entries.splice(lowerBound(this.entries, (x) => compareEntries(x, old)), 1);
        else old.gone = true;
        this.#byId.delete(id);
      }
      const row = rowOf(id);
      if (row === null) continue;
      const e = { v: getPath(row.data, this.field), id };
      this.#byId.set(id, e);
      if (!bulk) this.entries.splice(lowerBound(this.entries, (x) => compareEntries(x, e)), 0, e);
      else this.entries.push(e);
    }
    if (bulk) this.entries = this.entries.filter((e) => !e.gone).sort(compareEntries);
    this.#dirty.clear();
  }
}

/** Every declared index of a space, by collection and field path. */
export class Indexes {
  #byColl = new Map(); // coll -> Map(field -> FieldIndex)

  /** Declares the indexes of collection options `opts` ({ indexes: [paths] }), checked. */
  declareFrom(coll, opts) {
    if (opts === null || typeof opts !== 'object') throw new WeftError('WEFT_EINVAL', 'collection options must be an object');
    const { indexes } = opts;
    if (indexes === undefined) return;
    if (!Array.isArray(indexes)) throw new WeftError('WEFT_EINVAL', 'indexes must be an array of field paths');
    for (const f of indexes) checkName('an indexed field path', f, 255);
    this.declare(coll, indexes);
  }

  /** Declares indexes on `fields` of `coll` (already declared ones are kept). */
  declare(coll, fields) {
    let m = this.#byColl.get(coll);
    if (!m) this.#byColl.set(coll, (m = new Map()));
    for (const f of fields) if (!m.has(f)) m.set(f, new FieldIndex(coll, f));
  }

  /** The index on `field` of `coll`, or undefined. */
  get(coll, field) {
    return this.#byColl.get(coll)?.get(field);
  }

  /** The fields indexed in `coll` (an empty list when none). */
  fields(coll) {
    return [...(this.#byColl.get(coll)?.keys() ?? [])];
  }

  /** How many collections have declared indexes. */
  get size() {
    return this.#byColl.size;
  }

  /** touched: [[collection, doc], ...] a commit or apply changed. */
  touch(touched) {
    if (!this.#byColl.size) return;
    for (const [c, d] of touched) {
      const m = this.#byColl.get(c);
      if (m) for (const ix of m.values()) ix.touch(d);
    }
  }

  /** The replica was loaded from stored state: every index is rebuilt on its next use. */
  reset() {
    for (const m of this.#byColl.values()) for (const ix of m.values()) ix.reset();
  }
}
