// A note's history: who edited it and when. weftdb has no per-document
// history API yet (its change log is encrypted and folded into snapshots),
// so the app records it: each save writes, in the same change as the edit,
// one `revisions` document per editing session (an author's edits of one
// note with no pause longer than SESSION_MS), naming the fields touched.
import { h, setChildren, when } from './dom.js';

const SESSION_MS = 5 * 60_000;
const sessions = new Map(); // note id -> { rev, at, fields } for this device

/** Inside a transaction: records that `name` edited `fields` of `note` at `now`. */
export function recordEdit(space, note, fields, name, now) {
  const revs = space.collection('revisions');
  let s = sessions.get(note);
  if (!s || now - s.at > SESSION_MS || !revs.get(s.rev)) {
    s = { rev: `${note}~${space.author.slice(0, 8)}~${now}`, start: now, fields: new Set() };
    sessions.set(note, s);
  }
  s.at = now;
  for (const f of fields) s.fields.add(f);
  revs.put(s.rev, { note, author: space.author, name, start: s.start, at: now, fields: [...s.fields] });
}

/** Inside a transaction: deletes the history of a deleted note. */
export function forgetHistory(space, note) {
  const revs = space.collection('revisions');
  for (const { id } of revs.query({ where: { note } })) revs.delete(id);
  sessions.delete(note);
}

/** Opens a modal dialog listing the note's edits, newest first, kept live while open. */
export function historyDialog(space, note, title) {
  const revs = space.collection('revisions');
  const list = h('ol', { class: 'history' });
  const close = h('button', { type: 'button', onclick: () => dialog.close() }, 'Close');
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'history-title' },
    h('h2', { id: 'history-title' }, `History of “${title || 'Untitled'}”`), list, h('div', { class: 'dialog-actions' }, close));
  const off = revs.subscribe({ where: { note }, orderBy: 'at desc' }, (rows) => {
    setChildren(list, rows.length ? rows.map(({ data }) => {
      const you = data.author === space.author ? ' (this device)' : '';
      const fields = (data.fields ?? []).filter((f) => f !== 'created');
      const made = (data.fields ?? []).includes('created');
      const what = [made && 'created the note', fields.length && `edited the ${fields.join(' and ')}`].filter(Boolean).join(' and ');
      const span = data.at - data.start > 60_000 ? `${when(data.start)} – ${when(data.at)}` : when(data.at);
      return h('li', null, h('strong', null, `${data.name ?? 'someone'}${you}`), ` ${what}`, h('br'), h('time', { dateTime: new Date(data.at).toISOString() }, span));
    }) : h('li', null, 'No recorded edits.'));
  });
  dialog.addEventListener('close', () => {
    off();
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}
