// Files (docs/API.md "Files", docs/RELAY.md "Files"): space.files through a
// real weft-relay on loopback. A 50 MB file survives two dropped networks
// and a reload mid-upload and reaches another member byte for byte; the
// relay's directory holds no plaintext; a kill -9 keeps every acknowledged
// chunk whole; bad requests get their HTTP status and code and are counted;
// unrenewed files are deleted, renewed ones kept.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { createSpace, openSpace, memoryStorage } from '../../wasm/src/index.js';
import { BlobHttp } from '../../wasm/src/blobhttp.js';
import { isFileRef, CHUNK_BYTES } from '../../wasm/src/files.js';
import { haveRelay, startRelay, RELAY } from './relay.mjs';

const skip = haveRelay ? false : `no relay at ${RELAY} (tools/build native builds it)`;
const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
const files = { minDelay: 50, maxDelay: 400 };
const cleanup = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

async function until(what, fn, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function metric(port, series) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

async function relay(args = [], opts = {}) {
  const r = await startRelay({ args, ...opts });
  cleanup.push(() => r.stop());
  return r;
}

async function space(p) {
  const s = await p;
  cleanup.push(() => s.close());
  return s;
}

/** Bytes no file of the relay could hold by chance: xorshift from a seed. */
function noise(n, seed = 0x9e3779b9) {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

test('a 50 MB file: two network drops and a reload mid-upload, another member gets it byte for byte, no plaintext at the relay', { skip, timeout: 180_000 }, async () => {
  let r = await relay();
  const port = r.port;
  const data = noise(50 * 1024 * 1024 + 12345);
  const storage = memoryStorage();
  let a = await createSpace({ storage, relay: r.url, sync, files });
  const id = a.id;
  const b = await space(openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync, files }));
  let uploaded = 0;
  const watch = (s) => s.on('file', (ev) => ev.direction === 'up' && (uploaded = ev.loaded));
  watch(a);
  const ref = await a.files.put(data, { name: 'big.bin', type: 'application/octet-stream' });
  assert.ok(isFileRef(ref));
  assert.equal(ref.size, data.length);
  await a.collection('notes').put('n1', { title: 'with a file', file: ref });
  assert.equal(a.status.uploads, 1);
  // The change that references it is not held back; the reader sees it
  // pending until the upload is whole.
  await until('b has the note', () => b.collection('notes').get('n1'));
  const seen = b.collection('notes').get('n1').file;
  await assert.rejects(b.files.get(seen), (e) => e.code === 'WEFT_EFILE_PENDING' && e.pending === true);

  let chunksStored = 0;
  const drop = async () => {
    chunksStored += await metric(port, 'weft_relay_blob_chunks_stored_total');
    await r.stop({ keepData: true });
    await new Promise((res) => setTimeout(res, 300));
    r = await startRelay({ port, dataDir: r.data });
    cleanup.push(() => r.stop());
  };
  await until('10 MB up', () => uploaded >= 10 << 20);
  await drop(); // network drop 1
  await until('20 MB up', () => uploaded >= 20 << 20);
  // A reload: the queue is in the store and resumes from what the relay holds.
  await a.close();
  a = await space(openSpace({ space: id, storage, relay: r.url, sync, files }));
  assert.equal(a.status.uploads, 1);
  assert.equal(a.files.pending[0].ref.id, ref.id);
  uploaded = 0;
  watch(a);
  await until('35 MB up', () => uploaded >= 35 << 20);
  await drop(); // network drop 2
  await until('upload done', () => a.status.uploads === 0, 120_000);
  chunksStored += await metric(port, 'weft_relay_blob_chunks_stored_total');
  const count = Math.ceil(data.length / CHUNK_BYTES);
  // Resumed, not restarted: at most the chunks in flight at each cut again
  // (the count misses the chunks a relay stored after its metrics were read).
  assert.ok(chunksStored <= count + 3 * 4, `${chunksStored} chunks stored for ${count}`);

  let progress = 0;
  const got = await b.files.get(seen, { onProgress: (p) => (progress = p.loaded) });
  assert.ok(got instanceof Uint8Array);
  assert.equal(progress, data.length);
  assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'byte for byte');

  // Nothing of the plaintext in the relay's directory: no 64-byte window
  // from 16 places in the file, nor the name.
  const probes = Array.from({ length: 16 }, (_, i) => Buffer.from(data.subarray(i * 3_000_001, i * 3_000_001 + 64)));
  let scanned = 0;
  for (const f of walk(r.data)) {
    const bytes = readFileSync(f);
    scanned += bytes.length;
    for (const p of probes) assert.equal(bytes.indexOf(p), -1, `plaintext in ${f}`);
    assert.equal(bytes.indexOf('big.bin'), -1, `the name in ${f}`);
  }
  assert.ok(scanned > data.length, `scanned ${scanned} bytes`);
});

test('kill -9 mid-upload keeps every acknowledged chunk whole and no half-written one', { skip, timeout: 120_000 }, async () => {
  let r = await relay();
  const port = r.port;
  const data = noise(24 << 20, 7);
  const a = await space(createSpace({ storage: 'memory', relay: r.url, sync, files }));
  let acked = 0;
  a.on('file', (ev) => ev.direction === 'up' && (acked = ev.loaded));
  const ref = await a.files.put(data);
  await until('8 MB acknowledged', () => acked >= 8 << 20);
  const ackedChunks = Math.floor(acked / CHUNK_BYTES);
  await r.crash();
  const dir = join(r.data, 'blobs');
  const chunkFiles = walk(dir).filter((f) => /\/c\d+$/.test(f));
  assert.ok(chunkFiles.length >= ackedChunks, `${chunkFiles.length} chunk files, ${ackedChunks} acknowledged`);
  for (const f of chunkFiles) {
    const i = Number(f.match(/c(\d+)$/)[1]);
    const want = Math.min(CHUNK_BYTES, data.length - i * CHUNK_BYTES) + 16;
    assert.equal(statSync(f).size, want, `${f} whole`);
  }
  r = await startRelay({ port, dataDir: r.data });
  cleanup.push(() => r.stop());
  await until('upload done', () => a.status.uploads === 0, 60_000);
  const b = await space(openSpace({ storage: 'memory', invite: a.invite(), relay: r.url, sync, files }));
  assert.ok(Buffer.from(await b.files.get(ref)).equals(Buffer.from(data)));
});

test('bad requests: wrong hash, quota, forged and expired URLs, ranges, rights; each counted', { skip, timeout: 60_000 }, async () => {
  const r = await relay(['--space-bytes', String(6 << 20), '--blob-url-ttl', '2']);
  const a = await space(createSpace({ storage: 'memory', relay: r.url, sync, files }));
  await until('a synced', () => a.status.state === 'synced');
  const errors = [];
  a.on('error', (e) => errors.push(e));
  const ref = await a.files.put(noise(100_000, 3), { name: 'small', type: 'text/plain' });
  await until('uploaded', () => a.status.uploads === 0);
  const http = new BlobHttp(a._internal, r.url);
  const base = `http://127.0.0.1:${r.port}`;

  // A chunk whose bytes do not match its hash: 400 BAD_HASH, nothing stored.
  const body = new Uint8Array(1000);
  await assert.rejects(http.putChunk(ref.id, 5, body, '00'.repeat(32)), (e) => e.status === 400 && e.protocolError === 'BAD_HASH');
  assert.equal((await http.status(ref.id)).chunks.has(5), false);
  // A missing hash: 400 BAD_FRAME.
  await assert.rejects(http.putChunk(ref.id, 5, body, 'xyz'), (e) => e.status === 400 && e.protocolError === 'BAD_FRAME');

  // Past the space's quota (6 MiB with the records): 507 QUOTA, reported
  // once, and the upload stays queued.
  const big = await a.files.put(noise(8 << 20, 4));
  await until('quota error', () => errors.some((e) => e.protocolError === 'QUOTA'));
  assert.equal(a.status.uploads, 1);
  assert.equal(a.files.pending[0].ref.id, big.id);
  assert.equal(a.files.pending[0].error.status, 507);

  // Signed URLs: forged, malformed, expired.
  const st = await http.status(ref.id);
  assert.equal((await fetch(`${base}${st.url}0?${st.query}`)).status, 200);
  const forged = st.query.replace(/sig=./, (m) => m.slice(0, -1) + (m.endsWith('A') ? 'B' : 'A'));
  let res = await fetch(`${base}${st.url}0?${forged}`);
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error, 'BAD_URL');
  res = await fetch(`${base}${st.url}0?${st.query.replace(/exp=\d+/, (m) => `exp=${Number(m.slice(4)) + 1000}`)}`);
  assert.equal(res.status, 403); // a later expiry is another signature
  assert.equal((await fetch(`${base}${st.url}0`)).status, 403);
  // Ranges: inside (206 with exactly those bytes), outside (416 RANGE).
  res = await fetch(`${base}${st.url}0?${st.query}`, { headers: { range: 'bytes=10-19' } });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get('content-range'), `bytes 10-19/${100_000 + 16}`);
  const whole = new Uint8Array(await (await fetch(`${base}${st.url}0?${st.query}`)).arrayBuffer());
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), whole.subarray(10, 20));
  res = await fetch(`${base}${st.url}0?${st.query}`, { headers: { range: 'bytes=200000-' } });
  assert.equal(res.status, 416);
  assert.equal((await res.json()).error, 'RANGE');
  res = await fetch(`${base}${st.url}7?${st.query}`);
  assert.equal(res.status, 404);
  await new Promise((res2) => setTimeout(res2, 3100));
  res = await fetch(`${base}${st.url}0?${st.query}`);
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error, 'URL_EXPIRED');
  // get() asks again when its URL expired (st above is stale; a new get works).
  assert.equal((await a.files.get(ref, { as: 'bytes' })).length, 100_000);

  // Rights: a read-only member reads but cannot upload (403 RIGHTS); no
  // token at all is 401 AUTH.
  const ro = await space(openSpace({ storage: 'memory', invite: a.invite({ rights: 'read' }), relay: r.url, sync, files }));
  await assert.rejects(ro.files.put(new Uint8Array(10)), (e) => e.code === 'WEFT_ERIGHTS');
  const roHttp = new BlobHttp(ro._internal, r.url);
  const sealed = new Uint8Array(64);
  const hash = Buffer.from(await crypto.subtle.digest('SHA-256', sealed)).toString('hex');
  await assert.rejects(roHttp.putChunk(ref.id, 9, sealed, hash), (e) => e.status === 403 && e.protocolError === 'RIGHTS');
  assert.equal((await ro.files.get(ref, { as: 'bytes' })).length, 100_000);
  res = await fetch(`${base}/v1/spaces/${Buffer.from(a._internal.meta.space).toString('hex')}/blobs/${ref.id}`);
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error, 'AUTH');

  const refused = async (reason) => metric(r.port, `weft_relay_blob_refused_total{reason="${reason}"}`);
  assert.equal(await refused('hash'), 1);
  assert.equal(await refused('bad'), 1);
  assert.ok((await refused('quota')) >= 1);
  assert.equal(await refused('url'), 3);
  assert.equal(await refused('expired'), 1);
  assert.equal(await refused('range'), 1);
  assert.equal(await refused('missing'), 1);
  assert.equal(await refused('rights'), 2);
  assert.equal(await metric(r.port, 'weft_relay_rejections_total{reason="BAD_HASH"}'), 1);
  assert.equal(await metric(r.port, 'weft_relay_rejections_total{reason="URL_EXPIRED"}'), 1);
  assert.equal(await metric(r.port, 'weft_relay_rejections_total{reason="RANGE"}'), 1);
});

test('leases: a file no member references is deleted after the grace period; a referenced one is kept', { skip, timeout: 60_000 }, async () => {
  const r = await relay(['--blob-grace', '2']);
  const a = await space(createSpace({ storage: 'memory', relay: r.url, sync, files: { ...files, renewEvery: 500 } }));
  const kept = await a.files.put(noise(5000, 11));
  const dropped = await a.files.put(noise(5000, 12));
  await a.collection('notes').put('n', { attachment: kept }); // `dropped` is referenced by nothing
  await until('uploaded', () => a.status.uploads === 0);
  assert.deepEqual([...a.files.referenced()], [kept.id]);
  await until('dropped deleted', async () => (await metric(r.port, 'weft_relay_blobs_deleted_total')) >= 1, 20_000);
  await new Promise((res) => setTimeout(res, 2500)); // past the grace again: the renewed one stays
  assert.equal(await metric(r.port, 'weft_relay_blobs_deleted_total'), 1);
  assert.equal((await a.files.get(kept, { as: 'bytes' })).length, 5000);
  await assert.rejects(a.files.get(dropped), (e) => e.code === 'WEFT_EFILE_PENDING');
  // Removing the reference stops the renewals.
  await a.collection('notes').update('n', { attachment: undefined });
  assert.equal(a.files.referenced().size, 0);
});
