// The share dialog: makes an invite link (read-only, read-write or, from
// the owner, admin, for a chosen time) with a copy button. A link for one person is claimed by the
// first device that opens it (weftdb invite({ uses: 1 })): that device
// becomes a member the members dialog lists, renews and can remove. A link
// for anyone is a bearer link: whoever holds it gets in until it expires, and
// it cannot be taken back. The link's fragment carries the space's
// content key: it never reaches the server, so it should travel by a
// channel the user trusts.
import { h } from './dom.js';
import { inviteBase, explain } from './session.js';

const DAY = 86_400_000;

/** person: preselects a link for one person (the members dialog's "Invite someone"). */
export function shareDialog(space, { person = false } = {}) {
  const rights = (value, label, checked) =>
    h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'rights', value, checked }), ` ${label}`);
  const expiry = h('select', { id: 'invite-expiry' },
    h('option', { value: String(DAY) }, '1 day'),
    h('option', { value: String(7 * DAY), selected: true }, '7 days'),
    h('option', { value: String(30 * DAY) }, '30 days'));
  const link = h('input', { id: 'invite-link', type: 'text', readOnly: true, placeholder: 'Choose and press Make link' });
  const copy = h('button', { type: 'button', disabled: true, onclick: copyLink }, 'Copy');
  const said = h('p', { class: 'hint', 'aria-live': 'polite' });
  const kind = (value, label, checked) =>
    h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'kind', value, checked }), ` ${label}`);
  const form = h('form', { onsubmit: make },
    h('fieldset', null, h('legend', null, 'The link is for'),
      kind('link', 'anyone who has it', !person), kind('person', 'one person: the first device that opens it (you can remove it later)', person)),
    h('fieldset', null, h('legend', null, 'They can'),
      rights('write', 'read and edit', true), rights('read', 'only read', false),
      // Only the owner makes admins (admins grant no admin).
      space.author === space.id && rights('admin', 'read, edit, invite and remove (admin)', false)),
    h('label', { htmlFor: 'invite-expiry' }, 'Link works for '), expiry,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Make link')));
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'share-title' },
    h('h2', { id: 'share-title' }, 'Share this space'), form,
    h('label', { htmlFor: 'invite-link' }, 'Invite link'), h('div', { class: 'row' }, link, copy), said,
    h('p', { class: 'hint' }, 'The link holds the key to this space. Anyone who has it can open the space: send it privately.'),
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', onclick: () => dialog.close() }, 'Close')));

  async function make(ev) {
    ev.preventDefault();
    try {
      const person = form.elements.kind.value === 'person';
      const r = form.elements.rights.value;
      const opts = { rights: r, expiresIn: Number(expiry.value), base: inviteBase() };
      link.value = person ? await space.invite({ ...opts, uses: 1 }) : space.invite(opts);
      copy.disabled = false;
      said.textContent = person
        ? 'Link ready: the first device that opens it joins as a member (you can remove it later).'
        : `Link ready: anyone who has it can ${r === 'read' ? 'read' : r === 'admin' ? 'read, edit and invite' : 'read and edit'} until it expires. It cannot be taken back.`;
      link.select();
    } catch (e) {
      // A device that joined by a person link has no bearer token to hand on.
      said.textContent = e?.code === 'WEFT_EDELEGATION' ? 'This device can make links for one person only.' : explain(e, 'Making the link');
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
