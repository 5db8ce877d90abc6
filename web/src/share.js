// The share dialog: makes an invite link (read-only or read-write, for a
// chosen time) with a copy button. The link's fragment carries the space's
// content key: it never reaches the server, and whoever holds the link can
// read the space, so it should travel by a channel the user trusts.
import { h } from './dom.js';
import { inviteBase, explain } from './session.js';

const DAY = 86_400_000;

export function shareDialog(space) {
  const rights = (value, label, checked) =>
    h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'rights', value, checked }), ` ${label}`);
  const expiry = h('select', { id: 'invite-expiry' },
    h('option', { value: String(DAY) }, '1 day'),
    h('option', { value: String(7 * DAY), selected: true }, '7 days'),
    h('option', { value: String(30 * DAY) }, '30 days'));
  const link = h('input', { id: 'invite-link', type: 'text', readOnly: true, placeholder: 'Choose and press Make link' });
  const copy = h('button', { type: 'button', disabled: true, onclick: copyLink }, 'Copy');
  const said = h('p', { class: 'hint', 'aria-live': 'polite' });
  const form = h('form', { onsubmit: make },
    h('fieldset', null, h('legend', null, 'People with the link can'),
      rights('write', 'read and edit', true), rights('read', 'only read', false)),
    h('label', { htmlFor: 'invite-expiry' }, 'Link works for '), expiry,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Make link')));
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'share-title' },
    h('h2', { id: 'share-title' }, 'Share this space'), form,
    h('label', { htmlFor: 'invite-link' }, 'Invite link'), h('div', { class: 'row' }, link, copy), said,
    h('p', { class: 'hint' }, 'The link holds the key to this space. Anyone who has it can open the space: send it privately.'),
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', onclick: () => dialog.close() }, 'Close')));

  function make(ev) {
    ev.preventDefault();
    try {
      const r = form.elements.rights.value;
      link.value = space.invite({ rights: r, expiresIn: Number(expiry.value), base: inviteBase() });
      copy.disabled = false;
      said.textContent = r === 'read' ? 'Read-only link ready.' : 'Read-and-edit link ready.';
      link.select();
    } catch (e) {
      said.textContent = explain(e, 'Making the link');
    }
  }

  async function copyLink() {
    try {
      await navigator.clipboard.writeText(link.value);
      said.textContent = 'Copied.';
    } catch {
      link.select();
      said.textContent = 'Press Ctrl+C (or ⌘C) to copy the selected link.';
    }
  }

  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
