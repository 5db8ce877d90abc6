// Property, in WASM through weftdb: for random histories of three members
// (puts, field deletes, document deletes, counters, text splices, merged in
// random orders) and random snapshot points, a fresh replica that loads the
// admin's sealed snapshot and then every change (the tail applies, the rest
// are duplicates) has the state hash of a replay of every change. The
// native and WASM cores' agreement on sealed bytes and hashes is
// tests/property/sealed_join.c with its golden digests (tools/test-wasm.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace } from '../../wasm/src/index.js';
import { Replica } from '../../wasm/src/replica.js';

/** xorshift32: a small seeded generator, so a failure names its seed. */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

function hex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function randomWrite(s, r) {
  const c = s.collection(`c${r(2)}`);
  const id = `d${r(6)}`;
  switch (r(5)) {
    case 0: return c.put(id, { a: r(100), b: r(2) ? 'x'.repeat(r(20)) : null });
    case 1: return c.update(id, { a: undefined, b: r(1000) });
    case 2: return c.delete(id);
    case 3: return c.increment(id, 'n', r(9) - 4);
    default: {
      const t = s.text('texts', `t${r(2)}`, 'body');
      const len = t.length;
      const pos = r(len + 1);
      return t.splice(pos, Math.min(r(3), len - pos), 'abcdef'.slice(0, r(6)));
    }
  }
}

test('sealed snapshot + every change = a replay of every change, at random snapshot points', { timeout: 120_000 }, async () => {
  for (let seed = 1; seed <= 12; seed++) {
    const r = rng(seed * 2654435761);
    const a = await createSpace({ storage: 'memory' });
    const others = [await openSpace({ storage: 'memory', invite: a.invite({ rights: 'write' }) }), await openSpace({ storage: 'memory', invite: a.invite({ rights: 'write' }) })];
    const members = [a, ...others];
    const { core, meta } = a._internal;
    const snaps = [];
    try {
      for (let step = 0; step < 60; step++) {
        const m = members[r(3)];
        await randomWrite(m, r);
        await m.flush();
        if (r(4) === 0) {
          // Someone merges what someone else has (random partial exchanges).
          const [x, y] = [members[r(3)], members[r(3)]];
          if (x !== y) await y.applyChanges(x.changesSince(y.versionVector()));
        }
        if (r(6) === 0) {
          await a.flush();
          snaps.push(a._internal.rep.publishSnapshot(0, 1_700_000_000_000));
        }
      }
      for (const x of members) for (const y of members) if (x !== y) await y.applyChanges(x.changesSince(y.versionVector()));
      const all = a.changesSince();
      const full = new Replica(core, { space: meta.space, author: core.keypair().publicKey, authorSecret: null, contentKey: meta.contentKey });
      full.apply(all);
      const want = hex(full.stateHash());
      full.close();
      assert.equal(a.stateHash(), want, `seed ${seed}: the admin's state`);
      for (const m of others) assert.equal(m.stateHash(), want, `seed ${seed}: members converge`);
      for (const [i, snap] of snaps.entries()) {
        const j = new Replica(core, { space: meta.space, author: core.keypair().publicKey, authorSecret: null, contentKey: meta.contentKey });
        try {
          j.loadSealedSnapshot(snap);
          const res = j.apply(all);
          assert.equal(res.rejected, 0, `seed ${seed} snapshot ${i}: nothing refused`);
          assert.equal(hex(j.stateHash()), want, `seed ${seed} snapshot ${i}: snapshot + tail = replay`);
        } finally {
          j.close();
        }
      }
    } finally {
      for (const m of members) await m.close();
    }
  }
});
