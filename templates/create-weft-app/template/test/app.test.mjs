// The app's own test: builds it with vite, serves dist/ on loopback and
// drives it in Chromium (playwright-core; CHROMIUM names the browser,
// default /usr/bin/chromium).
//  - offline first: with no relay reachable the app still adds todos, and
//    they are there after a reload (IndexedDB); the schema refuses a todo
//    without a title;
//  - shared by link (when WEFT_RELAY names a running weft-relay): a second
//    browser profile opens the share link, sees the list and edits it, and
//    the first sees the edit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, dirname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const RELAY = process.env.WEFT_RELAY;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };

let server;
let browser;
let base;

before(async () => {
  await build({ root, logLevel: 'error' });
  const dist = join(root, 'dist');
  server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(dist, path === '/' ? 'index.html' : path);
    try {
      if (!file.startsWith(dist)) throw new Error('outside dist');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** A new browser profile (another device): its own IndexedDB and localStorage. */
async function device() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, errors, close: () => context.close() };
}

const todoTitles = (page) => page.locator('li span').allTextContents();

async function addTodo(page, title) {
  await page.fill('input[name=title]', title);
  await page.click('form button');
  await page.locator('li span', { hasText: title }).waitFor({ timeout: 10_000 });
}

test('offline first: todos are added with no relay reachable and kept across a reload', async () => {
  const d = await device();
  try {
    // Port 9 (discard): nothing listens, as when the network is down.
    await d.page.goto(`${base}?relay=ws://127.0.0.1:9`);
    await d.page.locator('h1').waitFor({ timeout: 30_000 });
    await addTodo(d.page, 'buy milk');
    await addTodo(d.page, 'call mum');
    // The schema refuses an empty title and writes nothing.
    await d.page.fill('input[name=title]', '   ');
    await d.page.click('form button');
    await d.page.getByRole('alert').filter({ hasText: 'a todo needs a title' }).waitFor({ timeout: 10_000 });
    assert.equal(await d.page.locator('li').count(), 2);
    assert.notEqual(await d.page.getByTestId('status').textContent(), 'synced');
    await d.page.reload();
    await d.page.locator('li span', { hasText: 'call mum' }).waitFor({ timeout: 30_000 });
    assert.deepEqual(await todoTitles(d.page), ['buy milk', 'call mum']);
    assert.deepEqual(d.errors, []);
  } finally {
    await d.close();
  }
});

test('shared by link through the relay: another device sees and edits the list', { skip: RELAY ? false : 'WEFT_RELAY is not set (a weft-relay URL, e.g. ws://127.0.0.1:8787)' }, async () => {
  const a = await device();
  const b = await device();
  try {
    await a.page.goto(`${base}?relay=${encodeURIComponent(RELAY)}`);
    await a.page.locator('h1').waitFor({ timeout: 30_000 });
    await addTodo(a.page, 'water the plants');
    await a.page.getByTestId('status').filter({ hasText: 'synced' }).waitFor({ timeout: 20_000 });
    await a.page.click('text=Share');
    const link = await a.page.getByTestId('link').inputValue();
    assert.match(link, /#/);

    await b.page.goto(link);
    await b.page.locator('li span', { hasText: 'water the plants' }).waitFor({ timeout: 20_000 });
    assert.equal(new URL(b.page.url()).hash, '', 'the invite left the address bar');
    await b.page.locator('li input[type=checkbox]').check();
    await a.page.locator('li input[type=checkbox]:checked').waitFor({ timeout: 20_000 });
    await addTodo(b.page, 'from the other device');
    await a.page.locator('li span', { hasText: 'from the other device' }).waitFor({ timeout: 20_000 });
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await a.close();
    await b.close();
  }
});

