// weftdb/prosemirror with the app's own nested schema in real Chromium
// (Debian's /usr/bin/chromium through playwright-core): ProseMirror's
// prosemirror-schema-basic + prosemirror-schema-list (bullet_list >
// list_item > paragraph), driven with the keyboard and its commands:
// typing into a list item, Enter splits it (splitListItem), Tab nests it
// (sinkListItem); the text holds list items with their depth and the other
// editor rebuilds the same nested document; a remote edit into the list
// keeps the local caret; both replicas converge.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer, newPage } from './server.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (tools/setup installs it)`;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

let server;
let browser;
let context;
let page;

before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  context = await browser.newContext();
  page = await newPage(context, server.url);
  await page.evaluate(async () => {
    const { createSpace, openSpace, LEVEL_MARKS } = window.weftdb;
    const { Schema } = await import('prosemirror-model');
    const { EditorState } = await import('prosemirror-state');
    const { EditorView } = await import('prosemirror-view');
    const { keymap } = await import('prosemirror-keymap');
    const { baseKeymap } = await import('prosemirror-commands');
    const { schema: basic } = await import('prosemirror-schema-basic');
    const { addListNodes, splitListItem, sinkListItem, liftListItem, wrapInList } = await import('prosemirror-schema-list');
    const { weftDoc, weftProseMirror } = await import('weftdb/prosemirror');
    document.head.insertAdjacentHTML('beforeend', '<style>.ProseMirror { white-space: pre-wrap; word-wrap: break-word; }</style>');
    const schema = new Schema({ nodes: addListNodes(basic.spec.nodes, 'paragraph block*', 'block'), marks: basic.spec.marks });
    const a = await createSpace({ storage: 'memory' });
    await a.raiseFormatLevel(LEVEL_MARKS);
    const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'admin' }) });
    await b.raiseFormatLevel(LEVEL_MARKS);
    const keys = keymap({
      Enter: splitListItem(schema.nodes.list_item),
      Tab: sinkListItem(schema.nodes.list_item),
      'Shift-Tab': liftListItem(schema.nodes.list_item),
      'Mod-Shift-8': wrapInList(schema.nodes.bullet_list),
    });
    window.pmEditor = (space, id, field) => {
      const el = document.createElement('div');
      el.id = id;
      document.body.append(el);
      const text = space.text('notes', 'n1', field);
      const view = new EditorView(el, { state: EditorState.create({ schema, doc: weftDoc(text, schema), plugins: [weftProseMirror(text), keys, keymap(baseKeymap)] }) });
      return { view, text };
    };
    window.spaces = { a, b };
    window.A = window.pmEditor(a, 'a', 'body');
    window.B = window.pmEditor(b, 'b', 'body');
    window.sync = async () => {
      await b.applyChanges(a.changesSince(b.versionVector()));
      await a.applyChanges(b.changesSince(a.versionVector()));
    };
    window.shape = (t) => t.blocks().map((x) => [x.attrs.type + (x.attrs.depth !== undefined ? `/${x.attrs.depth}` : ''), x.spans.map((s) => s.insert).join('')]);
  });
});

after(async () => {
  await context?.close();
  await browser?.close();
  await server?.close();
});

test('nested lists (prosemirror-schema-list): Enter splits, Tab nests, remote edits keep the caret, replicas converge', { skip }, async () => {
  const shape = (who) => page.evaluate((w) => window.shape(window[w].text), who);
  const json = (who) => page.evaluate((w) => JSON.stringify(window[w].view.state.doc.toJSON()), who);
  await page.click('#a .ProseMirror');
  await page.keyboard.type('intro');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Control+Shift+8');
  await page.keyboard.type('one');
  await page.keyboard.press('Enter'); // splitListItem
  await page.keyboard.type('two');
  await page.keyboard.press('Tab'); // sinkListItem: "two" under "one"
  await page.keyboard.press('Enter');
  await page.keyboard.type('three');
  const want = [['paragraph', 'intro'], ['bullet/0', 'one'], ['bullet/1', 'two'], ['bullet/1', 'three']];
  assert.deepEqual(await shape('A'), want);
  const nested = { type: 'doc', content: [
    { type: 'paragraph', content: [{ type: 'text', text: 'intro' }] },
    { type: 'bullet_list', content: [{ type: 'list_item', content: [
      { type: 'paragraph', content: [{ type: 'text', text: 'one' }] },
      { type: 'bullet_list', content: [
        { type: 'list_item', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'two' }] }] },
        { type: 'list_item', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'three' }] }] }] }] }] }] };
  assert.deepEqual(JSON.parse(await json('A')), nested);
  await page.evaluate(() => window.sync());
  assert.deepEqual(await shape('B'), want);
  await page.waitForFunction((w) => JSON.stringify(B.view.state.doc.toJSON()) === w, JSON.stringify(nested));
  assert.equal(await page.evaluate(() => document.querySelectorAll('#b li li').length), 2); // drawn nested

  // A's caret after "tw"; B types into "one" and adds an item at the end: A's caret stays after "tw".
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Home');
  for (let i = 0; i < 2; i++) await page.keyboard.press('ArrowRight');
  await page.click('#b .ProseMirror li p');
  await page.keyboard.press('Home');
  await page.keyboard.type('first ');
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.type('four');
  await page.evaluate(() => window.sync());
  await page.focus('#a .ProseMirror');
  await page.keyboard.type('X');
  const both = [['paragraph', 'intro'], ['bullet/0', 'first one'], ['bullet/1', 'twXo'], ['bullet/1', 'three'], ['bullet/1', 'four']];
  assert.deepEqual(await shape('A'), both);
  await page.evaluate(() => window.sync());
  assert.deepEqual(await shape('B'), both);
  // Shift-Tab in A lifts "twXo" back to the first level; both editors show the same document.
  await page.keyboard.press('Shift+Tab');
  await page.evaluate(() => window.sync());
  const lifted = [['paragraph', 'intro'], ['bullet/0', 'first one'], ['bullet/0', 'twXo'], ['bullet/1', 'three'], ['bullet/1', 'four']];
  assert.deepEqual(await shape('A'), lifted);
  assert.deepEqual(await shape('B'), lifted);
  await page.waitForFunction(() => JSON.stringify(A.view.state.doc.toJSON()) === JSON.stringify(B.view.state.doc.toJSON()));
  assert.equal(await page.evaluate(() => A.text.toString()), await page.evaluate(() => B.text.toString()));
  assert.deepEqual(page.errors, []);
});
