// Key backup in the demo PWA (web/src/data.js, home.js), in Chromium
// against a real relay: the owner downloads a key backup; a fresh browser
// profile restores it with a wrong passphrase (refused, in words), then the
// right one, and opens the same space with the owner's rights under a key
// of its own; both edit and see each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openPage, shot, demoSkip, withDemo } from './lib.mjs';

const skip = demoSkip;
const WAIT = { timeout: 20_000 };
const PW = 'plum river lantern seven';

let app, browser;
withDemo((d) => ({ app, browser } = d));

async function visit(name) {
  const page = await openPage(await browser.newContext({ acceptDownloads: true }), app);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Your name').blur();
  return page;
}

async function addTodo(page, title) {
  await page.getByLabel('New todo').fill(title);
  await page.getByLabel('New todo').press('Enter');
  await page.locator('.todo-list label', { hasText: title }).waitFor(WAIT);
}

test('back up keys on one browser, restore them on a fresh profile: same space, same rights, a new device key', { skip, timeout: 120_000 }, async () => {
  const owner = await visit('Olga');
  await owner.getByLabel('Name', { exact: true }).fill('Keys');
  await owner.getByRole('button', { name: 'Create space' }).click();
  await owner.locator('.status[data-state=synced]').waitFor(WAIT);
  await owner.getByRole('button', { name: 'Todos' }).click();
  await addTodo(owner, 'before the backup');
  await owner.locator('.status[data-state=synced]').waitFor(WAIT);
  const first = await owner.evaluate(() => ({ id: window.weftSpace.id, author: window.weftSpace.author }));

  await owner.getByRole('button', { name: 'Your data' }).click();
  await owner.getByLabel('Passphrase:').fill(PW);
  await owner.getByLabel('Again:').fill('something else');
  await owner.getByRole('button', { name: 'Back up keys' }).click();
  await owner.getByText('The two passphrases differ.').waitFor(WAIT);
  await owner.getByLabel('Again:').fill(PW);
  const [download] = await Promise.all([owner.waitForEvent('download'), owner.getByRole('button', { name: 'Back up keys' }).click()]);
  assert.equal(download.suggestedFilename(), 'Keys.weft-backup.txt');
  const file = await download.path();
  assert.match(readFileSync(file, 'utf8'), /^weft-backup-1:/);
  await owner.getByRole('dialog').getByRole('button', { name: 'Close' }).click();

  // A fresh profile: a wrong passphrase is refused in words.
  const fresh = await visit('Olga on a new laptop');
  await fresh.getByLabel('Backup file').setInputFiles(file);
  await fresh.getByLabel('Passphrase').fill('plum river lantern eight');
  await fresh.getByRole('button', { name: 'Restore' }).click();
  await fresh.getByRole('alert').filter({ hasText: 'wrong passphrase' }).waitFor(WAIT);
  await shot(fresh, '8-restore-wrong-passphrase');

  await fresh.getByLabel('Backup file').setInputFiles(file);
  await fresh.getByLabel('Passphrase').fill(PW);
  await fresh.getByRole('button', { name: 'Restore' }).click();
  await fresh.locator('h1', { hasText: 'Keys' }).waitFor(WAIT);
  const again = await fresh.evaluate(() => ({ id: window.weftSpace.id, author: window.weftSpace.author, rights: window.weftSpace.rights }));
  assert.equal(again.id, first.id);
  assert.equal(again.rights, 'admin');
  assert.notEqual(again.author, first.author);
  await fresh.getByRole('button', { name: 'Share' }).waitFor(WAIT); // the owner's controls
  await fresh.getByRole('button', { name: 'Todos' }).click();
  await fresh.locator('.todo-list label', { hasText: 'before the backup' }).waitFor(WAIT);
  await addTodo(fresh, 'from the restored profile');
  await owner.locator('.todo-list label', { hasText: 'from the restored profile' }).waitFor(WAIT);
  await addTodo(owner, 'the first browser goes on');
  await fresh.locator('.todo-list label', { hasText: 'the first browser goes on' }).waitFor(WAIT);
  await shot(fresh, '9-restored');
});

test('one person, two devices: the new device makes a code, the first links it; history shows the person', { skip, timeout: 120_000 }, async () => {
  const laptop = await visit('Olga');
  await laptop.getByLabel('Name', { exact: true }).fill('Two devices');
  await laptop.getByRole('button', { name: 'Create space' }).click();
  await laptop.locator('.status[data-state=synced]').waitFor(WAIT);
  // Saving a note records the name this device goes by (web/src/history.js).
  await laptop.getByRole('button', { name: '+ New note' }).click();
  await laptop.getByLabel('Note title').fill('From the laptop');
  await laptop.getByRole('button', { name: 'Share' }).click();
  await laptop.getByLabel('read and edit').check();
  await laptop.getByRole('button', { name: 'Make link' }).click();
  const invite = await laptop.getByLabel('Invite link').inputValue();
  await laptop.getByRole('dialog').getByRole('button', { name: 'Close' }).last().click();

  const phone = await visit('Olga on the phone');
  await phone.goto(invite);
  await phone.locator('h1', { hasText: 'Two devices' }).waitFor(WAIT);

  await laptop.getByRole('button', { name: 'Devices' }).click();
  const key = await laptop.getByLabel('This device\'s key').inputValue();
  await phone.getByRole('button', { name: 'Devices' }).click();
  await phone.getByLabel('Key of your first device').fill(key);
  await phone.getByRole('button', { name: 'Make code' }).click();
  const code = await phone.getByLabel('Code for your first device').inputValue();
  assert.match(code, /^weft-device-1:/);
  assert.ok(code.length < 160, 'QR-sized');
  await laptop.getByLabel('Code from the new device').fill(code);
  await laptop.getByRole('button', { name: 'Link', exact: true }).click();
  await laptop.getByText('Linked').waitFor(WAIT);
  await phone.getByRole('dialog').locator('li', { hasText: 'this device' }).waitFor(WAIT);
  assert.equal(await phone.getByRole('dialog').locator('li').count(), 2, 'the phone lists both devices');
  await shot(phone, '10-devices');
  await phone.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
  await laptop.getByRole('dialog').getByRole('button', { name: 'Close' }).click();

  // The phone writes a note: the laptop's history shows Olga, the person.
  await phone.getByRole('button', { name: '+ New note' }).click();
  await phone.getByLabel('Note title').fill('From the phone');
  await laptop.locator('.note-item', { hasText: 'From the phone' }).waitFor(WAIT);
  await laptop.locator('.note-item', { hasText: 'From the phone' }).click();
  await laptop.getByRole('button', { name: 'History' }).click();
  const hist = laptop.getByRole('dialog');
  await hist.locator('li', { hasText: 'created the note' }).waitFor(WAIT);
  assert.match(await hist.textContent(), /Olga created the note/);
  assert.doesNotMatch(await hist.textContent(), /on the phone/);
});
