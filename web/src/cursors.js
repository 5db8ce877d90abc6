// Where the others are in a note's body, in words: the editors
// (weftdb/prosemirror, weftdb/codemirror) send this device's selection in
// presence as anchors (weftdb's text.anchor: stable positions that follow
// everyone's edits) and draw the others' carets in their colours; this
// lists each other person's caret in the same note under the body with a
// few characters around it, resolved against the text as it is now
// (text.resolve), so it moves with their typing and stays put while others
// type before it.
import { h, setChildren } from './dom.js';
import { setPresence } from './presence.js';

const AROUND = 14; // characters shown on each side of a caret

/** A person's colour, the same on every device (a hue from their name). */
export function colorOf(name) {
  let x = 0;
  for (const c of String(name)) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return `hsl(${x % 360}, 70%, 38%)`;
}

/** Lists the others' carets in `text` in `el`. Returns an unbind function (which also withdraws this device's caret). */
export function showCursors(space, text, el) {
  const api = space.presence;
  if (!api || typeof api.on !== 'function') return () => {};
  const key = [text.collection, text.doc, text.field];
  const mine = (c) => Array.isArray(c?.text) && c.text.every((x, i) => x === key[i]);
  let peers = [];
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
      // Block markers are line breaks: show them as spaces on one line.
      const before = now.slice(Math.max(0, at - AROUND), at).replace(/\n/g, ' ');
      const after = now.slice(at, at + AROUND).replace(/\n/g, ' ');
      const color = typeof p.state?.color === 'string' ? p.state.color : null;
      rows.push(h('span', { class: 'note-cursor' }, h('strong', { style: color ? `color: ${color}` : null }, String(p.state?.name ?? 'someone')), ` ${before}▏${after}`));
    }
    el.hidden = rows.length === 0;
    setChildren(el, ...rows);
  };
  const offPeers = api.on((list) => {
    peers = list;
    render();
  });
  const offText = text.observe(render);
  return () => {
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
