// Who else is here: weftdb's space.presence ({ set(state), on(fn) → off },
// docs/API.md "Presence"), sent through the relay sealed with the space's
// content key; fn receives [{ author, state }] of the peers online now. A
// space without it (an older weftdb) shows nothing.
import { h } from './dom.js';

const states = new WeakMap(); // space -> this device's presence state

/**
 * Merges `partial` into this device's presence state in `space` and sends
 * it (the name from presenceList, the note caret from cursors.js).
 */
export function setPresence(space, partial) {
  const api = space.presence;
  if (!api || typeof api.set !== 'function') return;
  const state = { ...states.get(space), ...partial };
  states.set(space, state);
  api.set(state);
}

export function presenceList(space, me) {
  const el = h('span', { class: 'presence', 'aria-live': 'polite', hidden: true });
  const api = space.presence;
  if (!api || typeof api.on !== 'function') return { el, close() {} };
  setPresence(space, { name: me() });
  const off = api.on((peers) => {
    const names = peers.map((p) => String(p.state?.name ?? 'someone'));
    el.hidden = names.length === 0;
    el.textContent = names.length ? `Also here: ${names.join(', ')}` : '';
  });
  return { el, close: off };
}
