// A tiny static HTTP server on loopback for the browser tests: serves the
// built package (wasm/src, wasm/dist) and libsodium.js and CodeMirror (for
// the weftdb/codemirror binding) and ProseMirror (weftdb/prosemirror) from
// wasm/node_modules,
// and a test page whose import map resolves the package's bare imports the
// way a bundler would (#file as package.json "imports" maps it outside Node).
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { join, normalize, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const wasmDir = join(dirname(fileURLToPath(import.meta.url)), '../../wasm');
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.json': 'application/json' };

const PAGE = `<!doctype html><meta charset="utf-8"><title>weftdb test</title>
<script type="importmap">{ "imports": {
  "libsodium-wrappers": "/pkg/node_modules/libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs",
  "libsodium": "/pkg/node_modules/libsodium/dist/modules-esm/libsodium.mjs",
  "weftdb": "/pkg/src/index.js",
  "#file": "/pkg/src/file_browser.js",
  "weftdb/codemirror": "/pkg/src/codemirror.js",
  "@codemirror/state": "/pkg/node_modules/@codemirror/state/dist/index.js",
  "@codemirror/view": "/pkg/node_modules/@codemirror/view/dist/index.js",
  "@marijn/find-cluster-break": "/pkg/node_modules/@marijn/find-cluster-break/src/index.js",
  "crelt": "/pkg/node_modules/crelt/index.js",
  "style-mod": "/pkg/node_modules/style-mod/src/style-mod.js",
  "w3c-keyname": "/pkg/node_modules/w3c-keyname/index.js",
  "weftdb/prosemirror": "/pkg/src/prosemirror.js",
  "prosemirror-model": "/pkg/node_modules/prosemirror-model/dist/index.js",
  "prosemirror-state": "/pkg/node_modules/prosemirror-state/dist/index.js",
  "prosemirror-view": "/pkg/node_modules/prosemirror-view/dist/index.js",
  "prosemirror-transform": "/pkg/node_modules/prosemirror-transform/dist/index.js",
  "prosemirror-commands": "/pkg/node_modules/prosemirror-commands/dist/index.js",
  "prosemirror-keymap": "/pkg/node_modules/prosemirror-keymap/dist/index.js",
  "prosemirror-schema-basic": "/pkg/node_modules/prosemirror-schema-basic/dist/index.js",
  "prosemirror-schema-list": "/pkg/node_modules/prosemirror-schema-list/dist/index.js",
  "orderedmap": "/pkg/node_modules/orderedmap/dist/index.js"
} }</script>
<script type="module">window.weftdb = await import('weftdb'); window.weftReady = true;</script>`;

/** Starts the server; resolves to { url, close() }. */
export async function startServer() {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' });
      res.end(PAGE);
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const rel = normalize(path).replace(/^\/+/, '');
    if (!rel.startsWith('pkg/') || rel.includes('..')) {
      res.writeHead(404).end();
      return;
    }
    const file = join(wasmDir, rel.slice(4));
    try {
      const body = await readFile(file);
      const ext = file.slice(file.lastIndexOf('.'));
      res.writeHead(200, { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((r) => {
      server.closeAllConnections?.();
      server.close(() => r());
    }),
  };
}

/** A page of `context` on the test page, with weftdb loaded; page.errors
 *  collects page errors and console errors (a refused WebSocket while a
 *  relay is down is expected, and logged by Chromium itself). */
export async function newPage(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket connection to .* failed/.test(m.text())) errors.push(new Error(m.text()));
  });
  await page.goto(url);
  await page.waitForFunction(() => window.weftReady === true);
  page.errors = errors;
  return page;
}

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** Why a test file's Chromium tests skip (its `skip` option), or false. */
export const noChromium = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (tools/setup installs it)`;
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

/**
 * Starts this server and Chromium before a test file's tests and stops both
 * after them (neither when Chromium is missing). `setup(env)` runs once both
 * are up (a file's own hooks may run before these).
 * @param {{ setup?: (env: { server: any, browser: any }) => Promise<void> }} [opts]
 * @returns {{ server: { url: string, close(): Promise<void> } | null, browser: import('playwright-core').Browser | null }}
 */
export function withChromium({ setup } = {}) {
  const env = { server: null, browser: null };
  before(async () => {
    if (noChromium) return;
    env.server = await startServer();
    env.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    await setup?.(env);
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.close();
  });
  return env;
}
