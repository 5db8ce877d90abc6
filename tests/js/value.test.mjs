// The JS value codec (wasm/src/value.js) against the format's examples and
// against the core itself: every value it encodes must be one the core
// accepts as canonical (weft_value_check in put) and must read back equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeValue, decodeValue, mapKeys } from '../../wasm/src/value.js';
import { createSpace } from '../../wasm/src/index.js';

const hex = (b) => Buffer.from(b).toString('hex');

test('docs/FORMAT.md §2 examples', () => {
  assert.equal(hex(encodeValue(null)), '00');
  assert.equal(hex(encodeValue(true)), '02');
  assert.equal(hex(encodeValue(false)), '01');
  assert.equal(hex(encodeValue(5)), '030a');
  assert.equal(hex(encodeValue(-3)), '0305');
  assert.equal(hex(encodeValue('hi')), '05026869');
  assert.equal(hex(encodeValue(1.5)), '04000000000000f83f');
  assert.equal(hex(encodeValue({ a: 1 })), '0801016103' + '02');
  assert.equal(hex(encodeValue(2n ** 63n - 1n)), '03feffffffffffffffff01');
  assert.equal(hex(encodeValue(-(2n ** 63n))), '03ffffffffffffffffff01');
  assert.equal(hex(encodeValue(1700000000000)), hex(encodeValue(1700000000000n)));
  assert.equal(hex(encodeValue(-0)), '040000000000000080');
});

test('map keys sort by UTF-8 bytes, not UTF-16 units', () => {
  // U+FFFF (EF BF BF) sorts before U+10000 (F0 90 80 80) in UTF-8, after it in UTF-16
  const v = { '\u{10000}': 1, '\uffff': 2, z: 3, é: 4, '': 5 };
  const keys = mapKeys(encodeValue(v));
  assert.deepEqual(keys, ['', 'z', 'é', '\uffff', '\u{10000}']);
});

function randomValue(rnd, depth = 0) {
  const k = Math.floor(rnd() * (depth > 3 ? 8 : 11));
  switch (k) {
    case 0: return null;
    case 1: return rnd() < 0.5;
    case 2: return Math.floor((rnd() - 0.5) * 2 ** (rnd() * 53));
    case 3: return (rnd() - 0.5) * 1e6;
    case 4: return BigInt(Math.floor(rnd() * 2 ** 31)) * 2n ** 32n * (rnd() < 0.5 ? -1n : 1n);
    case 5: return String.fromCodePoint(...Array.from({ length: Math.floor(rnd() * 6) }, () => [0x41, 0xe9, 0x4e2d, 0x1f600, 0][Math.floor(rnd() * 5)]));
    case 6: return new Uint8Array(Array.from({ length: Math.floor(rnd() * 5) }, () => Math.floor(rnd() * 256)));
    case 7: return 'x'.repeat(Math.floor(rnd() * 200));
    case 8:
    case 9: return Array.from({ length: Math.floor(rnd() * 4) }, () => randomValue(rnd, depth + 1));
    default: {
      const o = {};
      for (let i = 0; i < rnd() * 4; i++) o[randomValue(rnd, 99) + String.fromCodePoint(((cp) => (cp >= 0xd800 && cp < 0xe000 ? cp + 0x800 : cp))(0x30 + Math.floor(rnd() * 0x10400)))] = randomValue(rnd, depth + 1);
      return o;
    }
  }
}

test('2,000 random values: the core accepts each encoding and reads it back equal', async () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const s = await createSpace({ storage: 'memory' });
  const c = s.collection('v');
  await s.transact(() => {
    for (let i = 0; i < 2000; i++) c.put(`d${i}`, { v: randomValue(rnd) });
  });
  seed = 42;
  for (let i = 0; i < 2000; i++) {
    const want = randomValue(rnd);
    const got = c.get(`d${i}`).v;
    assert.deepEqual(got, typeof want === 'bigint' && want >= -(2n ** 53n) + 1n && want <= 2n ** 53n - 1n ? Number(want) : want, `value ${i}`);
    assert.deepEqual(decodeValue(encodeValue(want)), got);
    assert.deepEqual(mapKeys(encodeValue({ v: want, w: want })), ['v', 'w']);
  }
  await s.close();
});
