// Who else is here. weftdb does not expose presence yet (the relay forwards
// PRESENCE frames, but the package's sync link ignores them), so this shows
// nothing unless the space has a `presence` API: { set(state), on(fn) → off }
// where fn receives [{ author, state }] of the peers online now.
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
