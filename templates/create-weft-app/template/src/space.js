// Which space this browser shows: the one of an invite link in the URL's
// fragment (joining it), else the one it opened last, else a new one. The
// invite leaves the address bar once used: it holds the space's key.
import { createSpace, openSpace } from 'weftdb';
import { RELAY } from './config.js';
import { Todo } from './schema.js';

const LAST = 'weft-app:space';

export async function openTheSpace() {
  const opts = { relay: RELAY }; // storage: IndexedDB, the browser default
  let space;
  if (location.hash.length > 1) {
    space = await openSpace({ ...opts, invite: location.href });
    history.replaceState(null, '', location.pathname + location.search);
  } else if (localStorage.getItem(LAST)) {
    space = await openSpace({ ...opts, space: localStorage.getItem(LAST) });
  } else {
    space = await createSpace(opts);
  }
  localStorage.setItem(LAST, space.id);
  space.collection('todos', { schema: Todo }); // every later space.collection('todos') is checked
  return space;
}

/** A link that lets whoever opens it read and write this space. */
export function shareLink(space) {
  return space.invite({ rights: 'write', base: location.origin + location.pathname + location.search });
}

/** Forgets the space on this device (the next load starts a new one). */
export async function leave(space) {
  localStorage.removeItem(LAST);
  await space.leave();
}
