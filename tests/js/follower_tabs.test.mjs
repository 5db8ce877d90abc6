// Follower tabs (two pages of one IndexedDB space in real Chromium: the
// first leads and writes, the second forwards its writes): the follower's
// undo manager tracks its own typing (captured when it lands from the
// leader), deletions and formatting, and undo and redo there take back only
// its own edits; a ProseMirror editor in the follower, typed into faster
// than its edits come back, writes exactly what was typed (a heading, bold)
// and Ctrl+Z undoes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, noChromium, withChromium } from './server.mjs';

const chrome = withChromium();
const skip = noChromium;

test('a follower tab undoes and redoes its own typing, deletions and formatting; the leader\'s edits stay', { skip, timeout: 120_000 }, async () => {
  const context = await chrome.browser.newContext();
  try {
    const a = await newPage(context, chrome.server.url);
    const id = await a.evaluate(async () => {
      const s = await window.weftdb.createSpace({ storage: 'indexeddb' });
      await s.raiseFormatLevel(window.weftdb.LEVEL_MARKS);
      window.space = s;
      await s.text('notes', 'n', 'body').insert(0, 'base');
      return s.id;
    });
    const b = await newPage(context, chrome.server.url);
    await b.evaluate(async (id) => {
      const s = await window.weftdb.openSpace({ space: id, storage: 'indexeddb' });
      if (s._internal.isWriter()) throw new Error('the second page should follow');
      window.space = s;
      window.t = s.text('notes', 'n', 'body');
      window.um = s.undoManager({ scope: [window.t] });
    }, id);
    const leader = () => a.evaluate(() => window.space.text('notes', 'n', 'body').toString());
    const follower = () => b.evaluate(() => window.t.toString());
    // The follower types " one" key by key (each before the last reached the leader), then " two".
    await b.evaluate(async () => {
      let last;
      for (const [i, ch] of [...' one'].entries()) last = t.insert(4 + i, ch);
      await last;
      um.stopCapturing();
      await t.insert(8, ' two');
    });
    assert.equal(await follower(), 'base one two');
    // The leader types at the start meanwhile.
    await a.evaluate(() => window.space.text('notes', 'n', 'body').insert(0, '> '));
    await b.waitForFunction(() => t.toString() === '> base one two');
    // Undo in the follower: " two", then " one"; the leader's "> " stays.
    assert.equal(await b.evaluate(() => um.undo()), true);
    await b.waitForFunction(() => t.toString() === '> base one');
    assert.equal(await b.evaluate(() => um.undo()), true);
    await b.waitForFunction(() => t.toString() === '> base');
    // Redo types them again.
    await b.evaluate(() => um.redo());
    await b.waitForFunction(() => t.toString() === '> base one');
    await b.evaluate(() => um.redo());
    await b.waitForFunction(() => t.toString() === '> base one two');
    // A deletion and a format in the follower, each undone.
    await b.evaluate(async () => {
      um.stopCapturing();
      await t.delete(6, 4); // " one"
      um.stopCapturing();
      await t.format(2, 4, { bold: true }); // "base"
    });
    assert.equal(await follower(), '> base two');
    assert.deepEqual(await b.evaluate(() => t.spans()), [{ insert: '> ' }, { insert: 'base', attributes: { bold: true } }, { insert: ' two' }]);
    await b.evaluate(() => um.undo());
    await b.waitForFunction(() => t.spans().length === 1);
    await b.evaluate(() => um.undo());
    await b.waitForFunction(() => t.toString() === '> base one two');
    await a.waitForFunction(() => window.space.text('notes', 'n', 'body').toString() === '> base one two');
    assert.equal(await leader(), await follower());
    assert.equal(await a.evaluate(() => window.space.stateHash()), await b.evaluate(() => window.space.stateHash()));
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await context.close();
  }
});

test('a ProseMirror editor in a follower tab: fast typing, a heading and bold land as typed; Ctrl+Z undoes them', { skip, timeout: 120_000 }, async () => {
  const context = await chrome.browser.newContext();
  try {
    const a = await newPage(context, chrome.server.url);
    const id = await a.evaluate(async () => {
      const s = await window.weftdb.createSpace({ storage: 'indexeddb' });
      await s.raiseFormatLevel(window.weftdb.LEVEL_MARKS);
      window.space = s;
      await s.text('notes', 'n', 'body').insert(0, 'base');
      return s.id;
    });
    const b = await newPage(context, chrome.server.url);
    await b.evaluate(async (id) => {
      const s = await window.weftdb.openSpace({ space: id, storage: 'indexeddb' });
      if (s._internal.isWriter()) throw new Error('the second page should follow');
      const { EditorState } = await import('prosemirror-state');
      const { EditorView } = await import('prosemirror-view');
      const { keymap } = await import('prosemirror-keymap');
      const { baseKeymap, toggleMark, setBlockType } = await import('prosemirror-commands');
      const { weftSchema: schema, weftDoc, weftProseMirror } = await import('weftdb/prosemirror');
      document.head.insertAdjacentHTML('beforeend', '<style>.ProseMirror { white-space: pre-wrap; }</style>');
      window.t = s.text('notes', 'n', 'body');
      window.um = s.undoManager({ scope: [window.t] });
      const el = document.createElement('div');
      el.id = 'b';
      document.body.append(el);
      const keys = keymap({ 'Mod-b': toggleMark(schema.marks.strong), 'Mod-Alt-1': setBlockType(schema.nodes.heading, { level: 1 }) });
      window.view = new EditorView(el, { state: EditorState.create({ schema, doc: weftDoc(t),
        plugins: [weftProseMirror(t, { undoManager: window.um }), keys, keymap(baseKeymap)] }) });
    }, id);
    await b.waitForFunction(() => view.state.doc.textContent === 'base');
    await b.click('#b .ProseMirror');
    await b.keyboard.press('End');
    await b.keyboard.press('Enter');
    await b.keyboard.type('Title');
    await b.keyboard.press('Control+Alt+1');
    await b.keyboard.press('Enter');
    await b.keyboard.type('hello ');
    await b.keyboard.press('Control+b');
    await b.keyboard.type('bold');
    await b.keyboard.press('Control+b');
    await b.keyboard.type(' text');
    const shape = (t) => t.blocks().map((x) => [x.attrs.type, x.spans.map((sp) => (sp.attributes?.bold ? `*${sp.insert}*` : sp.insert)).join('')]);
    const want = [['paragraph', 'base'], ['heading', 'Title'], ['paragraph', 'hello *bold* text']];
    await a.waitForFunction(() => window.space.text('notes', 'n', 'body').toString() === 'base\nTitle\nhello bold text');
    await b.waitForFunction(() => t.toString() === 'base\nTitle\nhello bold text');
    assert.deepEqual(await a.evaluate(`(${shape})(window.space.text('notes', 'n', 'body'))`), want);
    assert.deepEqual(await b.evaluate(`(${shape})(t)`), want);
    assert.equal(await b.evaluate(() => view.dom.innerHTML.replace(/<br[^>]*>/g, '')), '<p>base</p><h1>Title</h1><p>hello <strong>bold</strong> text</p>');
    // Ctrl+Z in the follower takes its typing back, in the leader too.
    await b.keyboard.press('Control+z');
    await a.waitForFunction(() => window.space.text('notes', 'n', 'body').toString() === 'base');
    await b.waitForFunction(() => view.state.doc.textContent === 'base');
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await context.close();
  }
});
