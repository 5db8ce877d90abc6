// The start screen: your name, make a space, join one from an invite link,
// restore one from a key backup, or reopen one this device holds.
import { h } from './dom.js';
import { displayName, setDisplayName, knownSpaces } from './session.js';

export function homeView({ onCreate, onJoin, onRestore, onOpen }) {
  const name = h('input', { id: 'my-name', type: 'text', maxLength: 40, autocomplete: 'nickname', value: displayName(),
    onchange: (ev) => setDisplayName(ev.target.value) });
  const spaceName = h('input', { id: 'space-name', type: 'text', maxLength: 80, required: true, autocomplete: 'off', value: 'Our notes' });
  const invite = h('input', { id: 'invite-input', type: 'url', required: true, autocomplete: 'off', placeholder: 'https://…/#…' });
  const backupFile = h('input', { id: 'backup-file', type: 'file', required: true, accept: '.txt,text/plain' });
  const backupPass = h('input', { id: 'backup-pass', type: 'password', required: true, minLength: 8, autocomplete: 'current-password' });
  const known = knownSpaces();
  const submit = (fn) => (ev) => {
    ev.preventDefault();
    setDisplayName(name.value);
    fn();
  };
  return h('main', { class: 'home', id: 'main' },
    h('h1', null, 'Weft notes'),
    h('p', { class: 'lead' }, 'Notes and todos that work offline and sync end-to-end encrypted: the relay stores only what it cannot read.'),
    h('div', { class: 'card' }, h('label', { htmlFor: 'my-name' }, 'Your name (shown to people you share with)'), name),
    h('form', { class: 'card', onsubmit: submit(() => onCreate(spaceName.value.trim() || 'Untitled space')) },
      h('h2', null, 'New space'),
      h('label', { htmlFor: 'space-name' }, 'Name'), spaceName,
      h('button', { type: 'submit', class: 'primary' }, 'Create space')),
    h('form', { class: 'card', onsubmit: submit(() => onJoin(invite.value.trim())) },
      h('h2', null, 'Join a space'),
      h('label', { htmlFor: 'invite-input' }, 'Invite link'), invite,
      h('button', { type: 'submit' }, 'Join')),
    h('form', { class: 'card', onsubmit: submit(async () => onRestore(await backupFile.files[0].text(), backupPass.value)) },
      h('h2', null, 'Restore from backup'),
      h('p', { class: 'hint' }, 'A key backup made under "Your data" on another device: this device opens the space with the same rights.'),
      h('label', { htmlFor: 'backup-file' }, 'Backup file'), backupFile,
      h('label', { htmlFor: 'backup-pass' }, 'Passphrase'), backupPass,
      h('button', { type: 'submit' }, 'Restore')),
    known.length > 0 && h('section', { class: 'card', 'aria-labelledby': 'known-title' },
      h('h2', { id: 'known-title' }, 'On this device'),
      h('ul', { class: 'space-list' }, known.map((s) =>
        h('li', null, h('button', { type: 'button', class: 'link', onclick: () => onOpen(s.id) }, s.name || 'Unnamed space'),
          h('span', { class: 'hint' }, s.rights === 'read' ? ' read-only' : ''))))));
}
