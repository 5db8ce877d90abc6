// The members dialog of the demo PWA (web/src/members.js), in Chromium
// against a real relay: the owner invites one person with a link their
// device claims; the dialog lists them; the same link on a second device
// is refused with a sentence; the owner removes the member, whose app then
// says so instead of retrying.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, shot, demoSkip, withDemo } from './lib.mjs';

const skip = demoSkip;
const WAIT = { timeout: 20_000 };

let app, browser;
withDemo((d) => ({ app, browser } = d));

async function visit(name) {
  const page = await openPage(await browser.newContext(), app);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Your name').blur();
  return page;
}

test('members: invite one person, list them, a second use of the link is refused, remove them', { skip, timeout: 120_000 }, async () => {
  const owner = await visit('Olga');
  await owner.getByLabel('Name', { exact: true }).fill('Team notes');
  await owner.getByRole('button', { name: 'Create space' }).click();
  await owner.locator('.status[data-state=synced]').waitFor(WAIT);

  await owner.getByRole('button', { name: 'Members' }).click();
  await owner.locator('#members-list .member', { hasText: 'You' }).waitFor(WAIT);
  await owner.getByRole('button', { name: 'Invite someone' }).click();
  await owner.getByLabel('read and edit').check();
  await owner.getByRole('button', { name: 'Make link' }).click();
  await owner.getByText('the first device that opens it joins').waitFor(WAIT);
  const link = await owner.getByLabel('Invite link').inputValue();
  await owner.locator('.status[data-state=synced]').waitFor(WAIT);
  await owner.getByRole('dialog', { name: 'Share this space' }).getByRole('button', { name: 'Close' }).last().click();

  const max = await visit('Max');
  await max.goto(link);
  await max.locator('h1', { hasText: 'Team notes' }).waitFor(WAIT);
  await max.locator('.status[data-state=synced]').waitFor(WAIT);
  const maxKey = await max.evaluate(() => window.weftSpace.author);
  const row = owner.locator('#members-list .member', { hasText: `Member ${maxKey.slice(0, 8)}` });
  await row.waitFor(WAIT);
  assert.match(await row.textContent(), /can edit/);
  await shot(owner, 'members-dialog');

  // The same link on another device: claimed already.
  const eve = await visit('Eve');
  await eve.goto(link);
  await eve.locator('.status[data-state=denied]').waitFor(WAIT);
  await eve.getByText('already used by another device').first().waitFor(WAIT);

  // The owner removes Max (openPage accepts the confirm); Max's app says so and stops.
  await row.getByRole('button', { name: 'Remove' }).click();
  await max.locator('.status[data-state=removed]').waitFor(WAIT);
  await max.getByText('You were removed from this space').waitFor(WAIT);
  await owner.locator('#members-list .member[data-state=removed]').waitFor(WAIT);
});
