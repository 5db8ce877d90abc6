// The lean replica from JS: Replica.forget (wdb_forget, weft_replica_forget)
// drops what a replica keeps per change below a vector, keeps its state,
// and frees WASM heap; the core's strict diff is not what weftdb's sync
// uses (wdb_diff is the lenient one: the outbox carries the rest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCore } from '../../wasm/src/core.js';
import { Replica } from '../../wasm/src/replica.js';
import { encodeValue } from '../../wasm/src/value.js';

test('Replica.forget: same state, less heap, every change still taken as a duplicate', async () => {
  const core = await loadCore();
  const space = core.keypair().publicKey;
  const contentKey = core.random(32);
  const me = core.keypair();
  const writer = new Replica(core, { space, author: me.publicKey, authorSecret: me.secretKey, contentKey });
  const parts = [];
  for (let i = 0; i < 2000; i++) {
    writer.put('notes', `n${i % 50}`, 'body', encodeValue(`edit ${i}`));
    parts.push(writer.commit(1700000000000 + i).slice());
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const readerKey = core.keypair();
  const lean = new Replica(core, { space, author: readerKey.publicKey, authorSecret: null, contentKey });
  assert.equal(lean.apply(all).rc, 0);
  const hash = lean.stateHash();
  const before = core.heapUsed;
  assert.equal(Number(lean.changeCount()), 2000);
  lean.forget(lean.vv().slice(), 1);
  assert.ok(Number(lean.changeCount()) <= 1, `entries kept: ${lean.changeCount()}`);
  assert.deepEqual(lean.stateHash(), hash);
  assert.ok(core.heapUsed < before, `heap ${before} -> ${core.heapUsed}`);
  const again = lean.apply(all); // all duplicates now: nothing changes, nothing is refused
  assert.equal(again.rc, 0);
  assert.equal(again.duplicates, 2000);
  assert.deepEqual(lean.stateHash(), hash);
  lean.close();
  writer.close();
});
