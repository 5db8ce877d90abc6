// Undo and redo of this device's own edits (docs/API.md, "Undo"), in the
// spirit of Yjs's UndoManager: space.undoManager({ scope }) watches the
// local writes that fall in its scope and keeps them as stack items;
// undo() makes the writes that reverse the last item, redo() reverses
// those. Nothing of other people's edits is ever undone:
//
// - A field write is reversed only for fields that still hold what this
//   device wrote (compared by their encoded bytes); a field someone else
//   changed since keeps their value. A document the write created is
//   deleted again when nothing else is left in it.
// - An increment is reversed by the opposite increment (counters commute).
// - Typed text is removed by its characters' ids (anchors, anchor.js), so
//   text others typed in between stays; deleted text is typed again right
//   before the character that followed it. Text typed again has new ids:
//   the manager maps the old ones to them, so later steps naming the old
//   characters (typing, formats, what followed a deletion) find the new.
// - Formatting is reversed by formatting again: each part of the range,
//   found by its characters' anchors, gets back the marks it had before,
//   where it still shows what this device wrote (a mark someone else set
//   since stays, as for fields). The reversing op is a newer mark op, so it
//   merges with concurrent formatting by Peritext's rule like any other.
//
// In a follower tab (idb.js) writes run in the leader tab: typing is
// captured when it lands back here, deletions and formats when this
// tab's replica shows what they change (none of its typing on its way).
//
// Writes less than captureTimeout ms apart join one stack item (so do the
// keystrokes of one text window, TEXT_WINDOW_MS, whenever captureTimeout is
// longer); stopCapturing() starts a new one. Undoing is itself a local
// write: it is captured onto the redo stack, and redoing onto the undo
// stack. A new edit in scope clears the redo stack.
import { decodeAnchor, encodeAnchor } from './anchor.js';
import { WeftError } from './errors.js';
import { bytesEqual, Emitter, reportError } from './util.js';
import { encodeValue } from './value.js';

export const CAPTURE_TIMEOUT = 500;
const ABSENT = Symbol('absent');

/**
 * What an undo manager needs from its space.
 * @typedef {object} UndoPort
 * @property {(coll: string, doc: string) => import('./replica.js').Replica} replica the replica, with this document's writes in it
 * @property {(op: import('./ops.js').Op) => Promise<void>} write a local write (captured like the app's)
 * @property {(coll: string, doc: string, field: string) => import('./text.js').Text} text a text field
 * @property {(m: UndoManager) => () => void} track adds the manager to the space's; returns its removal
 * @property {() => boolean} isWriter whether this tab's writes run here (not forwarded to a leader tab)
 * @property {(coll: string, doc: string, field: string) => import('./ops.js').SpliceOp[]} forwarded this (follower) tab's splices of a text on their way to the leader
 */

function sameValue(a, b) {
  if (a === ABSENT || b === ABSENT) return a === b;
  return bytesEqual(encodeValue(a), encodeValue(b));
}

function codePoints(s) {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** The parts of [from, to) whose mark `type` shows `value` (ABSENT: no mark), in spans. */
function rangesShowing(spans, from, to, type, value) {
  const out = [];
  let at = 0;
  for (const sp of spans) {
    const a = Math.max(at, from);
    const b = Math.min(at + sp.insert.length, to);
    at += sp.insert.length;
    if (a >= b) continue;
    const v = sp.attributes && type in sp.attributes ? sp.attributes[type] : ABSENT;
    if (!sameValue(v, value)) continue;
    const last = out[out.length - 1];
    if (last && last[1] === a) last[1] = b;
    else out.push([a, b]);
  }
  return out;
}

/** The marks of [from, to) as [{ len, attrs }] (attrs {} where it has none). */
function marksIn(spans, from, to) {
  const out = [];
  let at = 0;
  for (const sp of spans) {
    const a = Math.max(at, from);
    const b = Math.min(at + sp.insert.length, to);
    at += sp.insert.length;
    if (a < b) out.push({ len: b - a, attrs: sp.attributes ?? {} });
  }
  return out;
}

/**
 * The format ops making the text from `pos` show `want` ([{ len, attrs }]):
 * [{ a, b, attrs }], attrs naming only the types that differ (null: remove).
 */
function markFixes(want, spans, pos) {
  const now = [];
  let at = 0;
  const end = pos + want.reduce((n, w) => n + w.len, 0);
  for (const sp of spans) {
    const a = Math.max(at, pos);
    const b = Math.min(at + sp.insert.length, end);
    at += sp.insert.length;
    if (a < b) now.push({ a, b, attrs: sp.attributes ?? {} });
  }
  const out = [];
  let w = 0;
  let wEnd = pos + (want[0]?.len ?? 0);
  for (const piece of now) {
    let a = piece.a;
    while (a < piece.b && w < want.length) {
      const b = Math.min(piece.b, wEnd);
      const diff = {};
      for (const t of new Set([...Object.keys(want[w].attrs), ...Object.keys(piece.attrs)])) {
        const v = t in want[w].attrs ? want[w].attrs[t] : ABSENT;
        if (!sameValue(v, t in piece.attrs ? piece.attrs[t] : ABSENT)) diff[t] = v === ABSENT ? null : v;
      }
      const last = out[out.length - 1];
      if (Object.keys(diff).length) {
        if (last && last.b === a && sameValue(last.attrs, diff)) last.b = b;
        else out.push({ a, b, attrs: diff });
      }
      a = b;
      if (a >= wEnd && ++w < want.length) wEnd += want[w].len;
    }
  }
  return out;
}

const MAX_IDS = 10_000; // longer deletions keep no ids: formats of them are not followed when retyped

/**
 * The ids of the characters of `content` at `pos`, as runs { key, seq, n }
 * (n code points), or null for long deletions.
 */
function charIds(text, pos, content) {
  if (content.length > MAX_IDS) return null;
  const runs = [];
  for (const ch of content) {
    const a = text.anchor(pos, 0);
    pos += ch.length;
    if (a.length === 1) return null;
    const key = a.slice(1, 44);
    const seq = parseInt(a.slice(44), 36);
    const last = runs[runs.length - 1];
    if (last && last.key === key && last.seq + last.n === seq) last.n++;
    else runs.push({ key, seq, n: 1 });
  }
  return runs;
}

export class UndoManager {
  #port;
  #scope;
  #undo = [];
  #redo = [];
  #mode = null; // 'undo' | 'redo' while making their writes
  #target = null; // the item those writes go to
  #lastAt = 0;
  #stopped = true;
  #events = new Emitter();
  #untrack;
  #retyped = []; // { key, seq, n, toKey, toSeq }: deleted characters typed again, and their new ids

  /** @internal space.undoManager() makes it. @param {UndoPort} port */
  constructor(port, { scope, captureTimeout = CAPTURE_TIMEOUT } = {}) {
    const items = Array.isArray(scope) ? scope : [scope];
    this.#scope = items.map((s) => {
      if (typeof s === 'string') return { c: s };
      if (s && typeof s === 'object' && typeof s.collection === 'string') return { c: s.collection, id: s.doc, f: s.field };
      throw new WeftError('WEFT_EINVAL', 'an undo scope is a collection name, a { collection, doc } or a text');
    });
    if (!this.#scope.length) throw new WeftError('WEFT_EINVAL', 'an undo manager needs a scope');
    if (!(Number.isFinite(captureTimeout) && captureTimeout >= 0)) throw new WeftError('WEFT_EINVAL', 'captureTimeout must be milliseconds >= 0');
    this.captureTimeout = captureTimeout;
    this.#port = port;
    this.#untrack = port.track(this);
  }

  canUndo() {
    return this.#undo.length > 0;
  }
  canRedo() {
    return this.#redo.length > 0;
  }

  /** The next write starts a new stack item. */
  stopCapturing() {
    this.#stopped = true;
  }

  /** Empties both stacks. */
  clear() {
    this.#undo = [];
    this.#redo = [];
    this.#retyped = [];
    this.#stopped = true;
  }

  /** Stops watching; the stacks are dropped. */
  destroy() {
    this.clear();
    this.#untrack();
    this.#events.clear();
  }

  /**
   * 'stack-item-added' ({ type: 'undo' | 'redo' }) when a stack grows by an
   * item (not when a write joins the last one), 'stack-item-popped' ({ type })
   * when undo() or redo() takes one. Returns an unsubscribe function.
   */
  on(name, fn) {
    return this.#events.on(name, fn);
  }

  /** Reverses the last undo item; resolves to whether anything changed, once durable. */
  undo() {
    return this.#pop('undo');
  }

  /** Reverses the last undo(); resolves to whether anything changed, once durable. */
  redo() {
    return this.#pop('redo');
  }

  #pop(type) {
    const from = type === 'undo' ? this.#undo : this.#redo;
    const writes = [];
    while (from.length && !writes.length) {
      const item = from.pop();
      this.#mode = type;
      this.#target = { records: [] };
      try {
        for (let i = item.records.length - 1; i >= 0; i--) writes.push(...this.#reverse(item.records[i]));
      } finally {
        this.#mode = null;
      }
      this.#events.emit('stack-item-popped', { type });
      const made = this.#target;
      this.#target = null;
      if (made.records.length || made.waiting) {
        (type === 'undo' ? this.#redo : this.#undo).push(made);
        this.#events.emit('stack-item-added', { type: type === 'undo' ? 'redo' : 'undo' });
      }
    }
    this.#stopped = true;
    return Promise.all(writes).then(() => writes.length > 0);
  }

  /** The writes that reverse one record (made now; each captured). */
  #reverse(r) {
    const port = this.#port;
    switch (r.t) {
      case 'incr':
        return [port.write({ t: 'incr', c: r.c, id: r.id, f: r.f, n: -r.n })];
      case 'fields': {
        const cur = port.replica(r.c, r.id).getDoc(r.c, r.id);
        const data = {};
        let any = false;
        for (const [f, after] of r.after) {
          if (!sameValue(cur && f in cur ? cur[f] : ABSENT, after)) continue; // someone changed it since
          const before = r.before.get(f);
          data[f] = before === ABSENT ? undefined : before;
          any = true;
        }
        if (!any) return [];
        if (!r.existed && cur) {
          const left = Object.keys(cur).filter((f) => !(f in data) || data[f] !== undefined);
          if (!left.length) return [port.write({ t: 'delete', c: r.c, id: r.id })];
        }
        if (!cur) return [port.write({ t: 'put', c: r.c, id: r.id, data: Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)), replace: true })];
        return [port.write({ t: 'update', c: r.c, id: r.id, data })];
      }
      case 'ins': {
        // Each character by its id: visible when it has a width.
        const text = port.text(r.c, r.id, r.f);
        const ranges = [];
        for (let k = 0; k < r.n; k++) {
          const id = r.key + (r.seq + k).toString(36);
          const a = this.#resolve(text, '>' + id); // deleted and typed again by undo or redo: its new id
          const b = a === null ? null : this.#resolve(text, '<' + id);
          if (a === null || b === a) continue;
          const last = ranges[ranges.length - 1];
          if (last && last[1] === a) last[1] = b;
          else ranges.push([a, b]);
        }
        const out = [];
        for (let i = ranges.length - 1; i >= 0; i--) out.push(this.#splice(r, ranges[i][0], ranges[i][1] - ranges[i][0], ''));
        return out;
      }
      case 'fmt':
        return this.#reverseFormat(r);
      case 'del':
        return this.#retype(r);
    }
    return [];
  }

  /**
   * Deleted text typed again in its old place: right before the character
   * that followed it (or the one undo or redo typed again for that one),
   * even when that one is deleted too. Putting back adjacent deletions, in
   * any order, keeps their order: each follows what came after it.
   */
  #retype(r) {
    const port = this.#port;
    const text = port.text(r.c, r.id, r.f);
    const next = this.#follow(r.next);
    const pos = text.resolve(next);
    if (pos === null) return [];
    const at = next.length > 1 ? next : undefined; // the end: a plain insert there
    const out = [port.write({ t: 'splice', c: r.c, id: r.id, f: r.f, pos, del: 0, text: r.content, at })];
    if (!text.toString().startsWith(r.content, pos)) return out; // refused: nothing was typed
    if (r.ids) this.#noteRetyped(r.ids, text, pos);
    // Typed again among tombstones, it may land outside a range it was
    // in, or inside one it was not: give it back the marks it had.
    if (r.marks) for (const { a, b, attrs } of markFixes(r.marks, text.spans(), pos)) out.push(port.write({ t: 'format', c: r.c, id: r.id, f: r.f, pos: a, len: b - a, attrs }));
    return out;
  }

  /**
   * The format ops putting back each segment's previous marks, for the
   * types whose marks still show what the reversed op wrote: one op per
   * range and value, ranges taken from the text as it is now.
   */
  #reverseFormat(r) {
    const text = this.#port.text(r.c, r.id, r.f);
    const ops = new Map(); // "from,to" -> attrs
    for (const seg of r.segs) {
      const from = this.#resolve(text, seg.start);
      const to = this.#resolve(text, seg.end);
      if (from === null || to === null || to <= from) continue; // gone, or every character deleted
      for (const [type, wrote] of r.after) {
        for (const [a, b] of rangesShowing(text.spans(), from, to, type, wrote)) {
          const key = a + ',' + b;
          if (!ops.has(key)) ops.set(key, {});
          const prev = seg.prev.get(type);
          ops.get(key)[type] = prev === ABSENT ? null : prev;
        }
      }
    }
    return [...ops].map(([key, attrs]) => {
      const [a, b] = key.split(',').map(Number);
      return this.#port.write({ t: 'format', c: r.c, id: r.id, f: r.f, pos: a, len: b - a, attrs });
    });
  }

  /**
   * Deleted text typed again has new ids: typing and format records name
   * the old ones, so the new run is noted for #resolve (as Yjs's redone
   * items).
   */
  #noteRetyped(ids, text, pos) {
    let first;
    try {
      first = text.anchor(pos, 0);
    } catch {
      return; // the write failed: nothing was typed
    }
    if (first.length === 1) return;
    const key = first.slice(1, 44);
    let seq = parseInt(first.slice(44), 36);
    for (const run of ids) {
      this.#retyped.push({ ...run, toKey: key, toSeq: seq });
      seq += run.n;
    }
  }

  /** The anchor naming, instead of a character, the one that undo or redo typed again for it (if any). */
  #follow(anchor) {
    for (let hops = 0; anchor.length > 1 && hops < this.#retyped.length; hops++) {
      const key = anchor.slice(1, 44);
      const seq = parseInt(anchor.slice(44), 36);
      const m = this.#retyped.findLast((x) => x.key === key && seq >= x.seq && seq < x.seq + x.n);
      if (!m) break;
      anchor = anchor[0] + m.toKey + (m.toSeq + seq - m.seq).toString(36);
    }
    return anchor;
  }

  /** An anchor's position now, following characters typed again by undo or redo. */
  #resolve(text, anchor) {
    return text.resolve(this.#follow(anchor));
  }

  #splice(r, pos, del, text) {
    return this.#port.write({ t: 'splice', c: r.c, id: r.id, f: r.f, pos, del, text });
  }

  #inScope(op) {
    return this.#scope.some((s) => s.c === op.c && (s.id === undefined || s.id === op.id) && (s.f === undefined || ((op.t === 'splice' || op.t === 'format') && s.f === op.f)));
  }

  /**
   * @internal Called by the space before a local write runs; returns what
   * to call after it ran (synchronously), or null when it is not in scope.
   */
  capture(op) {
    if (!this.#inScope(op)) return null;
    const port = this.#port;
    if (op.t === 'incr') return () => this.#add({ t: 'incr', c: op.c, id: op.id, f: op.f, n: op.n });
    if (op.t === 'splice') return port.isWriter() ? this.#captureSplice(op) : this.#captureForwarded(op);
    // A follower tab's format: its text here is the leader's when none of its splices are on their way.
    if (op.t === 'format') return port.isWriter() || !this.#ahead(op) ? this.#captureFormat(op) : null;
    const cur = port.replica(op.c, op.id).getDoc(op.c, op.id);
    const fields = op.t === 'update' ? Object.keys(op.data) : [...new Set([...Object.keys(cur ?? {}), ...(op.t === 'put' ? Object.keys(op.data) : [])])];
    const before = new Map(), after = new Map();
    for (const f of fields) {
      before.set(f, cur && f in cur ? cur[f] : ABSENT);
      const v = op.t === 'delete' ? undefined : op.data[f];
      after.set(f, v === undefined ? ABSENT : v);
    }
    return () => this.#add({ t: 'fields', c: op.c, id: op.id, existed: !!cur, before, after });
  }

  #captureSplice(op) {
    const text = this.#port.text(op.c, op.id, op.f);
    const base = { c: op.c, id: op.id, f: op.f };
    let del = null;
    if (op.del > 0) {
      let next;
      try {
        text.anchor(op.pos, 0);
        next = text.anchor(op.pos + op.del, 0); // the character after the deleted text, or the end
      } catch (e) {
        if (e.code !== 'WEFT_ENOTFOUND') return null; // a bad range: the write fails too
        return this.#plainSplice(op, text); // a plain string becoming a text
      }
      const content = text.toString().slice(op.pos, op.pos + op.del);
      const marks = marksIn(text.spans(), op.pos, op.pos + op.del);
      del = { t: 'del', ...base, next, content, ids: charIds(text, op.pos, content), marks };
    }
    return () => {
      if (del) this.#add(del);
      if (!op.text) return;
      const anchor = text.anchor(op.pos, 0); // the first inserted character
      if (decodeAnchor(anchor).edge) return;
      const id = anchor.slice(1);
      this.#add({ t: 'ins', ...base, key: id.slice(0, 43), seq: parseInt(id.slice(43), 36), n: codePoints(op.text) });
    };
  }

  /** Whether this (follower) tab has splices of op's text on their way to the leader. */
  #ahead(op) {
    return this.#port.forwarded(op.c, op.id, op.f).length > 0;
  }

  /**
   * A follower tab's splice (it runs in the leader tab; this tab's replica
   * gets it back with the leader's records before the write resolves).
   * The deleted part is captured now, as the leader would, when none of
   * this tab's splices of the text are on their way (else the replica here
   * does not show what was deleted, and it is not tracked). The typed part
   * is captured when it lands: its characters' ids are the leader's. The
   * stack item it belongs to is the one open now (an undo's or redo's
   * item, or the next one).
   */
  #captureForwarded(op) {
    const ahead = this.#port.forwarded(op.c, op.id, op.f);
    let del = null;
    if (op.del > 0 && !ahead.length) del = this.#captureSplice({ ...op, text: '' });
    else if (op.del > 0 && ahead.every((sp) => !sp.text)) del = this.#captureDeletedAhead(op, ahead); // e.g. an undo's earlier deletions
    const dest = this.#mode ? this.#target : null;
    if (op.text && dest) dest.waiting = true; // kept even while it has no records yet
    return (done) => {
      del?.();
      if (!op.text || !done) return;
      done.then(() => {
        // Where the leader put it: op.pos counted this tab's earlier splices, which all landed before it.
        const text = this.#port.text(op.c, op.id, op.f);
        if (text.toString().slice(op.pos, op.pos + op.text.length) !== op.text) return; // moved by others meanwhile: not tracked
        const raw = this.#port.replica(op.c, op.id).textAnchor(op.c, op.id, op.f, op.pos, 0);
        if (!raw) return;
        const anchor = encodeAnchor(raw);
        if (anchor.length === 1) return;
        const record = { t: 'ins', c: op.c, id: op.id, f: op.f, key: anchor.slice(1, 44), seq: parseInt(anchor.slice(44), 36), n: codePoints(op.text) };
        if (dest) dest.records.push(record);
        else this.#add(record);
      }, () => {});
    };
  }

  /**
   * A follower tab's deletion while its earlier deletions (never typing)
   * are on their way: the deleted text as this tab shows it, its ids
   * (anchors count those deletions); its marks are not known here (null:
   * typed again, it takes the marks around it).
   */
  #captureDeletedAhead(op, ahead) {
    const text = this.#port.text(op.c, op.id, op.f);
    const shown = ahead.reduce((str, sp) => str.slice(0, sp.pos) + str.slice(sp.pos + sp.del), text.toString());
    const content = shown.slice(op.pos, op.pos + op.del);
    if (content.length !== op.del) return null;
    let next, ids;
    try {
      next = text.anchor(op.pos + op.del, 0);
      ids = charIds(text, op.pos, content);
    } catch {
      return null; // a bad range: the write fails too
    }
    const record = { t: 'del', c: op.c, id: op.id, f: op.f, next, content, ids, marks: null };
    return () => this.#add(record);
  }

  /**
   * A format op: the range cut where the marks of its types change, each
   * segment kept as anchors (its first character, and the character after
   * it or the end, so text typed at its end that an expanding mark took in
   * is covered too) with the marks it had.
   */
  #captureFormat(op) {
    const text = this.#port.text(op.c, op.id, op.f);
    const end = op.pos + op.len;
    if (end > text.length) return null; // the write fails too
    const types = Object.keys(op.attrs);
    const segs = [];
    let at = 0;
    for (const sp of text.spans()) {
      const a = Math.max(at, op.pos);
      const b = Math.min(at + sp.insert.length, end);
      at += sp.insert.length;
      if (a >= b) continue;
      const prev = new Map(types.map((t) => [t, sp.attributes && t in sp.attributes ? sp.attributes[t] : ABSENT]));
      const last = segs[segs.length - 1];
      if (last && types.every((t) => sameValue(last.prev.get(t), prev.get(t)))) last.to = b;
      else segs.push({ from: a, to: b, prev });
    }
    let anchored;
    try {
      anchored = segs.map((s) => ({ start: text.anchor(s.from, 0), end: text.anchor(s.to, 0), prev: s.prev }));
    } catch (e) {
      if (e.code === 'WEFT_EINVAL' || e.code === 'WEFT_ENOTFOUND') return null; // a bad range: the write fails too
      throw e;
    }
    const after = new Map(types.map((t) => [t, op.attrs[t] === null || op.attrs[t] === undefined ? ABSENT : op.attrs[t]]));
    return () => this.#add({ t: 'fmt', c: op.c, id: op.id, f: op.f, after, segs: anchored });
  }

  /** A splice of a plain string field: recorded as the field's write (before: the string). */
  #plainSplice(op, text) {
    const before = text.toString();
    return () => {
      const now = text.toString();
      this.#add({ t: 'fields', c: op.c, id: op.id, existed: true, before: new Map([[op.f, before]]), after: new Map([[op.f, now]]) });
    };
  }

  #add(record) {
    if (this.#mode) {
      this.#target.records.push(record);
      return;
    }
    const now = Date.now();
    const last = this.#undo[this.#undo.length - 1];
    if (last && !this.#stopped && now - this.#lastAt < this.captureTimeout) last.records.push(record);
    else {
      this.#undo.push({ records: [record] });
      this.#events.emit('stack-item-added', { type: 'undo' });
    }
    this.#lastAt = now;
    this.#stopped = false;
    if (this.#redo.length) this.#redo = [];
  }
}

/**
 * The space's undo managers: runs each one's capture around a local write.
 * A manager's failure to capture is reported, never fails the write.
 */
export class UndoManagers {
  #all = new Set();

  /** Whether any manager watches (else writes need no capture). */
  get active() {
    return this.#all.size > 0;
  }

  add(m) {
    this.#all.add(m);
    return () => this.#all.delete(m);
  }

  /**
   * Runs write(op) with every manager's capture around it; ok() says
   * whether the write was made (a write refused at once is not captured).
   */
  around(op, write, ok) {
    if (!this.#all.size) return write(op);
    const after = [];
    for (const m of this.#all) {
      try {
        const fn = m.capture(op);
        if (fn) after.push(fn);
      } catch (e) {
        reportError(e);
      }
    }
    const p = write(op);
    if (!ok()) return p;
    for (const fn of after) {
      try {
        fn(p); // a follower tab's capture finishes when the write lands
      } catch (e) {
        reportError(e);
      }
    }
    return p;
  }
}
