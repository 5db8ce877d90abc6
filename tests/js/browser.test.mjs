// weftdb in real Chromium (Debian's /usr/bin/chromium through
// playwright-core): IndexedDB persistence across a reload, and two pages of
// one space (one leader, one follower) converging and handing over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { newPage as openPage, noChromium, withChromium } from './server.mjs';
import { haveRelay, startRelay } from './relay.mjs';
import { WebSocket } from 'ws';
import { openSpace as nodeOpenSpace } from '../../wasm/src/index.js';

const chrome = withChromium();
const skip = noChromium;

const newPage = (context) => openPage(context, chrome.server.url);

test('IndexedDB: a space survives a reload with the same state hash (snapshot + records)', { skip, timeout: 120_000 }, async () => {
  const context = await chrome.browser.newContext();
  try {
    const page = await newPage(context);
    const made = await page.evaluate(async () => {
      const { createSpace, SNAPSHOT_EVERY } = window.weftdb;
      const s = await createSpace({ storage: 'indexeddb' });
      const c = s.collection('notes');
      // enough single-op changes to fold into a snapshot, then some more
      // (flush() commits each: else the writes of this task would be one change)
      for (let i = 0; i < SNAPSHOT_EVERY + 150; i++) c.put(`n${i % 300}`, { text: `note ${i}`, i }) && s.flush();
      await s.transact(() => {
        for (let i = 0; i < 100; i++) c.update(`t${i}`, { done: i % 2 === 0 });
      });
      await c.increment('ctr', 'n', 5);
      await c.delete('n7');
      await s.flush();
      window.keep = s; // not closed: the reload is the crash
      // what IndexedDB holds is sealed: no field text appears in it
      const db = await new Promise((res, rej) => {
        const r = indexedDB.open(`weftdb:${s.id}`);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const all = (store, fn) => new Promise((res) => {
        const r = db.transaction(store).objectStore(store)[fn]();
        r.onsuccess = () => res(r.result);
      });
      const blobs = [...(await all('records', 'getAll')), ...(await all('meta', 'getAll')).filter((x) => x instanceof Uint8Array)];
      const needle = new TextEncoder().encode('note 1');
      const leaks = blobs.filter((b) => {
        outer: for (let i = 0; i + needle.length <= b.length; i++) {
          for (let j = 0; j < needle.length; j++) if (b[i + j] !== needle[j]) continue outer;
          return true;
        }
        return false;
      }).length;
      const stored = { records: (await all('records', 'getAll')).length, snapshot: (await all('meta', 'getAllKeys')).includes('snapshot') };
      db.close();
      return { id: s.id, hash: s.stateHash(), count: c.list().length, leaks, stored };
    });
    assert.equal(made.count, 300 - 1 + 100 + 1);
    assert.equal(made.leaks, 0);
    assert.equal(made.stored.snapshot, true);
    assert.ok(made.stored.records < 1000, `records after the snapshot: ${made.stored.records}`);
    await page.reload();
    await page.waitForFunction(() => window.weftReady === true);
    const reopened = await page.evaluate(async (id) => {
      const s = await window.weftdb.openSpace({ space: id, storage: 'indexeddb' });
      const r = { hash: s.stateHash(), count: s.collection('notes').list().length, ctr: s.collection('notes').get('ctr'), rights: s.rights };
      await s.collection('notes').put('after', { ok: true });
      const h2 = s.stateHash();
      await s.close();
      const again = await window.weftdb.openSpace({ space: id, storage: 'indexeddb' });
      r.afterHash = again.stateHash() === h2;
      await again.close();
      return r;
    }, made.id);
    assert.equal(reopened.hash, made.hash);
    assert.equal(reopened.count, made.count);
    assert.deepEqual(reopened.ctr, { n: 5 });
    assert.equal(reopened.rights, 'admin');
    assert.equal(reopened.afterHash, true);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('text binding: typing in a textarea syncs, remote edits keep the caret and selection', { skip, timeout: 120_000 }, async () => {
  const context = await chrome.browser.newContext();
  try {
    const page = await newPage(context);
    await page.evaluate(async () => {
      const { createSpace, openSpace } = window.weftdb;
      const a = await createSpace({ storage: 'memory' });
      const b = await openSpace({ storage: 'memory', invite: a.invite() });
      for (const [name, s] of [['ta', a], ['tb', b]]) {
        const el = document.createElement('textarea');
        el.id = name;
        document.body.append(el);
        window[name] = s.text('notes', 'n1', 'body');
        window[`un${name}`] = window[name].bind(el);
      }
      window.a = a;
      window.b = b;
      window.exchange = async () => {
        await b.applyChanges(a.changesSince(b.versionVector()));
        await a.applyChanges(b.changesSince(a.versionVector()));
      };
    });
    // typing in A's textarea edits A's text; B's textarea follows
    await page.click('#ta');
    await page.keyboard.type('hello world');
    assert.equal(await page.evaluate(() => window.ta.toString()), 'hello world');
    await page.evaluate(() => window.exchange());
    assert.equal(await page.inputValue('#tb'), 'hello world');
    // B selects "world"; A inserts before it: B's selection moves with its text
    await page.click('#tb');
    await page.evaluate(() => document.querySelector('#tb').setSelectionRange(6, 11));
    await page.evaluate(async () => {
      await window.ta.insert(0, '>> ');
      await window.ta.insert(3, 'big ');
      await window.exchange();
    });
    const sel = await page.evaluate(() => {
      const el = document.querySelector('#tb');
      return { value: el.value, start: el.selectionStart, end: el.selectionEnd, focused: document.activeElement === el };
    });
    assert.deepEqual(sel, { value: '>> big hello world', start: 13, end: 18, focused: true });
    // typing replaces the selection; both sides type at once and converge
    await page.keyboard.type('there');
    // (at the start: two inserts at one place would be ordered by the
    // authors' random keys)
    await page.click('#ta');
    await page.keyboard.press('Control+Home');
    await page.keyboard.type('#');
    await page.evaluate(() => window.exchange());
    const [va, vb, ha, hb] = await page.evaluate(() => [document.querySelector('#ta').value, document.querySelector('#tb').value,
      window.a.stateHash(), window.b.stateHash()]);
    assert.equal(va, '#>> big hello there');
    assert.equal(vb, va);
    assert.equal(ha, hb);
    // A's caret stayed after its "#": backspace there, then paste text with an emoji
    await page.keyboard.press('Backspace');
    await page.keyboard.insertText('😀 ok ');
    await page.evaluate(() => window.exchange());
    assert.equal(await page.evaluate(() => window.tb.toString()), '😀 ok >> big hello there');
    assert.equal(await page.inputValue('#tb'), '😀 ok >> big hello there');
    // unbound: further edits no longer reach the element
    await page.evaluate(async () => {
      window.untb();
      await window.ta.insert(0, 'x');
      await window.exchange();
    });
    assert.equal(await page.inputValue('#tb'), '😀 ok >> big hello there');
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('the text window closes when the page loses focus or is hidden', { skip, timeout: 120_000 }, async () => {
  const context = await chrome.browser.newContext();
  try {
    const page = await newPage(context);
    const commits = await page.evaluate(async () => {
      const s = await window.weftdb.createSpace({ storage: 'memory', textWindow: 60_000 }); // only the page events can close it
      let n = 0;
      s.on('commit', () => n++);
      const t = s.text('notes', 'n1', 'body');
      const seen = [];
      t.insert(0, 'a');
      seen.push(n);
      window.dispatchEvent(new Event('blur'));
      seen.push(n);
      t.insert(1, 'b');
      document.dispatchEvent(new Event('visibilitychange'));
      seen.push(n);
      t.insert(2, 'c');
      window.dispatchEvent(new Event('pagehide'));
      seen.push(n);
      await s.close();
      return seen;
    });
    assert.deepEqual(commits, [0, 1, 2, 3]);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
  }
});

test('two pages of one space: the follower writes through the leader, both converge, the follower takes over', { skip, timeout: 120_000 }, async () => {
  const context = await chrome.browser.newContext();
  try {
    const a = await newPage(context);
    const id = await a.evaluate(async () => {
      const s = await window.weftdb.createSpace({ storage: 'indexeddb' });
      window.space = s;
      window.seen = [];
      s.collection('todos').subscribe((rows) => window.seen.push(rows.map((r) => r.id)));
      await s.collection('todos').put('a1', { by: 'a' });
      return s.id;
    });
    const b = await newPage(context);
    await b.evaluate(async (id) => {
      const s = await window.weftdb.openSpace({ space: id, storage: 'indexeddb' });
      window.space = s;
      window.seen = [];
      s.collection('todos').subscribe((rows) => window.seen.push(rows.map((r) => r.id)));
    }, id);
    assert.equal(await a.evaluate(() => window.space._internal.isWriter()), true, 'the first page leads');
    assert.equal(await b.evaluate(() => window.space._internal.isWriter()), false, 'the second page follows');
    // the follower sees the leader's earlier write from IndexedDB
    assert.deepEqual(await b.evaluate(() => window.space.collection('todos').get('a1')), { by: 'a' });
    // concurrent writes from both pages
    await Promise.all([
      a.evaluate(async () => {
        for (let i = 0; i < 20; i++) await window.space.collection('todos').put(`a${i + 2}`, { by: 'a', i });
      }),
      b.evaluate(async () => {
        for (let i = 0; i < 20; i++) await window.space.collection('todos').put(`b${i}`, { by: 'b', i });
        await window.space.collection('todos').increment('ctr', 'n', 2);
      }),
    ]);
    await a.evaluate(() => window.space.collection('todos').increment('ctr', 'n', 3));
    // a live query on the other page fires for each side's writes
    await b.waitForFunction(() => window.seen.at(-1)?.includes('a21'));
    await a.waitForFunction(() => window.seen.at(-1)?.includes('b19'));
    await b.waitForFunction(() => window.space.collection('todos').get('ctr')?.n === 5);
    const ha = await a.evaluate(() => window.space.stateHash());
    const hb = await b.evaluate(() => window.space.stateHash());
    assert.equal(ha, hb);
    // the follower's own write is visible to it once its promise resolves
    assert.deepEqual(await b.evaluate(async () => {
      await window.space.collection('todos').update('b0', { mine: true });
      return window.space.collection('todos').get('b0');
    }), { by: 'b', i: 0, mine: true });
    // text edits from both pages: the follower's go through the leader
    await a.evaluate(() => window.space.text('notes', 'n', 'body').insert(0, 'leader'));
    await b.waitForFunction(() => window.space.text('notes', 'n', 'body').toString() === 'leader');
    assert.equal(await b.evaluate(async () => {
      const t = window.space.text('notes', 'n', 'body');
      await t.insert(6, ' and follower');
      return t.toString();
    }), 'leader and follower');
    await a.waitForFunction(() => window.space.text('notes', 'n', 'body').toString() === 'leader and follower');
    // errors in a follower's writes are the leader's WeftErrors
    assert.deepEqual(await b.evaluate(async () => {
      const codes = [];
      for (const f of [() => window.space.collection('todos').put('bad', { f: () => 1 }), () => window.space.collection('todos').put('bad', { n: 2n ** 64n })]) {
        try {
          await f();
        } catch (e) {
          codes.push(e instanceof window.weftdb.WeftError && e.code);
        }
      }
      return codes;
    }), ['WEFT_EINVAL', 'WEFT_EINVAL']);
    // the leader goes away; the follower takes the lock and keeps writing
    await a.close();
    const after = await b.evaluate(async () => {
      await window.space.collection('todos').put('late', { by: 'b after a left' });
      if (!window.space._internal.isWriter()) throw new Error('the follower did not take over');
      const h = window.space.stateHash();
      const n = window.space.collection('todos').list().length;
      await window.space.close();
      const s = await window.weftdb.openSpace({ space: window.space.id, storage: 'indexeddb' });
      const r = { same: s.stateHash() === h, n, late: s.collection('todos').get('late') };
      await s.close();
      return r;
    });
    assert.deepEqual(after, { same: true, n: 21 + 20 + 1 + 1, late: { by: 'b after a left' } });
    assert.deepEqual(b.errors, []);
  } finally {
    await context.close();
  }
});

test('a follower tab anchors the text it just typed, before and after it reaches the leader', { skip, timeout: 120_000 }, async () => {
  const context = await chrome.browser.newContext();
  try {
    const a = await newPage(context);
    const id = await a.evaluate(async () => {
      const s = await window.weftdb.createSpace({ storage: 'indexeddb' });
      window.space = s;
      await s.text('notes', 'n', 'body').insert(0, 'one three');
      return s.id;
    });
    const b = await newPage(context);
    const got = await b.evaluate(async (id) => {
      const s = await window.weftdb.openSpace({ space: id, storage: 'indexeddb' });
      window.space = s;
      if (s._internal.isWriter()) throw new Error('the second page should follow');
      const t = s.text('notes', 'n', 'body');
      const seen = []; // anchors made inside observe, as a binding sends its caret on each delta
      const stop = t.observe(() => {
        try {
          seen.push(t.resolve(t.anchor(t.length)) === t.length);
        } catch (e) {
          seen.push(e.code);
        }
      });
      // Typed as an element would: each key before the previous one reached the leader.
      const shown = 'one two three';
      let last;
      for (const [i, ch] of [...'two '].entries()) last = t.insert(4 + i, ch);
      const early = { caret: t.anchor(8), end: t.anchor(shown.length), before: t.anchor(4, -1), inTyped: t.anchor(6) };
      const earlyAt = Object.fromEntries(Object.entries(early).map(([k, v]) => [k, t.resolve(v)]));
      const replicaBefore = t.toString();
      await last;
      const lateAt = Object.fromEntries(Object.entries(early).map(([k, v]) => [k, t.resolve(v)]));
      stop();
      return { early, earlyAt, lateAt, replicaBefore, text: t.toString(), seen };
    }, id);
    assert.equal(got.replicaBefore, 'one three', 'the follower\'s replica does not hold its typing before the leader answers');
    assert.equal(got.text, 'one two three');
    // Positions as the follower's element shows them, before and after the text lands.
    assert.deepEqual(got.earlyAt, { caret: 8, end: 13, before: 4, inTyped: 8 });
    assert.deepEqual(got.lateAt, { caret: 8, end: 13, before: 4, inTyped: 8 });
    assert.ok(got.seen.length > 0 && got.seen.every((x) => x === true), JSON.stringify(got.seen));
    // The leader resolves the follower's anchors to the same places.
    await a.waitForFunction(() => window.space.text('notes', 'n', 'body').toString() === 'one two three');
    const atLeader = await a.evaluate((early) => Object.fromEntries(Object.entries(early).map(([k, v]) => [k, window.space.text('notes', 'n', 'body').resolve(v)])), got.early);
    assert.deepEqual(atLeader, { caret: 8, end: 13, before: 4, inTyped: 8 });
    // And the follower anchors the characters the leader just typed, from its observe callback.
    const fromLeader = b.evaluate(() => new Promise((resolve) => {
      const t = window.space.text('notes', 'n', 'body');
      const stop = t.observe((ds, { text }) => {
        if (!text.includes('!')) return;
        stop();
        const i = text.indexOf('!');
        resolve({ at: t.resolve(t.anchor(i)), after: t.resolve(t.anchor(i + 1, -1)), i });
      });
    }));
    await a.evaluate(() => window.space.text('notes', 'n', 'body').insert(3, '!'));
    assert.deepEqual(await fromLeader, { at: 3, after: 4, i: 3 });
    assert.deepEqual(b.errors, []);
  } finally {
    await context.close();
  }
});

test('two browsers (separate IndexedDBs) sync through a real relay: live queries, offline edits, outbox across a reload', { skip: skip || (!haveRelay && 'no relay build'), timeout: 120_000 }, async () => {
  let relay = await startRelay();
  const ctxA = await chrome.browser.newContext();
  const ctxB = await chrome.browser.newContext();
  try {
    const a = await newPage(ctxA);
    const b = await newPage(ctxB);
    const link = await a.evaluate(async (url) => {
      const s = await window.weftdb.createSpace({ storage: 'indexeddb', relay: url, sync: { minDelay: 50, maxDelay: 300 } });
      window.space = s;
      return s.invite({ rights: 'write' });
    }, relay.url);
    const id = await b.evaluate(async ({ url, link }) => {
      const s = await window.weftdb.openSpace({ invite: link, storage: 'indexeddb', relay: url, sync: { minDelay: 50, maxDelay: 300 } });
      window.space = s;
      window.seen = [];
      s.collection('todos').subscribe({ where: { done: false } }, (rows) => window.seen.push(rows.map((r) => r.id)));
      return s.id;
    }, { url: relay.url, link });
    await a.evaluate(() => window.space.collection('todos').put('a1', { done: false }));
    await b.waitForFunction(() => window.seen.at(-1)?.includes('a1'));
    // offline: the relay goes away, both edit
    await relay.stop({ keepData: true });
    await a.waitForFunction(() => window.space.status.state !== 'synced');
    await a.evaluate(() => window.space.collection('todos').put('a2', { done: false }));
    await b.evaluate(() => window.space.collection('todos').put('b1', { done: false }));
    assert.ok(await b.evaluate(() => window.space.status.pending) >= 1);
    // b reloads while offline: its outbox is in IndexedDB
    await b.reload();
    await b.waitForFunction(() => window.weftReady === true);
    relay = await startRelay({ port: relay.port, dataDir: relay.data });
    await b.evaluate(async ({ url, id }) => {
      const s = await window.weftdb.openSpace({ space: id, storage: 'indexeddb', relay: url, sync: { minDelay: 50, maxDelay: 300 } });
      window.space = s;
      window.seen = [];
      s.collection('todos').subscribe({ where: { done: false } }, (rows) => window.seen.push(rows.map((r) => r.id)));
    }, { url: relay.url, id });
    await b.waitForFunction(() => window.seen.at(-1)?.length === 3, null, { timeout: 20_000 });
    await a.waitForFunction(() => window.space.collection('todos').list().length === 3 && window.space.status.pending === 0, null, { timeout: 20_000 });
    await b.waitForFunction(() => window.space.status.pending === 0 && window.space.status.state === 'synced', null, { timeout: 20_000 });
    assert.equal(await a.evaluate(() => window.space.stateHash()), await b.evaluate(() => window.space.stateHash()));
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await ctxA.close();
    await ctxB.close();
    await relay.stop();
    rmSync(relay.data, { recursive: true, force: true }); // restarted on the same data dir
  }
});

test('two tabs of one space with a relay: only the leader connects; the follower gets remote changes through it, then takes over the link', { skip: skip || (!haveRelay && 'no relay build'), timeout: 120_000 }, async () => {
  const relay = await startRelay();
  const context = await chrome.browser.newContext();
  const connections = async () => {
    const text = await (await fetch(`http://127.0.0.1:${relay.port}/metrics`)).text();
    return Number(/^weft_relay_connections (\d+)/m.exec(text)?.[1]);
  };
  let node = null;
  try {
    const opts = { storage: 'indexeddb', relay: relay.url, sync: { minDelay: 50, maxDelay: 300 } };
    const a = await newPage(context);
    const { id, link } = await a.evaluate(async (opts) => {
      const s = await window.weftdb.createSpace(opts);
      window.space = s;
      return { id: s.id, link: s.invite() };
    }, opts);
    const b = await newPage(context);
    await b.evaluate(async ({ id, opts }) => {
      window.space = await window.weftdb.openSpace({ space: id, ...opts });
    }, { id, opts });
    await a.waitForFunction(() => window.space.status.state === 'synced');
    node = await nodeOpenSpace({ storage: 'memory', invite: link, relay: relay.url, sync: { WebSocket, minDelay: 50, maxDelay: 300 } });
    await node.collection('n').put('from-node', { v: 1 });
    await b.waitForFunction(() => window.space.collection('n').get('from-node')?.v === 1);
    assert.equal(await connections(), 2, 'the leader tab and the Node client; not the follower');
    assert.equal(await b.evaluate(() => window.space.status.state), 'synced', 'the follower shows the leader\'s status');
    await b.evaluate(() => window.space.collection('n').put('from-b', { v: 2 }));
    for (let i = 0; i < 200 && node.collection('n').get('from-b') === undefined; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(node.collection('n').get('from-b'), { v: 2 });
    // A file put in the follower is uploaded by the leader, and leaves
    // both tabs' queues once it is whole.
    await b.evaluate(async () => {
      const ref = await window.space.files.put(new Uint8Array(300_000).fill(9), { name: 'from-follower.bin' });
      await window.space.collection('n').put('file', { ref });
    });
    await b.waitForFunction(() => window.space.status.uploads === 0, null, { timeout: 20_000 });
    assert.equal(await a.evaluate(() => window.space.status.uploads), 0);
    for (let i = 0; i < 200 && node.collection('n').get('file') === undefined; i++) await new Promise((r) => setTimeout(r, 25));
    const fromFollower = await node.files.get(node.collection('n').get('file').ref);
    assert.equal(fromFollower.length, 300_000);
    assert.ok(fromFollower.every((x) => x === 9));
    await a.close();
    await b.waitForFunction(() => window.space._internal.isWriter() && window.space.status.state === 'synced', null, { timeout: 20_000 });
    await node.collection('n').put('after-handover', { v: 3 });
    await b.waitForFunction(() => window.space.collection('n').get('after-handover')?.v === 3);
    assert.equal(await b.evaluate(() => window.space.stateHash()), node.stateHash());
    assert.deepEqual(b.errors, []);
  } finally {
    await node?.close();
    await context.close();
    await relay.stop();
  }
});

test('a tab that joins from the relay\'s snapshot hands it to the other tabs of its profile', { skip: skip || (!haveRelay && 'no relay build'), timeout: 180_000 }, async () => {
  let relay = await startRelay();
  const ctxA = await chrome.browser.newContext();
  const ctxB = await chrome.browser.newContext();
  try {
    const a = await newPage(ctxA);
    const link = await a.evaluate(async (url) => {
      const s = await window.weftdb.createSpace({ storage: 'indexeddb', relay: url, sync: { minDelay: 50, maxDelay: 300 } });
      window.space = s;
      const published = new Promise((r) => s.on('snapshot', r));
      const batch = [];
      for (let i = 0; i < 1100; i++) batch.push(s.transact(() => s.collection('todos').put(`t${i % 50}`, { i, done: false })));
      await Promise.all(batch);
      await published;
      return s.invite({ rights: 'write' });
    }, relay.url);
    const hash = await a.evaluate(() => window.space.stateHash());
    // The relay is away while the new device's two tabs open: both empty.
    await relay.stop({ keepData: true });
    const b1 = await newPage(ctxB);
    const id = await b1.evaluate(async ({ url, link }) => {
      const s = await window.weftdb.openSpace({ invite: link, storage: 'indexeddb', relay: url, sync: { minDelay: 50, maxDelay: 300 } });
      window.space = s;
      window.joined = [];
      s.on('snapshot', (e) => window.joined.push(e));
      return s.id;
    }, { url: relay.url, link });
    const b2 = await newPage(ctxB);
    await b2.evaluate(async (id) => {
      const s = await window.weftdb.openSpace({ space: id, storage: 'indexeddb' });
      window.space = s;
      window.seen = [];
      s.collection('todos').subscribe((rows) => window.seen.push(rows.length));
    }, id);
    assert.equal(await b2.evaluate(() => window.space._internal.isWriter()), false, 'the second tab follows');
    relay = await startRelay({ port: relay.port, dataDir: relay.data });
    await b1.waitForFunction((h) => window.space.stateHash() === h, hash, { timeout: 30_000 });
    assert.equal(await b1.evaluate(() => window.joined.length), 1, 'the leader joined from the snapshot');
    await b2.waitForFunction((h) => window.space.stateHash() === h && window.seen.at(-1) === 50, hash, { timeout: 30_000 });
  } finally {
    await ctxA.close();
    await ctxB.close();
    await relay.stop();
  }
});

test('files in Chromium: a 50 MB file queued in IndexedDB survives two relay drops and a reload, and reaches a Node member byte for byte', { skip: skip || (!haveRelay && 'no relay build'), timeout: 180_000 }, async () => {
  let relay = await startRelay();
  const ctx = await chrome.browser.newContext();
  const n = 50 * 1024 * 1024 + 777;
  // The same bytes here and in the page: xorshift from a seed.
  const noise = `(n, seed) => { const out = new Uint8Array(n); let x = seed >>> 0; for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; out[i] = x & 0xff; } return out; }`;
  const opts = { minDelay: 50, maxDelay: 300 };
  let member;
  try {
    const page = await newPage(ctx);
    const made = await page.evaluate(async ({ url, n, noise, opts }) => {
      const s = await window.weftdb.createSpace({ storage: 'indexeddb', relay: url, sync: opts, files: opts });
      window.space = s;
      window.up = 0;
      s.on('file', (ev) => ev.direction === 'up' && (window.up = ev.loaded));
      const data = eval(noise)(n, 77);
      const ref = await s.files.put(new Blob([data], { type: 'application/octet-stream' }), { name: 'big.bin' });
      await s.collection('notes').put('n1', { file: ref });
      return { id: s.id, ref, link: s.invite() };
    }, { url: relay.url, n, noise, opts });
    assert.equal(made.ref.size, n);
    assert.equal(made.ref.type, 'application/octet-stream');
    const drop = async () => {
      await relay.stop({ keepData: true });
      await new Promise((r) => setTimeout(r, 300));
      relay = await startRelay({ port: relay.port, dataDir: relay.data });
    };
    await page.waitForFunction(() => window.up >= 10 << 20, null, { timeout: 60_000 });
    await drop();
    await page.waitForFunction(() => window.up >= 20 << 20, null, { timeout: 60_000 });
    await page.reload(); // the queue is in IndexedDB
    await page.waitForFunction(() => window.weftReady === true);
    const resumed = await page.evaluate(async ({ url, id, opts }) => {
      const s = await window.weftdb.openSpace({ space: id, storage: 'indexeddb', relay: url, sync: opts, files: opts });
      window.space = s;
      window.up = 0;
      s.on('file', (ev) => ev.direction === 'up' && (window.up = ev.loaded));
      return s.status.uploads;
    }, { url: relay.url, id: made.id, opts });
    assert.equal(resumed, 1);
    await page.waitForFunction(() => window.up >= 35 << 20, null, { timeout: 60_000 });
    await drop();
    await page.waitForFunction(() => window.space.status.uploads === 0, null, { timeout: 120_000 });
    member = await nodeOpenSpace({ storage: 'memory', invite: made.link, relay: relay.url, sync: { WebSocket, ...opts } });
    const deadline = Date.now() + 20_000;
    while (!member.collection('notes').get('n1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const got = await member.files.get(member.collection('notes').get('n1').file);
    assert.ok(Buffer.from(got).equals(Buffer.from(eval(noise)(n, 77))), 'byte for byte');
    // And the page reads it back through the relay (a Blob of its type).
    const back = await page.evaluate(async () => {
      const ref = window.space.collection('notes').get('n1').file;
      const b = await window.space.files.get(ref);
      return { size: b.size, type: b.type, isBlob: b instanceof Blob };
    });
    assert.deepEqual(back, { size: n, type: 'application/octet-stream', isBlob: true });
    // Chromium logs the requests refused while the relay was down itself.
    assert.deepEqual(page.errors.filter((e) => !/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET/.test(e.message)), []);
  } finally {
    await member?.close();
    await ctx.close();
    await relay.stop();
    rmSync(relay.data, { recursive: true, force: true });
  }
});
