// The notes screen: a list and an editor (editor.js). The body is
// collaborative text (space.text): every keystroke is a small change, and
// people typing in one note at once all keep their words. The title is a
// plain field written a moment after the user pauses. After a pause the
// note's `updated`/`by` are written too. Who edited which fields when is
// weftdb's own history of the note (space.history, history.js). Files
// dropped or pasted on a note are its attachments (attachments.js). A
// note's body is rich text (richtext.js: ProseMirror); a note of kind
// 'code' is a code snippet (code.js: CodeMirror). Notes written before
// rich text (plain text) open as one paragraph per line.
import { h, setChildren, when, newId } from './dom.js';
import { createEditor } from './editor.js';
import { showCursors, colorOf } from './cursors.js';
import { setPresence } from './presence.js';
import { historyDialog, rememberName } from './history.js';
import { attachmentsView } from './attachments.js';

const SAVE_AFTER_MS = 300;
// The editors load when a note opens (ProseMirror and CodeMirror are most of the app's script).
const EDITORS = {
  rich: () => import('./richtext.js').then((m) => m.richEditor),
  code: () => import('./code.js').then((m) => m.codeEditor),
};
/** The format level that adds formatting and blocks to text (weftdb's LEVEL_MARKS). */
const LEVEL_MARKS = 5;

export function notesView(space, { readOnly, me, report }) {
  const notes = space.collection('notes');
  // Bold, headings and lists need the marks level: an admin raises it once.
  if (!readOnly && space.formatLevel < LEVEL_MARKS && space.rights === 'admin')
    space.raiseFormatLevel(LEVEL_MARKS).catch((e) => report(e, 'Enabling formatting'));
  let selected = null; // note id
  let rows = [];
  const pending = new Map(); // note id -> { field: value } not yet written
  const bodyTyped = new Set(); // note ids whose body was typed in since the last save
  let timer = null;

  const flush = () => {
    clearTimeout(timer);
    timer = null;
    const ids = new Set([...pending.keys(), ...bodyTyped]);
    for (const id of ids) {
      const patch = pending.get(id) ?? {};
      pending.delete(id);
      bodyTyped.delete(id);
      if (!notes.get(id)) continue; // deleted meanwhile
      const now = Date.now();
      space.transact(() => {
        notes.update(id, { ...patch, updated: now, by: me() });
        rememberName(space, me());
      }).catch((e) => report(e, 'Saving the note'));
    }
  };
  const onEdit = (id, field, value) => {
    if (field === 'body') bodyTyped.add(id);
    else pending.set(id, { ...pending.get(id), [field]: value });
    clearTimeout(timer);
    timer = setTimeout(flush, SAVE_AFTER_MS);
  };
  const presence = space.presence && typeof space.presence.on === 'function'
    ? { set: (state) => setPresence(space, state), on: (fn) => space.presence.on(fn) }
    : null;
  const bindBody = (note, host, cursorsEl, typed) => {
    const text = space.text('notes', note.id, 'body');
    const undoManager = space.undoManager({ scope: [text] });
    const user = { name: me(), color: colorOf(me()) };
    let ed = null;
    let closed = false;
    EDITORS[note.kind === 'code' ? 'code' : 'rich']()
      .then((make) => {
        if (!closed) ed = make(text, host, { readOnly, presence, undoManager, user, onLocalEdit: typed });
      })
      .catch((e) => report(e, 'Opening the note'));
    const unbindCursors = showCursors(space, text, cursorsEl);
    return () => {
      closed = true;
      unbindCursors();
      ed?.destroy();
      undoManager.destroy();
    };
  };
  const editor = createEditor({ onEdit, readOnly, bindBody });
  const attachments = attachmentsView(space, { readOnly, me, report });

  const list = h('ul', { class: 'note-list', 'aria-label': 'Notes' });
  const empty = h('p', { class: 'empty' }, readOnly ? 'No notes yet.' : 'No notes yet. Make the first one.');
  const addBtn = h('button', { type: 'button', class: 'primary', disabled: readOnly, onclick: () => add() }, '+ New note');
  const addCodeBtn = h('button', { type: 'button', disabled: readOnly, onclick: () => add('code') }, '+ Code snippet');
  const backBtn = h('button', { type: 'button', class: 'back', onclick: () => select(null) }, '← All notes');
  const histBtn = h('button', { type: 'button', onclick: () => historyDialog(space, selected, notes.get(selected)?.title) }, 'History');
  const delBtn = h('button', { type: 'button', class: 'danger', disabled: readOnly, onclick: remove }, 'Delete');
  const meta = h('p', { class: 'note-meta' });
  const pane = h('section', { class: 'note-pane', 'aria-label': 'Note editor', hidden: true },
    h('div', { class: 'toolbar' }, backBtn, h('span', { class: 'spacer' }), histBtn, delBtn), editor.el, attachments.el, meta);
  const el = h('div', { class: 'notes' },
    h('section', { class: 'note-index', 'aria-label': 'All notes' }, h('div', { class: 'toolbar' }, addBtn, addCodeBtn), list, empty),
    pane);

  function add(kind) {
    const id = newId();
    const now = Date.now();
    space.transact(() => {
      notes.put(id, { title: '', ...(kind ? { kind } : {}), created: now, updated: now, by: me() });
      rememberName(space, me());
    }).catch((e) => report(e, 'Making a note'));
    select(id);
    editor.focusTitle();
  }

  function remove() {
    const id = selected;
    if (!id || !confirm('Delete this note for everyone in the space?')) return;
    pending.delete(id);
    space.transact(() => {
      notes.delete(id);
      // Its files lose their last reference: their leases lapse at the relay.
      const atts = space.collection('attachments');
      for (const a of atts.query({ where: { note: id } })) atts.delete(a.id);
    }).catch((e) => report(e, 'Deleting the note'));
    select(null);
  }

  function select(id) {
    flush();
    selected = id;
    attachments.show(id, pane);
    if (!id) editor.close();
    el.classList.toggle('editing', !!id);
    pane.hidden = !id;
    render(rows);
    if (!id) addBtn.focus();
  }

  function render(next) {
    rows = next;
    empty.hidden = rows.length > 0;
    setChildren(list, rows.map(({ id, data }) =>
      h('li', null, h('button', { type: 'button', class: 'note-item', 'aria-current': id === selected ? 'true' : null, onclick: () => { select(id); editor.focusTitle(); } },
        h('span', { class: 'note-item-title' }, (data.kind === 'code' ? '‹/› ' : '') + (data.title || 'Untitled')),
        h('span', { class: 'note-item-snippet' }, String(data.body ?? '').replace(/\n+/g, ' ').trim().slice(0, 80)),
        h('span', { class: 'note-item-meta' }, `${when(data.updated ?? 0)} · ${data.by ?? ''}`)))));
    if (!selected) return;
    const data = notes.get(selected);
    if (!data) {
      report(new Error('this note was deleted on another device'), 'The note');
      select(null);
      return;
    }
    editor.show({ id: selected, title: String(data.title ?? ''), kind: data.kind === 'code' ? 'code' : 'rich' });
    meta.textContent = `Last edited ${when(data.updated ?? 0)} by ${data.by ?? 'someone'}`;
  }

  const off = notes.subscribe({ orderBy: 'updated desc' }, render);
  addEventListener('pagehide', flush);
  return {
    el,
    close() {
      flush();
      editor.close();
      attachments.close();
      off();
      removeEventListener('pagehide', flush);
    },
  };
}
