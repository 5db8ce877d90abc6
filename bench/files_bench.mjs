// Files through weft-relay (issue 26): upload and download MB/s of one
// file through weftdb's public API (space.files.put / get: sealing with
// AES-256-GCM, SHA-256 per chunk, a proof per upload request, 4 requests in
// flight) beside `curl` moving the same sealed chunks to and from the same
// relay over loopback (one process, one kept-alive connection: the
// ceiling, with nothing to encrypt). Both sides pay the relay's fsync per
// chunk. Figures: the median of --runs runs.
//
//   node bench/files_bench.mjs [--relay build-release/relay/weft-relay]
//        [--mb 64] [--runs 3] [--json F] [--merge DIR]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { median, mergeSection, ratioText } from './results_section.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = (p) => import(pathToFileURL(join(here, '../wasm/src', p)).href);
const { createSpace } = await pkg('index.js');
const { BlobHttp } = await pkg('blobhttp.js');
const { sealChunk, importKey, sha256Hex } = await pkg('filecrypt.js');
const { CHUNK_BYTES } = await pkg('files.js');

const { values: opt } = parseArgs({
  options: {
    relay: { type: 'string', default: join(here, '../build-release/relay/weft-relay') },
    mb: { type: 'string', default: '64' },
    runs: { type: 'string', default: '3' },
    json: { type: 'string' },
    merge: { type: 'string' },
  },
});
const MB = Number(opt.mb);
const RUNS = Number(opt.runs);

async function freePort() {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const s = createServer();
    const ok = await new Promise((r) => {
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => r(true));
    });
    if (ok) {
      await new Promise((r) => s.close(r));
      return port;
    }
  }
}

async function startRelay() {
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'weft-files-bench-'));
  const child = spawn(opt.relay, ['--listen', `127.0.0.1:${port}`, '--data', data], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
      rmSync(data, { recursive: true, force: true });
    },
  };
}

function noise(n) {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

/** One run: weftdb up and down, then curl up and down with the same chunks. */
async function run(data) {
  const r = await startRelay();
  try {
    const space = await createSpace({ storage: 'memory', relay: r.url, sync: { WebSocket } });
    while (space.status.state !== 'synced') await new Promise((res) => setTimeout(res, 10));
    let t = performance.now();
    const ref = await space.files.put(data);
    while (space.status.uploads) await new Promise((res) => setTimeout(res, 2));
    const up = performance.now() - t;
    // A reader's download (not from the uploader's queue: it is empty now).
    t = performance.now();
    const back = await space.files.get(ref, { as: 'bytes' });
    const down = performance.now() - t;
    if (back.length !== data.length || !Buffer.from(back).equals(Buffer.from(data))) throw new Error('files_bench: the download differs');

    // curl: the same sealed chunks as another file, each with its own proof.
    const dir = mkdtempSync(join(tmpdir(), 'weft-files-curl-'));
    const http = new BlobHttp(space._internal, r.url);
    const key = await importKey(crypto.getRandomValues(new Uint8Array(32)));
    const idBytes = crypto.getRandomValues(new Uint8Array(16));
    const id = Buffer.from(idBytes).toString('hex');
    const count = Math.ceil(data.length / CHUNK_BYTES);
    const spaceHex = Buffer.from(space._internal.meta.space).toString('hex');
    const lines = [];
    for (let i = 0; i < count; i++) {
      const sealed = await sealChunk(key, idBytes, i, count, data.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
      writeFileSync(join(dir, `c${i}`), sealed);
      const path = `/v1/spaces/${spaceHex}/blobs/${id}/${i}`;
      const h = http.authHeaders('POST', path);
      lines.push(`url = "http://127.0.0.1:${r.port}${path}"`, `header = "authorization: ${h.authorization}"`, `header = "weft-proof: ${h['weft-proof']}"`, `header = "weft-chunk-hash: ${await sha256Hex(sealed)}"`, 'header = "content-type: application/octet-stream"', 'header = "expect:"', `data-binary = "@${join(dir, `c${i}`)}"`, 'output = "/dev/null"', 'next');
    }
    lines.pop(); // no `next` after the last URL
    writeFileSync(join(dir, 'up.cfg'), lines.join('\n') + '\n');
    t = performance.now();
    let res = spawnSync('curl', ['-sS', '--fail', '-K', join(dir, 'up.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const curlUp = performance.now() - t;
    if (res.status !== 0) throw new Error(`curl upload failed: ${res.stderr}`);
    const st = await http.status(id);
    if (st.chunks.size !== count) throw new Error(`curl stored ${st.chunks.size} of ${count} chunks`);
    const get = [];
    for (let i = 0; i < count; i++) get.push(`url = "http://127.0.0.1:${r.port}${st.url}${i}?${st.query}"`, 'output = "/dev/null"');
    writeFileSync(join(dir, 'down.cfg'), get.join('\n') + '\n');
    t = performance.now();
    res = spawnSync('curl', ['-sS', '--fail', '-K', join(dir, 'down.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const curlDown = performance.now() - t;
    if (res.status !== 0) throw new Error(`curl download failed: ${res.stderr}`);
    rmSync(dir, { recursive: true, force: true });
    await space.close();
    const mbps = (ms) => data.length / 1048576 / (ms / 1000);
    return { up: mbps(up), down: mbps(down), curlUp: mbps(curlUp), curlDown: mbps(curlDown) };
  } finally {
    await r.stop();
  }
}

const data = noise(MB << 20);
const runs = [];
for (let i = 0; i < RUNS; i++) {
  runs.push(await run(data));
  console.error(`files_bench: run ${i + 1}: ${JSON.stringify(runs.at(-1), (k, v) => (typeof v === 'number' ? Math.round(v) : v))}`);
}
const m = (k) => median(runs.map((x) => x[k]));
const records = [
  { workload: 'files', impl: 'weftdb', metric: 'upload_mb_s', value: m('up'), unit: 'MB/s' },
  { workload: 'files', impl: 'weftdb', metric: 'download_mb_s', value: m('down'), unit: 'MB/s' },
  { workload: 'files', impl: 'curl', metric: 'upload_mb_s', value: m('curlUp'), unit: 'MB/s' },
  { workload: 'files', impl: 'curl', metric: 'download_mb_s', value: m('curlDown'), unit: 'MB/s' },
];
const row = (what, w, c) => `| ${what} | ${w.toFixed(0)} | ${c.toFixed(0)} | ${((100 * w) / c).toFixed(0)}% (${ratioText(w, c, true)}) |`;
const md = [
  `One ${MB} MiB file through weft-relay on loopback (file storage, a fsync per chunk), median of ${RUNS}: weftdb's space.files (Node, AES-256-GCM + SHA-256 per 1 MiB chunk, a signed proof per upload request, 4 in flight) beside curl moving the same sealed chunks (one connection, nothing to encrypt: the ceiling).`,
  '',
  '| direction | weftdb MB/s | curl MB/s | weftdb / curl |',
  '|---|---:|---:|---:|',
  row('upload', m('up'), m('curlUp')),
  row('download', m('down'), m('curlDown')),
];
console.log(md.join('\n'));
if (opt.json) writeFileSync(opt.json, JSON.stringify(records, null, 2) + '\n');
if (opt.merge) mergeSection(opt.merge, 'Files through the relay (bench/files_bench.mjs)', records, md);
process.exit(0);
