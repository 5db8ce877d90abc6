// What the end-to-end tests share: a real weft-relay serving the built app
// (web/dist) on a free loopback port with a temporary data directory, and
// Debian's Chromium driven by playwright-core (a devDependency of web/).
// Everything started here is stopped by the tests' `after`, even on failure.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpsGet } from '../js/relay.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const RELAY = process.env.WEFT_RELAY ?? join(root, 'build/relay/weft-relay');
export const DIST = join(root, 'web/dist');
export const SHOTS = join(root, 'tests/e2e/screenshots');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

/** playwright-core as web/ installed it. */
export const { chromium } = createRequire(join(root, 'web/package.json'))('playwright-core');

/** Chromium; extra: more command-line flags. */
export async function launch(extra = []) {
  return chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, ...extra] });
}

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Starts weft-relay with file storage, serving web/dist. Resolves to
 * { url, port, data, stop(), restart() }; the data directory outlives
 * restarts and is removed by stop() unless { keepData }. tls: { cert, key,
 * ca } (PEM paths, tests/js/tlsca.mjs): https://localhost instead.
 */
export async function startRelay({ port = null, data = null, tls = null } = {}) {
  port ??= await freePort();
  data ??= mkdtempSync(join(tmpdir(), 'weft-e2e-'));
  const extra = tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key] : [];
  const child = spawn(RELAY, ['--listen', `127.0.0.1:${port}`, '--storage', 'file', '--data', data, '--static', DIST, ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.on('error', (e) => (log += `spawn failed: ${e.message}\n`));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((r) => child.on('exit', r));
  const url = tls ? `https://localhost:${port}/` : `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if (tls ? (await httpsGet(port, '/healthz', readFileSync(tls.ca))).status === 200 : (await fetch(`${url}healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`weft-relay did not start on port ${port}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    data,
    log: () => log,
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      if (!keepData) rmSync(data, { recursive: true, force: true });
    },
    async restart() {
      await this.stop({ keepData: true });
      return startRelay({ port, data, tls });
    },
  };
}

/** A page that fails the test on uncaught errors (a refused WebSocket while the relay is down is expected). */
export async function openPage(context, url) {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const t = m.text();
    if (/WebSocket connection to .* failed|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|Failed to load resource/.test(t)) return;
    page.errors.push(t);
  });
  page.on('dialog', (d) => d.accept());
  if (url) await page.goto(url);
  return page;
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export const haveChromium = existsSync(CHROMIUM);
export const haveRelay = existsSync(RELAY);
export const haveDist = existsSync(join(DIST, 'index.html'));

/** Checks that the relay serves the app (web/dist through --static) and resolves to its address. */
export async function appUrl(relay) {
  const res = await fetch(relay.url).catch((e) => ({ ok: false, status: e.message, headers: new Headers() }));
  const type = res.headers.get('content-type') ?? '';
  if (!res.ok || !type.startsWith('text/html')) throw new Error(`weft-relay does not serve the app at ${relay.url} (${res.status} ${type})`);
  return relay.url;
}

/** Why a test of the demo skips (its `skip` option), or false. */
export const demoSkip = !haveChromium ? `no Chromium at ${CHROMIUM}` : !haveRelay ? `no relay at ${RELAY}` : !haveDist ? `no build in ${DIST} (npm run build in web/)` : false;

/**
 * Starts a relay serving the app and Chromium before a test file's tests,
 * hands them to `got({ relay, app, browser })`, and stops both after the
 * tests (nothing when the file skips).
 */
export function withDemo(got) {
  let relay, browser;
  before(async () => {
    if (demoSkip) return;
    relay = await startRelay();
    const app = await appUrl(relay);
    browser = await launch();
    got({ relay, app, browser });
  });
  after(async () => {
    await browser?.close();
    await relay?.stop();
  });
}

/** Waits until every page holds the same state and has nothing left to send; resolves to the state hash. */
export async function converged(...pages) {
  const deadline = Date.now() + 25_000;
  for (;;) {
    const st = await Promise.all(pages.map((p) => p.evaluate(() => ({ h: window.weftSpace.stateHash(), ...window.weftSpace.status }))));
    if (st.every((s) => s.h === st[0].h && s.state === 'synced' && s.pending === 0)) return st[0].h;
    if (Date.now() > deadline) assert.fail(`no convergence: ${JSON.stringify(st)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
