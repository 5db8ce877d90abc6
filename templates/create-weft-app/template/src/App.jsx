// The todo list: a live query (useQuery) renders the todos, each row a
// memo component that re-renders only when its own todo changes.
import { memo, useState } from 'react';
import { useQuery, useSpace, useStatus } from 'weftdb/react';
import { leave, shareLink } from './space.js';

const ORDER = { orderBy: 'created' };

export function App() {
  const space = useSpace();
  const todos = useQuery('todos', ORDER);
  const status = useStatus();
  const [link, setLink] = useState('');
  const [problem, setProblem] = useState('');
  if (!space || !todos) return <p>Opening…</p>;

  const add = (e) => {
    e.preventDefault();
    const input = e.currentTarget.elements.title;
    // The schema (src/schema.js) checks the todo; a refused one writes nothing.
    space
      .collection('todos')
      .put(crypto.randomUUID(), { title: input.value, created: Date.now() })
      .then(() => setProblem(''), (err) => setProblem(err.issues?.[0]?.message ?? err.message));
    input.value = '';
  };
  const forget = async () => {
    if (!confirm('Forget this list on this device? Others keep their copies.')) return;
    await leave(space);
    location.reload();
  };

  return (
    <main>
      <h1>Todos</h1>
      <p className="status">
        sync: <span data-testid="status">{status?.state}</span>
        {status?.pending ? ` (${status.pending} to send)` : ''}
      </p>
      <form onSubmit={add}>
        <input name="title" placeholder="What needs doing?" autoComplete="off" />
        <button>Add</button>
      </form>
      {problem && <p role="alert">{problem}</p>}
      <ul>
        {todos.map((row) => (
          <Todo key={row.id} row={row} />
        ))}
      </ul>
      <p>
        <button onClick={() => setLink(shareLink(space))}>Share</button>
        {link && <input readOnly data-testid="link" value={link} onFocus={(e) => e.target.select()} />}
      </p>
      <p>
        <button onClick={forget}>Leave this list</button>
      </p>
    </main>
  );
}

const Todo = memo(function Todo({ row }) {
  const space = useSpace();
  const todos = space.collection('todos');
  return (
    <li>
      <label>
        <input type="checkbox" checked={row.data.done} onChange={(e) => todos.update(row.id, { done: e.target.checked })} />
        <span className={row.data.done ? 'done' : ''}>{row.data.title}</span>
      </label>{' '}
      <button aria-label={`delete ${row.data.title}`} onClick={() => todos.delete(row.id)}>
        ×
      </button>
    </li>
  );
});
