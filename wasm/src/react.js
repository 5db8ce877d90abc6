// weftdb/react: React bindings (React is a peer dependency of this entry
// point only; `import 'weftdb'` never loads React).
//
//   <SpaceProvider space={space}>…</SpaceProvider>   or   open={() => openSpace(…)}
//   const todos = useQuery('todos', { where: { done: false }, orderBy: 'title' });
//   const todo = useDoc('todos', id);
//   const ids = useIds('todos', query);    // big lists: rows read their own useDoc
//   const items = useList('boards', 'b1', 'cards');   // a list field (space.list)
//
// Every hook is useSyncExternalStore over one of the space's own
// notifications (live queries, 'change', 'status', text observers,
// presence), and every snapshot is stable: the same object (===) until what
// it shows changes. Rows and documents are weftdb's frozen, cached objects,
// so a React.memo row component re-renders only when its own row changed.
// While there is no space yet (it is opening, or this is a server render)
// the hooks return undefined: render a loading state for it.
import { createContext, createElement, useContext, useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { WeftError } from './errors.js';

const SpaceContext = createContext(/** @type {import('./space.js').Space | null} */ (null));

/**
 * Provides a space to the hooks below it: `space` (an open Space, or null
 * while loading), or `open`, a function returning a promise of one, which
 * the provider calls once on the client and closes on unmount. onError
 * gets a failed open.
 */
export function SpaceProvider({ space = null, open = null, onError = null, children }) {
  const [opened, setOpened] = useState(null);
  useEffect(() => {
    if (!open) return undefined;
    let live = true;
    let got = null;
    Promise.resolve()
      .then(open)
      .then(
        (s) => {
          got = s;
          if (live) setOpened(s);
          else s.close();
        },
        (e) => {
          if (live && onError) onError(e);
          else if (live) console.error('weftdb/react: opening the space failed:', e);
        },
      );
    return () => {
      live = false;
      setOpened(null);
      got?.close();
    };
    // open runs once per mount: a new function each render is the usual case.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return createElement(SpaceContext.Provider, { value: space ?? opened }, children);
}

/** The space of the nearest SpaceProvider, or null while it loads (and on the server). */
export function useSpace() {
  return useContext(SpaceContext);
}

// ---- stores: { subscribe, getSnapshot } objects, cached per space ----

const NONE = { subscribe: () => () => {}, getSnapshot: () => undefined };
const serverSnapshot = () => undefined;

/** Per space, per key: one store, shared by every component that uses it while any does. */
const stores = new WeakMap();

function cached(space, key, make) {
  let m = stores.get(space);
  if (!m) stores.set(space, (m = new Map()));
  let s = m.get(key);
  if (!s) m.set(key, (s = make(() => m.get(key) === s && m.delete(key))));
  return s;
}

/**
 * A store of one value: `read()` gives it now; `watch(set)` starts a
 * notification that calls set(next) and returns its stop. The value is
 * kept (and handed out again, ===) while `same` says nothing changed. The
 * watch runs while the store has a subscriber; the last one leaving stops
 * it and drops the store from the cache.
 */
function liveStore(space, key, { read, watch, same = Object.is }) {
  return cached(space, key, (uncache) => {
    let value;
    let has = false;
    let stop = null;
    const listeners = new Set();
    const set = (next) => {
      if (has && same(value, next)) return;
      value = next;
      has = true;
      for (const l of [...listeners]) l();
    };
    return {
      subscribe(fn) {
        listeners.add(fn);
        if (!stop) {
          stop = watch(set);
          set(read()); // what changed between the render and now
        }
        return () => {
          listeners.delete(fn);
          if (listeners.size || !stop) return;
          stop();
          stop = null;
          has = false;
          value = undefined;
          uncache();
        };
      },
      getSnapshot() {
        if (!has) {
          value = read();
          has = true;
        }
        return value;
      },
    };
  });
}

function useStore(store) {
  return useSyncExternalStore(store.subscribe, store.getSnapshot, serverSnapshot);
}

function collectionOf(space, coll) {
  if (typeof coll === 'string') return space.collection(coll);
  if (coll && typeof coll.query === 'function' && typeof coll.name === 'string') return coll;
  throw new WeftError('WEFT_EINVAL', 'a collection is its name or space.collection(name)');
}

// Query keys: JSON, with a where function named by its identity (so an
// inline arrow function subscribes anew on each render: keep it stable).
const fnIds = new WeakMap();
let nextFnId = 0;
function queryKey(q) {
  return JSON.stringify(q ?? {}, (k, v) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v instanceof Uint8Array) return `bytes:${[...v].join(',')}`;
    if (typeof v === 'function') {
      if (!fnIds.has(v)) fnIds.set(v, ++nextFnId);
      return `fn:${fnIds.get(v)}`;
    }
    return v;
  });
}

/** Same rows, in the same order, same cursor: the live query's new array says nothing new. */
function sameRows(a, b) {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length || a.cursor !== b.cursor) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The rows of a live query ({ where, orderBy, limit, after }) on `coll` (a
 * name or a Collection), or undefined while loading. The array is the same
 * (===) until the results change; each row until its document changes.
 */
export function useQuery(coll, query = undefined) {
  const space = useSpace();
  const c = space && !space.closed ? collectionOf(space, coll) : null;
  const key = c ? `q\0${c.name}\0${queryKey(query)}` : '';
  const store = useMemo(() => {
    if (!c) return NONE;
    const q = query ?? {};
    return liveStore(space, key, { read: () => c.query(q), watch: (set) => c.subscribe(q, set), same: sameRows });
    // key stands for query's content.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [space, c, key]);
  return useStore(store);
}

/**
 * The ids of a live query's rows, in order: the same array until the set
 * or order of ids changes, so a big list whose rows each read their own
 * document (useDoc) does not re-render when one document's fields change.
 */
export function useIds(coll, query = undefined) {
  const space = useSpace();
  const c = space && !space.closed ? collectionOf(space, coll) : null;
  const key = c ? `i\0${c.name}\0${queryKey(query)}` : '';
  const store = useMemo(() => {
    if (!c) return NONE;
    const q = query ?? {};
    const ids = (rows) => rows.map((r) => r.id);
    return liveStore(space, key, { read: () => ids(c.query(q)), watch: (set) => c.subscribe(q, (rows) => set(ids(rows))), same: sameIds });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [space, c, key]);
  return useStore(store);
}

/** Same length and the same items (===) in order. */
function sameIds(a, b) {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/** Per space: one 'change' listener that tells the watchers of each document. */
function docWatch(space) {
  return cached(space, 'docs', () => {
    const byKey = new Map();
    let off = null;
    return {
      add(k, fn) {
        if (!byKey.has(k)) byKey.set(k, new Set());
        byKey.get(k).add(fn);
        off ??= space.on('change', (e) => {
          for (const [c, d] of e.docs) for (const f of byKey.get(c + '\0' + d) ?? []) f();
        });
        return () => {
          const set = byKey.get(k);
          set?.delete(fn);
          if (set && !set.size) byKey.delete(k);
          if (!byKey.size && off) {
            off();
            off = null;
          }
        };
      },
    };
  });
}

/** The document `id` of `coll` (frozen; the same object until it changes), undefined when missing or loading. */
export function useDoc(coll, id) {
  const space = useSpace();
  const c = space && !space.closed ? collectionOf(space, coll) : null;
  const store = useMemo(() => {
    if (!c) return NONE;
    // No value kept: get() hands out weftdb's cached document (===) until it changes.
    return {
      subscribe: (fn) => docWatch(space).add(c.name + '\0' + id, fn),
      getSnapshot: () => (space.closed ? undefined : c.get(id)),
    };
  }, [space, c, id]);
  return useStore(store);
}

/** The text field `field` of document `doc` as a string, kept current; undefined while loading. Edit it with useSpace().text(…). */
export function useText(coll, doc, field) {
  const space = useSpace();
  const store = useMemo(() => {
    if (!space || space.closed) return NONE;
    const name = typeof coll === 'string' ? coll : coll.name;
    const text = space.text(name, doc, field);
    return liveStore(space, `t\0${name}\0${doc}\0${field}`, {
      read: () => text.toString(),
      watch: (set) => text.observe((deltas, info) => set(info.text)),
    });
  }, [space, coll, doc, field]);
  return useStore(store);
}

/**
 * A list field (issue 24's space.list(collection, doc, field)) as an array,
 * the same array until the list changes; undefined while loading. A weftdb
 * without lists throws WEFT_EUNAVAILABLE.
 */
export function useList(coll, doc, field) {
  const space = useSpace();
  const store = useMemo(() => {
    if (!space || space.closed) return NONE;
    if (typeof space.list !== 'function') throw new WeftError('WEFT_EUNAVAILABLE', 'this weftdb has no lists (space.list)');
    const name = typeof coll === 'string' ? coll : coll.name;
    const list = space.list(name, doc, field);
    return liveStore(space, `l\0${name}\0${doc}\0${field}`, {
      read: () => list.toArray(),
      watch: (set) => list.observe(() => set(list.toArray())),
      same: sameIds, // items compared by identity: an array read again is not a change
    });
  }, [space, coll, doc, field]);
  return useStore(store);
}

/** The space's status ({ state, pending, uploads }), the same object until it changes; undefined while loading. */
export function useStatus() {
  const space = useSpace();
  const store = useMemo(() => {
    if (!space) return NONE;
    return liveStore(space, 'status', {
      read: () => space.status,
      watch: (set) => space.on('status', set),
      same: (a, b) => a.state === b.state && a.pending === b.pending && a.uploads === b.uploads,
    });
  }, [space]);
  return useStore(store);
}

/** The other peers here ([{ author, state }]), the same array until it changes; undefined while loading. Set yours with useSpace().presence.set(state). */
export function usePresence() {
  const space = useSpace();
  const store = useMemo(() => {
    if (!space || space.closed) return NONE;
    return liveStore(space, 'presence', {
      read: () => space.presence.peers,
      watch: (set) => space.presence.on(set),
      same: samePeers,
    });
  }, [space]);
  return useStore(store);
}

/**
 * The space's members ([{ key, rights, admin, owner, state, until }], as
 * space.members), the same array until the membership records change what
 * it says; undefined while loading.
 */
export function useMembers() {
  const space = useSpace();
  const store = useMemo(() => {
    if (!space || space.closed) return NONE;
    return liveStore(space, 'members', {
      read: () => space.members,
      watch: (set) => space.on('members', set),
      same: sameMembers,
    });
  }, [space]);
  return useStore(store);
}

/** This device's rights in the space (space.rights): 'read', 'write' or 'admin', live (a 'rights' event); undefined while loading. */
export function useRights() {
  const space = useSpace();
  const store = useMemo(() => {
    if (!space || space.closed) return NONE;
    return liveStore(space, 'rights', {
      read: () => space.rights,
      watch: (set) => space.on('rights', (e) => set(e.rights)),
    });
  }, [space]);
  return useStore(store);
}

function sameMembers(a, b) {
  const k = (m) => `${m.key} ${m.rights} ${m.admin} ${m.owner} ${m.state} ${m.until}`;
  return a.length === b.length && a.every((m, i) => k(m) === k(b[i]));
}

function samePeers(a, b) {
  return a.length === b.length && a.every((p, i) => p.author === b[i].author && JSON.stringify(p.state) === JSON.stringify(b[i].state));
}
