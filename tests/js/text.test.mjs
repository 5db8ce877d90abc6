// Collaborative text in weftdb (Node, memory storage): space.text() edits,
// UTF-16 positions, observe deltas, concurrent typing merging, writes over
// a text, plain strings turning into text, errors, and the caret mapping
// helpers the textarea binding uses. The binding itself runs in Chromium
// (browser.test.mjs) and in the demo (tests/e2e).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpace, openSpace } from '../../wasm/src/index.js';
import { diffStrings, mapPosition } from '../../wasm/src/text.js';

async function exchange(a, b) {
  await b.applyChanges(a.changesSince(b.versionVector()));
  await a.applyChanges(b.changesSince(a.versionVector()));
}

function replay(s, deltas) {
  for (const d of deltas) s = s.slice(0, d.index) + d.insert + s.slice(d.index + d.deleteCount);
  return s;
}

test('insert, delete, splice and read back in UTF-16 units', async () => {
  const s = await createSpace({ storage: 'memory' });
  try {
    const t = s.text('notes', 'n1', 'body');
    assert.equal(t.toString(), '');
    assert.equal(t.length, 0);
    await t.insert(0, 'hello world');
    await t.delete(5, 6);
    await t.insert(5, ' 😀 there');
    assert.equal(t.toString(), 'hello 😀 there');
    assert.equal(t.length, 'hello 😀 there'.length);
    await t.splice(6, 2, 'ü'); // the emoji is two code units
    assert.equal(t.toString(), 'hello ü there');
    // the field reads as a string everywhere else too
    assert.deepEqual(s.collection('notes').get('n1'), { body: 'hello ü there' });
    assert.deepEqual(s.collection('notes').query({ where: { body: { contains: 'ü' } } }).map((r) => r.id), ['n1']);
  } finally {
    await s.close();
  }
});

test('bad edits are refused with clear errors and change nothing', async () => {
  const s = await createSpace({ storage: 'memory' });
  try {
    const t = s.text('notes', 'n1', 'body');
    await t.insert(0, 'a😀b');
    const hash = s.stateHash();
    await assert.rejects(t.insert(5, 'x'), (e) => e.code === 'WEFT_EINVAL' && /outside the text/.test(e.message));
    await assert.rejects(t.delete(3, 2), (e) => e.code === 'WEFT_EINVAL');
    await assert.rejects(t.insert(2, 'x'), (e) => e.code === 'WEFT_EINVAL'); // inside the emoji
    await assert.rejects(t.insert(0, 'bad \ud800 surrogate'), (e) => e.code === 'WEFT_EINVAL');
    await assert.rejects(t.insert(0, 42), (e) => e.code === 'WEFT_EINVAL');
    await assert.rejects(s.transact(() => { t.insert(0, 'x'); }), (e) => e.code === 'WEFT_ESTATE' && /outside transact/.test(e.message));
    await s.collection('notes').put('n2', { body: 7 });
    await assert.rejects(s.text('notes', 'n2', 'body').insert(0, 'x'), (e) => e.code === 'WEFT_EINVAL');
    assert.equal(t.toString(), 'a😀b');
    assert.notEqual(s.stateHash(), hash); // only the put above changed anything
    assert.throws(() => s.text('notes', '', 'body'), (e) => e.code === 'WEFT_EINVAL');
    const ro = await openSpace({ storage: 'memory', invite: s.invite({ rights: 'read' }) });
    await ro.applyChanges(s.changesSince(ro.versionVector()));
    assert.equal(ro.text('notes', 'n1', 'body').toString(), 'a😀b');
    await assert.rejects(ro.text('notes', 'n1', 'body').insert(0, 'x'), (e) => e.code === 'WEFT_ERIGHTS');
    await ro.close();
  } finally {
    await s.close();
  }
});

test('concurrent typing merges, and observe reports deltas that rebuild the text', async () => {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  try {
    const ta = a.text('notes', 'n1', 'body');
    const tb = b.text('notes', 'n1', 'body');
    await ta.insert(0, 'The quick fox');
    await exchange(a, b);
    assert.equal(tb.toString(), 'The quick fox');
    let seen = tb.toString();
    const events = [];
    const stop = tb.observe((deltas, info) => {
      seen = replay(seen, deltas);
      events.push(info.local);
    });
    // both type at once, at the same place and elsewhere
    await ta.insert(10, 'brown ');
    await ta.insert(0, '> ');
    await tb.insert(10, 'red ');
    await tb.delete(0, 4); // "The "
    await exchange(a, b);
    assert.equal(ta.toString(), tb.toString());
    assert.equal(a.stateHash(), b.stateHash());
    const text = ta.toString();
    assert.ok(text === '> quick brown red fox' || text === '> quick red brown fox', text);
    assert.equal(seen, tb.toString()); // local and remote deltas replayed
    assert.ok(events.includes(true) && events.includes(false));
    stop();
    await ta.insert(0, 'x');
    await exchange(a, b);
    assert.equal(seen, text); // no more events after unsubscribing
  } finally {
    await a.close();
    await b.close();
  }
});

test('anchors follow concurrent edits on both replicas; bad anchors are refused', async () => {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  try {
    const ta = a.text('notes', 'n1', 'body');
    const tb = b.text('notes', 'n1', 'body');
    // no text yet: only the edges exist
    assert.equal(ta.anchor(0), '>');
    assert.equal(ta.anchor(0, -1), '<');
    assert.throws(() => ta.anchor(1), (e) => e.code === 'WEFT_EINVAL');
    await ta.insert(0, 'hello 😀 world');
    await exchange(a, b);
    const caret = ta.anchor(9); // before "w"
    const after = ta.anchor(6, -1); // after the space before the emoji
    const end = ta.anchor(ta.length);
    const start = ta.anchor(0, -1);
    assert.match(caret, /^>[A-Za-z0-9_-]{43}[0-9a-z]+$/);
    assert.equal(ta.resolve(caret), 9);
    assert.equal(tb.resolve(caret), 9); // anchors travel between replicas
    assert.throws(() => ta.anchor(7), (e) => e.code === 'WEFT_EINVAL'); // inside the surrogate pair
    // both type at once before and at the anchors
    await ta.insert(0, '>> ');
    await tb.insert(6, 'big ');
    await tb.insert(tb.length, '!');
    await exchange(a, b);
    assert.equal(ta.toString(), '>> hello big 😀 world!');
    for (const t of [ta, tb]) {
      assert.equal(t.resolve(caret), 16);
      assert.equal(t.resolve(after), 9); // "big " went after it
      assert.equal(t.resolve(end), t.length);
      assert.equal(t.resolve(start), 0);
    }
    // deleting the anchored character leaves the anchor where it was
    await tb.delete(16, 5);
    await exchange(a, b);
    assert.equal(ta.toString(), '>> hello big 😀 !');
    assert.equal(ta.resolve(caret), 16);
    // an anchor to a character not synced yet, and junk
    await tb.insert(0, 'new ');
    const fresh = tb.anchor(1);
    assert.equal(tb.resolve(fresh), 1);
    assert.equal(ta.resolve(fresh), null);
    await exchange(a, b);
    assert.equal(ta.resolve(fresh), 1);
    for (const bad of ['', 'x', '>', '>abc', caret + '!', caret.slice(0, 44), caret.slice(0, 44) + 'zzzzzzz', 42, null])
      if (bad !== '>') assert.throws(() => ta.resolve(bad), (e) => e.code === 'WEFT_EINVAL', String(bad));
    // a plain string field has no characters to anchor to
    await a.collection('notes').put('n3', { body: 'plain' });
    assert.throws(() => a.text('notes', 'n3', 'body').anchor(2), (e) => e.code === 'WEFT_ENOTFOUND');
    assert.equal(a.text('notes', 'n3', 'body').anchor(5), '>');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a write over a text replaces it whole; editing a plain string makes it a text', async () => {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  try {
    const notes = a.collection('notes');
    await notes.put('n1', { title: 'old', body: 'plain string' });
    await exchange(a, b);
    const ta = a.text('notes', 'n1', 'body');
    let seen = ta.toString();
    ta.observe((d) => {
      seen = replay(seen, d);
    });
    await ta.insert(0, 'a '); // converts the string, keeping it
    assert.equal(ta.toString(), 'a plain string');
    await exchange(a, b);
    assert.equal(b.text('notes', 'n1', 'body').toString(), 'a plain string');
    // b overwrites while a keeps typing: the later write wins whole
    await b.collection('notes').update('n1', { body: 'rewritten' });
    await ta.insert(ta.length, '!');
    await exchange(a, b);
    assert.equal(a.stateHash(), b.stateHash());
    assert.ok(['rewritten', 'a plain string!'].includes(ta.toString()));
    assert.equal(seen, ta.toString());
    // a document delete drops it; typing again starts a new text
    await notes.delete('n1');
    assert.equal(seen, '');
    await ta.insert(0, 'fresh');
    assert.equal(notes.get('n1').body, 'fresh');
    assert.equal(seen, 'fresh');
  } finally {
    await a.close();
    await b.close();
  }
});

test('texts survive reopening from storage and compaction', async () => {
  const { memoryStorage } = await import('../../wasm/src/index.js');
  const storage = memoryStorage();
  const s = await createSpace({ storage });
  const id = s.id;
  const t = s.text('notes', 'n1', 'body');
  // One change per keystroke (flush closes the text window), past a snapshot.
  for (let i = 0; i < 1200; i++) {
    t.insert(t.length, String.fromCharCode(97 + (i % 26)));
    await s.flush();
  }
  await t.delete(0, 200);
  const before = t.toString();
  const hash = s.stateHash();
  await s.close();
  const r = await openSpace({ storage, space: id });
  try {
    assert.equal(r.stateHash(), hash);
    const t2 = r.text('notes', 'n1', 'body');
    assert.equal(t2.toString(), before);
    await t2.insert(0, '^');
    assert.equal(t2.toString(), `^${before}`);
  } finally {
    await r.close();
  }
});

test('diffStrings and mapPosition: the binding keeps the caret in place', () => {
  assert.deepEqual(diffStrings('hello world', 'hello brave world'), { index: 6, deleteCount: 0, insert: 'brave ' });
  assert.deepEqual(diffStrings('abc', 'ac'), { index: 1, deleteCount: 1, insert: '' });
  assert.deepEqual(diffStrings('same', 'same'), { index: 4, deleteCount: 0, insert: '' });
  // never splits a surrogate pair: replacing one emoji by another
  assert.deepEqual(diffStrings('a😀b', 'a😁b'), { index: 1, deleteCount: 2, insert: '😁' });
  const d = { index: 2, deleteCount: 3, insert: 'XY' };
  assert.equal(mapPosition(1, d), 1); // before: stays
  assert.equal(mapPosition(2, d), 2); // at the edit: stays before the insert
  assert.equal(mapPosition(4, d), 4); // inside the deleted range: after the insert
  assert.equal(mapPosition(9, d), 8); // after: shifts by the change in length
});

test('text edits share one change per window; each shows and is observed at once', async () => {
  const s = await createSpace({ storage: 'memory' });
  const commits = [];
  s.on('commit', (r) => commits.push(r.length));
  const t = s.text('notes', 'n1', 'body');
  const seen = [];
  t.observe((d, { text }) => seen.push(text));
  const ps = [];
  for (const ch of 'hello') {
    ps.push(t.insert(t.length, ch));
    assert.equal(t.toString(), seen[seen.length - 1]); // observed before the next keystroke
  }
  assert.deepEqual(seen, ['h', 'he', 'hel', 'hell', 'hello']);
  assert.equal(s.collection('notes').get('n1').body, 'hello'); // reads see the open change
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(commits.length, 0, 'the window is still open after 5 ms');
  await Promise.all(ps); // resolve once the window's change is durable
  assert.equal(commits.length, 1);
  const peer = await openSpace({ storage: 'memory', invite: s.invite() });
  await peer.applyChanges(s.changesSince(peer.versionVector()));
  assert.equal(peer.text('notes', 'n1', 'body').toString(), 'hello');
  await peer.close();
  await s.close();
});

test('the text window closes on flush, close, a sync read, a remote change, a write and its edit limit', async () => {
  const s = await createSpace({ storage: 'memory' });
  const peer = await openSpace({ storage: 'memory', invite: s.invite() });
  let commits = 0;
  s.on('commit', () => commits++);
  const t = s.text('d', 'x', 'f');
  t.insert(0, 'a');
  s.flush();
  assert.equal(commits, 1, 'flush commits the open window');
  t.insert(1, 'b');
  const sent = s.changesSince(peer.versionVector()); // what a sync send reads
  assert.equal(commits, 2, 'a sync read commits the open window first');
  await peer.applyChanges(sent);
  await peer.collection('d').put('y', { v: 1 });
  t.insert(2, 'c');
  await s.applyChanges(peer.changesSince(s.versionVector()));
  assert.equal(commits, 3, 'a remote change is applied after the open window commits');
  t.insert(3, 'd');
  const p = s.collection('d').put('z', { v: 2 }); // a write closes it at the end of its task
  await p;
  assert.equal(commits, 4);
  const limit = 1000;
  for (let i = 0; i < limit + 1; i++) t.insert(0, 'e');
  assert.equal(commits, 5, `${limit} edits close a change`);
  t.insert(0, 'f');
  const closed = s.close();
  assert.equal(commits, 6, 'close commits the open window');
  await closed;
  await peer.close();
});

test('concurrent remote edits during an open window converge', async () => {
  const a = await createSpace({ storage: 'memory' });
  const b = await openSpace({ storage: 'memory', invite: a.invite() });
  const ta = a.text('d', 'x', 'f');
  await ta.insert(0, 'base');
  await b.applyChanges(a.changesSince(b.versionVector()));
  const tb = b.text('d', 'x', 'f');
  const fromB = [];
  b.on('commit', (r) => fromB.push(r));
  const fromA = [];
  a.on('commit', (r) => fromA.push(r));
  for (let i = 0; i < 20; i++) {
    ta.insert(i % 3 === 0 ? 0 : ta.length, 'a');
    tb.insert(tb.length, 'b');
    if (i % 5 === 4) {
      // Each side hears the other mid-window: commit, then apply.
      b.flush();
      const bs = fromB.splice(0);
      for (const r of bs) await a.applyChanges(r);
      a.flush();
      for (const r of fromA.splice(0)) await b.applyChanges(r);
    }
  }
  await a.flush();
  await b.flush();
  await b.applyChanges(a.changesSince(b.versionVector()));
  await a.applyChanges(b.changesSince(a.versionVector()));
  assert.equal(ta.toString(), tb.toString());
  assert.equal(ta.toString().length, 44);
  assert.equal(a.stateHash(), b.stateHash());
  await a.close();
  await b.close();
});
