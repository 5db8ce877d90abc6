// The public-API workloads of bench/api_bench.mjs for weftdb, written once
// and run both in Node and (served as a module) in Chromium, so nothing here
// may import a Node module: the driver hands in the package, the op
// sequences and the traces. Each workload returns the figures of its runs;
// the driver takes medians and names the records.
//
// Every workload checks its result before any time counts, as the peers'
// adapters do (bench/peers/prng.mjs): the map holds every key's last write,
// merged replicas hash equal, a typed trace reads back as the trace's end.

const now = () => performance.now();
const gc = () => globalThis.gc?.();

/** Throws unless `get(key)` is every key's last write in `ops` (see prng.mjs makeOps). */
function checkMap(ops, get, who) {
  for (let k = 0; k < ops.nKeys; k++) {
    const i = ops.last[k];
    const v = get(ops.name[k]);
    if (i < 0 ? v !== undefined : v !== ops.val[i]) throw new Error(`${who}: key ${ops.name[k]} holds ${v}, expected ${i < 0 ? 'nothing' : ops.val[i]}`);
  }
}

/** Writes sets [from, to) of `ops`: one put per set, in transacts of `batch` (1: none). */
async function writeSets(space, coll, ops, from, to, batch) {
  if (batch === 1) {
    // One call per set, not awaited: the writes of one task share a change.
    const ps = [];
    for (let i = from; i < to; i++) ps.push(coll.put(ops.name[ops.key[i]], { v: ops.val[i] }));
    await Promise.all(ps);
    return;
  }
  for (let i = from; i < to; i += batch) {
    const end = Math.min(to, i + batch);
    await space.transact(() => {
      for (let j = i; j < end; j++) coll.put(ops.name[ops.key[j]], { v: ops.val[j] });
    });
  }
}

/** Types `txns` (arrays of [pos, del, ins] in UTF-16 units) one splice per call, not awaited. */
async function typeTrace(text, txns, from = 0, to = txns.length) {
  let last = null;
  for (let i = from; i < to; i++) for (const [pos, del, ins] of txns[i]) last = text.splice(pos, del, ins);
  await last;
}

import { LIST_BATCH, checkList, listDigest } from './lists.mjs';

/**
 * Runs one workload `runs` times and returns { figures: {metric: [values]} }.
 * input: { ops, opsB (merge), txns, end (text), docs (live), keystrokes }.
 */
export async function run(weftdb, name, input, runs = 3) {
  const { createSpace, openSpace, memoryStorage } = weftdb;
  const fig = {};
  const put = (m, v) => (fig[m] ??= []).push(v);

  if (name === 'list') {
    // 100,000 list ops (inserts at random places, 10% moves), LIST_BATCH per
    // transact; the bytes stored (sealed snapshot + records since); then a
    // fresh replica from that storage reads the list.
    const { lops } = input;
    for (let r = 0; r < runs; r++) {
      const storage = memoryStorage();
      const s = await createSpace({ storage });
      await s.raiseFormatLevel(weftdb.LEVEL_LISTS);
      const l = s.list('l', 'd', 'items');
      gc();
      let t = now();
      for (let i = 0; i < lops.n; i += LIST_BATCH) {
        const end = Math.min(lops.n, i + LIST_BATCH);
        await s.transact(() => {
          for (let j = i; j < end; j++) {
            if (lops.kind[j] === 0) l.insert(lops.a[j], j);
            else if (lops.a[j] !== lops.b[j]) l.move(lops.a[j], lops.b[j]);
          }
        });
      }
      await s.flush();
      put('apply', now() - t);
      checkList(lops, l.toArray(), 'weftdb writer');
      const id = s.id;
      await s.close();
      // What a reload reads (storage interface, docs/API.md "Custom
      // storage"): the sealed snapshot and the change records after it.
      const kept = await (await storage.open(id)).load();
      const stored = (kept.snapshot?.length ?? 0) + kept.records.reduce((n, x) => n + x.length, 0);
      if (!stored) throw new Error('weftdb: nothing stored');
      put('encoded size', stored);
      gc();
      t = now();
      const o = await openSpace({ storage: 'memory', space: id, storage });
      const got = o.list('l', 'd', 'items').toArray();
      put('load + read', now() - t);
      checkList(lops, got, 'weftdb loaded');
      put('_digest', listDigest(got));
      await o.close();
    }
    return fig;
  }

  if (name === 'map-1' || name === 'map-1000') {
    const batch = name === 'map-1' ? 1 : 1000;
    const { ops } = input;
    for (let r = 0; r < runs; r++) {
      const storage = memoryStorage();
      const s = await createSpace({ storage });
      const c = s.collection('m');
      gc();
      let t = now();
      await writeSets(s, c, ops, 0, ops.key.length, batch);
      await s.flush();
      put('write', (ops.key.length / (now() - t)) * 1e3);
      checkMap(ops, (k) => c.get(k)?.v, 'weftdb writer');
      // Load: a fresh replica of the space from what its storage holds
      // (encrypted snapshot + records), then every key read.
      const id = s.id;
      await s.close();
      gc();
      t = now();
      const o = await openSpace({ storage: 'memory', space: id, storage });
      const oc = o.collection('m');
      for (let k = 0; k < ops.nKeys; k++) oc.get(ops.name[k]);
      put('load + read all', now() - t);
      checkMap(ops, (k) => oc.get(k)?.v, 'weftdb loaded');
      await o.close();
    }
  } else if (name === 'merge') {
    const { ops, opsB } = input;
    for (let r = 0; r < runs; r++) {
      const a = await createSpace({ storage: 'memory' });
      const b = await openSpace({ storage: 'memory', invite: a.invite(), storage: 'memory' });
      await writeSets(a, a.collection('m'), ops, 0, ops.key.length, 1000);
      await writeSets(b, b.collection('m'), opsB, 0, opsB.key.length, 1000);
      gc();
      const t = now();
      const va = a.versionVector(), vb = b.versionVector();
      const ua = a.changesSince(vb), ub = b.changesSince(va);
      await Promise.all([b.applyChanges(ua), a.applyChanges(ub)]);
      const ms = now() - t;
      if (a.stateHash() !== b.stateHash()) throw new Error('weftdb: merged replicas differ');
      put('exchange + merge', ms);
      put('bytes exchanged', va.length + vb.length + ua.length + ub.length);
      await a.close();
      await b.close();
    }
  } else if (name === 'text') {
    const { txns, end } = input;
    for (let r = 0; r < runs; r++) {
      const storage = memoryStorage();
      const s = await createSpace({ storage });
      const text = s.text('docs', 'd', 't');
      gc();
      let t = now();
      await typeTrace(text, txns);
      await s.flush();
      put('local apply (one splice per edit)', now() - t);
      if (text.toString() !== end) throw new Error('weftdb: the typed text differs from the trace\'s end');
      const id = s.id;
      await s.close();
      gc();
      t = now();
      const o = await openSpace({ storage: 'memory', space: id, storage });
      const got = o.text('docs', 'd', 't').toString();
      put('load + read', now() - t);
      if (got !== end) throw new Error('weftdb: the loaded text differs from the trace\'s end');
      await o.close();
    }
  } else if (name === 'live') {
    const n = input.docs;
    const s = await createSpace({ storage: 'memory' });
    const c = s.collection('items', { indexes: ['done', 'n'] });
    for (let j = 0; j < n / 1000; j++) await s.transact(() => {
      for (let i = 0; i < 1000; i++) c.put(`doc${j * 1000 + i}`, { title: `item ${j * 1000 + i}`, n: j * 1000 + i, done: i % 2 === 0 });
    });
    let wake = null;
    let rows = null;
    const off = c.subscribe({ where: { done: false }, orderBy: 'n desc', limit: 20 }, (x) => {
      rows = x;
      wake?.();
    });
    const next = () => new Promise((res) => (wake = res));
    await next();
    for (let k = 0; k < 5 * runs; k++) {
      const p = next();
      const t = now();
      c.put(`doc${k * 7919}`, { title: 'changed', n: n + k, done: false });
      await p;
      put('update after 1 put', now() - t);
      if (rows[0].data.n !== n + k) throw new Error('weftdb: the live query missed the change');
    }
    off();
    // One-off queries over the same documents: served by the index on n
    // (walked in order until 20 rows match), each after a put, so the
    // index has a change to take in; and the same query as a scan (two
    // orderBy keys: no index serves it), for contrast.
    const q = { where: { done: false }, orderBy: 'n', limit: 20 };
    for (let k = 0; k < 5 * runs; k++) {
      await c.put(`doc${(k * 104729) % n}`, { title: 'again', n: -k, done: false });
      const t = now();
      const rows = c.query(q);
      put('one-off indexed query, limit 20', now() - t);
      if (rows.length !== 20 || rows[0].data.n !== -k) throw new Error('weftdb: the indexed query missed the change');
    }
    for (let k = 0; k < runs; k++) {
      const t = now();
      const rows = c.query({ ...q, orderBy: ['n', 'title'] });
      put('one-off query, scan (no index serves it)', now() - t);
      if (rows.length !== 20) throw new Error('weftdb: the scan returned too few rows');
    }
    await s.close();
  } else if (name === 'keystroke') {
    // One person types the first edits of the trace at human speed: every
    // keystroke is its own task (the simulated clock moves on between them,
    // so nothing can be coalesced across keystrokes); the collaborator
    // receives each keystroke's change records (changesSince its last vv).
    const { txns, keystrokes } = input;
    const s = await createSpace({ storage: 'memory' });
    const text = s.text('docs', 'd', 't');
    let vv = s.versionVector();
    let bytes = 0;
    for (let i = 0; i < keystrokes; i++) {
      for (const [pos, del, ins] of txns[i]) text.splice(pos, del, ins);
      await s.flush();
      bytes += s.changesSince(vv).length;
      vv = s.versionVector();
    }
    put('bytes per keystroke', bytes / keystrokes);
    await s.close();
  } else throw new Error(`unknown workload ${name}`);
  return fig;
}
