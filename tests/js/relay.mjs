// Starts a real weft-relay (build/relay/weft-relay) on a free loopback port
// with a temporary data directory, for the sync tests; stop() ends it (and
// the tests stop it in `after`, even on failure).
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RELAY = process.env.WEFT_RELAY ?? join(dirname(fileURLToPath(import.meta.url)), '../../build/relay/weft-relay');
export const haveRelay = existsSync(RELAY);

// A free port below the kernel's ephemeral range (32768-60999): a port the
// kernel hands out for 0 can be taken by an outgoing connection before the
// relay binds it (seen as EADDRINUSE under load), as in tests/relay/harness.c.
export async function freePort() {
  for (let tries = 0; tries < 200; tries++) {
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
  throw new Error('no free port between 20000 and 32000');
}

/** { url, port, stop(), restart() }: file storage in a temp dir that outlives restarts. */
let fileStorage = true; // falls back to memory while the relay's file storage is not available

/**
 * exe: another weft-relay binary (an old build, tests/js/versions.test.mjs);
 * storage: 'redis' with args ['--redis', url] for a relay of a Redis group;
 * args: more flags.
 */
export async function startRelay({ port = null, dataDir = null, exe = RELAY, storage = null, args = [] } = {}) {
  if (storage) return start({ port, dataDir, storage, exe, args });
  try {
    return await start({ port, dataDir, storage: fileStorage ? 'file' : 'memory', exe, args });
  } catch (e) {
    if (!fileStorage || !/cannot open file storage/.test(e.message)) throw e;
    fileStorage = false;
    return start({ port, dataDir, storage: 'memory', exe, args });
  }
}

/** Waits while the binary is being relinked (a concurrent build). */
async function executable(exe) {
  for (let i = 0; i < 300; i++) {
    try {
      accessSync(exe, constants.X_OK);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${exe} is not executable`);
}

async function start({ port, dataDir, storage, exe = RELAY, args = [] }) {
  await executable(exe);
  port ??= await freePort();
  const data = dataDir ?? mkdtempSync(join(tmpdir(), 'weft-relay-'));
  const child = spawn(exe, ['--listen', `127.0.0.1:${port}`, '--storage', storage, '--data', data, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.on('error', (e) => (log += `spawn failed: ${e.message}`));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((r) => child.on('exit', r));
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      if (!dataDir) rmSync(data, { recursive: true, force: true });
      throw new Error(`weft-relay did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    storage,
    url: `ws://127.0.0.1:${port}`,
    port,
    data,
    log: () => log,
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      if (!keepData && !dataDir) rmSync(data, { recursive: true, force: true });
    },
    /** kill -9: nothing drains (the data directory stays). */
    async crash() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
    async restart() {
      await this.stop({ keepData: true });
      return start({ port, dataDir: data, storage, exe, args });
    },
  };
}
