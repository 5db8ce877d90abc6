// The todo list: add, tick, delete. One document per todo in the `todos`
// collection; ticking is a one-field update, so it merges with a
// concurrent rename of the same todo.
import { h, setChildren, newId } from './dom.js';

export function todosView(space, { readOnly, report }) {
  const todos = space.collection('todos');
  const input = h('input', { id: 'new-todo', type: 'text', maxLength: 300, autocomplete: 'off', placeholder: 'Buy milk', disabled: readOnly });
  const form = h('form', { class: 'add-todo', onsubmit: add },
    h('label', { htmlFor: 'new-todo' }, 'New todo'), input,
    h('button', { type: 'submit', class: 'primary', disabled: readOnly }, 'Add'));
  const list = h('ul', { class: 'todo-list', 'aria-label': 'Todos' });
  const left = h('p', { class: 'todo-count', 'aria-live': 'polite' });
  const el = h('section', { class: 'todos', 'aria-label': 'Todos' }, form, list, left);

  function add(ev) {
    ev.preventDefault();
    const title = input.value.trim();
    if (!title) return;
    input.value = '';
    todos.put(newId(), { title, done: false, created: Date.now() }).catch((e) => report(e, 'Adding the todo'));
  }

  function row({ id, data }) {
    const box = h('input', {
      type: 'checkbox', id: `todo-${id}`, checked: !!data.done, disabled: readOnly,
      onchange: (ev) => todos.update(id, { done: ev.target.checked }).catch((e) => report(e, 'Updating the todo')),
    });
    const del = h('button', {
      type: 'button', class: 'icon danger', disabled: readOnly, 'aria-label': `Delete “${data.title}”`,
      onclick: () => {
        todos.delete(id).catch((e) => report(e, 'Deleting the todo'));
        input.focus();
      },
    }, '✕');
    return h('li', { class: data.done ? 'done' : null }, box, h('label', { htmlFor: `todo-${id}` }, String(data.title ?? '')), del);
  }

  const off = todos.subscribe({ orderBy: ['created', 'title'] }, (rows) => {
    // Keep keyboard focus on the same control across a re-render.
    const focused = document.activeElement?.closest?.('.todo-list li') ? document.activeElement.id : null;
    setChildren(list, rows.map(row));
    if (focused) document.getElementById(focused)?.focus();
    const open = rows.filter((r) => !r.data.done).length;
    left.textContent = rows.length ? `${open} of ${rows.length} left` : 'Nothing to do.';
  });
  return { el, close: off };
}
