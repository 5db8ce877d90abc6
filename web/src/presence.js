// Who else is here: weftdb's space.presence ({ set(state), on(fn) → off },
// docs/API.md "Presence"), sent through the relay sealed with the space's
// content key; fn receives [{ author, state }] of the peers online now. A
// space without it (an older weftdb) shows nothing.
import { h } from './dom.js';

export function presenceList(space, me) {
  const el = h('span', { class: 'presence', 'aria-live': 'polite', hidden: true });
  const api = space.presence;
  if (!api || typeof api.on !== 'function') return { el, close() {} };
  api.set({ name: me() });
  const off = api.on((peers) => {
    const names = peers.map((p) => String(p.state?.name ?? 'someone'));
    el.hidden = names.length === 0;
    el.textContent = names.length ? `Also here: ${names.join(', ')}` : '';
  });
  return { el, close: off };
}
