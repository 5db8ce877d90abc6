// "Your data": export the space as JSON, import an export, leave the space
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
    const blob = new Blob([JSON.stringify(space.exportJSON(), null, 1)], { type: 'application/json' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `${fileName(name())}.weft.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
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

function fileName(name) {
  return name.replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^-+|-+$/g, '') || 'space';
}
