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
//   text others typed in between stays; deleted text is typed again where
//   its tombstones are.
//
// Writes less than captureTimeout ms apart join one stack item (so do the
// keystrokes of one text window, TEXT_WINDOW_MS, whenever captureTimeout is
// longer); stopCapturing() starts a new one. Undoing is itself a local
// write: it is captured onto the redo stack, and redoing onto the undo
// stack. A new edit in scope clears the redo stack.
import { decodeAnchor } from './anchor.js';
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
      if (made.records.length) {
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
          const a = text.resolve('>' + id);
          const b = a === null ? null : text.resolve('<' + id);
          if (a === null || b === a) continue;
          const last = ranges[ranges.length - 1];
          if (last && last[1] === a) last[1] = b;
          else ranges.push([a, b]);
        }
        const out = [];
        for (let i = ranges.length - 1; i >= 0; i--) out.push(this.#splice(r, ranges[i][0], ranges[i][1] - ranges[i][0], ''));
        return out;
      }
      case 'del': {
        // Back before the first deleted character's tombstone: its old place.
        const pos = this.#port.text(r.c, r.id, r.f).resolve(r.anchor);
        if (pos === null) return [];
        const at = r.anchor.length > 1 ? r.anchor : undefined;
        return [port.write({ t: 'splice', c: r.c, id: r.id, f: r.f, pos, del: 0, text: r.content, at })];
      }
    }
    return [];
  }

  #splice(r, pos, del, text) {
    return this.#port.write({ t: 'splice', c: r.c, id: r.id, f: r.f, pos, del, text });
  }

  #inScope(op) {
    return this.#scope.some((s) => s.c === op.c && (s.id === undefined || s.id === op.id) && (s.f === undefined || (op.t === 'splice' && s.f === op.f)));
  }

  /**
   * @internal Called by the space before a local write runs; returns what
   * to call after it ran (synchronously), or null when it is not in scope.
   */
  capture(op) {
    // Formatting is not undone (yet): it changes no value, and restoring the
    // marks a range had is a later step (docs/API.md, "Undo").
    if (op.t === 'format' || !this.#inScope(op)) return null;
    const port = this.#port;
    if (op.t === 'incr') return () => this.#add({ t: 'incr', c: op.c, id: op.id, f: op.f, n: op.n });
    if (op.t === 'splice') return port.isWriter() ? this.#captureSplice(op) : null; // a follower tab's edit lands in the leader later
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
      let anchor;
      try {
        anchor = text.anchor(op.pos, 0);
      } catch (e) {
        if (e.code !== 'WEFT_ENOTFOUND') return null; // a bad range: the write fails too
        return this.#plainSplice(op, text); // a plain string becoming a text
      }
      del = { t: 'del', ...base, anchor, content: text.toString().slice(op.pos, op.pos + op.del) };
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
        fn();
      } catch (e) {
        reportError(e);
      }
    }
    return p;
  }
}
