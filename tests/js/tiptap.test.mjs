// weftdb/prosemirror bound to a Tiptap editor (@tiptap/core + StarterKit,
// devDependencies of tests/js) in real Chromium: Tiptap and the binding
// are bundled with Vite into one module (one copy of prosemirror-*, as an
// app's bundler does), loaded into the test page. Typing, Ctrl+B, a "- "
// input rule making a bullet list, Enter and Tab nesting an item: the text
// holds the blocks and marks, and a second Tiptap editor on another
// replica shows the same document.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { newPage, noChromium, withChromium } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const chrome = withChromium();
const skip = noChromium;

let bundle;

before(async () => {
  if (skip) return;
  const out = await build({
    configFile: false, logLevel: 'silent', root: here,
    resolve: { alias: [{ find: /^prosemirror-([a-z-]+)$/, replacement: join(here, 'node_modules/prosemirror-$1') }] },
    build: { write: false, minify: false, lib: { entry: join(here, 'fixtures/tiptap_entry.mjs'), formats: ['es'], fileName: 'tiptap' } },
  });
  bundle = (Array.isArray(out) ? out[0] : out).output[0].code;
});

test('a Tiptap editor (StarterKit) bound to a weftdb text: marks, lists by input rule, Enter and Tab; a second replica shows the same', { skip }, async () => {
  const context = await chrome.browser.newContext();
  try {
    const page = await newPage(context, chrome.server.url);
    await page.evaluate(async (code) => {
      const { Editor, Extension, StarterKit, weftProseMirror } = await import(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
      const { createSpace, openSpace, LEVEL_MARKS } = window.weftdb;
      const a = await createSpace({ storage: 'memory' });
      await a.raiseFormatLevel(LEVEL_MARKS);
      const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'admin' }) });
      await b.raiseFormatLevel(LEVEL_MARKS);
      const editor = (space, id) => {
        const el = document.createElement('div');
        el.id = id;
        document.body.append(el);
        const text = space.text('notes', 'n1', 'body');
        const Weft = Extension.create({ name: 'weft', addProseMirrorPlugins: () => [weftProseMirror(text)] });
        return { editor: new Editor({ element: el, extensions: [StarterKit.configure({ undoRedo: false, trailingNode: false }), Weft] }), text };
      };
      window.A = editor(a, 'a');
      window.B = editor(b, 'b');
      window.sync = async () => {
        await b.applyChanges(a.changesSince(b.versionVector()));
        await a.applyChanges(b.changesSince(a.versionVector()));
      };
      window.shape = (t) => t.blocks().map((x) => [x.attrs.type + (x.attrs.depth !== undefined ? `/${x.attrs.depth}` : ''),
        x.spans.map((s) => (s.attributes?.bold ? `*${s.insert}*` : s.insert)).join('')]);
    }, bundle);
    const shape = (w) => page.evaluate((x) => window.shape(window[x].text), w);
    await page.click('#a .ProseMirror');
    await page.keyboard.type('Title ');
    await page.keyboard.press('Control+b');
    await page.keyboard.type('bold');
    await page.keyboard.press('Control+b');
    await page.keyboard.press('Enter');
    await page.keyboard.type('- one'); // StarterKit's input rule: a bullet list
    await page.keyboard.press('Enter');
    await page.keyboard.type('two');
    await page.keyboard.press('Tab'); // nested under "one"
    const want = [['paragraph', 'Title *bold*'], ['bullet/0', 'one'], ['bullet/1', 'two']];
    assert.deepEqual(await shape('A'), want);
    assert.equal(await page.evaluate(() => A.editor.getHTML()), '<p>Title <strong>bold</strong></p><ul><li><p>one</p><ul><li><p>two</p></li></ul></li></ul>');
    await page.evaluate(() => window.sync());
    assert.deepEqual(await shape('B'), want);
    await page.waitForFunction(() => B.editor.getHTML() === A.editor.getHTML());
    // B types into the nested item (end of "two"); both editors show it in place.
    await page.evaluate(() => B.editor.commands.insertContentAt(B.editor.state.doc.content.size - 5, '2'));
    await page.waitForFunction(() => B.text.toString().endsWith('two2'));
    await page.evaluate(() => window.sync());
    await page.waitForFunction(() => A.editor.getHTML().includes('<p>two2</p>'));
    assert.deepEqual(await shape('A'), [['paragraph', 'Title *bold*'], ['bullet/0', 'one'], ['bullet/1', 'two2']]);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
