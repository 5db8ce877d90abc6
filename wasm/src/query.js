// Queries over one collection: where (equality, comparisons, in, contains,
// or a predicate), orderBy (fields, asc/desc), limit, after (a cursor).
// Compiled here; run by collection.js, over a declared index of the
// collection (indexes.js) when where or orderBy names an indexed field,
// else over the collection's documents in key order (without orderBy the
// scan starts after the cursor and stops at the limit; with orderBy it
// reads every document, decoded once, then cached).
import { WeftError } from './errors.js';

const OPS = new Set(['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', 'contains', 'exists']);

/** The rank of a value's type in compareValues's order. */
export function typeRank(v) {
  if (v === null || v === undefined) return 0;
  switch (typeof v) {
    case 'boolean':
      return 1;
    case 'number':
    case 'bigint':
      return 2;
    case 'string':
      return 3;
    default:
      return v instanceof Uint8Array ? 4 : Array.isArray(v) ? 5 : 6;
  }
}

/** Total order used by orderBy and range operators: missing/null < bool < number < string < bytes < array < object. */
export function compareValues(a, b) {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return 0;
    case 1:
    case 2:
      return a < b ? -1 : a > b ? 1 : 0;
    case 3:
      return a < b ? -1 : a > b ? 1 : 0;
    case 4: {
      const n = Math.min(a.length, b.length);
      for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
      return a.length - b.length;
    }
    case 5: {
      const n = Math.min(a.length, b.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(a[i], b[i]);
        if (c) return c;
      }
      return a.length - b.length;
    }
    default:
      return 0;
  }
}

function equal(a, b) {
  if (typeRank(a) !== typeRank(b)) return false;
  if (typeof a !== 'object' || a === null) return a == b; // 1 == 1n
  if (a instanceof Uint8Array) return compareValues(a, b) === 0;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b && equal(a[k], b[k]));
}

/** The value at a dotted field path of a document, or undefined. */
export function getPath(doc, path) {
  if (!path.includes('.')) return doc[path];
  let v = doc;
  for (const p of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[p];
  }
  return v;
}

function isOpsCond(cond) {
  return cond !== null && typeof cond === 'object' && !Array.isArray(cond) && !(cond instanceof Uint8Array) &&
    Object.keys(cond).length > 0 && Object.keys(cond).every((k) => OPS.has(k));
}

function compileCond(field, cond) {
  const isOps = cond !== null && typeof cond === 'object' && !Array.isArray(cond) && !(cond instanceof Uint8Array) &&
    Object.keys(cond).length > 0 && Object.keys(cond).every((k) => OPS.has(k));
  if (!isOps) return (doc) => equal(getPath(doc, field), cond);
  const tests = Object.entries(cond).map(([op, x]) => {
    switch (op) {
      case 'eq':
        return (v) => equal(v, x);
      case 'ne':
        return (v) => !equal(v, x);
      case 'lt':
        return (v) => v !== undefined && typeRank(v) === typeRank(x) && compareValues(v, x) < 0;
      case 'lte':
        return (v) => v !== undefined && typeRank(v) === typeRank(x) && compareValues(v, x) <= 0;
      case 'gt':
        return (v) => v !== undefined && typeRank(v) === typeRank(x) && compareValues(v, x) > 0;
      case 'gte':
        return (v) => v !== undefined && typeRank(v) === typeRank(x) && compareValues(v, x) >= 0;
      case 'in':
        if (!Array.isArray(x)) throw new WeftError('WEFT_EINVAL', `where.${field}.in must be an array`);
        return (v) => x.some((y) => equal(v, y));
      case 'contains':
        return (v) => (typeof v === 'string' && typeof x === 'string' ? v.includes(x) : Array.isArray(v) && v.some((y) => equal(y, x)));
      case 'exists':
        return (v) => (v !== undefined) === !!x;
      default:
        throw new WeftError('WEFT_EINVAL', `unknown operator ${op}`);
    }
  });
  return (doc) => {
    const v = getPath(doc, field);
    return tests.every((t) => t(v));
  };
}

/**
 * An operand as documents hold it: a Date is stored as its ISO 8601
 * string (value.js), so `{ due: { lt: new Date() } }` compares strings,
 * which sort in time order.
 */
function storedForm(v) {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? v : v.toISOString();
  if (Array.isArray(v)) return v.some((x) => x instanceof Date) ? v.map(storedForm) : v;
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && Object.getPrototypeOf(v) === Object.prototype) {
    let out = v;
    for (const [k, x] of Object.entries(v)) {
      const y = storedForm(x);
      if (y !== x) out = { ...out, [k]: y };
    }
    return out;
  }
  return v;
}

/** Compares ids in UTF-8 byte order (= code point order), the order of a collection's keys. */
export function compareIds(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 puts surrogates (code points >= 0x10000) below U+E000..U+FFFF
    if (x >= 0xd800 && x < 0xe000) x += 0x2000;
    else if (x >= 0xe000) x -= 0x800;
    if (y >= 0xd800 && y < 0xe000) y += 0x2000;
    else if (y >= 0xe000) y -= 0x800;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Compiles { where, orderBy, limit, after } into { filter(id, doc),
 * sort(a, b) | null, order(a, b), limit, after, conds, keys }: order is
 * the total order of the results (sort, or ids in byte order without
 * orderBy); after, a cursor (the last row of the previous page), null or
 * undefined; conds, where's conditions as { field, eq } (an equality) or
 * { field, ops } (an operator object), for the index planner (none for a
 * predicate); keys, orderBy as [{ field, dir }] (empty without one).
 */
export function compileQuery(q = {}) {
  if (q === null || typeof q !== 'object') throw new WeftError('WEFT_EINVAL', 'query must be an object');
  const { where, orderBy, limit, after } = q;
  let filter = () => true;
  let conds = [];
  let keys = [];
  if (typeof where === 'function') filter = (id, doc) => !!where(doc, id);
  else if (where !== undefined && where !== null) {
    if (typeof where !== 'object') throw new WeftError('WEFT_EINVAL', 'where must be an object or a function');
    const entries = Object.entries(where).map(([f, c]) => [f, storedForm(c)]);
    const tests = entries.map(([f, c]) => compileCond(f, c));
    conds = entries.map(([field, c]) => (isOpsCond(c) ? { field, ops: c } : { field, eq: c }));
    filter = (id, doc) => tests.every((c) => c(doc));
  }
  let sort = null;
  if (orderBy !== undefined && orderBy !== null) {
    keys = (Array.isArray(orderBy) ? orderBy : [orderBy]).map((o) => {
      if (typeof o === 'string') {
        const [field, dir = 'asc'] = o.split(/\s+/);
        return { field, dir };
      }
      if (o && typeof o.field === 'string') return { field: o.field, dir: o.direction ?? o.dir ?? 'asc' };
      throw new WeftError('WEFT_EINVAL', 'orderBy takes "field", "field desc" or { field, direction }');
    });
    for (const k of keys)
      if (k.dir !== 'asc' && k.dir !== 'desc') throw new WeftError('WEFT_EINVAL', `orderBy direction must be asc or desc, not ${k.dir}`);
    sort = (a, b) => {
      for (const k of keys) {
        const c = k.field === 'id' && !(k.field in a.data) ? compareValues(a.id, b.id) : compareValues(getPath(a.data, k.field), getPath(b.data, k.field));
        if (c) return k.dir === 'desc' ? -c : c;
      }
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    };
  }
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0))
    throw new WeftError('WEFT_EINVAL', 'limit must be a non-negative integer');
  if (after != null && !(typeof after === 'object' && typeof after.id === 'string' && after.data && typeof after.data === 'object'))
    throw new WeftError('WEFT_EINVAL', 'after takes the cursor of a previous page (rows.cursor)');
  const order = sort ?? ((a, b) => compareIds(a.id, b.id));
  return { filter, sort, order, limit: limit ?? Infinity, after: after ?? null, conds, keys };
}
