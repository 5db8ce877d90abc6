// Tiny DOM helpers: the whole "framework" of the demo. h() builds elements
// from tag, properties and children; strings always become text nodes, so
// user content can never be parsed as HTML (no innerHTML anywhere).

/**
 * h('button', { class: 'x', onclick: fn, 'aria-label': 'Delete' }, 'text', child)
 * Keys starting with "on" add listeners; keys the element has as a property
 * (value, checked, disabled, hidden, htmlFor, ...) are set as properties;
 * the rest (aria-*, data-*, role, type, ...) as attributes. null, undefined
 * and false leave a key out.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && !k.includes('-')) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  el.append(...flat(children));
  return el;
}

/** Children as nodes: strings and numbers become text, null/false are skipped, arrays flatten. */
function flat(children) {
  const out = [];
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    out.push(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return out;
}

/** Replaces el's children. */
export function setChildren(el, ...children) {
  el.replaceChildren(...flat(children));
}

/** A short, readable time: "14:05" today, "3 Nov 14:05" before. */
export function when(ms) {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return today ? time : `${d.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}`;
}

/** A random id for new documents: time-ordered prefix + randomness. */
export function newId() {
  const rand = crypto.getRandomValues(new Uint8Array(6));
  return Date.now().toString(36) + '-' + Array.from(rand, (b) => b.toString(16).padStart(2, '0')).join('');
}
