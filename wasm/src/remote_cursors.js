// Other people's cursors for the editor bindings (codemirror.js,
// prosemirror.js): presence states carry a cursor as two anchors in one
// text; this resolves them against the text as it is now, so a caret stays
// with the characters it was at while others type.

/** The field's key in presence states: a cursor is drawn only in its own text. */
export function textKey(text) {
  return [text.collection, text.doc, text.field];
}

function sameKey(a, b) {
  return Array.isArray(a) && a.length === 3 && a.every((x, i) => x === b[i]);
}

/** A selection's background: the peer's colour at 20% (any CSS colour form). */
export function selectionStyle(color) {
  return `background: color-mix(in srgb, ${color} 20%, transparent)`;
}

/**
 * The peers' cursors in `text`, as text indices now; cursors in another text,
 * or whose anchors do not resolve (characters this replica has not seen yet,
 * or a malformed state), are left out.
 * @param {import('./text.js').Text} text
 * @param {{ author: string, state: any }[]} peers
 * @returns {{ author: string, anchor: number, head: number, color: string, name: string }[]}
 */
export function remoteCursors(text, peers) {
  const key = textKey(text);
  const out = [];
  for (const { author, state } of peers) {
    const c = state?.cursor;
    if (!c || !sameKey(c.text, key)) continue;
    let anchor, head;
    try {
      anchor = text.resolve(c.anchor);
      head = text.resolve(c.head);
    } catch {
      continue;
    }
    if (anchor === null || head === null) continue;
    const color = typeof state.color === 'string' ? state.color : '#e67e22';
    const name = typeof state.name === 'string' ? state.name : '';
    out.push({ author, anchor, head, color, name });
  }
  return out;
}
