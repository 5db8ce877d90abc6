// weftdb/prosemirror: binds a ProseMirror editor to a weftdb rich text (a
// separate entry point, so apps without ProseMirror do not ship it; the
// prosemirror-* packages are peer dependencies).
//
//   import { weftSchema, weftDoc, weftProseMirror } from 'weftdb/prosemirror';
//   new EditorView(parent, { state: EditorState.create({ schema: weftSchema, doc: weftDoc(text),
//     plugins: [weftProseMirror(text, { presence, undoManager, user }), keymap(baseKeymap)] }) });
//
// - Text: the text's blocks (block markers, docs/TEXT.md "Blocks") are the
//   document's textblocks, its marks bold/italic/link/code the marks
//   strong/em/link/code (prosemirror_doc.js), in weftSchema or the app's
//   nested schema (prosemirror-schema-list, Tiptap: prosemirror_tree.js). After each local transaction
//   the document is written back as the edits that make the text equal to
//   it: one splice (the changed stretch), then formats and block attributes
//   where they differ; they join one change.
// - Remote edits and undo: the document is rebuilt from the text and only
//   the stretch that differs is replaced; the selection is carried through
//   the text's deltas, so the caret stays by the characters it was next to.
// - IME: while the user composes, local edits are held and remote ones
//   wait; the composed text is written as one splice when it ends.
// - Remote cursors: the selection goes out in presence as anchors (the
//   same state as weftdb/codemirror's), other peers' cursors and
//   selections on the same text are drawn in their colours.
// - Undo: Mod-z / Mod-y / Mod-Shift-z run the undo manager (this device's
//   own edits only). Leave prosemirror-history out.
import { Plugin, PluginKey, Selection, TextSelection } from 'prosemirror-state';
import { Decoration, DecorationSet } from 'prosemirror-view';
import { Mapping } from 'prosemirror-transform';
import { weftSchema, docFromBlocks, flatten, needsLead, pmToFlat, flatToPm, shapeOf, WEFT_MARKS } from './prosemirror_doc.js';
import { diffStrings, mapPosition } from './text.js';
import { blocksOf } from './blocks.js';
import { remoteCursors, selectionStyle, textKey } from './remote_cursors.js';

export { weftSchema, docFromBlocks } from './prosemirror_doc.js';

const key = new PluginKey('weft');
const CURSOR_MS = 50; // presence frames while typing: at most 20 a second

/** Mark types that do not grow when typing after them (docs/TEXT.md): text typed after them does not take them. */
const NO_EXPAND = new Set(['block', 'link', 'comment']);

/**
 * The text's spans as this tab shows them: in a follower tab, with its
 * splices and formats still on their way to the leader (text._pending())
 * applied, typed characters taking the growing marks of the one before (the
 * leader's expand rules decide; a format writes any difference).
 * Elsewhere, spans().
 */
function shownSpans(text) {
  const pending = text._pending?.() ?? [];
  const spans = text.spans();
  if (!pending.length) return spans;
  let s = '';
  const at = [];
  for (const { insert, attributes } of spans) {
    s += insert;
    for (let k = 0; k < insert.length; k++) at.push(attributes);
  }
  for (const sp of pending) {
    if (sp.t === 'format') {
      for (let i = sp.pos; i < Math.min(sp.pos + sp.len, s.length); i++) {
        const next = { ...at[i] };
        for (const [k, v] of Object.entries(sp.attrs)) if (v === null || v === undefined) delete next[k]; else next[k] = v;
        at[i] = Object.keys(next).length ? next : undefined;
      }
      continue;
    }
    const prev = at[sp.pos - 1];
    const grown = prev && Object.fromEntries(Object.entries(prev).filter(([k]) => !NO_EXPAND.has(k)));
    const attrs = grown && Object.keys(grown).length ? grown : undefined;
    s = s.slice(0, sp.pos) + sp.text + s.slice(sp.pos + sp.del);
    at.splice(sp.pos, sp.del, ...Array(sp.text.length).fill(attrs));
  }
  const out = [];
  for (let i = 0; i < s.length; i++) {
    const last = out[out.length - 1];
    if (last && last.attributes === at[i]) last.insert += s[i];
    else out.push(at[i] ? { insert: s[i], attributes: at[i] } : { insert: s[i] });
  }
  return out;
}

const shownBlocks = (text) => blocksOf(shownSpans(text));
const shownString = (text) => shownSpans(text).map((sp) => sp.insert).join('');

/** The ProseMirror document of `text` now, for EditorState.create. */
export function weftDoc(text, schema = weftSchema) {
  return docFromBlocks(schema, shownBlocks(text));
}

/** Whether the text starts with a block marker. */
function leads(text) {
  return shownBlocks(text)[0].marker === 0;
}

/** Whether two mark values are equal (maps whatever their key order: the core sorts a value's keys). */
function same(a, b) {
  return canonical(a ?? null) === canonical(b ?? null);
}

function canonical(v) {
  if (!v || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
}

/** Each UTF-16 unit's attributes ({} for plain text). */
function attributesAt(text) {
  const out = [];
  for (const { insert, attributes } of shownSpans(text)) for (let k = 0; k < insert.length; k++) out.push(attributes ?? {});
  return out;
}

/**
 * Where the text changes for a transaction from `prev` to `doc` (its step
 * maps): the splice of the stretch the steps touched, trimmed of what is
 * equal at its ends. Taken from the steps, not from a diff of the whole
 * strings, so typing "h" before "hello" inserts before the "h" that was
 * there, as the user did (a diff cannot tell the two apart, and undo and
 * remote carets follow characters).
 */
function spliceFor(prev, prevLead, doc, lead, s, maps) {
  const before = flatten(prev, prevLead).s;
  if (!maps.length || prevLead !== lead) return diffStrings(before, s);
  let a = Infinity;
  let b = -Infinity;
  for (const m of maps) {
    if (a <= b) {
      a = m.map(a, -1);
      b = m.map(b, 1);
    }
    m.forEach((_os, _oe, ns, ne) => {
      a = Math.min(a, ns);
      b = Math.max(b, ne);
    });
  }
  if (a > b) return diffStrings(before, s);
  const back = new Mapping(maps).invert();
  const oa = pmToFlat(prev, prevLead, back.map(a, -1));
  const ob = pmToFlat(prev, prevLead, back.map(b, 1));
  const na = pmToFlat(doc, lead, a);
  const nb = pmToFlat(doc, lead, b);
  // The stretches must agree outside: else fall back to the whole diff.
  if (oa > ob || na > nb || oa !== na || before.length - ob !== s.length - nb || before.slice(0, oa) !== s.slice(0, na)) return diffStrings(before, s);
  const d = diffStrings(before.slice(oa, ob), s.slice(na, nb));
  return { index: oa + d.index, deleteCount: d.deleteCount, insert: d.insert };
}

/** Writes `doc` back to `text` (which showed `prev`): the splice, marks and block attributes that make them equal. */
function write(text, prev, prevLead, doc, maps) {
  const before = shownString(text);
  const lead = leads(text) || needsLead(doc);
  const { s, want, blocks } = flatten(doc, lead); // throws (before any write) for nodes the text cannot hold
  let d = spliceFor(prev, prevLead, doc, lead, s, maps);
  // The text moved on since the editor last showed it: diff against it.
  if (flatten(prev, prevLead).s !== before) d = diffStrings(before, s);
  if (d.deleteCount || d.insert) text.splice(d.index, d.deleteCount, d.insert).catch(() => {});
  const have = attributesAt(text);
  // Block markers: new ones, ones after a code block (a plain "\n" there
  // would be a line of the code) and changed ones get their attributes.
  const fresh = (i) => i >= d.index && i < d.index + d.insert.length;
  blocks.forEach((b, i) => {
    if (b.marker === null) return;
    const cur = have[b.marker]?.block;
    const explicit = fresh(b.marker) || (i > 0 && blocks[i - 1].code);
    if (cur ? !same(cur, b.attrs) : explicit || b.attrs.type !== 'paragraph') text.setBlock(b.marker, b.attrs).catch(() => {});
  });
  // A "\n" inside code that was a marker before is a line of the code now.
  for (let i = 0; i < s.length; i++) if (want[i] === null && s[i] === '\n' && !blocks.some((b) => b.marker === i) && have[i]?.block) text.format(i, 1, { block: null }).catch(() => {});
  // Marks: per type, each run of characters whose wanted value differs.
  for (const type of WEFT_MARKS) {
    let from = -1;
    let value;
    const flush = (i) => {
      if (from >= 0) text.format(from, i - from, { [type]: value ?? null }).catch(() => {});
      from = -1;
    };
    for (let i = 0; i < s.length; i++) {
      const w = want[i];
      if (!w || same(w[type], have[i]?.[type])) {
        flush(i);
        continue;
      }
      if (from >= 0 && !same(w[type], value)) flush(i);
      if (from < 0) {
        from = i;
        value = w[type];
      }
    }
    flush(s.length);
  }
}

class Caret {
  static dom(color, name) {
    const el = document.createElement('span');
    el.className = 'weft-pm-caret';
    el.style.cssText = `border-left: 2px solid ${color}; margin-left: -1px; margin-right: -1px; position: relative; pointer-events: none;`;
    el.title = name;
    el.dataset.name = name;
    return el;
  }
}

/**
 * The ProseMirror plugin for `text`.
 * @param {import('./text.js').Text} text
 * @param {{ presence?: { set(s: unknown): void, on(fn: (peers: { author: string, state: any }[]) => void): () => void },
 *   undoManager?: import('./undo.js').UndoManager, user?: Record<string, unknown> }} [opts]
 */
export function weftProseMirror(text, { presence = null, undoManager = null, user = {} } = {}) {
  const fieldKey = textKey(text);
  let peers = [];
  let maps = []; // the step maps of local transactions not written yet

  /** Decorations for the other peers' cursors, resolved against the text now. */
  const cursors = (doc) => {
    const lead = leads(text);
    const out = [];
    for (const { author, anchor: a, head: h, color, name } of remoteCursors(text, peers)) {
      let pa, ph;
      try {
        pa = flatToPm(doc, lead, a);
        ph = flatToPm(doc, lead, h);
      } catch {
        return DecorationSet.empty; // the editor holds a node the text cannot (refused): no carets until it shows the text
      }
      const [from, to] = pa < ph ? [pa, ph] : [ph, pa];
      if (from < to) out.push(Decoration.inline(from, to, { class: 'weft-pm-selection', style: selectionStyle(color) }));
      out.push(Decoration.widget(ph, () => Caret.dom(color, name), { key: `${author}:${color}:${name}`, side: 1 }));
    }
    return DecorationSet.create(doc, out);
  };

  return new Plugin({
    key,
    state: {
      // remote: the last transaction brought the text's own state (pull), nothing to write back.
      init: () => ({ decorations: DecorationSet.empty, remote: false }),
      apply: (tr, v) => {
        if (tr.docChanged && !tr.getMeta(key)?.remote) maps.push(...tr.mapping.maps);
        return { decorations: tr.getMeta(key)?.decorations ?? v.decorations.map(tr.mapping, tr.doc), remote: !!tr.getMeta(key)?.remote };
      },
    },
    props: {
      decorations: (state) => key.getState(state).decorations,
      handleKeyDown(view, e) {
        if (!undoManager || !(e.ctrlKey || e.metaKey) || e.altKey) return false;
        const k = e.key.toLowerCase();
        if (k === 'z' && !e.shiftKey) undoManager.undo();
        else if (k === 'y' || (k === 'z' && e.shiftKey)) undoManager.redo();
        else return false;
        e.preventDefault();
        return true;
      },
    },
    view(view) {
      shapeOf(view.state.schema); // a schema the binding cannot use: a clear error when the view is made
      let writing = false; // our own edits: their observe calls are not applied back
      let lead = leads(text); // whether the text the editor shows starts with a marker
      let timer = null;
      let pending = false;

      const redraw = () => view.dispatch(view.state.tr.setMeta(key, { decorations: cursors(view.state.doc) }).setMeta('addToHistory', false));

      /** Brings the editor to the text, carrying the selection through `deltas`. */
      const pull = (deltas, now) => {
        const next = docFromBlocks(view.state.schema, shownBlocks(text));
        const nextLead = leads(text);
        const cur = view.state.doc;
        let shown;
        try {
          shown = flatten(cur, lead).s;
        } catch {
          // The editor holds a node the text cannot (refused in write): show the text whole.
          const tr = view.state.tr.replaceWith(0, cur.content.size, next.content);
          lead = nextLead;
          tr.setSelection(Selection.near(tr.doc.resolve(Math.min(view.state.selection.head, tr.doc.content.size))));
          view.dispatch(tr.setMeta(key, { remote: true, decorations: cursors(tr.doc) }).setMeta('addToHistory', false));
          return;
        }
        const start = cur.content.findDiffStart(next.content);
        if (start === null && nextLead === lead) return;
        let a = pmToFlat(cur, lead, view.state.selection.anchor);
        let h = pmToFlat(cur, lead, view.state.selection.head);
        const ds = deltas.filter((d) => d.format === undefined);
        if (ds.reduce((x, d) => x.slice(0, d.index) + d.insert + x.slice(d.index + d.deleteCount), shown) !== now) ds.splice(0, ds.length, diffStrings(shown, now));
        for (const d of ds) {
          a = mapPosition(a, d);
          h = mapPosition(h, d);
        }
        const tr = view.state.tr;
        if (start !== null) {
          let { a: endA, b: endB } = cur.content.findDiffEnd(next.content);
          const overlap = start - Math.min(endA, endB);
          if (overlap > 0) {
            endA += overlap;
            endB += overlap;
          }
          tr.replace(start, endA, next.slice(start, endB));
        }
        lead = nextLead;
        const max = tr.doc.content.size;
        const clamp = (p) => Math.min(Math.max(p, 0), max);
        tr.setSelection(TextSelection.create(tr.doc, clamp(flatToPm(tr.doc, lead, a)), clamp(flatToPm(tr.doc, lead, h))));
        tr.setMeta(key, { remote: true, decorations: cursors(tr.doc) }).setMeta('addToHistory', false);
        view.dispatch(tr);
      };

      const flushCursor = () => {
        pending = false;
        const { anchor, head } = view.state.selection;
        try {
          presence.set({ ...user, cursor: { text: fieldKey, anchor: text.anchor(pmToFlat(view.state.doc, lead, anchor)), head: text.anchor(pmToFlat(view.state.doc, lead, head)) } });
        } catch {
          // no text yet (nothing typed): nothing to point at
        }
      };
      const sendCursor = () => {
        pending = true;
        if (timer) return;
        flushCursor();
        timer = setTimeout(() => {
          timer = null;
          if (pending) flushCursor();
        }, CURSOR_MS);
      };

      // IME composition: while the user composes, the editor's edits are
      // held (no ops for the passing kana) and remote edits are not shown
      // (replacing the DOM under a composition breaks it); both settle
      // when it ends.
      let held = null; // { doc, lead, maps }: the document before the composition, the steps since
      let behind = []; // remote deltas the editor has not shown yet

      const settle = () => {
        if (view.composing) return;
        if (!held) {
          // Nothing typed, but remote edits came in: show them now.
          if (behind.length) {
            behind = [];
            pull([], shownString(text));
          }
          return;
        }
        const { doc: from, lead: fromLead, maps: steps } = held;
        held = null;
        const doc = view.state.doc;
        writing = true;
        try {
          if (!behind.length) write(text, from, fromLead, doc, steps);
          else {
            // The text moved on meanwhile: this editor's splice, carried through the remote edits, then the text is shown.
            const { s } = flatten(doc, fromLead);
            const d = spliceFor(from, fromLead, doc, fromLead, s, steps);
            let a = d.index;
            let b = d.index + d.deleteCount;
            for (const x of behind) {
              a = mapPosition(a, x);
              b = Math.max(a, mapPosition(b, x));
            }
            if (b > a || d.insert) text.splice(a, b - a, d.insert).catch(() => {});
          }
          lead = leads(text);
        } catch (e) {
          console.error(e);
        } finally {
          writing = false;
          behind = [];
        }
        if (!docFromBlocks(view.state.schema, shownBlocks(text)).eq(view.state.doc)) pull([], shownString(text));
      };

      const stop = text.observe((deltas) => {
        if (writing) return;
        if (held || view.composing) behind.push(...deltas.filter((d) => d.format === undefined));
        else pull(deltas, shownString(text));
      });
      const onCompositionEnd = () => setTimeout(settle, 60); // ProseMirror ends its composition 20 ms after the event
      view.dom.addEventListener('compositionend', onCompositionEnd);
      const off = presence?.on((list) => {
        peers = list;
        redraw();
      });
      // The editor was made from another document: show the text.
      queueMicrotask(() => pull([], shownString(text)));

      return {
        update(v, prev) {
          const trDoc = v.state.doc;
          const steps = maps;
          maps = [];
          const local = !trDoc.eq(prev.doc) && !key.getState(v.state).remote;
          if (local && (v.composing || held)) {
            held ??= { doc: prev.doc, lead, maps: [] };
            held.maps.push(...steps);
            if (!v.composing) settle();
          } else if (held && !v.composing) settle();
          else if (local) {
            writing = true;
            try {
              write(text, prev.doc, lead, trDoc, steps);
              lead = leads(text);
            } catch (e) {
              console.error(e);
            } finally {
              writing = false;
            }
            // Whatever the text refused or merged differently: show what it holds.
            if (!docFromBlocks(v.state.schema, shownBlocks(text)).eq(v.state.doc)) queueMicrotask(() => pull([], shownString(text)));
            else redraw();
          }
          if (presence && (!v.state.selection.eq(prev.selection) || !trDoc.eq(prev.doc)) && v.hasFocus()) sendCursor();
        },
        destroy() {
          view.dom.removeEventListener('compositionend', onCompositionEnd);
          clearTimeout(timer);
          stop();
          off?.();
        },
      };
    },
  });
}

