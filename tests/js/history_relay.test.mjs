// space.historyFromRelay(collection, doc) (docs/API.md, "History"): a
// replica that joined from the relay's snapshot holds no history before
// it; the relay's log still does, unless the relay trimmed it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { createSpace, openSpace } from '../../wasm/src/index.js';
import { haveRelay, startRelay } from './relay.mjs';

const skip = haveRelay ? false : 'needs build/relay/weft-relay (tools/build native)';
const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function until(what, fn, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const synced = (s) => s.status.state === 'synced' && s.status.pending === 0;
const metric = async (r, name) => Number((await fetch(`http://127.0.0.1:${r.port}/metrics`).then((x) => x.text())).match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1]);
const ids = (h) => h.entries.map((e) => `${e.author}:${e.seq}:${e.fields.join(',')}:${e.deleted}`);

/** The owner writes n1, 1,100 other changes, then n1 again, and publishes a snapshot. */
async function history(r) {
  const a = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => a.close());
  const published = [];
  a.on('snapshot', (e) => e.published && published.push(e));
  const c = a.collection('notes');
  await c.put('n1', { title: 'first', body: 'b' });
  await c.update('n1', { title: 'second' });
  for (let i = 0; i < 1100; i++) await c.put(`filler${i % 50}`, { v: i });
  await until('a published a snapshot', () => synced(a) && published.length > 0);
  return a;
}

test('a replica joined from a snapshot reads the older history from the relay\'s log', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const a = await history(r);
  await a.collection('notes').update('n1', { body: 'third' });
  await until('a synced', () => synced(a));
  const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'read' }), relay: r.url, sync });
  cleanup.push(() => b.close());
  await until('b converged', () => synced(b) && b.stateHash() === a.stateHash());
  const local = b.history('notes', 'n1');
  assert.equal(local.trimmed, true, 'joined from the snapshot: the older changes are not held here');
  assert.deepEqual(ids(local), ids(a.history('notes', 'n1')).slice(0, 1));
  const full = await b.historyFromRelay('notes', 'n1');
  assert.equal(full.trimmed, false);
  assert.equal(full.unreadable, 0);
  assert.deepEqual(ids(full), ids(a.history('notes', 'n1')));
  assert.equal(full.entries.length, 3);
  // A replica that holds everything answers without the relay.
  assert.deepEqual(ids(await a.historyFromRelay('notes', 'n1', { relay: 'ws://127.0.0.1:1' })), ids(a.history('notes', 'n1')));
});

test('from a relay that trimmed its log: what neither holds is reported as gone', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay({ args: ['--keep-history', 'none'] });
  cleanup.push(() => r.stop());
  const a = await history(r);
  await until('the relay trimmed', async () => (await metric(r, 'weft_relay_trims_total')) >= 1);
  await a.collection('notes').update('n1', { body: 'after the trim' });
  await until('a synced', () => synced(a));
  const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'read' }), relay: r.url, sync });
  cleanup.push(() => b.close());
  await until('b converged', () => synced(b) && b.stateHash() === a.stateHash());
  const full = await b.historyFromRelay('notes', 'n1');
  assert.equal(full.trimmed, true);
  assert.deepEqual(ids(full), ids(a.history('notes', 'n1')).slice(0, 1), 'only the change after the trim point');
  // Without a relay the answer is a clear error, not a partial list.
  const offline = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'read' }), relay: r.url, sync });
  cleanup.push(() => offline.close());
  await until('offline converged', () => synced(offline));
  await assert.rejects(offline.historyFromRelay('notes', 'n1', { relay: null }), (e) => e.code === 'WEFT_EUNAVAILABLE');
});
