// "Your data": back up this device's keys under a passphrase (restored from
// the start screen), export the space as JSON, import an export, leave the space
// on this device, and, for its owner, delete it on the relay. Leaving and
// deleting ask first: deleting wants the space's name typed, since it
// cannot be undone (other devices keep their copies, the relay does not).
import { h } from './dom.js';
import { explain, forget } from './session.js';

export function dataDialog(space, { name, onLeft }) {
  const said = h('p', { class: 'hint', 'aria-live': 'polite' });
  const say = (text) => (said.textContent = text);
  const canWrite = space.rights !== 'read';
  const isAdmin = space.rights === 'admin';

  function exportJSON() {
    download(new Blob([JSON.stringify(space.exportJSON(), null, 1)], { type: 'application/json' }), `${fileName(name())}.weft.json`);
    say('Exported.');
  }

  const file = h('input', { type: 'file', id: 'import-file', accept: 'application/json,.json', onchange: importJSON });
  async function importJSON() {
    const f = file.files?.[0];
    if (!f) return;
    try {
      const n = await space.importJSON(await f.text());
      say(`Imported ${n} document${n === 1 ? '' : 's'}.`);
    } catch (e) {
      say(explain(e, 'Importing'));
    } finally {
      file.value = '';
    }
  }

  const pass = h('input', { type: 'password', id: 'backup-pass-new', minLength: 8, autocomplete: 'new-password' });
  const pass2 = h('input', { type: 'password', id: 'backup-pass-again', autocomplete: 'new-password' });
  async function backupKeys() {
    if (pass.value.length < 8) return say('Choose a passphrase of at least 8 characters (four random words are better).');
    if (pass.value !== pass2.value) return say('The two passphrases differ.');
    try {
      say('Sealing the backup…');
      download(new Blob([await space.backup(pass.value)], { type: 'text/plain' }), `${fileName(name())}.weft-backup.txt`);
      pass.value = pass2.value = '';
      say('Key backup downloaded. Keep it and its passphrase apart.');
    } catch (e) {
      say(explain(e, 'Backing up'));
    }
  }

  const confirmLeave = h('input', { type: 'checkbox', id: 'confirm-leave', onchange: () => (leaveBtn.disabled = !confirmLeave.checked) });
  const leaveBtn = h('button', { type: 'button', disabled: true, onclick: leave }, 'Leave this space');
  async function leave() {
    try {
      forget(space.id);
      await space.leave();
      dialog.close();
      onLeft();
    } catch (e) {
      say(explain(e, 'Leaving'));
    }
  }

  const typed = h('input', { type: 'text', id: 'confirm-delete', autocomplete: 'off', oninput: () => (deleteBtn.disabled = typed.value.trim() !== name()) });
  const deleteBtn = h('button', { type: 'button', class: 'danger', disabled: true, onclick: destroy }, 'Delete everywhere');
  async function destroy() {
    deleteBtn.disabled = true;
    try {
      await space.deleteFromRelay();
      forget(space.id);
      await space.leave();
      dialog.close();
      onLeft();
    } catch (e) {
      say(explain(e, 'Deleting'));
      deleteBtn.disabled = false;
    }
  }

  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'data-title' },
    h('h2', { id: 'data-title' }, 'Your data'),
    h('h3', null, 'Back up keys'),
    h('p', null, 'This device\'s keys for this space, sealed under a passphrase: restore them on a new device ("Restore from backup" on the start screen) if this one is lost. Anyone with the file and the passphrase can open the space as you: use four or more random words.'),
    h('label', { htmlFor: 'backup-pass-new' }, 'Passphrase: '), pass, ' ',
    h('label', { htmlFor: 'backup-pass-again' }, 'Again: '), pass2, ' ',
    h('button', { type: 'button', onclick: backupKeys }, 'Back up keys'),
    h('h3', null, 'Export'),
    h('p', null, 'Every note and todo of this space as a JSON file you can keep or import elsewhere.'),
    h('button', { type: 'button', onclick: exportJSON }, 'Export JSON'),
    canWrite && [h('h3', null, 'Import'), h('label', { htmlFor: 'import-file' }, 'Add the documents of an export to this space: '), file],
    h('h3', null, 'Leave'),
    h('p', null, 'Removes this space and its keys from this device. Others keep their copies; you need a new invite to come back.'),
    h('label', { htmlFor: 'confirm-leave' }, confirmLeave, ' I understand'), ' ', leaveBtn,
    isAdmin && [
      h('h3', null, 'Delete everywhere'),
      h('p', null, 'You own this space: delete it on the relay, then on this device. Other people lose access to the relay copy; what their devices hold stays there. This cannot be undone.'),
      h('label', { htmlFor: 'confirm-delete' }, 'Type the space name to confirm: '), typed, ' ', deleteBtn,
    ],
    said,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', onclick: () => dialog.close() }, 'Close')));
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

function download(blob, file) {
  const a = h('a', { href: URL.createObjectURL(blob), download: file });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

function fileName(name) {
  return name.replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^-+|-+$/g, '') || 'space';
}
