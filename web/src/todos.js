// The todo list: add, tick, delete, reorder. One document per todo in the
// `todos` collection; ticking is a one-field update, so it merges with a
// concurrent rename of the same todo. The order is a list of todo ids
// (space.list, docs/LISTS.md) in document `todos` of collection `lists`:
// two people dragging todos at once both keep their moves, and a todo
// dragged by both ends in one place. Reordering: drag a row, or focus it
// and press Alt+ArrowUp / Alt+ArrowDown.
import { h, setChildren, newId } from './dom.js';

/** The format level that adds lists (weftdb's LEVEL_LISTS). */
const LEVEL_LISTS = 3;

export function todosView(space, { readOnly, report }) {
  const todos = space.collection('todos');
  const order = space.list('lists', 'todos', 'order');
  // Below the lists level the order cannot be a list: its owner or an
  // admin raises the level once; other members keep the creation order.
  const canOrder = () => !readOnly && space.formatLevel >= LEVEL_LISTS;
  if (!readOnly && space.formatLevel < LEVEL_LISTS && space.rights === 'admin')
    space.raiseFormatLevel(LEVEL_LISTS).catch((e) => report(e, 'Enabling reordering'));

  const input = h('input', { id: 'new-todo', type: 'text', maxLength: 300, autocomplete: 'off', placeholder: 'Buy milk', disabled: readOnly });
  const form = h('form', { class: 'add-todo', onsubmit: add },
    h('label', { htmlFor: 'new-todo' }, 'New todo'), input,
    h('button', { type: 'submit', class: 'primary', disabled: readOnly }, 'Add'));
  const list = h('ul', { class: 'todo-list', 'aria-label': 'Todos', 'aria-describedby': 'todo-help' });
  const help = h('p', { id: 'todo-help', class: 'todo-help' }, 'Drag a todo, or press Alt+↑ / Alt+↓ on it, to reorder.');
  const left = h('p', { class: 'todo-count', 'aria-live': 'polite' });
  const said = h('p', { class: 'visually-hidden', 'aria-live': 'assertive' });
  const el = h('section', { class: 'todos', 'aria-label': 'Todos' }, form, help, list, left, said);
  let rows = [];

  function add(ev) {
    ev.preventDefault();
    const title = input.value.trim();
    if (!title) return;
    input.value = '';
    const id = newId();
    const done = canOrder()
      ? space.transact(() => {
        todos.put(id, { title, done: false, created: Date.now() });
        order.push(id);
      })
      : todos.put(id, { title, done: false, created: Date.now() });
    done.catch((e) => report(e, 'Adding the todo'));
  }

  function remove(id) {
    const at = order.toArray().indexOf(id);
    const done = canOrder() && at >= 0
      ? space.transact(() => {
        todos.delete(id);
        order.delete(at);
      })
      : todos.delete(id);
    done.catch((e) => report(e, 'Deleting the todo'));
  }

  /** Moves todo `id` to where the todo `to` is now (in the list of ids). */
  function move(id, toId, title) {
    const ids = order.toArray();
    const from = ids.indexOf(id), to = ids.indexOf(toId);
    if (!canOrder() || from < 0 || to < 0 || from === to) return;
    order.move(from, to).catch((e) => report(e, 'Moving the todo'));
    said.textContent = `Moved “${title}” to position ${to + 1} of ${ids.length}.`;
  }

  let dragged = null;
  function row({ id, data }, i) {
    const title = String(data.title ?? '');
    const box = h('input', {
      type: 'checkbox', id: `todo-${id}`, checked: !!data.done, disabled: readOnly,
      onchange: (ev) => todos.update(id, { done: ev.target.checked }).catch((e) => report(e, 'Updating the todo')),
    });
    const del = h('button', {
      type: 'button', class: 'icon danger', disabled: readOnly, 'aria-label': `Delete “${title}”`,
      onclick: () => {
        remove(id);
        input.focus();
      },
    }, '✕');
    const ordered = canOrder() && order.toArray().includes(id);
    const grip = ordered && h('span', { class: 'grip', 'aria-hidden': 'true', title: 'Drag to reorder' }, '⠿');
    const li = h('li', {
      class: data.done ? 'done' : null, 'data-id': id, draggable: ordered ? 'true' : null,
      onkeydown: (ev) => {
        if (!ordered || !ev.altKey || (ev.key !== 'ArrowUp' && ev.key !== 'ArrowDown')) return;
        ev.preventDefault();
        const next = rows[i + (ev.key === 'ArrowUp' ? -1 : 1)];
        if (next) move(id, next.id, title);
      },
      ondragstart: (ev) => {
        dragged = id;
        ev.dataTransfer.effectAllowed = 'move';
        ev.dataTransfer.setData('text/plain', id);
        li.classList.add('dragging');
      },
      ondragend: () => li.classList.remove('dragging'),
      ondragover: (ev) => {
        if (dragged && dragged !== id) ev.preventDefault(); // a drop target
      },
      ondrop: (ev) => {
        ev.preventDefault();
        const from = dragged ?? ev.dataTransfer.getData('text/plain');
        dragged = null;
        const fromRow = rows.find((r) => r.id === from);
        if (fromRow) move(from, id, String(fromRow.data.title ?? ''));
      },
    }, grip, box, h('label', { htmlFor: `todo-${id}` }, title), del);
    return li;
  }

  /** The todos in the list's order; todos the list lacks (older apps, lower levels) after, by creation. */
  function ordered(byCreation) {
    const byId = new Map(byCreation.map((r) => [r.id, r]));
    const out = [];
    for (const id of order.toArray()) {
      const r = byId.get(id);
      if (r) {
        out.push(r);
        byId.delete(id); // an id twice in the list shows once
      }
    }
    for (const r of byCreation) if (byId.has(r.id)) out.push(r);
    return out;
  }

  let latest = [];
  function render() {
    rows = ordered(latest);
    // Keep keyboard focus on the same control across a re-render.
    const focused = document.activeElement?.closest?.('.todo-list li');
    const focusId = focused ? document.activeElement.id || null : null;
    const focusRow = focused?.dataset.id;
    setChildren(list, rows.map(row));
    if (focusId) document.getElementById(focusId)?.focus();
    else if (focusRow) list.querySelector(`li[data-id="${CSS.escape(focusRow)}"]`)?.focus();
    const open = rows.filter((r) => !r.data.done).length;
    left.textContent = rows.length ? `${open} of ${rows.length} left` : 'Nothing to do.';
  }

  const offRows = todos.subscribe({ orderBy: ['created', 'title'] }, (r) => {
    latest = r;
    render();
  });
  const offOrder = order.observe(render);
  const offLevel = space.on('formatLevel', render);
  return {
    el,
    close: () => {
      offRows();
      offOrder();
      offLevel();
    },
  };
}
