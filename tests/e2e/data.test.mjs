// "Your data" in the demo PWA (web/src/data.js), in Chromium against a real
// relay: the owner exports the space as JSON; a member leaves it on their
// device (after ticking the confirmation); the owner deletes it everywhere
// (after typing its name), and the relay's copy is gone; the export then
// fills a new space.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openPage, shot, RELAY, demoSkip, withDemo } from './lib.mjs';

const skip = demoSkip;
const WAIT = { timeout: 20_000 };

let relay, app, browser;
withDemo((d) => ({ relay, app, browser } = d));

async function visit(name) {
  const page = await openPage(await browser.newContext({ acceptDownloads: true }), app);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Your name').blur();
  return page;
}

/** Every file name under dir. */
function files(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...files(join(dir, e.name)));
    else out.push(join(dir, e.name));
  }
  return out;
}

test('export as JSON, leave on one device, delete everywhere as the owner, import into a new space', { skip, timeout: 120_000 }, async () => {
  const owner = await visit('Olga');
  await owner.getByLabel('Name', { exact: true }).fill('Moving house');
  await owner.getByRole('button', { name: 'Create space' }).click();
  await owner.locator('.status[data-state=synced]').waitFor(WAIT);
  await owner.getByRole('button', { name: 'Todos' }).click();
  await owner.getByLabel('New todo').fill('book the van');
  await owner.getByLabel('New todo').press('Enter');
  await owner.locator('.todo-list label', { hasText: 'book the van' }).waitFor(WAIT);
  const id = await owner.evaluate(() => window.weftSpace.id);
  await owner.locator('.status[data-state=synced]').waitFor(WAIT);

  // A member joins.
  await owner.getByRole('button', { name: 'Share' }).click();
  await owner.getByLabel('read and edit').check();
  await owner.getByRole('button', { name: 'Make link' }).click();
  const invite = await owner.getByLabel('Invite link').inputValue();
  await owner.getByRole('dialog').getByRole('button', { name: 'Close' }).last().click();
  const member = await visit('Max');
  await member.goto(invite);
  await member.locator('h1', { hasText: 'Moving house' }).waitFor(WAIT);

  // Export.
  await owner.getByRole('button', { name: 'Your data' }).click();
  await shot(owner, '7-your-data');
  const [download] = await Promise.all([owner.waitForEvent('download'), owner.getByRole('button', { name: 'Export JSON' }).click()]);
  assert.equal(download.suggestedFilename(), 'Moving-house.weft.json');
  const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(exported.format, 'weftdb-export');
  assert.equal(exported.space, id);
  assert.equal(exported.collections.meta.space.name, 'Moving house');
  assert.ok(Object.values(exported.collections.todos).some((t) => t.title === 'book the van'), JSON.stringify(exported.collections.todos));

  // The member leaves: the button waits for the confirmation.
  await member.getByRole('button', { name: 'Your data' }).click();
  assert.equal(await member.getByRole('button', { name: 'Delete everywhere' }).count(), 0, 'only the owner may delete everywhere');
  const leave = member.getByRole('button', { name: 'Leave this space' });
  assert.equal(await leave.isDisabled(), true);
  await member.getByLabel('I understand').check();
  await leave.click();
  await member.getByRole('button', { name: 'Create space' }).waitFor(WAIT);
  assert.equal(await member.getByText('Moving house').count(), 0, 'the space is gone from the list');
  await member.goto(`${app}#s=${id}`);
  await member.getByRole('alert').filter({ hasText: 'not on this device' }).waitFor(WAIT);

  // The owner deletes it everywhere: the name must be typed first.
  // The relay keeps a space in <data>/<space id, hex>/ (docs/RELAY.md).
  const hexId = Buffer.from(id, 'base64url').toString('hex');
  const spaceDir = () => files(relay.data).some((f) => f.includes(hexId));
  assert.ok(spaceDir(), 'the relay holds the space');
  const del = owner.getByRole('button', { name: 'Delete everywhere' });
  await owner.getByLabel('Type the space name to confirm').fill('Moving');
  assert.equal(await del.isDisabled(), true);
  await owner.getByLabel('Type the space name to confirm').fill('Moving house');
  await del.click();
  await owner.getByRole('button', { name: 'Create space' }).waitFor(WAIT);
  assert.equal(spaceDir(), false, "the relay's copy is gone");
  assert.ok(existsSync(relay.data));

  // The export brings it all back into a new space.
  await owner.getByLabel('Name', { exact: true }).fill('Copy');
  await owner.getByRole('button', { name: 'Create space' }).click();
  await owner.locator('.status[data-state=synced]').waitFor(WAIT);
  await owner.getByRole('button', { name: 'Your data' }).click();
  await owner.getByLabel('Add the documents of an export to this space').setInputFiles(await download.path());
  await owner.getByText(/Imported \d+ documents/).waitFor(WAIT);
  await owner.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
  await owner.getByRole('button', { name: 'Todos' }).click();
  await owner.locator('.todo-list label', { hasText: 'book the van' }).waitFor(WAIT);
  assert.deepEqual(owner.errors, []);
  assert.deepEqual(member.errors, []);
});
