// The demo PWA over https:// (issue 28): weft-relay with --tls-cert serves
// the app, and the app, seeing https:, syncs over wss:// on the same
// origin. The certificate comes from a CA made at test time; Chromium
// trusts exactly that certificate's key (--ignore-certificate-errors-spki-list,
// the SHA-256 of its public key), so the service worker registers too.
// Two people in two browser contexts: one creates a space, the other
// joins by invite link and sees it; both end synced.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { execSync, spawnSync } from 'node:child_process';
import { launch, startRelay, openPage, haveChromium, haveRelay, haveDist, CHROMIUM, RELAY, DIST } from './lib.mjs';
import { makeCa } from '../js/tlsca.mjs';

const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
const skip = !haveChromium ? `no Chromium at ${CHROMIUM}` : !haveRelay ? `no relay at ${RELAY}` : !haveDist ? `no build in ${DIST}` : !haveOpenssl ? 'no openssl' : false;
const WAIT = { timeout: 20_000 };

let relay, browser, ca;
before(async () => {
  if (skip) return;
  ca = makeCa();
  const pair = ca.issue();
  relay = await startRelay({ tls: { ...pair, ca: ca.ca } });
  const spki = execSync(`openssl x509 -in ${pair.cert} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`, { encoding: 'utf8' }).trim();
  browser = await launch([`--ignore-certificate-errors-spki-list=${spki}`]);
});
after(async () => {
  await browser?.close();
  await relay?.stop();
  if (ca) rmSync(ca.dir, { recursive: true, force: true });
});

test('the demo over https:// syncs over wss://', { skip, timeout: 90_000 }, async () => {
  assert.match(relay.url, /^https:\/\/localhost:/);
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  const sockets = [];
  const a = await openPage(ctxA);
  a.on('websocket', (ws) => sockets.push(ws.url()));
  await a.goto(relay.url);
  await a.getByLabel('Your name').fill('Alice');
  await a.getByLabel('Your name').blur();
  await a.getByLabel('Name', { exact: true }).fill('Over TLS');
  await a.getByRole('button', { name: 'Create space' }).click();
  await a.locator('.status[data-state=synced]').waitFor(WAIT);
  assert.ok(sockets.length >= 1 && sockets.every((u) => u.startsWith(`wss://localhost:${relay.port}`)), JSON.stringify(sockets));

  await a.getByRole('button', { name: 'Share' }).click();
  await a.getByLabel('read and edit').check();
  await a.getByRole('button', { name: 'Make link' }).click();
  const invite = await a.getByLabel('Invite link').inputValue();
  assert.ok(invite.startsWith(relay.url), invite);

  const b = await openPage(ctxB, relay.url);
  await b.getByLabel('Your name').fill('Bob');
  await b.getByLabel('Your name').blur();
  await b.goto(invite);
  await b.locator('h1', { hasText: 'Over TLS' }).waitFor(WAIT);
  await b.locator('.status[data-state=synced]').waitFor(WAIT);
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  await ctxA.close();
  await ctxB.close();
});
