// Where the others are in a note's body: this device's caret goes out in
// presence as anchors (weftdb's text.anchor: stable positions that follow
// everyone's edits), and each other person's caret in the same note is
// shown under the body with a few characters around it, resolved against
// the text as it is now (text.resolve), so it moves with their typing and
// stays put while others type before it.
import { h, setChildren } from './dom.js';
import { setPresence } from './presence.js';

const SEND_MS = 50; // at most 20 presence messages a second while typing
const AROUND = 14; // characters shown on each side of a caret

/** Binds the caret of `textarea` (bound to `text`) and shows the others' in `el`. Returns an unbind function. */
export function bindCursors(space, text, textarea, el) {
  const api = space.presence;
  if (!api || typeof api.on !== 'function') return () => {};
  const key = [text.collection, text.doc, text.field];
  const mine = (c) => Array.isArray(c?.text) && c.text.every((x, i) => x === key[i]);
  let timer = null;
  let peers = [];

  const send = () => {
    timer = null;
    try {
      setPresence(space, { cursor: { text: key, anchor: text.anchor(textarea.selectionStart), head: text.anchor(textarea.selectionEnd) } });
    } catch {
      // nothing typed yet (no text to point into)
    }
  };
  const later = () => {
    timer ??= setTimeout(send, SEND_MS);
  };
  const render = () => {
    const now = text.toString();
    const rows = [];
    for (const p of peers) {
      const c = p.state?.cursor;
      if (!mine(c)) continue;
      let at = null;
      try {
        at = text.resolve(c.head);
      } catch {
        continue; // not an anchor
      }
      if (at === null) continue; // their text has not reached us yet
      const before = now.slice(Math.max(0, at - AROUND), at);
      const after = now.slice(at, at + AROUND);
      rows.push(h('span', { class: 'note-cursor' }, h('strong', null, String(p.state?.name ?? 'someone')), ` ${before}▏${after}`));
    }
    el.hidden = rows.length === 0;
    setChildren(el, ...rows);
  };

  const events = ['select', 'keyup', 'mouseup', 'input', 'focus'];
  for (const e of events) textarea.addEventListener(e, later);
  const offPeers = api.on((list) => {
    peers = list;
    render();
  });
  const offText = text.observe(render);
  return () => {
    clearTimeout(timer);
    for (const e of events) textarea.removeEventListener(e, later);
    offPeers();
    offText();
    el.hidden = true;
    try {
      setPresence(space, { cursor: null });
    } catch {
      // the space closed first
    }
  };
}
