// List fields (docs/API.md, "Lists"; docs/LISTS.md): space.list(coll, doc,
// field) edits one field as an ordered list whose items keep their identity
// through moves, so concurrent inserts, deletes, moves and sets merge
// instead of the last writer winning. The field reads as an array
// everywhere (get, queries, the state hash). Outside transact every edit
// is a change of its own; inside, edits join the transaction's change.
import { WeftError } from './errors.js';
import { checkName, bytesEqual } from './util.js';

const INSERT = 1, DELETE = 2, MOVE = 3, SET = 4;

/**
 * What a List needs from its space.
 * @typedef {object} ListPort
 * @property {(coll: string, doc: string) => import('./replica.js').Replica} replica the replica now (the open change committed if it wrote the document)
 * @property {(op: import('./ops.js').ListOp) => Promise<void>} write runs the edit (a change of its own, or queued in the open transaction)
 * @property {(e: Error) => Promise<never>} fail an edit that failed its checks (inside transact it fails the transaction)
 * @property {(sub: import('./collection.js').Subscription) => () => void} subscribe told of every change's touched documents
 * @property {(e: Error) => void} report the space's 'error' event
 */

/**
 * A change to a list, applied in order to the previous array:
 * { insert: index, value } | { delete: index } | { move: from, to } | { set: index, value }.
 * @typedef {{ insert: number, value: unknown } | { delete: number } | { move: number, to: number } | { set: number, value: unknown }} ListDelta
 */

/** The deltas turning items `a` into items `b` ([{ id, value, raw }]), matched by identity. */
export function diffItems(a, b) {
  const out = [];
  const keep = new Set(b.map((x) => x.id));
  const w = [];
  for (const x of a) {
    if (keep.has(x.id)) w.push(x);
    else out.push({ delete: w.length });
  }
  for (let i = 0; i < b.length; i++) {
    const want = b[i];
    if (w[i]?.id !== want.id) {
      let j = i + 1;
      while (j < w.length && w[j].id !== want.id) j++;
      if (j < w.length) {
        out.push({ move: j, to: i });
        w.splice(i, 0, w.splice(j, 1)[0]);
      } else {
        out.push({ insert: i, value: want.value });
        w.splice(i, 0, want);
        continue;
      }
    }
    if (!bytesEqual(w[i].raw, want.raw)) out.push({ set: i, value: want.value });
    w[i] = want;
  }
  return out;
}

/**
 * One promise for several edits' promises. Inside transact those are the
 * transaction's (handled: transact's promise reports a failure), so the
 * joint one is marked handled too; whoever awaits it still sees the error.
 */
function all(promises) {
  if (promises.length === 1) return promises[0];
  const p = Promise.all(promises).then(() => undefined);
  p.catch(() => {});
  return p;
}

/** One list field of one document. Cheap to create; holds no state of its own. */
export class List {
  #in;
  /** The list field `field` of `doc` in `collection`, its names checked. */
  static open(port, collection, doc, field) {
    checkName('a collection name', collection, 255);
    checkName('a document id', doc, 1024);
    checkName('a field name', field, 255);
    return new List(port, collection, doc, field);
  }

  /** @param {ListPort} port */
  constructor(port, collection, doc, field) {
    this.#in = port;
    this.collection = collection;
    this.doc = doc;
    this.field = field;
  }

  #rep() {
    return this.#in.replica(this.collection, this.doc);
  }

  /** The items now, as a new array ([] when the field holds no list or array). Synchronous. */
  toArray() {
    const v = this.#rep().getField(this.collection, this.doc, this.field);
    return Array.isArray(v) ? v : [];
  }

  /** The items with their identities: [{ id, value }] (id stays the item's through moves and sets). */
  entries() {
    const items = this.#rep().listItems(this.collection, this.doc, this.field);
    return items ? items.map(({ id, value }) => ({ id, value })) : this.toArray().map((value, i) => ({ id: `#${i}`, value }));
  }

  /** The number of items. */
  get length() {
    const n = this.#rep().listLength(this.collection, this.doc, this.field);
    return n >= 0 ? n : this.toArray().length;
  }

  #edit(k, i, to, v) {
    try {
      if (!Number.isSafeInteger(i) || i < (k === INSERT ? -1 : 0)) throw new WeftError('WEFT_EINVAL', `index ${i} is not a list index`);
      if (k === MOVE && (!Number.isSafeInteger(to) || to < 0)) throw new WeftError('WEFT_EINVAL', `index ${to} is not a list index`);
      if ((k === INSERT || k === SET) && v === undefined) throw new WeftError('WEFT_EINVAL', 'list items cannot be undefined');
    } catch (e) {
      return this.#in.fail(e);
    }
    const op = { t: 'list', c: this.collection, id: this.doc, f: this.field, k, i };
    if (k === MOVE) op.to = to;
    if (k === INSERT || k === SET) op.v = v;
    return this.#in.write(op);
  }

  /** Inserts `value` at `index` (0..length). Resolves when durable. */
  insert(index, value) {
    return this.#edit(INSERT, index, 0, value);
  }

  /** Appends the values at the end, in order. Resolves when durable. */
  push(...values) {
    return all(values.map((v) => this.#edit(INSERT, -1, 0, v)));
  }

  /** Deletes `count` items from `index`. Resolves when durable. */
  delete(index, count = 1) {
    if (!Number.isSafeInteger(count) || count < 0) return this.#in.fail(new WeftError('WEFT_EINVAL', `cannot delete ${count} items`));
    const edits = [];
    for (let k = 0; k < count; k++) edits.push(this.#edit(DELETE, index, 0));
    return all(edits);
  }

  /**
   * Moves the item at `from` so that it ends at index `to`. The item keeps
   * its identity: of concurrent moves of one item, one wins (it is never
   * duplicated), and a concurrent set of its value is kept. Resolves when durable.
   */
  move(from, to) {
    return this.#edit(MOVE, from, to);
  }

  /** Replaces the value of the item at `index`, in place. Resolves when durable. */
  set(index, value) {
    return this.#edit(SET, index, 0, value);
  }

  /**
   * Calls cb(deltas, { array }) after every change of this list, local or
   * remote: deltas (ListDelta) applied in order to the previous array give
   * `array`, the list now. Items are matched by identity, so a move is
   * reported as a move. Returns an unsubscribe function.
   */
  observe(cb) {
    if (typeof cb !== 'function') throw new WeftError('WEFT_EINVAL', 'observe takes a function');
    let last = this.#items();
    return this.#in.subscribe({
      coll: this.collection,
      update: (ids) => {
        if (ids && !ids.has(this.doc)) return;
        let now;
        try {
          now = this.#items();
        } catch (e) {
          return; // the space closed
        }
        const deltas = diffItems(last, now);
        last = now;
        if (!deltas.length) return;
        try {
          cb(deltas, { array: now.map((x) => x.value) });
        } catch (e) {
          this.#in.report(e);
        }
      },
    });
  }

  /** The items with identities and raw bytes; a plain array's items get positional ids. */
  #items() {
    const rep = this.#rep();
    const items = rep.listItems(this.collection, this.doc, this.field);
    if (items) return items;
    return this.toArray().map((value, i) => ({ id: `#${i}`, value, raw: new TextEncoder().encode(JSON.stringify(value)) }));
  }
}
