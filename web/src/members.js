// The members dialog: who is in the space (weftdb's space.members), with
// what rights and until when; admins remove a member (which rotates the
// space's key) or renew their access, and invite someone (the share
// dialog). It follows the 'members' event while open.
import { h, setChildren } from './dom.js';
import { explain } from './session.js';
import { shareDialog } from './share.js';

const DAY = 86_400_000;

/** A key as a person reads it: its first characters. */
const short = (key) => `${key.slice(0, 8)}…`;

function untilText(m) {
  if (m.state === 'removed') return 'removed';
  if (m.state === 'expired') return 'access lapsed';
  if (!m.until) return 'no end';
  return `until ${new Date(m.until).toLocaleDateString()}`;
}

export function membersDialog(space) {
  const me = space.author;
  const iAmAdmin = space.rights === 'admin';
  const list = h('ul', { class: 'members', id: 'members-list' });
  const said = h('p', { class: 'hint', 'aria-live': 'polite' });

  const act = (label, doing, fn) =>
    h('button', { type: 'button', onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await fn();
        said.textContent = `${doing}: done.`;
      } catch (e) {
        said.textContent = explain(e, doing);
      } finally {
        ev.target.disabled = false;
      }
    } }, label);

  function row(m) {
    const who = m.key === me ? 'You' : m.owner ? 'Owner' : `Member ${short(m.key)}`;
    const rights = m.admin ? 'admin' : m.rights === 'write' ? 'can edit' : 'can read';
    // Admins act on members; only the owner on admins.
    const canAct = iAmAdmin && !m.owner && m.key !== me && m.state !== 'removed' && (!m.admin || me === space.id);
    return h('li', { class: 'member', 'data-state': m.state },
      h('span', { class: 'who', title: m.key }, who),
      h('span', { class: 'rights' }, m.owner ? 'owner' : rights),
      h('span', { class: 'until' }, untilText(m)),
      canAct && m.until && act('Renew 30 days', 'Renewing', () => space.grant(m.key, m.rights, { expiresAt: Date.now() + 30 * DAY })),
      canAct && act('Remove', 'Removing', async () => {
        if (!confirm(`Remove ${who}? They keep what they already have, but cannot open anything written from now on.`)) return;
        await space.remove(m.key);
      }));
  }

  const render = (members) => {
    const shown = members.length ? members : [{ key: space.id, owner: true, admin: true, rights: 'admin', state: 'member', until: null }];
    setChildren(list, ...shown.map(row));
  };
  render(space.members);
  const off = space.on('members', render);

  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'members-title' },
    h('h2', { id: 'members-title' }, 'Members'), list, said,
    h('p', { class: 'hint' }, 'Access with an end is renewed by any admin who has the space open before it lapses.'),
    h('div', { class: 'dialog-actions' },
      iAmAdmin && h('button', { type: 'button', class: 'primary', onclick: () => shareDialog(space, { person: true }) }, 'Invite someone'),
      h('button', { type: 'button', onclick: () => dialog.close() }, 'Close')));
  dialog.addEventListener('close', () => {
    off();
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
}
