// The demo's rich-text notes (web/src/richtext.js: weftdb/prosemirror) and
// code snippets (web/src/code.js: weftdb/codemirror), end to end: two
// people in two browsers, synced through a real weft-relay, format and type
// in one note at once with the keyboard and the toolbar; each sees the
// other's caret in their colour; Ctrl+Z undoes only one's own typing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, shot, demoSkip, withDemo, converged } from './lib.mjs';

const skip = demoSkip;
const WAIT = { timeout: 20_000 };

let app, browser;

withDemo((d) => ({ app, browser } = d));

async function visit(context, name) {
  const page = await openPage(context, app);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Your name').blur();
  return page;
}

/** The editor's blocks as [tag, html], without other people's carets. */
const blocks = (page) => page.evaluate(() => [...document.querySelector('#note-body').children].map((c) => {
  const x = c.cloneNode(true);
  x.querySelectorAll('.weft-pm-caret, .ProseMirror-separator, .ProseMirror-trailingBreak').forEach((e) => e.remove());
  return [c.tagName.toLowerCase(), x.innerHTML];
}));

test('two people format and type in one rich-text note at once, see each other\'s carets, undo only their own', { skip, timeout: 120_000 }, async () => {
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  try {
    const a = await visit(ctxA, 'Alice');
    await a.getByLabel('Name', { exact: true }).fill('Rich notes');
    await a.getByRole('button', { name: 'Create space' }).click();
    await a.locator('.status[data-state=synced]').waitFor(WAIT);
    await a.getByRole('button', { name: 'Share' }).click();
    await a.getByLabel('read and edit').check();
    await a.getByRole('button', { name: 'Make link' }).click();
    const invite = await a.getByLabel('Invite link').inputValue();
    await a.getByRole('dialog').getByRole('button', { name: 'Close' }).last().click();
    const b = await visit(ctxB, 'Bob');
    await b.goto(invite);
    await b.locator('h1', { hasText: 'Rich notes' }).waitFor(WAIT);

    await a.getByRole('button', { name: '+ New note' }).click();
    await a.getByLabel('Note title').fill('Plan');
    await a.getByLabel('Note text').click();
    await a.keyboard.type('Agenda');
    await a.keyboard.press('Control+Alt+1'); // a heading
    await a.keyboard.press('Enter');
    await a.keyboard.type('first point');
    await b.locator('.note-item', { hasText: 'Plan' }).click();
    await converged(a, b);
    await b.waitForFunction(() => document.querySelector('#note-body h1')?.textContent === 'Agenda', null, WAIT);

    // At once: Alice bolds "first" with the keyboard; Bob adds a list item with the toolbar.
    await Promise.all([
      (async () => {
        await a.keyboard.press('Home');
        for (let i = 0; i < 5; i++) await a.keyboard.press('Shift+ArrowRight');
        await a.keyboard.press('Control+b');
        await a.keyboard.press('End');
      })(),
      (async () => {
        await b.getByLabel('Note text').click();
        await b.keyboard.press('Control+End');
        await b.keyboard.press('Enter');
        await b.getByRole('button', { name: 'Bulleted list' }).click();
        await b.keyboard.type('item by Bob', { delay: 10 });
      })(),
    ]);
    await converged(a, b);
    const want = [['h1', 'Agenda'], ['p', '<strong>first</strong> point'], ['div', 'item by Bob']];
    for (const p of [a, b]) {
      await p.waitForFunction((w) => JSON.stringify([...document.querySelectorAll('#note-body > *')].map((c) => c.textContent)) === w,
        JSON.stringify(want.map(([, t]) => t.replace(/<[^>]+>/g, ''))), WAIT);
      assert.deepEqual(await blocks(p), want);
    }
    assert.equal(await a.locator('#note-body .weft-pm-li').getAttribute('data-depth'), '0');

    // Each sees the other's caret, in their colour: Bob's at the end of his item, Alice's after "first point".
    await a.locator('#note-body .weft-pm-caret[data-name="Bob"]').waitFor(WAIT);
    await b.locator('#note-body .weft-pm-caret[data-name="Alice"]').waitFor(WAIT);
    const colour = await a.locator('#note-body .weft-pm-caret[data-name="Bob"]').evaluate((e) => e.style.borderLeftColor);
    assert.match(colour, /^rgb/);
    await a.waitForFunction(() => document.querySelector('#note-body .weft-pm-caret[data-name="Bob"]')?.parentElement?.textContent === 'item by Bob', null, WAIT);
    await a.locator('.note-cursor', { hasText: 'Bob' }).waitFor(WAIT);
    await shot(a, '6-rich-text');

    // Alice types at once with Bob, then undoes: only her words go.
    await Promise.all([
      a.keyboard.type(' now', { delay: 10 }),
      b.keyboard.type('!', { delay: 10 }),
    ]);
    await converged(a, b);
    await a.waitForFunction(() => document.querySelector('#note-body p')?.textContent === 'first point now', null, WAIT);
    for (let i = 0; i < 6 && (await a.evaluate(() => document.querySelector('#note-body').textContent.includes('Agenda'))); i++) {
      await a.keyboard.press('Control+z');
      await new Promise((r) => setTimeout(r, 100));
    }
    await converged(a, b);
    for (const p of [a, b]) {
      await p.waitForFunction(() => document.querySelector('#note-body').textContent === 'item by Bob!', null, WAIT);
      assert.deepEqual(await blocks(p), [['div', 'item by Bob!']]);
    }
    // Enter in a list item makes the next one; Tab nests it (depth 1), for both.
    await b.keyboard.press('Enter');
    await b.keyboard.press('Tab');
    await b.keyboard.type('nested');
    await converged(a, b);
    await a.waitForFunction(() => document.querySelectorAll('#note-body .weft-pm-li').length === 2, null, WAIT);
    assert.deepEqual(await a.locator('#note-body .weft-pm-li').evaluateAll((els) => els.map((e) => [e.textContent, e.dataset.depth])),
      [['item by Bob!', '0'], ['nested', '1']]);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await ctxA.close();
    await ctxB.close();
  }
});

test('a code snippet opens in CodeMirror for both; a plain-text note from before opens as paragraphs', { skip, timeout: 90_000 }, async () => {
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  try {
    const a = await visit(ctxA, 'Alice');
    await a.getByLabel('Name', { exact: true }).fill('Snippets');
    await a.getByRole('button', { name: 'Create space' }).click();
    await a.locator('.status[data-state=synced]').waitFor(WAIT);
    await a.getByRole('button', { name: 'Share' }).click();
    await a.getByLabel('read and edit').check();
    await a.getByRole('button', { name: 'Make link' }).click();
    const invite = await a.getByLabel('Invite link').inputValue();
    await a.getByRole('dialog').getByRole('button', { name: 'Close' }).last().click();
    const b = await visit(ctxB, 'Bob');
    await b.goto(invite);
    await b.locator('h1', { hasText: 'Snippets' }).waitFor(WAIT);

    await a.getByRole('button', { name: '+ Code snippet' }).click();
    await a.getByLabel('Note title').fill('hello.c');
    await a.locator('.note-body.code .cm-content').click();
    await a.keyboard.type('int main(void) {');
    await a.keyboard.press('Enter');
    await a.keyboard.type('return 0; }');
    await b.locator('.note-item', { hasText: 'hello.c' }).click();
    await converged(a, b);
    // (The editor is in a shadow root: Playwright's locators go into it.)
    for (let i = 0; i < 100 && (await b.locator('.note-body.code .cm-line').allTextContents()).join('\n') !== 'int main(void) {\nreturn 0; }'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await b.locator('.note-body.code .cm-line').allTextContents(), ['int main(void) {', 'return 0; }']);
    assert.equal(await b.locator('#note-body').count(), 0); // no rich-text editor for a snippet
    await b.locator('.note-body.code .weft-cm-caret[data-name="Alice"]').waitFor(WAIT);

    // A note whose body is a plain string (as notes were before rich text): one paragraph per line.
    await a.evaluate(() => window.weftSpace.collection('notes').put('old', { title: 'Old note', body: 'line one\nline two', updated: 1 }));
    await converged(a, b);
    await b.locator('.note-item', { hasText: 'Old note' }).click();
    await b.waitForFunction(() => [...document.querySelectorAll('#note-body p')].map((p) => p.textContent).join('|') === 'line one|line two', null, WAIT);
    // and it edits as rich text
    await b.locator('#note-body p').last().click();
    await b.keyboard.press('End');
    await b.keyboard.type('!');
    await converged(a, b);
    assert.equal(await a.evaluate(() => window.weftSpace.text('notes', 'old', 'body').toString()), 'line one\nline two!');
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await ctxA.close();
    await ctxB.close();
  }
});
