// weftdb/codemirror: binds a CodeMirror 6 editor to a weftdb Text (a
// separate entry point, so apps without CodeMirror do not ship it; the
// @codemirror packages are peer dependencies).
//
//   import { weftCollab } from 'weftdb/codemirror';
//   new EditorView({ doc: text.toString(), extensions: [weftCollab(text, { presence, undoManager, user })] });
//
// - Text: every change typed in the editor becomes splices of the text;
//   every other change of the text (remote edits, undo) is dispatched into
//   the editor, so its selection maps through them.
// - Remote cursors: the editor's selection goes out in presence as anchors
//   (text.anchor: stable positions), under `cursor`, with `user` (e.g.
//   { name, color }); other peers' cursors and selections on the same text
//   are drawn, resolved against the text as it is now.
// - Undo: Mod-z / Mod-y / Mod-Shift-z run the undo manager's undo/redo
//   (only this device's edits; see undo.js). Leave CodeMirror's own history
//   extension out.
// - IME: while the user composes, the editor's changes are held (one
//   change set, remote edits mapped through it) and written when it ends.
// - Marks (opt-in, `marks: true`): the text's formatting (text.spans) is
//   drawn as decorations, class weft-cm-mark-<type> (bold, italic and link
//   styled by default), redrawn after every change of the text.
import { Annotation, ChangeSet } from '@codemirror/state';
import { Decoration, EditorView, ViewPlugin, WidgetType, keymap } from '@codemirror/view';
import { remoteCursors, selectionStyle, textKey } from './remote_cursors.js';

const fromWeft = Annotation.define();
const CURSOR_MS = 50; // presence frames while typing: at most 20 a second

class Caret extends WidgetType {
  constructor(color, name) {
    super();
    this.color = color;
    this.name = name;
  }
  eq(o) {
    return o.color === this.color && o.name === this.name;
  }
  toDOM() {
    const el = document.createElement('span');
    el.className = 'weft-cm-caret';
    el.style.cssText = `border-left: 2px solid ${this.color}; margin-left: -1px; margin-right: -1px; position: relative;`;
    el.title = this.name;
    el.dataset.name = this.name;
    return el;
  }
}

/**
 * The CodeMirror extension for `text`.
 * @param {import('./text.js').Text} text
 * @param {{ presence?: { set(s: unknown): void, on(fn: (peers: { author: string, state: any }[]) => void): () => void },
 *   undoManager?: import('./undo.js').UndoManager, user?: Record<string, unknown>, marks?: boolean }} [opts]
 */
export function weftCollab(text, { presence = null, undoManager = null, user = {}, marks: showMarks = false } = {}) {
  const key = textKey(text);
  const sync = ViewPlugin.fromClass(
    class {
      constructor(view) {
        this.view = view;
        this.typing = false; // our own splices: their observe calls are not dispatched back
        this.peers = [];
        this.decorations = Decoration.none;
        this.timer = null;
        this.pending = null;
        const now = text.toString();
        if (view.state.doc.toString() !== now)
          queueMicrotask(() => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: now }, annotations: fromWeft.of(true) }));
        if (showMarks) this.redraw();
        // IME composition: the editor's changes are held (no ops for the
        // passing kana) as one change set from the text to the editor;
        // remote edits are dispatched through it, and it through them.
        this.held = null;
        this.onCompositionEnd = () => setTimeout(() => this.settle(), 60);
        view.contentDOM.addEventListener('compositionend', this.onCompositionEnd);
        this.stop = text.observe((all, { text: now }) => {
          const formatted = all.some((d) => d.format !== undefined);
          const deltas = all.filter((d) => d.format === undefined); // formatting changes no character
          if (this.typing || !deltas.length) {
            if (showMarks && formatted) {
              this.redraw();
              view.dispatch({}); // draw them
            }
            return;
          }
          if (this.held) {
            for (const d of deltas) {
              if (d.index + d.deleteCount > this.held.length) break; // not this text's: the editor resyncs when the composition ends
              const r = ChangeSet.of({ from: d.index, to: d.index + d.deleteCount, insert: d.insert }, this.held.length);
              view.dispatch({ changes: r.map(this.held), annotations: fromWeft.of(true) });
              this.held = this.held.map(r, true);
            }
            this.redraw();
            return;
          }
          let changes = [];
          let len = view.state.doc.length;
          for (const d of deltas) {
            if (d.index + d.deleteCount > len) {
              changes = null;
              break;
            }
            len += d.insert.length - d.deleteCount;
          }
          // Each delta applies to the text after the ones before: one transaction each.
          if (changes) for (const d of deltas) view.dispatch({ changes: { from: d.index, to: d.index + d.deleteCount, insert: d.insert }, annotations: fromWeft.of(true) });
          if (!changes || view.state.doc.toString() !== now)
            view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: now }, annotations: fromWeft.of(true) });
          this.redraw();
          if (showMarks && formatted) view.dispatch({});
        });
        this.off = presence?.on((peers) => {
          this.peers = peers;
          this.redraw();
          view.dispatch({}); // draw them
        });
      }

      update(u) {
        for (const tr of u.transactions) {
          if (!tr.docChanged || tr.annotation(fromWeft)) continue;
          if (u.view.composing) {
            this.held = this.held ? this.held.compose(tr.changes) : tr.changes;
            continue;
          }
          this.settle();
          this.write(tr.changes);
        }
        if (this.held && !u.view.composing) queueMicrotask(() => this.settle());
        if (u.docChanged) this.redraw();
        if (presence && (u.selectionSet || u.docChanged) && u.view.hasFocus) this.sendCursor(u.state);
      }

      /** Writes an editor change set (from the text as it is) as splices. */
      write(changes) {
        let shift = 0;
        this.typing = true;
        try {
          changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
            const ins = inserted.toString();
            text.splice(fromA + shift, toA - fromA, ins).catch(() => {});
            shift += ins.length - (toA - fromA);
          });
        } finally {
          this.typing = false;
        }
      }

      /** After a composition: writes what it typed; the editor shows the text if they differ. */
      settle() {
        if (!this.held || this.view.composing) return;
        const held = this.held;
        this.held = null;
        this.write(held);
        const now = text.toString();
        if (!text._pending?.().length && this.view.state.doc.toString() !== now)
          this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: now }, annotations: fromWeft.of(true) });
        this.redraw();
      }

      /** Sends the selection, at most every CURSOR_MS (the last one always goes). */
      sendCursor(state) {
        this.pending = state;
        if (this.timer) return;
        this.flushCursor();
        this.timer = setTimeout(() => {
          this.timer = null;
          if (this.pending) this.flushCursor();
        }, CURSOR_MS);
      }

      flushCursor() {
        const sel = this.pending.selection.main;
        this.pending = null;
        try {
          presence.set({ ...user, cursor: { text: key, anchor: text.anchor(sel.anchor), head: text.anchor(sel.head) } });
        } catch {
          // no text yet (nothing typed): nothing to point at
        }
      }

      /** Decorations for the other peers' cursors, resolved now. */
      redraw() {
        const marks = [];
        for (const { anchor: a, head: h, color, name } of remoteCursors(text, this.peers)) {
          const [from, to] = a < h ? [a, h] : [h, a];
          if (from < to) marks.push({ from, to, deco: Decoration.mark({ attributes: { style: selectionStyle(color) }, class: 'weft-cm-selection' }) });
          marks.push({ from: h, to: h, deco: Decoration.widget({ widget: new Caret(color, name), side: 1 }) });
        }
        if (showMarks) marks.push(...markDecorations(text, this.view.state.doc.length));
        this.decorations = Decoration.set(marks.map((m) => m.deco.range(m.from, m.to)), true);
      }

      destroy() {
        this.view.contentDOM.removeEventListener('compositionend', this.onCompositionEnd);
        clearTimeout(this.timer);
        this.stop();
        this.off?.();
      }
    },
    { decorations: (p) => p.decorations },
  );
  const keys = undoManager
    ? keymap.of([
        { key: 'Mod-z', run: () => (undoManager.undo(), true), preventDefault: true },
        { key: 'Mod-y', run: () => (undoManager.redo(), true), preventDefault: true },
        { key: 'Mod-Shift-z', run: () => (undoManager.redo(), true), preventDefault: true },
      ])
    : [];
  return [sync, keys, EditorView.baseTheme({
    '.weft-cm-caret': { pointerEvents: 'none' },
    '.weft-cm-mark-bold': { fontWeight: 'bold' },
    '.weft-cm-mark-italic': { fontStyle: 'italic' },
    '.weft-cm-mark-link': { textDecoration: 'underline' },
  })];
}

/** Decorations for the text's marks (spans), within the editor's length. */
function markDecorations(text, len) {
  const out = [];
  let at = 0;
  for (const { insert, attributes } of text.spans()) {
    const end = Math.min(len, at + insert.length);
    if (attributes && at < end)
      for (const type of Object.keys(attributes))
        out.push({ from: at, to: end, deco: Decoration.mark({ class: `weft-cm-mark-${type.replace(/[^\w-]/g, '_')}` }) });
    at += insert.length;
  }
  return out;
}
