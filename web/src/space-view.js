// One open space: header (name, sync status, presence, devices, your data, share), a read-only
// notice when the invite allows no writes, and the notes and todos screens.
import { h, setChildren } from './dom.js';
import { remember, displayName, isTransient } from './session.js';
import { statusBadge } from './status.js';
import { presenceList } from './presence.js';
import { shareDialog } from './share.js';
import { membersDialog } from './members.js';
import { dataDialog } from './data.js';
import { devicesDialog } from './devices.js';
import { notesView } from './notes.js';
import { todosView } from './todos.js';

export function spaceView(space, { report, onHome }) {
  const readOnly = space.rights === 'read';
  const opts = { readOnly, me: displayName, report };
  const title = h('h1', { class: 'space-name' }, 'Loading…');
  const status = statusBadge(space);
  const presence = presenceList(space, displayName);
  const canShare = space.rights === 'admin';
  const share = h('button', { type: 'button', class: 'primary', onclick: () => shareDialog(space), hidden: !canShare }, 'Share');
  const members = h('button', { type: 'button', onclick: () => membersDialog(space) }, 'Members');
  const home = h('button', { type: 'button', class: 'link', onclick: onHome, 'aria-label': 'All spaces' }, '← Spaces');
  const data = h('button', { type: 'button', onclick: () => dataDialog(space, { name: () => title.textContent, onLeft: onHome }) }, 'Your data');
  const devices = h('button', { type: 'button', onclick: () => devicesDialog(space) }, 'Devices');

  const views = { notes: notesView(space, opts), todos: todosView(space, opts) };
  const body = h('div', { class: 'screen' });
  const tabs = {};
  for (const [key, label] of [['notes', 'Notes'], ['todos', 'Todos']])
    tabs[key] = h('button', { type: 'button', class: 'tab', onclick: () => show(key) }, label);
  const show = (key) => {
    for (const [k, b] of Object.entries(tabs)) b.setAttribute('aria-pressed', String(k === key));
    setChildren(body, views[key].el);
    sessionStorage.setItem('weft-demo:tab', key);
  };

  const el = h('div', { class: 'space' },
    h('header', { class: 'bar' }, home, title, h('span', { class: 'spacer' }), presence.el, status.el, devices, data, members, share),
    status.notice,
    status.level,
    readOnly && h('p', { class: 'notice', role: 'note', id: 'read-only-notice' },
      h('strong', null, 'Read-only. '), 'Your invite lets you read this space but not change it. Ask its owner for an edit link.'),
    h('main', { id: 'main' }, h('nav', { class: 'tabs', 'aria-label': 'Sections' }, tabs.notes, tabs.todos), body));
  show(sessionStorage.getItem('weft-demo:tab') === 'todos' ? 'todos' : 'notes');

  const offName = space.collection('meta').subscribe((rows) => {
    const name = String(rows.find((r) => r.id === 'space')?.data.name ?? 'Unnamed space');
    title.textContent = name;
    document.title = `${name} · Weft notes`;
    remember(space.id, { name, rights: space.rights });
  });
  const offError = space.on('error', (e) => isTransient(e) || report(e, 'Sync'));
  return {
    el,
    close() {
      offName();
      offError();
      status.close();
      presence.close();
      for (const v of Object.values(views)) v.close();
    },
  };
}
