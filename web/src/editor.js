// The note editor: a title and a body. It knows nothing about weftdb: it
// shows a note, reports edits through onEdit(id, field, value), and takes
// remote updates of the title through show(). The body is collaborative
// text: bindBody(note, bodyEl, cursorsEl, typed) (notes.js) puts the note's
// editor in bodyEl (rich text, or code for a snippet), which keeps it up
// to date and the caret in place, and shows where the others are in
// cursorsEl; it calls typed() when the user edits it, and onEdit hears it
// (value null).

import { h } from './dom.js';

const QUIET_MS = 1500; // a field the user typed into lately is not overwritten by remote updates

/**
 * createEditor({ onEdit, readOnly }) → { el, show(note), focusTitle() }
 * note: { id, title, body }; show() with the same id updates the fields the
 * user is not editing right now.
 */
export function createEditor({ onEdit, readOnly, bindBody }) {
  let current = null;
  let unbind = null;
  const typedAt = { title: 0, body: 0 };

  const field = (name, el) => {
    el.addEventListener('input', () => {
      typedAt[name] = Date.now();
      onEdit(current.id, name, name === 'body' ? null : el.value);
    });
    return el;
  };
  const title = field('title', h('input', { id: 'note-title', class: 'note-title', type: 'text', maxLength: 200, autocomplete: 'off', readOnly, placeholder: 'Title' }));
  const body = h('div', { class: 'note-body-host' });
  const cursors = h('p', { class: 'note-cursors', 'aria-label': 'Where others are in this note', hidden: true });

  const el = h('div', { class: 'editor' },
    h('label', { class: 'visually-hidden', htmlFor: 'note-title' }, 'Note title'), title,
    body, cursors);

  let retry = null;
  const set = (name, input, value) => {
    const busy = document.activeElement === input && Date.now() - typedAt[name] < QUIET_MS;
    if (input.value === value) return;
    if (!busy) input.value = value;
    else if (!retry) {
      // Look again once the user pauses: if their own later write did not
      // replace the remote value, the remote value is what the note holds.
      retry = setTimeout(() => {
        retry = null;
        set('title', title, current.title);
      }, QUIET_MS);
    }
  };

  return {
    el,
    show(note) {
      if (!current || current.id !== note.id) {
        typedAt.title = typedAt.body = 0;
        title.value = note.title;
        unbind?.();
        unbind = bindBody(note, body, cursors, () => {
          typedAt.body = Date.now();
          onEdit(note.id, 'body', null);
        });
      } else {
        set('title', title, note.title);
      }
      current = note;
    },
    close() {
      unbind?.();
      unbind = null;
      current = null;
    },
    focusTitle() {
      title.focus();
    },
  };
}
