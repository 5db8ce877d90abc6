// "Your devices": one person, several devices (weftdb's deviceCode and
// linkDevice, SECURITY.md "One person, several devices"). The first device
// shows its key; the new device (opened from an invite) turns that key into
// a code; the first device links the code. History then shows the person's
// name for either device, and the list here shows the person's devices.
import { h, setChildren } from './dom.js';
import { explain } from './session.js';

export function devicesDialog(space) {
  const said = h('p', { class: 'hint', 'aria-live': 'polite' });
  const say = (text) => (said.textContent = text);
  const mine = h('input', { id: 'my-device-key', type: 'text', readOnly: true, value: space.author });
  const first = h('input', { id: 'first-device-key', type: 'text', autocomplete: 'off' });
  const made = h('input', { id: 'device-code', type: 'text', readOnly: true });
  const pasted = h('input', { id: 'device-code-in', type: 'text', autocomplete: 'off' });
  const list = h('ul', { class: 'space-list' });

  const render = () => {
    const me = space.members.find((m) => m.key === space.author);
    const person = me?.person ?? space.author;
    const devices = space.members.filter((m) => m.person === person && m.state !== 'removed');
    setChildren(list, devices.length > 1
      ? devices.map((m) => h('li', null, m.key === space.author ? `${m.key.slice(0, 10)}… (this device)` : `${m.key.slice(0, 10)}…`))
      : h('li', null, 'Only this device so far.'));
  };

  function makeCode(ev) {
    ev.preventDefault();
    try {
      made.value = space.deviceCode(first.value.trim());
      made.select();
      say('Enter this code on your first device, under "Link a new device".');
    } catch (e) {
      say(explain(e, 'Making the code'));
    }
  }

  async function link(ev) {
    ev.preventDefault();
    try {
      await space.linkDevice(pasted.value.trim());
      pasted.value = '';
      say('Linked: the new device now shows as you.');
    } catch (e) {
      say(e?.code === 'WEFT_ECRYPTO' ? 'Linking: this code was made for another device\'s key.' : explain(e, 'Linking'));
    }
  }

  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'devices-title' },
    h('h2', { id: 'devices-title' }, 'Your devices'),
    h('p', null, 'Each device writes with a key of its own; linking says they are one person.'),
    list,
    h('h3', null, 'Link a new device'),
    h('p', null, 'Open this space on the new device (with an invite link), then give it this device\'s key:'),
    h('label', { htmlFor: 'my-device-key' }, 'This device\'s key'), mine,
    h('form', { onsubmit: link },
      h('label', { htmlFor: 'device-code-in' }, 'Code from the new device'), pasted,
      h('button', { type: 'submit' }, 'Link')),
    h('h3', null, 'This is a new device'),
    h('form', { onsubmit: makeCode },
      h('label', { htmlFor: 'first-device-key' }, 'Key of your first device'), first,
      h('button', { type: 'submit' }, 'Make code')),
    h('label', { htmlFor: 'device-code' }, 'Code for your first device'), made,
    said,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', onclick: () => dialog.close() }, 'Close')));
  render();
  const off = space.on('members', render);
  dialog.addEventListener('close', () => {
    off();
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
}
