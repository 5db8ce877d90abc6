// Files' encryption (docs/SECURITY.md, "Files"): each file has its own
// random 256-bit key, carried in its reference inside the sealed change
// that stores it, so only members can read it. The file is cut into chunks
// of `chunk` bytes (the last may be shorter, an empty file is one empty
// chunk), each sealed on its own with AES-256-GCM (WebCrypto: native in
// browsers and Node, ~10x libsodium.js here), nonce = the chunk's index,
// associated data = "weft-file1" || file id || index || last-chunk flag.
// A chunk cannot be moved to another index or file, nor the file cut short
// (the last chunk says so), undetected. Nonces never repeat under one key:
// one key per file, one index per chunk; a chunk sealed again after a
// reload is the same bytes, so a resumed upload may send it again.
//
// Why not libsodium's secretstream: its state runs from the first chunk to
// the last, so a reload mid-upload could not resume without that state,
// and a reader could not decrypt chunk k without chunks 0..k-1. Per-chunk
// nonces give the same guarantees (order, truncation) with random access.
import { WeftError } from './errors.js';

export const TAG_BYTES = 16;
const AD_PREFIX = new TextEncoder().encode('weft-file1');

function subtle() {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new WeftError('WEFT_EUNAVAILABLE', 'files need WebCrypto (crypto.subtle): a secure context (https or localhost) or Node 20');
  return s;
}

/** Random bytes from the platform's CSPRNG. */
export function randomBytes(n) {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

/** The chunk count of a file of `size` bytes (at least one). */
export function chunkCount(size, chunk) {
  return Math.max(1, Math.ceil(size / chunk));
}

function params(id, index, last) {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setUint32(0, index, true);
  const ad = new Uint8Array(AD_PREFIX.length + id.length + 5);
  ad.set(AD_PREFIX);
  ad.set(id, AD_PREFIX.length);
  new DataView(ad.buffer).setUint32(AD_PREFIX.length + id.length, index, true);
  ad[ad.length - 1] = last ? 1 : 0;
  return { name: 'AES-GCM', iv, additionalData: ad, tagLength: TAG_BYTES * 8 };
}

/** The CryptoKey of a file's 32-byte key. */
export function importKey(raw) {
  return subtle().importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** Seals chunk `index` (of `count`) of file `id` (16 bytes). */
export async function sealChunk(key, id, index, count, plain) {
  return new Uint8Array(await subtle().encrypt(params(id, index, index === count - 1), key, plain));
}

/** Opens a sealed chunk; WEFT_ECRYPTO when it is not chunk `index` of file `id` as sealed. */
export async function openChunk(key, id, index, count, sealed) {
  try {
    return new Uint8Array(await subtle().decrypt(params(id, index, index === count - 1), key, sealed));
  } catch (e) {
    throw new WeftError('WEFT_ECRYPTO', `file chunk ${index} does not open: damaged, or not this file's`, { cause: e });
  }
}

/** SHA-256 of bytes, hex (the relay checks it: Weft-Chunk-Hash). */
export async function sha256Hex(bytes) {
  const h = new Uint8Array(await subtle().digest('SHA-256', bytes));
  let s = '';
  for (const b of h) s += b.toString(16).padStart(2, '0');
  return s;
}
