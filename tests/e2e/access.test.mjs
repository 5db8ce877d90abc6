// Access over time, the whole scenario of issue 22 in one run of the demo
// PWA in Chromium against a real relay: three people in a space (Olga the
// owner, Ann an admin, Max a writer, each joined by a link for one
// person); Olga removes Max while his browser is closed; Ann and Olga keep
// editing; Max comes back and is refused with a sentence; the relay's data
// after the rotation does not open with Max's keys (the CLI, `weft merge`,
// while Ann's keys open it); Ann, an admin who joined by link, invites a
// fourth person, Zoe; Ann links a second device, which edits as Ann; Zoe
// backs up her keys and restores them on a fresh profile: the same space
// and rights under a new device key, let in by Olga's device.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, startRelay, appUrl, openPage, shot, demoSkip } from './lib.mjs';

const WEFT = join(dirname(fileURLToPath(import.meta.url)), '../../build/cli/weft');
const skip = demoSkip || (!existsSync(WEFT) && `no CLI at ${WEFT}`);
const WAIT = { timeout: 20_000 };
const PW = 'amber kettle orbit nine';

let relay, app, browser, tmp;
before(async () => {
  if (skip) return;
  relay = await startRelay();
  app = await appUrl(relay);
  browser = await launch();
  tmp = mkdtempSync(join(tmpdir(), 'weft-e2e-access-'));
});
after(async () => {
  await browser?.close();
  await relay?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function visit(name, context = null) {
  const page = await openPage(context ?? (await browser.newContext({ acceptDownloads: true })), app);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Your name').blur();
  return page;
}

const synced = (page) => page.locator('.status[data-state=synced]').waitFor(WAIT);

async function addTodo(page, title) {
  await page.getByLabel('New todo').fill(title);
  await page.getByLabel('New todo').press('Enter');
  await page.locator('.todo-list label', { hasText: title }).waitFor(WAIT);
}
const sees = (page, title) => page.locator('.todo-list label', { hasText: title }).waitFor(WAIT);

/** A link for one person, from the members dialog. */
async function personLink(page, rights) {
  await page.getByRole('button', { name: 'Members' }).click();
  await page.getByRole('button', { name: 'Invite someone' }).click();
  await page.getByLabel(rights).check();
  await page.getByRole('button', { name: 'Make link' }).click();
  await page.getByText('the first device that opens it joins').waitFor(WAIT);
  const link = await page.getByLabel('Invite link').inputValue();
  await synced(page); // the invite's grant reached the relay
  await page.getByRole('dialog', { name: 'Share this space' }).getByRole('button', { name: 'Close' }).last().click();
  await page.getByRole('dialog', { name: 'Members' }).getByRole('button', { name: 'Close' }).click();
  return link;
}

/** Opens a link on a new device: resolves once it is synced and shows the todos. */
async function openLink(page, link) {
  await page.goto(link);
  await page.locator('h1', { hasText: 'Team' }).waitFor(WAIT).catch(async (e) => {
    await shot(page, 'access-failed-join');
    throw e;
  });
  await synced(page);
  await page.getByRole('button', { name: 'Todos' }).click();
}

/** This device's keys, as the page's weftdb holds them (base64url). */
function keysOf(page) {
  return page.evaluate(() => {
    const b64 = (u) => btoa(String.fromCharCode(...u)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const m = window.weftSpace._internal.meta;
    return { space: b64(m.space), author: b64(m.author), authorSecret: b64(m.authorSecret), contentKey: b64(m.contentKey), oldKeys: (m.oldKeys ?? []).map(b64), keyEpoch: m.keyEpoch ?? 0 };
  });
}

/** A CLI replica directory holding `keys` (cli/spacedir.h's space.json). */
function cliReplica(name, keys) {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const json = { format: 'weft-space-v1', space: keys.space, content_key: keys.contentKey, author_public: keys.author, author_secret: keys.authorSecret, relay: '', token: '' };
  if (keys.oldKeys.length) {
    const all = Buffer.concat(keys.oldKeys.map((k) => Buffer.from(k, 'base64url')));
    Object.assign(json, { old_keys: all.toString('base64url'), key_epoch: keys.keyEpoch });
  }
  writeFileSync(join(dir, 'space.json'), JSON.stringify(json), { mode: 0o600 });
  writeFileSync(join(dir, 'changes.weft'), '');
  return dir;
}

test('access over time: remove an offline member with rotation, an admin by link invites, a linked device, backup and restore', { skip, timeout: 180_000 }, async () => {
  const t0 = Date.now();
  const step = (what) => process.env.E2E_STEPS && console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  // Three people: Olga creates the space and invites Ann (admin) and Max.
  const olga = await visit('Olga');
  await olga.getByLabel('Name', { exact: true }).fill('Team');
  await olga.getByRole('button', { name: 'Create space' }).click();
  await synced(olga);
  await olga.getByRole('button', { name: 'Todos' }).click();
  await addTodo(olga, 'plan the week');
  const annLink = await personLink(olga, 'read, edit, invite and remove (admin)');
  const maxLink = await personLink(olga, 'read and edit');
  const ann = await visit('Ann');
  await openLink(ann, annLink);
  const maxContext = await browser.newContext();
  let max = await visit('Max', maxContext);
  await openLink(max, maxLink);
  await sees(ann, 'plan the week');
  await addTodo(max, 'Max was here');
  await sees(olga, 'Max was here');
  const spaceId = await olga.evaluate(() => window.weftSpace.id);
  const maxKeys = await keysOf(max);
  assert.equal(await ann.evaluate(() => window.weftSpace.rights), 'admin');

  step('Max closes his browser');
  // Max closes his browser; Olga removes him meanwhile.
  await max.close();
  await olga.getByRole('button', { name: 'Members' }).click();
  const row = olga.locator('#members-list .member', { hasText: `Member ${maxKeys.author.slice(0, 8)}` });
  await row.getByRole('button', { name: 'Remove' }).click(); // openPage accepts the confirm
  await olga.locator('#members-list .member[data-state=removed]').waitFor(WAIT);
  await olga.getByRole('dialog', { name: 'Members' }).getByRole('button', { name: 'Close' }).click();
  assert.equal(await olga.evaluate(() => window.weftSpace.keyEpoch), 1);

  step('The remaining two keep editing');
  // The remaining two keep editing, under the new key.
  await addTodo(ann, 'after Max left (Ann)');
  await sees(olga, 'after Max left (Ann)');
  await addTodo(olga, 'after Max left (Olga)');
  await sees(ann, 'after Max left (Olga)');
  await synced(olga);
  await synced(ann);

  step('Max comes back');
  // Max comes back: refused, in words, and nothing new reaches him.
  max = await openPage(maxContext, `${app}#s=${spaceId}`);
  await max.locator('.status[data-state=removed]').waitFor(WAIT);
  await max.getByText('You were removed from this space').first().waitFor(WAIT);
  await shot(max, 'access-removed');

  step("The relay's data after");
  // The relay's data after the rotation: Max's keys do not open it; Ann's do.
  const exported = execFileSync(WEFT, ['log', 'export', relay.data], { encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l));
  // The change records (kind 1), as a record file the CLI merges.
  const records = Buffer.concat(exported.map((e) => Buffer.from(e.record, 'base64url')).filter((r) => r[1] === 1));
  const file = join(tmp, 'relay-changes.weft');
  writeFileSync(file, records);
  const maxDir = cliReplica('max', maxKeys);
  const refused = spawnSync(WEFT, ['merge', maxDir, file], { encoding: 'utf8' });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /cryptographic check failed/);
  assert.doesNotMatch(execFileSync(WEFT, ['export', maxDir], { encoding: 'utf8' }), /after Max left/);
  const annDir = cliReplica('ann', await keysOf(ann));
  const opened = spawnSync(WEFT, ['merge', annDir, file], { encoding: 'utf8' });
  assert.equal(opened.status, 0, opened.stderr);
  const annSees = execFileSync(WEFT, ['export', annDir], { encoding: 'utf8' });
  assert.match(annSees, /after Max left \(Ann\)/);
  assert.match(annSees, /Max was here/);

  step('Ann, an admin who joined');
  // Ann, an admin who joined by link, invites a fourth person.
  const zoeLink = await personLink(ann, 'read and edit');
  const zoeContext = await browser.newContext({ acceptDownloads: true });
  const zoe = await visit('Zoe', zoeContext);
  await openLink(zoe, zoeLink);
  await sees(zoe, 'after Max left (Olga)');
  await addTodo(zoe, 'hello from Zoe');
  await sees(olga, 'hello from Zoe');

  step("Ann's second device");
  // Ann's second device: joins by a link of Ann's, then Ann links it.
  await ann.getByRole('button', { name: 'Notes', exact: true }).click();
  await ann.getByRole('button', { name: '+ New note' }).click();
  await ann.getByLabel('Note title').fill('Agenda'); // records the name Ann goes by
  const phoneLink = await personLink(ann, 'read and edit');
  const phone = await visit('Ann on the phone');
  await openLink(phone, phoneLink);
  await ann.getByRole('button', { name: 'Devices' }).click();
  const annKey = await ann.getByLabel('This device\'s key').inputValue();
  await phone.getByRole('button', { name: 'Devices' }).click();
  await phone.getByLabel('Key of your first device').fill(annKey);
  await phone.getByRole('button', { name: 'Make code' }).click();
  const code = await phone.getByLabel('Code for your first device').inputValue();
  await ann.getByLabel('Code from the new device').fill(code);
  await ann.getByRole('button', { name: 'Link', exact: true }).click();
  await ann.getByText('Linked').waitFor(WAIT);
  await phone.getByRole('dialog').locator('li', { hasText: 'this device' }).waitFor(WAIT);
  await phone.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
  await ann.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
  await phone.getByRole('button', { name: 'Notes', exact: true }).click();
  await phone.getByRole('button', { name: '+ New note' }).click();
  await phone.getByLabel('Note title').fill('From Ann\'s phone');
  await olga.getByRole('button', { name: 'Notes', exact: true }).click();
  await olga.locator('.note-item', { hasText: 'From Ann\'s phone' }).waitFor(WAIT);
  await olga.locator('.note-item', { hasText: 'From Ann\'s phone' }).click();
  await olga.getByRole('button', { name: 'History' }).click();
  const hist = olga.getByRole('dialog');
  await hist.locator('li', { hasText: 'created the note' }).waitFor(WAIT);
  assert.match(await hist.textContent(), /Ann created the note/);
  await hist.getByRole('button', { name: 'Close' }).click();

  step('Zoe backs up');
  // Zoe backs up her keys; a fresh profile restores them: the same space
  // and rights under a key of its own, let in once Olga's device grants it.
  const zoeFirst = await zoe.evaluate(() => ({ id: window.weftSpace.id, author: window.weftSpace.author }));
  await zoe.getByRole('button', { name: 'Your data' }).click();
  await zoe.getByLabel('Passphrase:').fill(PW);
  await zoe.getByLabel('Again:').fill(PW);
  const [download] = await Promise.all([zoe.waitForEvent('download'), zoe.getByRole('button', { name: 'Back up keys' }).click()]);
  const backup = await download.path();
  await zoe.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
  const fresh = await visit('Zoe on a new laptop');
  await fresh.getByLabel('Backup file').setInputFiles(backup);
  await fresh.getByLabel('Passphrase').fill(PW);
  await fresh.getByRole('button', { name: 'Restore' }).click();
  await fresh.locator('h1', { hasText: 'Team' }).waitFor(WAIT);
  await synced(fresh);
  const again = await fresh.evaluate(() => ({ id: window.weftSpace.id, author: window.weftSpace.author, rights: window.weftSpace.rights }));
  assert.equal(again.id, zoeFirst.id);
  assert.equal(again.rights, 'write');
  assert.notEqual(again.author, zoeFirst.author);
  await fresh.getByRole('button', { name: 'Todos' }).click();
  await sees(fresh, 'hello from Zoe');
  await addTodo(fresh, 'Zoe, restored');
  await olga.getByRole('button', { name: 'Todos', exact: true }).click();
  await sees(olga, 'Zoe, restored');
  await shot(fresh, 'access-restored');

  for (const p of [olga, ann, zoe, phone, fresh]) assert.deepEqual(p.errors, []);
  console.log(`access scenario: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});
