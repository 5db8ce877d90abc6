// The app's PNG icons, drawn in code (the same weave as public/icon.svg) so
// the repository holds no binary files: vite.config.js emits them into the
// build. Run directly (`node tools/icons.mjs DIR`) to write them to DIR.
import { deflateSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BG = [0x2f, 0x5d, 0x62];
const WEFT = [0xa7, 0xc4, 0xbc];
const WARP = [0xf7, 0xf5, 0xf0];

const CRC = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crc32(buf) {
  let c = -1;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A size×size RGB PNG: three weft lines crossed by two warp lines (full bleed, safe for "maskable"). */
export function iconPng(size) {
  const u = size / 64; // the SVG's 64-unit grid
  const near = (v, centers, half) => centers.some((c) => Math.abs(v - c * u) <= half * u);
  const raw = Buffer.alloc(size * (1 + size * 3));
  for (let y = 0; y < size; y++) {
    const row = y * (1 + size * 3);
    raw[row] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      const inside = x > 12 * u && x < 52 * u && y > 10 * u && y < 54 * u;
      let c = BG;
      if (inside && near(y, [18, 32, 46], 2.5) && x > 10 * u && x < 54 * u) c = WEFT;
      if (inside && near(x, [22, 42], 2.5)) c = WARP;
      raw.set(c, row + 1 + x * 3);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export const ICONS = { 'icon-192.png': 192, 'icon-512.png': 512 };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? '.';
  for (const [name, size] of Object.entries(ICONS)) writeFileSync(join(dir, name), iconPng(size));
}
