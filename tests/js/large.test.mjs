// Large values (docs/API.md, "Large values"): a value no relay would take
// is refused before it becomes a change, and a relay's TOO_BIG for a change
// that exists anyway (committed by an older build) is reported once and
// stops that device's own sends from it on, not a reconnect loop.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { createSpace, openSpace } from '../../wasm/src/index.js';
import { MAX_COMMIT_BYTES } from '../../wasm/src/constants.js';
import { haveRelay, startRelay, RELAY } from './relay.mjs';

const skip = haveRelay ? false : `no relay at ${RELAY} (tools/build native builds it)`;
const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
const cleanup = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

async function until(what, fn, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function metric(port, series) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

test('a 5 MB put is refused with a clear error before commit; later small puts sync', { skip, timeout: 60_000 }, async () => {
  const r = await startRelay();
  cleanup.push(() => r.stop());
  const a = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => a.close());
  const b = await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync });
  cleanup.push(() => b.close());
  await until('synced', () => a.status.state === 'synced' && b.status.state === 'synced');
  const notes = a.collection('notes');
  const big = new Uint8Array(5_000_000);
  await assert.rejects(notes.put('photo', { bytes: big }), (e) => {
    assert.equal(e.code, 'WEFT_ECHANGE_TOO_BIG');
    assert.match(e.message, /put notes\/photo.*files/);
    return true;
  });
  // Many values that are small alone but too big together: the core
  // refuses the change at commit, the transaction's writes all reject.
  const half = new Uint8Array(MAX_COMMIT_BYTES / 2);
  await assert.rejects(
    a.transact(() => {
      notes.put('h1', { bytes: half });
      notes.put('h2', { bytes: half });
      notes.put('h3', { bytes: half });
    }),
    (e) => e.code === 'WEFT_ECHANGE_TOO_BIG',
  );
  assert.equal(notes.get('photo'), undefined);
  assert.equal(notes.get('h1'), undefined);
  // The writes after it are changes like any other.
  await notes.put('small', { text: 'after the big one' });
  await notes.put('h1', { bytes: half });
  await until('b has them', () => b.collection('notes').get('small')?.text === 'after the big one' && b.collection('notes').get('h1')?.bytes?.length === half.length);
  await until('acks', () => a.status.pending === 0);
  assert.equal(a.status.error, undefined);
});

test("a change above a relay's --max-frame: one error, no reconnect loop, the link keeps receiving", { skip, timeout: 60_000 }, async () => {
  // A relay whose --max-frame is below what this build commits plays the
  // relay that refuses an older build's oversized change.
  const r = await startRelay({ args: ['--max-frame', '65536'] });
  cleanup.push(() => r.stop());
  const a = await createSpace({ storage: 'memory', relay: r.url, sync });
  cleanup.push(() => a.close());
  const b = await openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync });
  cleanup.push(() => b.close());
  await until('synced', () => a.status.state === 'synced' && b.status.state === 'synced');
  const errors = [];
  a.on('error', (e) => errors.push(e));
  // Several changes of 30 KB in one frame exceed 64 KiB: frames get smaller.
  await a.transact(() => a.collection('n').put('x1', { bytes: new Uint8Array(30_000) }));
  await a.transact(() => a.collection('n').put('x2', { bytes: new Uint8Array(30_000) }));
  await a.transact(() => a.collection('n').put('x3', { bytes: new Uint8Array(30_000) }));
  await until('b has the 30 KB ones', () => b.collection('n').get('x3')?.bytes?.length === 30_000);
  await a.collection('n').put('big', { bytes: new Uint8Array(100_000) });
  await a.collection('n').put('later', { v: 1 });
  await until('the error', () => a.status.error === 'CHANGE_TOO_BIG');
  // Once the refused change is known, the link reconnects once more (the
  // relay closed it) and then stays: not a loop.
  await until('live again', () => a.status.state === 'synced');
  const conns = await metric(r.port, 'weft_relay_connections_total');
  const refusals = await metric(r.port, 'weft_relay_rejections_total{reason="TOO_BIG"}');
  // Bounded: each refused frame of several changes halves the frame target
  // (at most 6 times, 1 MiB to 16 KiB), then the change alone once.
  assert.ok(refusals <= 8, `${refusals} TOO_BIG before the error`);
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal(await metric(r.port, 'weft_relay_connections_total'), conns, 'no reconnect after the error');
  assert.equal(await metric(r.port, 'weft_relay_rejections_total{reason="TOO_BIG"}'), refusals);
  const tooBig = errors.filter((e) => e.code === 'WEFT_ECHANGE_TOO_BIG');
  assert.equal(tooBig.length, 1, `one TOO_BIG error, got ${errors.map((e) => e.message)}`);
  assert.equal(tooBig[0].seq, 4);
  assert.equal(a.status.pending, 2); // 'big' and 'later' wait in the outbox
  // The link still receives what others write.
  await b.collection('n').put('from-b', { v: 2 });
  await until('a receives', () => a.collection('n').get('from-b')?.v === 2);
  assert.equal(b.collection('n').get('later'), undefined);
});
