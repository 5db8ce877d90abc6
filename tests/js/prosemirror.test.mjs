// The weftdb/prosemirror binding (wasm/src/prosemirror.js) in real Chromium
// (Debian's /usr/bin/chromium through playwright-core), typed into with the
// keyboard: two ProseMirror editors on one text in two spaces of one page
// (synced by exchanging changes). Typing, Ctrl+B bold, a heading and a list
// item (the app's keymap: prosemirror-commands), all landing in the text as
// marks and block markers and showing in the other editor; a remote edit
// before the caret keeps the local caret by its characters; the other
// peer's caret drawn in its colour (presence stubbed by an in-page bus);
// Ctrl+Z undoes only this editor's own typing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, noChromium, withChromium } from './server.mjs';

const chrome = withChromium();
const skip = noChromium;

test('two ProseMirror editors: typing, bold, heading, list item sync; remote edits keep the caret; cursors; undo is per editor', { skip }, async () => {
  const context = await chrome.browser.newContext();
  try {
    const page = await newPage(context, chrome.server.url);
    await page.evaluate(async () => {
      const { createSpace, openSpace, LEVEL_MARKS } = window.weftdb;
      const { EditorState } = await import('prosemirror-state');
      const { EditorView } = await import('prosemirror-view');
      const { keymap } = await import('prosemirror-keymap');
      const { baseKeymap, toggleMark, setBlockType } = await import('prosemirror-commands');
      const { weftSchema: schema, weftDoc, weftProseMirror } = await import('weftdb/prosemirror');
      // What prosemirror-view/style/prosemirror.css sets: without it Chromium types spaces as U+00A0.
      document.head.insertAdjacentHTML('beforeend', '<style>.ProseMirror { white-space: pre-wrap; word-wrap: break-word; }</style>');
      const a = await createSpace({ storage: 'memory' });
      await a.raiseFormatLevel(LEVEL_MARKS);
      const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'admin' }) });
      await b.raiseFormatLevel(LEVEL_MARKS);
      const states = new Map();
      const subs = new Set();
      const list = (me) => [...states].filter(([k, s]) => k !== me && s).map(([author, state]) => ({ author, state }));
      const presence = (me) => ({
        set(s) {
          states.set(me, s);
          queueMicrotask(() => { for (const [who, fn] of subs) if (who !== me) fn(list(who)); });
        },
        on(fn) {
          const sub = [me, fn];
          subs.add(sub);
          queueMicrotask(() => fn(list(me)));
          return () => subs.delete(sub);
        },
      });
      const keys = keymap({
        'Mod-b': toggleMark(schema.marks.strong),
        'Mod-i': toggleMark(schema.marks.em),
        'Mod-Alt-1': setBlockType(schema.nodes.heading, { level: 1 }),
        'Mod-Alt-2': setBlockType(schema.nodes.heading, { level: 2 }),
        'Mod-Shift-8': setBlockType(schema.nodes.list_item, { kind: 'bullet', depth: 0 }),
      });
      const editor = (space, id, name, color) => {
        const el = document.createElement('div');
        el.id = id;
        document.body.append(el);
        const text = space.text('notes', 'n1', 'body');
        const undoManager = space.undoManager({ scope: [text] });
        const view = new EditorView(el, { state: EditorState.create({ schema, doc: weftDoc(text),
          plugins: [weftProseMirror(text, { presence: presence(id), undoManager, user: { name, color } }), keys, keymap(baseKeymap)] }) });
        return { view, text, undoManager };
      };
      window.A = editor(a, 'a', 'Ada', 'rgb(200, 0, 0)');
      window.B = editor(b, 'b', 'Bo', 'rgb(0, 0, 200)');
      window.sync = async () => {
        await b.applyChanges(a.changesSince(b.versionVector()));
        await a.applyChanges(b.changesSince(a.versionVector()));
      };
      // Each editor's blocks as [tag, html] and the texts' blocks as [type, content].
      // (Without other peers' carets and the spacers ProseMirror puts beside them.)
      window.html = (id) => [...document.querySelector(`#${id} .ProseMirror`).children].map((c) => {
        const x = c.cloneNode(true);
        x.querySelectorAll('.weft-pm-caret, .ProseMirror-separator, .ProseMirror-trailingBreak').forEach((e) => e.remove());
        return [c.tagName.toLowerCase(), x.innerHTML];
      });
      window.shape = (t) => t.blocks().map((x) => [x.attrs.type + (x.attrs.level ?? '') + (x.attrs.depth !== undefined ? `/${x.attrs.depth}` : ''),
        x.spans.map((s) => (s.attributes?.bold ? `*${s.insert}*` : s.insert)).join('')]);
    });
    const shape = (who) => page.evaluate((w) => window.shape(window[w].text), who);
    await page.click('#a .ProseMirror');
    await page.keyboard.type('Title');
    await page.keyboard.press('Control+Alt+1');
    await page.keyboard.press('Enter');
    await page.keyboard.type('hello bold text');
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowLeft');
    for (let i = 0; i < 4; i++) await page.keyboard.press('Shift+ArrowLeft');
    await page.keyboard.press('Control+b'); // "bold"
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Control+Shift+8');
    await page.keyboard.type('item one');
    const want = [['heading1', 'Title'], ['paragraph', 'hello *bold* text'], ['bullet/0', 'item one']];
    assert.deepEqual(await shape('A'), want);
    assert.equal(await page.evaluate(() => A.text.toString()), '\nTitle\nhello bold text\nitem one');
    await page.evaluate(() => window.sync());
    assert.deepEqual(await shape('B'), want);
    const html = [['h1', 'Title'], ['p', 'hello <strong>bold</strong> text'], ['div', 'item one']];
    assert.deepEqual(await page.evaluate(() => window.html('a')), html);
    await page.waitForFunction(() => window.html('b')[2]?.[1] === 'item one');
    assert.deepEqual(await page.evaluate(() => window.html('b')), html);

    // A's caret after "hel"; Bo types "Oh, " before it and "!" after the title: A's caret stays after "hel".
    await page.evaluate(() => A.undoManager.stopCapturing());
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Home');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await page.click('#b .ProseMirror');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Home');
    await page.keyboard.type('Oh, ');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('End');
    await page.keyboard.type('!');
    await page.evaluate(() => window.sync());
    const ab = [['heading1', 'Title!'], ['paragraph', 'Oh, hello *bold* text'], ['bullet/0', 'item one']];
    assert.deepEqual(await shape('A'), ab);
    assert.deepEqual(await page.evaluate(() => window.html('a')), [['h1', 'Title!'], ['p', 'Oh, hello <strong>bold</strong> text'], ['div', 'item one']]);
    // Bo's caret is drawn in A's editor, after "Title!"
    await page.waitForFunction(() => {
      const el = document.querySelector('#a .weft-pm-caret[data-name="Bo"]');
      return el && el.parentElement.tagName === 'H1' && el.previousSibling?.textContent === 'Title!';
    });
    assert.equal(await page.evaluate(() => document.querySelector('#a .weft-pm-caret[data-name="Bo"]').style.borderLeftColor), 'rgb(0, 0, 200)');
    // A types where its caret was kept: after "Oh, hel"
    // (Typing writes no block attributes or marks that did not change: count the calls.)
    await page.evaluate(() => {
      window.calls = 0;
      for (const m of ['setBlock', 'format']) {
        const orig = A.text[m].bind(A.text);
        A.text[m] = (...args) => (window.calls++, orig(...args));
      }
    });
    await page.focus('#a .ProseMirror');
    await page.keyboard.type('X');
    assert.equal(await page.evaluate(() => window.calls), 0);
    assert.deepEqual(await shape('A'), [['heading1', 'Title!'], ['paragraph', 'Oh, helXlo *bold* text'], ['bullet/0', 'item one']]);
    await page.evaluate(() => window.sync());
    assert.deepEqual(await shape('B'), [['heading1', 'Title!'], ['paragraph', 'Oh, helXlo *bold* text'], ['bullet/0', 'item one']]);

    // Bo's formatting shows in A's editor (remote marks)
    await page.evaluate(async () => { await B.text.format(8, 2, { italic: true }); await window.sync(); });
    await page.waitForFunction(() => window.html('a')[1][1] === '<em>Oh</em>, helXlo <strong>bold</strong> text');

    // Ctrl+Z in A: its "X" goes, then its earlier typing; Bo's "Oh, " and "!" stay.
    await page.keyboard.press('Control+z');
    await page.waitForFunction(() => A.text.toString() === '\nTitle!\nOh, hello bold text\nitem one');
    await page.keyboard.press('Control+z');
    await page.waitForFunction(() => !A.text.toString().includes('Title'));
    await page.evaluate(() => window.sync());
    const left = await page.evaluate(() => [A.text.toString(), B.text.toString(), A.view.state.doc.textContent, B.view.state.doc.textContent]);
    for (const s of left) {
      assert.ok(s.includes('Oh, ') && s.includes('!'), JSON.stringify(left));
      assert.ok(!s.includes('Title') && !s.includes('hello') && !s.includes('item'), JSON.stringify(left));
    }
    // Bo selects a stretch: A draws it in Bo's colour.
    await page.focus('#b .ProseMirror');
    await page.evaluate(() => {
      const { state } = B.view;
      B.view.dispatch(state.tr.setSelection(state.selection.constructor.create(state.doc, 1, Math.min(4, state.doc.content.size - 1))));
    });
    const picked = await page.evaluate(() => B.view.state.doc.textBetween(B.view.state.selection.from, B.view.state.selection.to));
    assert.ok(picked.length > 0);
    await page.waitForFunction((w) => [...document.querySelectorAll('#a .weft-pm-selection')].map((e) => e.textContent).join('') === w, picked);
    const bg = await page.evaluate(() => getComputedStyle(document.querySelector('#a .weft-pm-selection')).backgroundColor);
    assert.equal(bg, 'color(srgb 0 0 0.784314 / 0.2)'); // rgb(0, 0, 200) at 20%
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
