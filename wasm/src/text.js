// Collaborative text fields (docs/API.md, "Text"): space.text(coll, doc,
// field) edits one field as a sequence CRDT, so concurrent typing merges
// instead of the last writer winning. Positions are UTF-16 code units, what
// String.length, selectionStart and textarea offsets count. Every edit
// commits one change of its own (see transact in docs/API.md for why).
import { decodeAnchor, encodeAnchor } from './anchor.js';
import { blocksOf, checkBlockAttrs } from './blocks.js';
import { WeftError } from './errors.js';
import { checkName } from './util.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isWellFormed(s) {
  return s.isWellFormed ? s.isWellFormed() : !LONE_SURROGATE.test(s);
}

/** The splice turning `a` into `b`: common prefix and suffix kept. */
export function diffStrings(a, b) {
  let start = 0;
  const max = Math.min(a.length, b.length);
  while (start < max && a.charCodeAt(start) === b.charCodeAt(start)) start++;
  let end = 0;
  while (end < max - start && a.charCodeAt(a.length - 1 - end) === b.charCodeAt(b.length - 1 - end)) end++;
  // never cut a surrogate pair in two
  if (start > 0 && isHigh(a.charCodeAt(start - 1))) start--;
  if (end > 0 && isLow(a.charCodeAt(a.length - end))) end--;
  return { index: start, deleteCount: a.length - start - end, insert: b.slice(start, b.length - end) };
}

function isHigh(c) {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLow(c) {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Where position p goes when `d` is applied (a remote insert at p stays after it). */
export function mapPosition(p, d) {
  if (p <= d.index) return p;
  if (p >= d.index + d.deleteCount) return p + d.insert.length - d.deleteCount;
  return d.index + d.insert.length;
}

/**
 * Where position p (side < 0: sticking to the character before it) of the
 * text with splice `sp` applied is in the text without it. A position in
 * or at the end of the splice's inserted text, which has no characters
 * yet, becomes the character after the splice: the inserted text lands
 * before it.
 */
function beforeSplice(p, side, sp) {
  const n = sp.text.length;
  if (p < sp.pos || (p === sp.pos && (n === 0 || side < 0))) return [p, side];
  if (p === sp.pos) return [p, -1];
  if (p <= sp.pos + n) return [sp.pos + sp.del, 0];
  return [p - n + sp.del, side];
}

/**
 * Where position p, an anchor's (before: sticking to the character before
 * it), goes when splice `sp` lands: text inserted right at an anchor on
 * the character after it goes before it. A deleted character keeps its
 * place, before text inserted there (it goes after the tombstones).
 */
function afterSplice(p, before, sp) {
  if (p < sp.pos) return p;
  if (p === sp.pos) return before || sp.del > 0 ? p : p + sp.text.length;
  if (p < sp.pos + sp.del || (before && sp.del > 0 && p === sp.pos + sp.del)) return sp.pos; // anchored on a deleted character
  return p - sp.del + sp.text.length;
}

function applyDelta(s, d) {
  return s.slice(0, d.index) + d.insert + s.slice(d.index + d.deleteCount);
}

/**
 * What a Text needs from its space.
 * @typedef {object} TextPort
 * @property {(coll: string, doc: string) => import('./replica.js').Replica} replica the replica now (the open change committed if it wrote the document); throws once the space is closed
 * @property {(op: import('./ops.js').SpliceOp) => Promise<void>} write joins a splice to the open change
 * @property {(text: Text, cb: Function) => () => void} observeText adds an observer (TextObservers.add); returns its removal
 * @property {(e: unknown) => void} report the space's 'error' event (console.error when nobody listens)
 * @property {() => boolean} inTxn whether a transaction is open (text edits cannot join one)
 * @property {(coll: string, doc: string, field: string) => import('./ops.js').SpliceOp[]} forwarded a follower tab's splices of this text on their way to the leader, in order ([] elsewhere)
 * @property {(coll: string, doc: string, field: string) => import('./ops.js').Op[]} [pendingOps] the same with its formats
 */

/** One text field of one document. Cheap to create; holds no state of its own. */
export class Text {
  #in;
  /** The text field `field` of `doc` in `collection`, its names checked. */
  static open(port, collection, doc, field) {
    checkName('a collection name', collection, 255);
    checkName('a document id', doc, 1024);
    checkName('a field name', field, 255);
    return new Text(port, collection, doc, field);
  }

  /** @param {TextPort} port */
  constructor(port, collection, doc, field) {
    this.#in = port;
    this.collection = collection;
    this.doc = doc;
    this.field = field;
  }

  /** The text now ('' when the field holds nothing or something else). Synchronous. */
  toString() {
    const v = this.#in.replica(this.collection, this.doc).getField(this.collection, this.doc, this.field);
    return typeof v === 'string' ? v : '';
  }

  /** Its length in UTF-16 code units. */
  get length() {
    const n = this.#in.replica(this.collection, this.doc).textLength(this.collection, this.doc, this.field);
    return n >= 0 ? n : this.toString().length; // a plain string field, or nothing
  }

  /** Inserts `text` at `index`. Resolves when durable. */
  insert(index, text) {
    return this.splice(index, 0, text);
  }

  /** Deletes `count` code units from `index`. Resolves when durable. */
  delete(index, count) {
    return this.splice(index, count, '');
  }

  /**
   * Replaces `deleteCount` code units at `index` with `insert`: one change.
   * A field holding a plain string becomes a text with that string first.
   * Resolves when durable.
   */
  splice(index, deleteCount, insert = '') {
    // Thrown, not rejected: inside transact() this must abort the transaction.
    if (this.#in.inTxn()) throw new WeftError('WEFT_ESTATE', 'text edits commit on their own: make them outside transact()');
    try {
      if (typeof insert !== 'string') throw new WeftError('WEFT_EINVAL', 'text edits insert strings');
      if (!isWellFormed(insert)) throw new WeftError('WEFT_EINVAL', 'the inserted text is not well-formed Unicode');
      // The core checks the range against the text (changes.js words its refusal).
      if (!Number.isSafeInteger(index) || index < 0) throw new WeftError('WEFT_EINVAL', `index ${index} is not a position`);
      if (!Number.isSafeInteger(deleteCount) || deleteCount < 0) throw new WeftError('WEFT_EINVAL', `cannot delete ${deleteCount} code units`);
      if (deleteCount === 0 && insert === '') return Promise.resolve();
      return this.#in.write({ t: 'splice', c: this.collection, id: this.doc, f: this.field, pos: index, del: deleteCount, text: insert });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Formats `length` code units from `index` (docs/API.md, "Rich text"):
   * `attributes` maps mark types to values ({ bold: true, link: 'https://…' });
   * null removes that mark. bold, italic and every other type grow when
   * text is typed right after them; link, comment and block do not. Concurrent
   * formatting merges per character (the later op of a type wins). Joins
   * the open change like splice (not inside transact()); needs the space
   * at format level LEVEL_MARKS (5). Resolves when durable.
   */
  format(index, length, attributes) {
    if (this.#in.inTxn()) throw new WeftError('WEFT_ESTATE', 'text edits commit on their own: make them outside transact()');
    try {
      if (!Number.isSafeInteger(index) || index < 0) throw new WeftError('WEFT_EINVAL', `index ${index} is not a position`);
      if (!Number.isSafeInteger(length) || length < 1) throw new WeftError('WEFT_EINVAL', `cannot format ${length} code units`);
      if (!attributes || typeof attributes !== 'object' || Array.isArray(attributes)) throw new WeftError('WEFT_EINVAL', 'format takes an object of attributes');
      if (!Object.keys(attributes).length) return Promise.resolve();
      return this.#in.write({ t: 'format', c: this.collection, id: this.doc, f: this.field, pos: index, len: length, attrs: { ...attributes } });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The text as spans of equally formatted text, Quill/Yjs delta style:
   * [{ insert: 'Hello ', attributes: { bold: true } }, { insert: 'world' }]
   * (no attributes on plain text; [] for an empty text). A plain string
   * field gives one span without attributes. Synchronous.
   */
  spans() {
    const sp = this.#in.replica(this.collection, this.doc).textSpans(this.collection, this.doc, this.field);
    if (sp) return sp;
    const s = this.toString();
    return s ? [{ insert: s }] : [];
  }

  /**
   * The text as blocks (docs/API.md, "Rich text"; blocks.js): [{ marker,
   * start, end, attrs, spans }], marker the index of the block's "\n"
   * (null for text before the first marker), [start, end) its content,
   * attrs its attributes ({ type: 'paragraph' } unless set), spans its
   * content's formatting. At least one block. Synchronous.
   */
  blocks() {
    return blocksOf(this.spans());
  }

  /**
   * Starts a block at `index`: inserts a block marker ("\n") there with
   * `attrs` ({ type: 'heading', level: 1 }, { type: 'bullet', depth: 0 },
   * …); the text after it, up to the next marker, is the new block. One
   * change (a splice and a format); needs LEVEL_MARKS. Resolves when durable.
   */
  insertBlock(index, attrs = { type: 'paragraph' }) {
    if (this.#in.inTxn()) throw new WeftError('WEFT_ESTATE', 'text edits commit on their own: make them outside transact()');
    try {
      checkBlockAttrs(attrs);
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.all([this.splice(index, 0, '\n'), this.format(index, 1, { block: { ...attrs } })]).then(() => {});
  }

  /**
   * Sets the attributes of the block whose marker is at `index` (a "\n":
   * a marker, or a plain line break that becomes one), replacing them
   * whole; concurrent setBlocks of one marker: the latest wins everywhere.
   * WEFT_EINVAL when `index` holds no "\n" (in a follower tab, counting its
   * splices on their way, as anchor() does). Resolves when durable.
   */
  setBlock(index, attrs) {
    if (this.#in.inTxn()) throw new WeftError('WEFT_ESTATE', 'text edits commit on their own: make them outside transact()');
    try {
      checkBlockAttrs(attrs);
      // In a follower tab, as it shows the text: with its splices on their way.
      const shown = this.#in.forwarded(this.collection, this.doc, this.field).reduce((str, sp) => str.slice(0, sp.pos) + sp.text + str.slice(sp.pos + sp.del), this.toString());
      if (shown[index] !== '\n') throw new WeftError('WEFT_EINVAL', `index ${index} holds no block marker`);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.format(index, 1, { block: { ...attrs } });
  }

  /**
   * A stable position: a string naming the character after `index`
   * (assoc >= 0, the default: text typed at index goes before it) or before
   * it (assoc < 0: typed text goes after), which resolve() turns back into
   * an index after anyone's edits. Send it in presence for remote cursors.
   * Throws WEFT_EINVAL for an index past the end or inside a surrogate
   * pair, WEFT_ENOTFOUND for an index inside a field that holds a plain
   * string (edit it first: it becomes a text). In a follower tab, index
   * counts this tab's splices still on their way to the leader.
   */
  anchor(index, assoc = 0) {
    if (!Number.isSafeInteger(index) || index < 0) throw new WeftError('WEFT_EINVAL', `index ${index} is not a position`);
    let side = assoc < 0 ? -1 : 0;
    // In a follower tab, positions count this tab's splices still on their
    // way to the leader (its bound element shows them; its replica not yet).
    const ahead = this.#in.forwarded(this.collection, this.doc, this.field);
    for (let i = ahead.length - 1; i >= 0; i--) [index, side] = beforeSplice(index, side, ahead[i]);
    const a = this.#in.replica(this.collection, this.doc).textAnchor(this.collection, this.doc, this.field, index, side);
    if (a) return encodeAnchor(a);
    const n = this.length; // no text yet: only its edges exist
    if (index > n) throw new WeftError('WEFT_EINVAL', `index ${index} is past the end (${n})`);
    if (index === 0 && side < 0) return '<';
    if (index === n && side === 0) return '>';
    throw new WeftError('WEFT_ENOTFOUND', `${this.collection}/${this.doc}.${this.field} holds no text to anchor in`);
  }

  /**
   * Where an anchor from anchor() (made on any replica) is now, in UTF-16
   * units; null when this text does not hold its character (not synced
   * yet, or a write replaced the text). Throws WEFT_EINVAL for a string
   * that is not an anchor.
   */
  resolve(anchor) {
    const a = decodeAnchor(anchor);
    const ahead = this.#in.forwarded(this.collection, this.doc, this.field);
    if (a.edge) return a.before ? 0 : ahead.reduce((n, sp) => n + sp.text.length - sp.del, this.length);
    let n = this.#in.replica(this.collection, this.doc).textResolve(this.collection, this.doc, this.field, a.bytes);
    if (n < 0) return null;
    // A follower tab's splices on their way, as anchor() counts them.
    for (const sp of ahead) n = afterSplice(n, a.before, sp);
    return n;
  }

  /**
   * @internal For the editor bindings: in a follower tab, this tab's
   * splices and formats of the text on their way to the leader, in order
   * (positions as this tab saw them); [] elsewhere.
   */
  _pending() {
    return this.#in.pendingOps?.(this.collection, this.doc, this.field) ?? [];
  }

  /**
   * Calls cb(deltas, { local, text }) after every change of this text,
   * local or remote: deltas is a list of { index, deleteCount, insert } to
   * apply in order to the previous text (UTF-16), text the text now. When
   * the text was replaced as a whole (a write took the field) the list is
   * one splice of everything. A change of formatting adds a delta
   * { index, deleteCount: 0, insert: '', format: n }: the marks of the n
   * units from index may have changed (read them with spans()); it applies
   * as a no-op splice, so code that only tracks the string may ignore it.
   * Returns an unsubscribe function.
   */
  observe(cb) {
    if (typeof cb !== 'function') throw new WeftError('WEFT_EINVAL', 'observe takes a function');
    return this.#in.observeText(this, cb);
  }

  /**
   * Binds a <textarea> or <input>: local typing becomes edits, remote edits
   * show up in it with the caret and selection kept in place. While an IME
   * composition is open, remote edits wait until it ends. Returns an unbind
   * function.
   */
  bind(el) {
    let shadow = this.toString(); // the text as the element last agreed with it
    let composing = false;
    let behind = false; // remote edits arrived during a composition
    el.value = shadow;
    const push = () => {
      const now = el.value;
      if (now === shadow) return;
      const d = diffStrings(shadow, now);
      shadow = now;
      this.splice(d.index, d.deleteCount, d.insert).catch((e) => {
        this.#in.report(e);
        pull(null); // show what the text really holds
      });
    };
    const pull = (deltas, next = this.toString()) => {
      if (composing) {
        behind = true;
        return;
      }
      const cur = el.value;
      if (next === cur) {
        shadow = next;
        return;
      }
      // Deltas that turn what the element shows into the new text map the
      // caret exactly; otherwise one diff of the two stands in for them.
      let ds = deltas && cur === shadow ? deltas : null;
      if (ds && ds.reduce(applyDelta, cur) !== next) ds = null;
      if (!ds) ds = [diffStrings(cur, next)];
      const focused = el.ownerDocument?.activeElement === el;
      let a = el.selectionStart ?? 0;
      let b = el.selectionEnd ?? 0;
      for (const d of ds) {
        a = mapPosition(a, d);
        b = mapPosition(b, d);
      }
      el.value = next;
      shadow = next;
      if (focused) el.setSelectionRange(a, b, el.selectionDirection ?? 'none');
    };
    const onInput = (e) => {
      if (!composing && !e.isComposing) push();
    };
    const onStart = () => {
      composing = true;
    };
    const onEnd = () => {
      composing = false;
      push();
      if (behind) {
        behind = false;
        pull(null);
      }
    };
    el.addEventListener('input', onInput);
    el.addEventListener('compositionstart', onStart);
    el.addEventListener('compositionend', onEnd);
    const stop = this.observe((deltas, { text }) => pull(deltas, text));
    return () => {
      stop();
      el.removeEventListener('input', onInput);
      el.removeEventListener('compositionstart', onStart);
      el.removeEventListener('compositionend', onEnd);
    };
  }
}

/**
 * The space's text observers, keyed by field. After every commit, splice
 * and apply the space hands over the core's text events and the documents
 * touched; each observed text that changed gets its deltas, checked
 * against the text it had (a write over it, or a plain string field, gives
 * one splice of the difference instead).
 */
export class TextObservers {
  #byKey = new Map(); // key -> { text, last, cbs: Set }
  #onError;

  constructor(onError) {
    this.#onError = onError;
  }

  static key(coll, doc, field) {
    return `${coll}\u0000${doc}\u0000${field}`;
  }

  add(text, cb) {
    const key = TextObservers.key(text.collection, text.doc, text.field);
    let e = this.#byKey.get(key);
    if (!e) {
      e = { text, last: text.toString(), cbs: new Set() };
      this.#byKey.set(key, e);
    }
    const entry = { cb };
    e.cbs.add(entry);
    return () => {
      e.cbs.delete(entry);
      if (!e.cbs.size && this.#byKey.get(key) === e) this.#byKey.delete(key);
    };
  }

  get size() {
    return this.#byKey.size;
  }

  /**
   * events: the core's text events (null: some were lost); splice: a local
   * splice made just now, or null; touched: [[coll, doc], ...].
   */
  dispatch(events, local, splice, touched) {
    if (!this.#byKey.size) return;
    const deltas = new Map();
    const add = (key, d) => {
      if (!this.#byKey.has(key)) return;
      if (!deltas.has(key)) deltas.set(key, []);
      if (d) deltas.get(key).push(d);
    };
    const formats = new Set(); // keys whose marks changed: observers hear it even when the string did not
    const fmt = (key, index, n) => {
      add(key, { index, deleteCount: 0, insert: '', format: n });
      if (this.#byKey.has(key)) formats.add(key);
    };
    for (const ev of events ?? []) {
      const key = TextObservers.key(ev.coll, ev.doc, ev.field);
      if (ev.format !== undefined) fmt(key, ev.index, ev.format);
      else add(key, ev.replaced ? null : { index: ev.index, deleteCount: ev.deleteCount, insert: ev.insert });
    }
    if (splice?.t === 'format') fmt(TextObservers.key(splice.c, splice.id, splice.f), splice.pos, splice.len);
    else if (splice) add(TextObservers.key(splice.c, splice.id, splice.f), { index: splice.pos, deleteCount: splice.del, insert: splice.text });
    const docs = new Set(touched.map(([c, d]) => `${c}\u0000${d}\u0000`));
    for (const [key, e] of this.#byKey) {
      if (!deltas.has(key) && events !== null && !docs.has(key.slice(0, key.lastIndexOf('\u0000') + 1))) continue;
      const now = e.text.toString();
      if (now === e.last && !formats.has(key)) continue;
      let ds = deltas.get(key);
      if (!ds || !ds.length || ds.reduce(applyDelta, e.last) !== now) {
        // Deltas that do not add up: one splice of the difference, then the format news.
        const fs = (ds ?? []).filter((d) => d.format !== undefined);
        ds = now === e.last ? fs : [diffStrings(e.last, now), ...fs];
      }
      e.last = now;
      for (const { cb } of [...e.cbs]) {
        try {
          cb(ds, { local, text: now });
        } catch (err) {
          this.#onError(err);
        }
      }
    }
  }
}
