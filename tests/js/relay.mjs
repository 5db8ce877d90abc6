// Starts a real weft-relay (build/relay/weft-relay) on a free loopback port
// with a temporary data directory, for the sync tests; stop() ends it (and
// the tests stop it in `after`, even on failure).
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
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
 * args: more flags;
 * tls: { cert, key, ca } (PEM file paths, tests/js/tlsca.mjs): serve wss://
 * and https:// on localhost, probed with that CA.
 */
export async function startRelay({ port = null, dataDir = null, exe = RELAY, storage = null, args = [], tls = null } = {}) {
  if (tls) args = [...args, '--tls-cert', tls.cert, '--tls-key', tls.key];
  if (storage) return start({ port, dataDir, storage, exe, args, tls });
  try {
    return await start({ port, dataDir, storage: fileStorage ? 'file' : 'memory', exe, args, tls });
  } catch (e) {
    if (!fileStorage || !/cannot open file storage/.test(e.message)) throw e;
    fileStorage = false;
    return start({ port, dataDir, storage: 'memory', exe, args, tls });
  }
}

/** GET https://localhost:port/path trusting only the PEM text `ca`: { status, body }. */
export function httpsGet(port, path, ca) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port, path, ca, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
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

async function start({ port, dataDir, storage, exe = RELAY, args = [], tls = null }) {
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
      const ok = tls ? (await httpsGet(port, '/healthz', readFileSync(tls.ca))).status === 200 : (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
      if (ok) break;
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
    url: tls ? `wss://localhost:${port}` : `ws://127.0.0.1:${port}`,
    port,
    data,
    log: () => log,
    /** Sends the relay a signal (SIGHUP: reload the TLS pair and admission list). */
    signal: (sig) => child.kill(sig),
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      if (!keepData && !dataDir) rmSync(data, { recursive: true, force: true });
    },
    async restart() {
      await this.stop({ keepData: true });
      return start({ port, dataDir: data, storage, exe, args, tls });
    },
  };
}
