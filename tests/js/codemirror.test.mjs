// The weftdb/codemirror binding (wasm/src/codemirror.js) in real Chromium
// (Debian's /usr/bin/chromium through playwright-core), typed into with the
// keyboard: two editors on one text in two spaces of one page (synced by
// exchanging changes), each typing; remote cursors drawn where the other
// peer's caret is (presence stubbed by an in-page bus: presence itself is
// tested in sync.test.mjs); Ctrl+Z / Ctrl+Y undo and redo only this editor's
// own typing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, noChromium, withChromium } from './server.mjs';

const chrome = withChromium();
const skip = noChromium;

test('two CodeMirror editors: keyboard typing syncs both ways, remote cursors follow, undo is per editor', { skip }, async () => {
  const context = await chrome.browser.newContext();
  try {
    const page = await newPage(context, chrome.server.url);
    await page.evaluate(async () => {
      const { createSpace, openSpace } = window.weftdb;
      const { EditorView } = await import('@codemirror/view');
      const { weftCollab } = await import('weftdb/codemirror');
      // Two people, not two tabs of one person (which would share one leader).
      const a = await createSpace({ storage: 'memory' });
      const b = await openSpace({ storage: 'memory', invite: a.invite() });
      // An in-page presence bus: each peer hears the others' states.
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
      const editor = (space, id, name, color) => {
        const el = document.createElement('div');
        el.id = id;
        document.body.append(el);
        const text = space.text('notes', 'n1', 'body');
        const undoManager = space.undoManager({ scope: [text] });
        const view = new EditorView({ parent: el, doc: text.toString(), extensions: [weftCollab(text, { presence: presence(id), undoManager, user: { name, color } })] });
        return { view, text, undoManager };
      };
      window.A = editor(a, 'a', 'Ada', 'rgb(200, 0, 0)');
      window.B = editor(b, 'b', 'Bo', 'rgb(0, 0, 200)');
      window.sync = async () => {
        await b.applyChanges(a.changesSince(b.versionVector()));
        await a.applyChanges(b.changesSince(a.versionVector()));
      };
      window.docs = () => [A.view.state.doc.toString(), B.view.state.doc.toString(), A.text.toString(), B.text.toString()];
    });
    const docs = () => page.evaluate(() => window.docs());
    await page.click('#a .cm-content');
    await page.keyboard.type('hello world');
    await page.evaluate(() => window.sync());
    assert.deepEqual(await docs(), Array(4).fill('hello world'));
    // B types at the end, A at the start, at once
    await page.evaluate(() => A.undoManager.stopCapturing());
    await page.click('#b .cm-content');
    await page.keyboard.press('End');
    await page.keyboard.type(' from Bo');
    await page.click('#a .cm-content');
    await page.keyboard.press('Home');
    await page.keyboard.type('> ');
    await page.evaluate(() => window.sync());
    assert.deepEqual(await docs(), Array(4).fill('> hello world from Bo'));
    // Bo's caret, sent as an anchor, is drawn in A's editor at the end (after A typed before it)
    // (Presence is throttled: the caret may show an older position first.)
    const caretAt = (editor, name) => page.evaluate(([e, n]) => {
      const el = document.querySelector(`#${e} .weft-cm-caret[data-name="${n}"]`);
      return el ? window[e.toUpperCase()].view.posAtDOM(el) : -1;
    }, [editor, name]);
    const settled = async (editor, name, want) => {
      for (let i = 0; i < 100 && (await caretAt(editor, name)) !== want; i++) await new Promise((r) => setTimeout(r, 20));
      return caretAt(editor, name);
    };
    assert.equal(await settled('a', 'Bo', '> hello world from Bo'.length), '> hello world from Bo'.length);
    assert.equal(await settled('b', 'Ada', 2), 2);
    // Ctrl+Z in A: A's "> " goes, then A's "hello world"; Bo's words stay
    await page.keyboard.press('Control+z');
    await page.waitForFunction(() => A.view.state.doc.toString() === 'hello world from Bo');
    await page.keyboard.press('Control+z');
    await page.waitForFunction(() => A.view.state.doc.toString() === ' from Bo');
    await page.evaluate(() => window.sync());
    assert.deepEqual(await docs(), Array(4).fill(' from Bo'));
    // Ctrl+Y brings A's words back in their place
    await page.keyboard.press('Control+y');
    await page.waitForFunction(() => A.view.state.doc.toString() === 'hello world from Bo');
    await page.evaluate(() => window.sync());
    assert.deepEqual(await docs(), Array(4).fill('hello world from Bo'));
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('CodeMirror with marks: true draws the text\'s formatting, local and remote, and typing after bold stays bold', { skip }, async () => {
  const context = await chrome.browser.newContext();
  try {
    const page = await newPage(context, chrome.server.url);
    await page.evaluate(async () => {
      const { createSpace, openSpace, LEVEL_MARKS } = window.weftdb;
      const { EditorView } = await import('@codemirror/view');
      const { weftCollab } = await import('weftdb/codemirror');
      const a = await createSpace({ storage: 'memory' });
      await a.raiseFormatLevel(LEVEL_MARKS);
      const b = await openSpace({ storage: 'memory', invite: a.invite({ rights: 'admin' }) });
      await b.raiseFormatLevel(LEVEL_MARKS);
      const ta = a.text('notes', 'n1', 'body');
      await ta.insert(0, 'plain bold link');
      await b.applyChanges(a.changesSince(b.versionVector()));
      const el = document.createElement('div');
      el.id = 'a';
      document.body.append(el);
      window.A = { view: new EditorView({ parent: el, doc: ta.toString(), extensions: [weftCollab(ta, { marks: true })] }), text: ta };
      window.B = b.text('notes', 'n1', 'body');
      window.sync = async () => {
        await b.applyChanges(a.changesSince(b.versionVector()));
        await a.applyChanges(b.changesSince(a.versionVector()));
      };
      // The text under each mark class in A's editor.
      window.marked = (type) => [...document.querySelectorAll(`#a .weft-cm-mark-${type}`)].map((e) => e.textContent).join('|');
    });
    await page.evaluate(() => A.text.format(6, 4, { bold: true }));
    await page.waitForFunction(() => window.marked('bold') === 'bold');
    assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('#a .weft-cm-mark-bold')).fontWeight), '700');
    // B links "link"; A sees it after a sync
    await page.evaluate(async () => { await B.format(11, 4, { link: 'https://x' }); await window.sync(); });
    await page.waitForFunction(() => window.marked('link') === 'link');
    // Typing right after "bold" with the keyboard continues it (bold expands)
    await page.click('#a .cm-content');
    await page.evaluate(() => A.view.dispatch({ selection: { anchor: 10 } }));
    await page.keyboard.type('er');
    await page.waitForFunction(() => window.marked('bold') === 'bolder');
    assert.equal(await page.evaluate(() => A.text.toString()), 'plain bolder link');
    assert.deepEqual(await page.evaluate(() => A.text.spans()), [
      { insert: 'plain ' }, { insert: 'bolder', attributes: { bold: true } }, { insert: ' ' },
      { insert: 'link', attributes: { link: 'https://x' } },
    ]);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});
