// The documents every implementation stores (workload 4), and the check of
// what an open reads back. Imported by each page module.
export const docOf = (i) => ({ title: `item ${i}`, n: i, done: i % 2 === 0 });

/** Mismatches between `all` ([[id, {title, n, done}]]) and docOf, or a count error. */
export function checkAll(all, n) {
  if (all.length !== n) return [`${all.length} documents, not ${n}`];
  const bad = [];
  for (const [id, d] of all) {
    const i = Number(id.slice(3)), e = docOf(i);
    if (!id.startsWith('doc') || d.title !== e.title || d.n !== e.n || d.done !== e.done) bad.push(`${id}: ${JSON.stringify(d)}`);
    if (bad.length > 3) break;
  }
  return bad;
}

/** Bytes in one IndexedDB object store, for libraries that hand out a byte array. */
function db(name) {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(name, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('bytes');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export async function idbPut(name, key, bytes) {
  const d = await db(name);
  await new Promise((resolve, reject) => {
    const t = d.transaction('bytes', 'readwrite');
    t.objectStore('bytes').put(bytes, key);
    t.oncomplete = resolve;
    t.onerror = () => reject(t.error);
  });
  d.close();
}

export async function idbGet(name, key) {
  const d = await db(name);
  const v = await new Promise((resolve, reject) => {
    const r = d.transaction('bytes').objectStore('bytes').get(key);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  d.close();
  return v;
}
