// Workload 5 of issue 10: relay fan-out. The same client load against
// weft-relay (file storage, its default: every change fsynced before it is
// acked and fanned out) and against the y-websocket server
// (@y/websocket-server's own server.js, which keeps rooms in memory), each
// a child process on a loopback port. The clients are raw WebSockets
// (`ws`) in this one Node process, sharing the machine's cores with the
// server: writers send one update per message, readers note when each
// update arrives. Readers do not apply what they get (this measures the
// relay): they parse just enough to know which update arrived (Weft: the
// author and seq of the record's plaintext header; Yjs: client and clock of
// the update's struct). Weft's updates are real changes, signed and
// sealed by the weftdb core (one put each); Yjs's are Y.Map sets. Both
// carry the same values (--payload bytes of text) on the same 100 keys.
//
//   burst:   1 writer, R readers; the writer sends N updates at once.
//            deliveries/s = R × N / (last arrival − first send).
//   rate X:  5 writers, R readers, X updates/s in all for S seconds.
//            Latency from send to arrival over every delivery: p50, p99.
//
// Before any figure counts, every reader must have got every update exactly
// once and in each writer's order, and one reader's updates, applied to a
// fresh replica (Weft: verified and decrypted by the core), must give the
// state of all writers' updates applied together.
//
//   node bench/fanout.mjs --relay build-release/relay/weft-relay
//        [--runs 3] [--readers 50] [--burst 5000] [--rates 1000,2000]
//        [--seconds 2] [--payload 100] [--only weft|yws] [--json F] [--merge DIR]
//        [--records F]   (no run: the report of F's records, same options)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { median, mergeSection, ratioText } from './results_section.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = (p) => import(pathToFileURL(join(here, '../wasm/src', p)).href);
const { loadCore } = await pkg('core.js');
const { Replica } = await pkg('replica.js');
const { encodeValue } = await pkg('value.js');
const { ACK, F, decodeFrame, encodeChanges, encodeHello, encodeProof } = await pkg('frames.js');

const { values: opt } = parseArgs({
  options: {
    relay: { type: 'string', default: join(here, '../build-release/relay/weft-relay') },
    runs: { type: 'string', default: '3' }, readers: { type: 'string', default: '50' },
    burst: { type: 'string', default: '5000' }, rates: { type: 'string', default: '1000,2000' },
    seconds: { type: 'string', default: '2' }, payload: { type: 'string', default: '100' },
    only: { type: 'string' }, json: { type: 'string' }, merge: { type: 'string' },
    records: { type: 'string' },
  },
});
const RUNS = Number(opt.runs), READERS = Number(opt.readers), BURST = Number(opt.burst);
const RATES = opt.rates.split(',').filter(Boolean).map(Number), SECONDS = Number(opt.seconds);
const PAYLOAD = Number(opt.payload), KEYS = 100, RATE_WRITERS = 5;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const value = (w, i) => `${w}:${i}:`.padEnd(PAYLOAD, LETTERS);

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts a server child; ready() resolves when it answers. */
async function startChild(cmd, args, env, ready) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  // A failed check throws wherever it is found (often in a WebSocket
  // handler): the server must not outlive this process.
  process.on('exit', () => child.exitCode === null && child.kill('SIGKILL'));
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((r) => child.on('exit', r));
  const deadline = Date.now() + 10_000;
  while (!(await ready().catch(() => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${cmd} did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
}

const opened = (ws) => new Promise((resolve, reject) => {
  ws.once('open', resolve);
  ws.once('error', reject);
});

function varint(b, p) {
  let v = 0, m = 1, c;
  do {
    c = b[p++];
    v += (c & 0x7f) * m;
    m *= 128;
  } while (c & 0x80);
  return [v, p];
}

// ---- weft-relay ----

const core = await loadCore();

const weft = {
  name: 'weft-relay', impl: 'weft-native',
  async start() {
    const port = await freePort();
    const data = mkdtempSync(join(tmpdir(), 'weft-fanout-'));
    process.on('exit', () => rmSync(data, { recursive: true, force: true }));
    // Rate limits off: they are a deployment's policy, and a load test
    // would only measure them (y-websocket has none).
    const stop = await startChild(opt.relay, ['--listen', `127.0.0.1:${port}`, '--storage', 'file', '--data', data,
      '--conn-rate', '0', '--token-rate', '0'], {}, async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok);
    return { port, stop: async () => { await stop(); rmSync(data, { recursive: true, force: true }); } };
  },
  /** A new space; writer w's updates are counts[w] changes of one put each. */
  room(port, counts) {
    const owner = core.keypair(), space = owner.publicKey, contentKey = core.random(32);
    const readToken = core.tokenIssue({ space, issuerSecret: owner.secretKey, rights: 1 });
    const writers = counts.map((n, w) => {
      const me = core.keypair();
      const rep = new Replica(core, { space, author: me.publicKey, authorSecret: me.secretKey, contentKey });
      const records = [];
      for (let i = 0; i < n; i++) {
        rep.put('m', `k${i % KEYS}`, 'v', encodeValue(value(w, i)));
        records.push(rep.commit());
      }
      rep.close();
      return { me, records, msgs: records.map((r) => encodeChanges([r])),
        token: core.tokenIssue({ space, issuerSecret: owner.secretKey, grantee: me.publicKey, rights: 2 }) };
    });
    const byAuthor = new Map(writers.map((w, i) => [Buffer.from(w.me.publicKey).readUInt32LE(0), i]));
    // HELLO, PROOF, then the first ACK (the catch-up's: the space is empty).
    const connect = (me, token, onFrame) => new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, 'weft');
      let live = false;
      ws.on('error', reject);
      ws.on('open', () => ws.send(encodeHello({ space, key: me.publicKey, vv: new Uint8Array(0), token })));
      ws.on('message', (b) => {
        if (live) return onFrame(b);
        const f = decodeFrame(b);
        if (f.type === F.CHALLENGE) ws.send(encodeProof(core.proofSign(me.secretKey, space, f.nonce)));
        else if (f.type === F.ACK) {
          live = true;
          resolve(ws);
        } else reject(new Error(`weft-relay: unexpected frame ${f.type} ${f.name ?? ''}`));
      });
    });
    let stored = 0;
    return {
      writers,
      connectWriter: (w) => connect(writers[w].me, writers[w].token, (b) => {
        if (b[1] === F.CHANGES) return; // the other writers' changes
        const f = decodeFrame(b);
        if (f.type !== F.ACK) throw new Error(`writer got frame ${f.type} ${f.name ?? ''} ${f.message ?? ''}`);
        for (const e of f.entries) {
          if (e.status !== ACK.STORED) throw new Error(`weft-relay did not store a change: status ${e.status}, ${e.value}`);
          stored++;
        }
      }),
      connectReader: (deliver) => connect(core.keypair(), readToken, (b) => {
        if (b[1] !== F.CHANGES) {
          const f = decodeFrame(b);
          if (f.type === F.ERROR) throw new Error(`reader got ERROR ${f.name}: ${f.message}`);
          return;
        }
        let p = 3, len;
        while (p < b.length) {
          if (b[2] & 1) p = varint(b, p)[1];
          [len, p] = varint(b, p);
          deliver(byAuthor.get(b.readUInt32LE(p + 35)), varint(b, p + 67)[0], b, p, len);
          p += len;
        }
      }),
      // Every change acked STORED; the reader's records, verified and
      // opened by a fresh replica, give the state of all writers' records.
      async check(got) {
        const total = counts.reduce((s, n) => s + n, 0);
        for (let i = 0; i < 200 && stored < total; i++) await new Promise((r) => setTimeout(r, 50));
        if (stored !== total) throw new Error(`weft-relay acked ${stored} of ${total} changes as stored`);
        const hash = (records) => {
          const rep = new Replica(core, { space, author: core.keypair().publicKey, authorSecret: null, contentKey });
          const res = rep.apply(Buffer.concat(records));
          if (res.rejected || rep.changeCount() !== records.length) throw new Error('a received change did not apply');
          const h = Buffer.from(rep.stateHash()).toString('hex');
          rep.close();
          return h;
        };
        if (hash(got) !== hash(writers.flatMap((w) => w.records))) throw new Error('the reader ends in another state');
      },
    };
  },
};

// ---- the y-websocket server ----

const yws = {
  name: 'y-websocket', impl: 'y-websocket',
  async start() {
    const port = await freePort();
    const server = join(here, 'node_modules/@y/websocket-server/src/server.js');
    const stop = await startChild(process.execPath, [server], { HOST: '127.0.0.1', PORT: String(port) },
      async () => (await fetch(`http://127.0.0.1:${port}/`)).ok);
    return { port, stop };
  },
  room(port, counts) {
    const name = `room-${Math.random().toString(36).slice(2)}`;
    const writers = counts.map((n, w) => {
      const doc = new Y.Doc();
      doc.clientID = 1000 + w;
      const updates = [];
      doc.on('update', (u) => updates.push(u));
      const m = doc.getMap('m');
      for (let i = 0; i < n; i++) m.set(`k${i % KEYS}`, value(w, i));
      doc.destroy();
      // y-protocols: messageSync (0), messageYjsUpdate (2), the update as bytes.
      const msgs = updates.map((u) => {
        const head = [0, 2];
        for (let v = u.length; ; v >>>= 7) {
          if (v < 128) { head.push(v); break; }
          head.push((v & 0x7f) | 0x80);
        }
        return Buffer.concat([Buffer.from(head), u]);
      });
      return { updates, msgs };
    });
    const connect = async (onMessage) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/${name}`);
      ws.on('message', onMessage);
      await opened(ws);
      return ws;
    };
    return {
      writers,
      connectWriter: () => connect(() => {}), // the server echoes every update to its sender too
      connectReader: (deliver) => connect((b) => {
        if (b[0] !== 0 || b[1] !== 2) return; // sync step 1 and awareness on connect
        let [, p] = varint(b, 2);
        // Update V1: struct groups, then per group: structs, client, clock.
        [, p] = varint(b, p);
        [, p] = varint(b, p);
        let client, clock;
        [client, p] = varint(b, p);
        [clock] = varint(b, p);
        deliver(client - 1000, clock + 1, b, 0, b.length);
      }),
      check(got) {
        const state = (updates) => {
          const d = new Y.Doc();
          for (const u of updates) Y.applyUpdate(d, u);
          const j = JSON.stringify(Object.entries(d.getMap('m').toJSON()).sort());
          d.destroy();
          return j;
        };
        const received = got.map((b) => b.subarray(varint(b, 2)[1]));
        if (state(received) !== state(writers.flatMap((w) => w.updates))) throw new Error('the reader ends in another state');
      },
    };
  },
};

// ---- one run: connect, send, wait for every delivery, check ----

async function run(server, port, { writers: nw, perWriter, rate }) {
  const room = server.room(port, Array(nw).fill(perWriter));
  const total = nw * perWriter;
  const sent = room.writers.map(() => new Float64Array(perWriter + 1));
  const lat = new Float64Array(READERS * total);
  let nLat = 0, lastArrival = 0, done;
  const finished = new Promise((r) => (done = r));
  const got0 = [];
  const readers = [];
  for (let r = 0; r < READERS; r++) {
    const next = new Int32Array(nw).fill(1);
    let n = 0;
    readers.push(await room.connectReader((w, seq, b, p, len) => {
      if (next[w] !== seq) throw new Error(`${server.name}: reader ${r} got update ${seq} of writer ${w}, expected ${next[w]}`);
      next[w]++;
      const t = performance.now();
      lat[nLat++] = t - sent[w][seq];
      lastArrival = t;
      if (r === 0) got0.push(Buffer.from(b.subarray(p, p + len)));
      if (++n === total && nLat === READERS * total) done();
    }));
  }
  const ws = [];
  for (let w = 0; w < nw; w++) ws.push(await room.connectWriter(w));
  const t0 = performance.now();
  if (!rate) {
    for (let i = 0; i < perWriter; i++)
      for (let w = 0; w < nw; w++) {
        sent[w][i + 1] = performance.now();
        ws[w].send(room.writers[w].msgs[i]);
      }
  } else {
    // Paced: every tick sends what is due by now, round-robin over writers.
    let k = 0;
    await new Promise((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
        for (; k < due; k++) {
          const w = k % nw, i = Math.floor(k / nw);
          sent[w][i + 1] = performance.now();
          ws[w].send(room.writers[w].msgs[i]);
        }
        if (k < total) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
  }
  const timeout = setTimeout(() => done(new Error('timed out')), 120_000);
  const err = await finished;
  clearTimeout(timeout);
  if (err) throw new Error(`${server.name}: ${nLat} of ${READERS * total} deliveries after 120 s`);
  await room.check(got0);
  for (const s of [...readers, ...ws]) s.terminate();
  const l = lat.subarray(0, nLat).sort();
  return { rate: nLat / ((lastArrival - t0) / 1000), p50: l[Math.floor(nLat * 0.5)], p99: l[Math.floor(nLat * 0.99)] };
}

// ---- the scenarios ----

const human = (n) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : `${n}`);
const scenarios = [
  { workload: `relay fan-out: 1 writer, ${READERS} readers, burst of ${human(BURST)} updates`, writers: 1, perWriter: BURST },
  ...RATES.map((rate) => ({
    workload: `relay fan-out: ${RATE_WRITERS} writers, ${READERS} readers, ${human(rate)} updates/s for ${SECONDS} s`,
    writers: RATE_WRITERS, perWriter: Math.round((rate * SECONDS) / RATE_WRITERS), rate,
  })),
];
const records = [];
const rec = (workload, impl, metric, value, unit) => {
  records.push({ workload, impl, metric, value, unit });
  console.log(`${impl.padEnd(12)} ${workload.padEnd(64)} ${metric.padEnd(13)} ${unit === 'ms' ? value.toFixed(2) : Math.round(value)} ${unit}`);
};
// --records F: no run, the report of an earlier run's records (the same options).
if (opt.records) records.push(...JSON.parse(readFileSync(opt.records, 'utf8')).filter((r) => scenarios.some((sc) => sc.workload === r.workload)));
for (const server of opt.records ? [] : [weft, yws]) {
  if (opt.only && !server.name.startsWith(opt.only === 'yws' ? 'y-' : opt.only)) continue;
  const { port, stop } = await server.start();
  try {
    await run(server, port, { writers: 1, perWriter: 500 }); // warms up the clients' JIT and the server; not counted
    for (const sc of scenarios) {
      const res = [];
      for (let r = 0; r < RUNS; r++) res.push(await run(server, port, sc));
      rec(sc.workload, server.impl, 'deliveries/s', median(res.map((x) => x.rate)), 'deliveries/s');
      rec(sc.workload, server.impl, 'latency p50', median(res.map((x) => x.p50)), 'ms');
      rec(sc.workload, server.impl, 'latency p99', median(res.map((x) => x.p99)), 'ms');
    }
  } finally {
    await stop();
  }
}

// ---- output ----

if (opt.json) writeFileSync(opt.json, JSON.stringify(records, null, 2) + '\n');
if (opt.merge) {
  const get = (sc, impl, metric) => records.find((r) => r.workload === sc.workload && r.impl === impl && r.metric === metric)?.value;
  const fmt = (v, metric) => (v === undefined ? '—' : metric === 'deliveries/s' ? `${(v / 1000).toFixed(1)} k` : v.toFixed(1));
  const lines = [
    `Same clients against both servers (\`bench/fanout.mjs\`): ${READERS} reader WebSockets and the writers in one Node ` +
      `process on the same 2 cores as the server; one update per message, values of ${PAYLOAD} B on ${KEYS} keys. ` +
      'weft-relay with file storage (fsync before fan-out), rate limits off; every change signed and sealed. ' +
      'The y-websocket server (@y/websocket-server) keeps the room in memory. ' +
      'Deliveries/s: updates × readers / (last arrival − first send). Latency: send to arrival, over every delivery. ' +
      `Medians of ${RUNS} runs; every reader checked to get every update once and in order, one reader's updates applied ` +
      'and compared with the writers\' state, before any figure counts.',
    '',
    '| workload | metric | weft-relay | y-websocket | Weft vs y-websocket | aim |',
    '|---|---|---:|---:|---:|---|',
  ];
  const aims = [];
  for (const sc of scenarios) {
    for (const metric of ['deliveries/s', 'latency p50', 'latency p99']) {
      const w = get(sc, 'weft-native', metric), y = get(sc, 'y-websocket', metric);
      let aim = '';
      if (w !== undefined && y !== undefined) {
        // Issue 10: deliveries/s >= 5× y-websocket's (at full speed: the
        // burst), with a lower p99 (wherever both were measured).
        if (metric === 'deliveries/s' && !sc.rate) aim = `>= 5× y-websocket: ${w >= 5 * y ? 'met' : '**missed**'}`;
        if (metric === 'latency p99') aim = `lower than y-websocket's: ${w < y ? 'met' : '**missed**'}`;
        if (aim) aims.push(aim);
      }
      // At a fixed rate, deliveries/s is the offered load: no ratio.
      const compared = w !== undefined && y !== undefined && !(sc.rate && metric === 'deliveries/s');
      lines.push(`| ${sc.workload} | ${metric}${metric === 'deliveries/s' ? '' : ' (ms)'} | ${fmt(w, metric)} | ${fmt(y, metric)} | ` +
        `${compared ? ratioText(w, y, metric === 'deliveries/s') : '—'} | ${aim} |`);
    }
  }
  lines.push('', 'Below 1× (bold) Weft loses. At a fixed rate both servers keep up, so deliveries/s there is the offered load; ' +
    'the burst measures how fast each fans out when it cannot.');
  mergeSection(opt.merge, 'Relay fan-out (workload 5): weft-relay vs the y-websocket server', records, lines);
}
