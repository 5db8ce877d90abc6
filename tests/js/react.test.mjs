// weftdb/react (wasm/src/react.js) in Node with happy-dom and React Testing
// Library: hooks hand out stable snapshots, so only the components whose
// rows changed re-render (render counts asserted); a server render shows
// the loading state; SpaceProvider opens and closes a space.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { register } from 'node:module';
import { GlobalRegistrator } from '@happy-dom/global-registrator';

register('./fixtures/resolve-from-tests.mjs', import.meta.url);
GlobalRegistrator.register();
globalThis.IS_REACT_ACT_ENVIRONMENT = true;

const React = await import('react');
const { renderToString } = await import('react-dom/server');
const { render, act, cleanup } = await import('@testing-library/react');
const { createSpace, openSpace, LEVEL_LISTS } = await import('../../wasm/src/index.js');
const { SpaceProvider, useSpace, useQuery, useIds, useDoc, useList, useText, useStatus, usePresence, useMembers, useRights } = await import('../../wasm/src/react.js');

const h = React.createElement;
const settle = () => act(() => new Promise((r) => setTimeout(r, 10)));

// React reports an unstable getSnapshot (and other misuse) through console.error.
const reactErrors = [];
const realError = console.error;
before(() => {
  console.error = (...args) => {
    reactErrors.push(args.map(String).join(' '));
    realError(...args);
  };
});
after(async () => {
  console.error = realError;
  cleanup();
  await GlobalRegistrator.unregister();
});

function counter() {
  const n = new Map();
  return { hit: (k) => n.set(k, (n.get(k) ?? 0) + 1), get: (k) => n.get(k) ?? 0, all: () => Object.fromEntries(n) };
}

test('useQuery: one row changes, only its row component and the list re-render', async () => {
  const space = await createSpace({ storage: 'memory' });
  const todos = space.collection('todos');
  await space.transact(() => {
    for (let i = 0; i < 100; i++) todos.put(`t${String(i).padStart(3, '0')}`, { title: `task ${i}`, done: false });
  });
  const count = counter();
  const Row = React.memo(function Row({ row }) {
    count.hit(row.id);
    return h('li', null, `${row.data.title}${row.data.done ? ' ✓' : ''}`);
  });
  const query = { where: { done: false } };
  function List() {
    count.hit('list');
    const rows = useQuery('todos', query);
    if (!rows) return h('p', null, 'loading');
    return h('ul', null, rows.map((r) => h(Row, { key: r.id, row: r })));
  }
  const view = render(h(SpaceProvider, { space }, h(List)));
  await settle();
  assert.equal(view.container.querySelectorAll('li').length, 100);
  assert.equal(count.get('list'), 1, 'the list rendered once (the subscription found nothing new)');
  assert.equal(count.get('t005'), 1);

  await act(() => todos.update('t005', { title: 'task five' }));
  await settle();
  assert.equal(count.get('list'), 2);
  assert.equal(count.get('t005'), 2);
  assert.equal(count.get('t006'), 1, 'an unchanged row does not re-render');
  assert.match(view.container.textContent, /task five/);

  // A change outside the results (another collection; a row that stays filtered out) renders nothing.
  await act(() => space.collection('other').put('x', { v: 1 }));
  await act(() => todos.update('t007', { done: true }));
  await settle();
  assert.equal(count.get('list'), 3, 't007 left the results: one list render');
  assert.equal(view.container.querySelectorAll('li').length, 99);
  await act(() => todos.update('t007', { note: 'still done' }));
  await settle();
  assert.equal(count.get('list'), 3, 'a row outside the results changed: no render');
  assert.equal(count.get('t000'), 1);
  view.unmount();
  await space.close();
  assert.deepEqual(reactErrors, []);
});

test('useDoc: components of other documents do not re-render; a missing document is undefined', async () => {
  const space = await createSpace({ storage: 'memory' });
  const c = space.collection('notes');
  for (let i = 0; i < 20; i++) c.put(`n${i}`, { title: `note ${i}` });
  await space.flush();
  const count = counter();
  function Item({ id }) {
    count.hit(id);
    const doc = useDoc('notes', id);
    return h('p', null, doc ? doc.title : `${id} missing`);
  }
  const ids = [...Array.from({ length: 20 }, (_, i) => `n${i}`), 'nope'];
  const view = render(h(SpaceProvider, { space }, ids.map((id) => h(Item, { key: id, id }))));
  await settle();
  assert.match(view.container.textContent, /nope missing/);
  assert.equal(count.get('n3'), 1);
  await act(() => c.update('n3', { title: 'three' }));
  await act(() => c.put('nope', { title: 'now here' }));
  await settle();
  assert.deepEqual([count.get('n3'), count.get('nope'), count.get('n4'), count.get('n0')], [2, 2, 1, 1]);
  assert.match(view.container.textContent, /three/);
  assert.match(view.container.textContent, /now here/);
  await act(() => c.delete('n4'));
  await settle();
  assert.match(view.container.textContent, /n4 missing/);
  view.unmount();
  await space.close();
  assert.deepEqual(reactErrors, []);
});

test('useIds + useDoc: a field change re-renders one row, not the list; a new id re-renders the list', async () => {
  const space = await createSpace({ storage: 'memory' });
  const c = space.collection('todos');
  for (let i = 0; i < 50; i++) c.put(`t${String(i).padStart(2, '0')}`, { title: `task ${i}` });
  await space.flush();
  const count = counter();
  const Item = React.memo(function Item({ id }) {
    count.hit(id);
    const doc = useDoc(c, id);
    return h('li', null, doc?.title);
  });
  function List() {
    count.hit('list');
    const ids = useIds(c);
    return ids ? h('ul', null, ids.map((id) => h(Item, { key: id, id }))) : null;
  }
  const view = render(h(SpaceProvider, { space }, h(List)));
  await settle();
  assert.equal(view.container.querySelectorAll('li').length, 50);
  await act(() => c.update('t10', { title: 'ten' }));
  await settle();
  assert.deepEqual([count.get('list'), count.get('t10'), count.get('t11')], [1, 2, 1]);
  await act(() => c.put('t99', { title: 'new' }));
  await settle();
  assert.deepEqual([count.get('list'), count.get('t99'), count.get('t11')], [2, 1, 1]);
  assert.equal(view.container.querySelectorAll('li').length, 51);
  view.unmount();
  await space.close();
  assert.deepEqual(reactErrors, []);
});

test('useText, useStatus, usePresence and useSpace follow their space', async () => {
  const space = await createSpace({ storage: 'memory' });
  const seen = {};
  function View() {
    const s = useSpace();
    const body = useText('notes', 'n1', 'body');
    const status = useStatus();
    const peers = usePresence();
    Object.assign(seen, { id: s?.id, body, status, peers });
    return h('div', null, body ?? '');
  }
  const view = render(h(SpaceProvider, { space }, h(View)));
  await settle();
  assert.equal(seen.id, space.id);
  assert.equal(seen.body, '');
  assert.deepEqual(seen.status, { state: 'offline', pending: 0, uploads: 0 });
  assert.deepEqual(seen.peers, []);
  await act(() => space.text('notes', 'n1', 'body').insert(0, 'hello'));
  await settle();
  assert.equal(view.container.textContent, 'hello');
  assert.deepEqual(seen.status, { state: 'offline', pending: 0, uploads: 0 });
  const [status, peers] = [seen.status, seen.peers];
  view.rerender(h(SpaceProvider, { space }, h(View)));
  assert.equal(seen.status, status, 'status is the same object while it is the same');
  assert.equal(seen.peers, peers);
  view.unmount();
  await space.close();
  assert.deepEqual(reactErrors, []);
});

// useList follows a real list (space.list, docs/LISTS.md): the array is
// stable while nothing changes, a local push and a move re-render it, and
// unmounting stops observing.
test('useMembers follows grants and removals, the same array while nothing changes', async () => {
  const space = await createSpace({ storage: 'memory' });
  const [a, b] = [await createSpace({ storage: 'memory' }), await createSpace({ storage: 'memory' })];
  const renders = counter();
  let seen;
  function Members() {
    seen = useMembers();
    renders.hit('members');
    return h('ul', null, (seen ?? []).map((m) => h('li', { key: m.key }, `${m.rights} ${m.state}`)));
  }
  const view = render(h(SpaceProvider, { space }, h(Members)));
  await settle();
  assert.deepEqual(seen.map((m) => [m.owner, m.state]), [[true, 'member']]);
  await act(() => space.grant(a.author, 'write'));
  await act(() => space.grant(b.author, 'read'));
  await settle();
  const byKey = (k) => seen.find((m) => m.key === k);
  assert.equal(byKey(a.author).rights, 'write');
  assert.equal(byKey(b.author).rights, 'read');
  assert.equal(view.container.querySelectorAll('li').length, 3);
  const before = seen, n = renders.get('members');
  await act(() => space.collection('notes').put('n1', { t: 'x' })); // not a membership change
  await settle();
  assert.equal(seen, before, 'the same array while the members are the same');
  assert.equal(renders.get('members'), n);
  await act(() => space.remove(a.author));
  await settle();
  assert.equal(byKey(a.author).state, 'removed');
  assert.notEqual(seen, before);
  view.unmount();
  for (const s of [space, a, b]) await s.close();
  assert.deepEqual(reactErrors, []);
});

test('useRights follows this device\'s rights as a grant arrives', async () => {
  const owner = await createSpace({ storage: 'memory' });
  const link = await owner.invite({ rights: 'read', uses: 1 });
  const member = await openSpace({ invite: link, storage: 'memory' });
  // The owner's records, handed over as the relay would.
  for (const r of owner._internal.meta.memberRecords) await member._internal.takeMember(r);
  let seen;
  function Rights() {
    seen = useRights();
    return h('p', null, seen);
  }
  const view = render(h(SpaceProvider, { space: member }, h(Rights)));
  await settle();
  assert.equal(seen, 'read');
  await act(() => owner.grant(member.author, 'admin'));
  const fresh = owner._internal.meta.memberRecords.slice(-1);
  await act(() => member._internal.takeMember(fresh[0]));
  await settle();
  assert.equal(seen, 'admin');
  assert.equal(view.container.textContent, 'admin');
  view.unmount();
  for (const s of [owner, member]) await s.close();
  assert.deepEqual(reactErrors, []);
});

test('useList follows a list through toArray and observe, with a stable array', async () => {
  const space = await createSpace({ storage: 'memory' });
  await space.raiseFormatLevel(LEVEL_LISTS);
  const list = space.list('boards', 'b1', 'cards');
  await list.push('a', 'b');
  const seen = [];
  function Cards() {
    const cards = useList('boards', 'b1', 'cards');
    seen.push(cards);
    return h('ol', null, (cards ?? []).map((c) => h('li', { key: c }, c)));
  }
  const view = render(h(SpaceProvider, { space }, h(Cards)));
  await settle();
  assert.equal(view.container.textContent, 'ab');
  await act(async () => space.collection('other').put('x', { n: 1 }));
  assert.equal(new Set(seen).size, 1, 'one array while the list did not change');
  await act(async () => list.push('c'));
  assert.equal(view.container.textContent, 'abc');
  await act(async () => list.move(2, 0));
  assert.equal(view.container.textContent, 'cab');
  view.unmount();
  cleanup();
  await space.close();
});

test('server render: the hooks show the loading state; SpaceProvider open() opens on the client and closes on unmount', async () => {
  function App() {
    const rows = useQuery('todos');
    return rows ? h('p', null, `${rows.length} todos`) : h('p', null, 'loading');
  }
  let opened = null;
  const open = async () => {
    const s = await createSpace({ storage: 'memory' });
    await s.collection('todos').put('a', { title: 'a' });
    opened = s;
    return s;
  };
  assert.equal(renderToString(h(SpaceProvider, { open }, h(App))), '<p>loading</p>');
  assert.equal(opened, null, 'the server render opens nothing');

  const view = render(h(SpaceProvider, { open }, h(App)));
  assert.equal(view.container.textContent, 'loading');
  await settle();
  await settle();
  assert.equal(view.container.textContent, '1 todos');
  view.unmount();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(opened.closed, true);
  // A space given by the app is the app's to close.
  const mine = await createSpace({ storage: 'memory' });
  render(h(SpaceProvider, { space: mine }, h(App))).unmount();
  assert.equal(mine.closed, false);
  await mine.close();
  assert.deepEqual(reactErrors, []);
});
