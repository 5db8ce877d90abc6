// The "join" workload of bench/api_bench.mjs (Node only: it runs a relay).
//
// weftdb: an admin's device types the trace through the public API
// (`space.text().splice`, one call per edit, not awaited, as the text
// workload) with a loopback weft-relay, waits until everything is
// acknowledged and its device has published a sealed snapshot on its own
// (docs/API.md, "Snapshots"); then a fresh read-only replica opens the
// space through the relay. Figures: bytes it received (every WebSocket
// message), ms from openSpace until its text reads complete, the relay's
// disk for the space (its data directory; with `--keep-history none` when
// the relay has that flag), and the memory the joined replica holds (JS heap
// growth after a full GC plus the WASM bytes malloc'ed for it: the writer
// ran in this process, so the WASM memory's size says nothing of the
// joiner).
//
// Peers, same trace, through their adapters (bench/peers/text-*.mjs): the
// writer's state as one buffer (Yjs: encodeStateAsUpdateV2, Loro:
// snapshot export, Automerge: save) loaded into a fresh document and read.
// No relay: their bytes are the state alone, their time the load and read.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join as pathJoin } from 'node:path';
import { WebSocket } from 'ws';
import { RELAY, startRelay } from '../../tests/js/relay.mjs';
import { memNow } from './peers.mjs';

const WAIT_MS = 600_000;

function dirBytes(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = pathJoin(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

async function until(what, fn, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`join bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `--keep-history none` when this relay build has it (bounded history, issue 20). */
function relayArgs() {
  let help = '';
  try {
    help = execFileSync(RELAY, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    help = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  return /--keep-history/.test(help) ? ['--keep-history', 'none'] : [];
}

/** weftdb's figures; notes say what the relay kept. */
export async function runWeftdb(weftdb, { txns, end }, runs) {
  const { createSpace, openSpace } = weftdb;
  const fig = {};
  const notes = {};
  const put = (m, v) => (fig[m] ??= []).push(v);
  const args = relayArgs();
  if (!args.length) notes['relay disk for the space'] = 'this relay keeps the whole history (no --keep-history): the log plus the snapshots';
  for (let r = 0; r < runs; r++) {
    const relay = await startRelay({ args });
    try {
      const sync = { WebSocket, minDelay: 50, maxDelay: 400 };
      const a = await createSpace({ storage: 'memory', relay: relay.url, sync });
      let published = 0;
      a.on('snapshot', (e) => e.published && published++);
      const text = a.text('docs', 'd', 't');
      let last;
      for (const ps of txns) for (const [pos, del, ins] of ps) last = text.splice(pos, del, ins);
      await last;
      await until('the writer synced', () => a.status.state === 'synced' && a.status.pending === 0);
      await until('a published snapshot', () => published > 0, 30_000);
      const invite = a.invite({ rights: 'read' });
      await a.close();
      await new Promise((res) => setTimeout(res, 200)); // the relay's last writes
      put('relay disk for the space', dirBytes(relay.data));

      const counter = { bytes: 0 };
      const Counting = class extends WebSocket {
        constructor(...x) {
          super(...x);
          this.addEventListener('message', (ev) => (counter.bytes += ev.data.byteLength ?? ev.data.length));
        }
      };
      const heap0 = memNow();
      const w0 = (await weftdb.memoryStats()).heapUsed;
      const t0 = performance.now();
      const b = await openSpace({ storage: 'memory', invite, storage: 'memory', relay: relay.url, sync: { ...sync, WebSocket: Counting } });
      const bt = b.text('docs', 'd', 't');
      // Checked on every change the replica reports (a join reports one for all).
      let off;
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('join bench: the joined text never read complete')), WAIT_MS);
        const check = () => {
          if (bt.length === end.length && bt.toString() === end) {
            clearTimeout(timer);
            resolve();
          }
        };
        off = b.on('change', check);
        check();
      });
      off();
      put('ms to read the full text after openSpace', performance.now() - t0);
      await until('the joiner synced', () => b.status.state === 'synced');
      put('bytes received', counter.bytes);
      put('memory of the joined replica (JS heap + WASM in use)', memNow() - heap0 + ((await weftdb.memoryStats()).heapUsed - w0));
      await b.close();
    } finally {
      await relay.stop();
    }
  }
  return { fig, notes };
}

/** A peer's figures: its state as one buffer, loaded into a fresh document. */
export async function runPeer(peer, { txns, end }, runs) {
  const p = (await import(`../peers/text-${peer}.mjs`)).default;
  const fig = {};
  const put = (m, v) => (fig[m] ??= []).push(v);
  for (let r = 0; r < runs; r++) {
    const w = p.create(1, true);
    for (const ps of txns) p.writeTxn(w, ps);
    const state = p.encodeState(w);
    p.free(w);
    const m0 = memNow();
    const t0 = performance.now();
    const o = p.decodeState(state);
    const got = p.read(o);
    put('ms to read the full text after openSpace', performance.now() - t0);
    if (got !== end) throw new Error(`${peer}: the loaded text differs from the trace's end`);
    put('bytes received', state.length);
    put('memory of the joined replica (JS heap + WASM in use)', memNow() - m0);
    p.free(o);
  }
  return { fig, notes: {} };
}
