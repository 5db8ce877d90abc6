// A note's history: who edited it and when, from weftdb's space.history()
// (the change records this device still holds). An author's edits with no
// pause longer than SESSION_MS show as one line. Older
// changes may have been folded into a snapshot (this device compacted its
// memory, or joined from the relay's snapshot): the list then says that
// older history was trimmed. Names come from the `people` collection, where
// each device writes the name it goes by when it saves a note; a device
// linked to a person (devices.js) shows under the person's name. When the
// device's history is trimmed, a button reads the older part from the
// relay's log (space.historyFromRelay), if the relay still has it.
import { h, setChildren, when } from './dom.js';

const SESSION_MS = 5 * 60_000;

/** Inside a transaction: makes sure the space knows this device's name. */
export function rememberName(space, name) {
  const people = space.collection('people');
  if (people.get(space.author)?.name !== name) people.put(space.author, { name });
}

/**
 * Edits grouped into sessions, one per author and stretch of editing with
 * no pause longer than SESSION_MS (other people's edits in between do not
 * split it): [{ author, start, at, fields: Set, created, deleted }], newest first.
 */
function sessions(entries) {
  const out = [];
  const open = new Map(); // author -> its oldest session so far (entries come newest first)
  for (const e of entries) {
    const s = open.get(e.author);
    if (s && s.start - e.at <= SESSION_MS) {
      s.start = e.at;
      for (const f of e.fields) s.fields.add(f);
      s.created ||= e.fields.includes('created');
      continue;
    }
    const fresh = { author: e.author, person: e.person ?? e.author, start: e.at, at: e.at, fields: new Set(e.fields), created: e.fields.includes('created'), deleted: e.deleted };
    open.set(e.author, fresh);
    out.push(fresh);
  }
  return out;
}

const SHOWN = new Set(['title', 'body']);

/** Opens a modal dialog listing the note's edits, newest first, kept live while open. */
export function historyDialog(space, note, title) {
  const people = space.collection('people');
  const list = h('ol', { class: 'history' });
  const close = h('button', { type: 'button', onclick: () => dialog.close() }, 'Close');
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'history-title' },
    h('h2', { id: 'history-title' }, `History of “${title || 'Untitled'}”`), list, h('div', { class: 'dialog-actions' }, close));
  let older = null; // historyFromRelay's answer, once asked
  let loading = false;
  let failed = null; // why the last attempt failed
  const key = (e) => `${e.author}:${e.seq}`;
  const loadOlder = async () => {
    loading = true;
    failed = null;
    render();
    try {
      older = await space.historyFromRelay('notes', note);
    } catch (e) {
      failed = `Could not read it from the relay: ${e.message}`;
    }
    loading = false;
    if (dialog.open) render();
  };
  const render = () => {
    let { entries, trimmed } = space.history('notes', note);
    if (older) {
      const seen = new Set(entries.map(key));
      entries = [...entries, ...older.entries.filter((e) => !seen.has(key(e)))].sort((a, b) => b.at - a.at);
      trimmed = older.trimmed;
    }
    const items = sessions(entries).map((s) => {
      const you = s.author === space.author ? ' (this device)' : '';
      const name = people.get(s.person)?.name ?? people.get(s.author)?.name ?? 'someone';
      const fields = [...s.fields].filter((f) => SHOWN.has(f));
      const what = [s.created && 'created the note', fields.length && `edited the ${fields.join(' and ')}`].filter(Boolean).join(' and ') || 'edited it';
      const span = s.at - s.start > 60_000 ? `${when(s.start)} – ${when(s.at)}` : when(s.at);
      return h('li', null, h('strong', null, `${name}${you}`), ` ${what}`, h('br'), h('time', { dateTime: new Date(s.at).toISOString() }, span));
    });
    if (trimmed && older) items.push(h('li', { class: 'trimmed' }, 'Older history is gone: the relay trimmed it too (the note itself is complete).'));
    else if (trimmed)
      items.push(h('li', { class: 'trimmed' }, 'Older history was trimmed: this device keeps only recent edits (the note itself is complete). ',
        loading ? h('span', { role: 'status' }, 'Reading older history from the relay…')
          : [h('button', { type: 'button', onclick: loadOlder }, 'Load older history from the relay'), failed && h('span', { role: 'alert' }, ` ${failed}`)]));
    setChildren(list, items.length ? items : h('li', null, 'No recorded edits.'));
  };
  render();
  const off = space.on('change', (e) => {
    if (e.all || e.docs.some(([c, d]) => (c === 'notes' && d === note) || c === 'people')) render();
  });
  dialog.addEventListener('close', () => {
    off();
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}
