// The demo PWA opening a space that it joins from the relay's sealed
// snapshot: an admin's device (weftdb in Node) writes a note and 1,200
// more changes through a real weft-relay and publishes a snapshot on its
// own; Chromium then opens the invite link, joins from the snapshot (the
// relay counts it served), shows the note, and its history says that older
// history was trimmed on this device.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { launch, startRelay, appUrl, openPage, shot, demoSkip } from './lib.mjs';
import { createSpace } from '../../wasm/src/index.js';

const { WebSocket } = createRequire(new URL('../js/package.json', import.meta.url))('ws');
const skip = demoSkip;
const WAIT = { timeout: 20_000 };

let relay, app, browser, owner;

before(async () => {
  if (skip) return;
  relay = await startRelay();
  app = await appUrl(relay);
  browser = await launch();
});

after(async () => {
  await owner?.close();
  await browser?.close();
  await relay?.stop();
});

async function metric(name) {
  const text = await fetch(`${app}metrics`).then((r) => r.text());
  return Number(text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? NaN);
}

test('the demo opens a space joined from a snapshot; its note history says older history was trimmed', { skip, timeout: 120_000 }, async () => {
  owner = await createSpace({ storage: 'memory', relay: app.replace(/^http/, 'ws').replace(/\/$/, ''), sync: { WebSocket, minDelay: 50, maxDelay: 400 } });
  const published = new Promise((r) => owner.on('snapshot', r));
  const now = Date.now();
  await owner.transact(() => {
    owner.collection('meta').put('space', { name: 'Snapshot space' });
    owner.collection('notes').put('n1', { title: 'Joined from a snapshot', created: now, updated: now, by: 'Olga' });
    owner.collection('people').put(owner.author, { name: 'Olga' });
  });
  await owner.text('notes', 'n1', 'body').insert(0, 'written before the snapshot');
  const batch = [];
  for (let i = 0; i < 1200; i++) batch.push(owner.transact(() => owner.collection('todos').put(`t${i % 20}`, { title: `todo ${i}`, done: false })));
  await Promise.all(batch);
  await published;
  assert.equal(await metric('weft_relay_snapshots_stored_total'), 1);
  const served = await metric('weft_relay_snapshots_served_total');

  const ctx = await browser.newContext();
  const page = await openPage(ctx, app);
  await page.getByLabel('Your name').fill('Jo');
  await page.getByLabel('Your name').blur();
  await page.goto(owner.invite({ rights: 'write', base: app }));
  await page.locator('.status[data-state=synced]').waitFor(WAIT);
  assert.equal(await page.locator('h1').textContent(), 'Snapshot space');
  assert.equal(await metric('weft_relay_snapshots_served_total'), served + 1, 'the app joined from the snapshot');
  await page.getByRole('button', { name: 'Notes' }).click();
  await page.locator('.note-item', { hasText: 'Joined from a snapshot' }).click();
  await page.waitForFunction(() => document.querySelector('#note-body')?.textContent === 'written before the snapshot', null, WAIT);
  await page.getByRole('button', { name: 'History' }).click();
  const hist = page.getByRole('dialog');
  await hist.locator('li.trimmed').waitFor(WAIT);
  assert.match(await hist.textContent(), /Older history was trimmed/);
  await shot(page, '12-history-trimmed');
  await hist.getByRole('button', { name: 'Close' }).click();
  assert.deepEqual(page.errors, []);
  await ctx.close();
});
