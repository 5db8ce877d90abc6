// The note body as rich text: a ProseMirror editor bound to the note's
// weftdb text (weftdb/prosemirror), with a small toolbar (bold, italic,
// link, headings, lists, quote, code) and the usual shortcuts (Ctrl+B,
// Ctrl+I). Blocks and marks live in the text itself, so everyone's typing
// and formatting merge; other people's carets show in their colours, and
// Ctrl+Z undoes only this person's own typing (weftdb's undo manager).
import { EditorState, Selection } from 'prosemirror-state';
import { EditorView } from 'prosemirror-view';
import { keymap } from 'prosemirror-keymap';
import { baseKeymap, toggleMark, setBlockType, splitBlockAs } from 'prosemirror-commands';
import { weftSchema as schema, weftDoc, weftProseMirror } from 'weftdb/prosemirror';
import { h } from './dom.js';
import 'prosemirror-view/style/prosemirror.css';

const m = schema.marks;
/** Ctrl+Home / Ctrl+End: the start or end of the note (Chromium's own move is not dependable in a contenteditable). */
const edge = (end) => (state, dispatch) => {
  dispatch?.(state.tr.setSelection(end ? Selection.atEnd(state.doc) : Selection.atStart(state.doc)).scrollIntoView());
  return true;
};
const n = schema.nodes;

/** Tab / Shift+Tab in a list item: one level deeper or shallower (its depth attribute). */
const indent = (delta) => (state, dispatch) => {
  const { $from } = state.selection;
  const node = $from.parent;
  if (node.type !== n.list_item) return false;
  const depth = Math.max(0, Math.min(15, node.attrs.depth + delta));
  dispatch?.(state.tr.setNodeMarkup($from.before(), null, { ...node.attrs, depth }));
  return true;
};

/** Enter in a list item: the next item (same kind and depth); in an empty one, back to a paragraph. */
const listEnter = (state, dispatch) => {
  const node = state.selection.$from.parent;
  if (node.type !== n.list_item) return false;
  if (node.content.size === 0) return setBlockType(n.paragraph)(state, dispatch);
  return splitBlockAs((x) => ({ type: n.list_item, attrs: x.attrs }))(state, dispatch);
};

/** The toolbar's buttons: label, accessible name, command. */
const TOOLS = [
  ['B', 'Bold', toggleMark(m.strong)],
  ['I', 'Italic', toggleMark(m.em)],
  ['🔗', 'Add or remove a link', (state, dispatch) => {
    if (state.selection.empty) return false;
    if (!dispatch) return true;
    const on = state.doc.rangeHasMark(state.selection.from, state.selection.to, m.link);
    const href = on ? null : prompt('Link to (https://…)');
    if (!on && !/^https?:\/\//.test(href ?? '')) return false;
    return toggleMark(m.link, { href })(state, dispatch);
  }],
  ['H1', 'Heading 1', setBlockType(n.heading, { level: 1 })],
  ['H2', 'Heading 2', setBlockType(n.heading, { level: 2 })],
  ['¶', 'Paragraph', setBlockType(n.paragraph)],
  ['•', 'Bulleted list', setBlockType(n.list_item, { kind: 'bullet', depth: 0 })],
  ['1.', 'Numbered list', setBlockType(n.list_item, { kind: 'ordered', depth: 0 })],
  ['❝', 'Quote', setBlockType(n.blockquote)],
  ['{}', 'Code block', setBlockType(n.code_block)],
];

/**
 * A rich-text editor for `text` in `parent`: { destroy() }. presence: {
 * set, on } for carets; user: { name, color }.
 */
export function richEditor(text, parent, { readOnly, presence, undoManager, user, onLocalEdit }) {
  const toolbar = h('div', { class: 'rich-toolbar', role: 'toolbar', 'aria-label': 'Formatting', hidden: readOnly });
  const host = h('div', { class: 'rich-host' });
  parent.append(toolbar, host);
  const view = new EditorView(host, {
    state: EditorState.create({
      schema,
      doc: weftDoc(text),
      plugins: [
        weftProseMirror(text, { presence, undoManager, user }),
        keymap({ 'Mod-b': toggleMark(m.strong), 'Mod-i': toggleMark(m.em), 'Mod-Alt-1': setBlockType(n.heading, { level: 1 }),
          'Mod-Alt-2': setBlockType(n.heading, { level: 2 }), 'Mod-Alt-0': setBlockType(n.paragraph), 'Mod-Home': edge(false), 'Mod-End': edge(true),
          Enter: listEnter, Tab: indent(1), 'Shift-Tab': indent(-1) }),
        keymap(baseKeymap),
      ],
    }),
    editable: () => !readOnly,
    attributes: { id: 'note-body', class: 'note-body rich', role: 'textbox', 'aria-multiline': 'true', 'aria-label': 'Note text' },
  });
  for (const [label, name, cmd] of TOOLS)
    toolbar.append(h('button', { type: 'button', class: 'icon', title: name, 'aria-label': name,
      onmousedown: (e) => e.preventDefault(), // keep the editor's selection
      onclick: () => { cmd(view.state, view.dispatch); view.focus(); } }, label));
  const off = text.observe((_d, { local }) => local && onLocalEdit?.());
  return {
    destroy() {
      off();
      view.destroy();
      toolbar.remove();
      host.remove();
    },
  };
}
