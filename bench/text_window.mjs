// text_window.mjs: what the text window (the textWindow option: how long a
// change holding only text edits stays open) costs and saves. A typist
// types KEYS one-character inserts through space.text() at a steady
// interval; for each window, bytes of change records per keystroke (what
// storage and the relay carry) and the mean ms from a keystroke to the
// commit of its change (what a collaborator waits beyond the network).
//
//   node bench/text_window.mjs [--keys N]
import { createSpace, memoryStorage } from '../wasm/src/index.js';

const args = process.argv.slice(2);
const KEYS = args.includes('--keys') ? +args[args.indexOf('--keys') + 1] : 60;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

console.log('interval  window  bytes/key  changes  ms to commit (mean)');
for (const interval of [30, 120]) {
  for (const win of [0, 20, 50, 100, 250]) {
    const s = await createSpace({ storage: memoryStorage(), textWindow: win });
    const t = s.text('notes', 'n', 'body');
    let bytes = 0, changes = 0;
    const typed = []; // keystroke times not yet committed
    let wait = 0;
    s.on('commit', (r) => {
      bytes += r.length;
      changes++;
      const now = performance.now();
      for (const k of typed) wait += now - k;
      typed.length = 0;
    });
    for (let i = 0; i < KEYS; i++) {
      typed.push(performance.now());
      t.insert(t.length, 'x');
      await sleep(interval);
    }
    await s.flush();
    console.log(`${String(interval).padStart(5)} ms ${String(win).padStart(5)} ms ${(bytes / KEYS).toFixed(0).padStart(9)} ${String(changes).padStart(8)} ${(wait / KEYS).toFixed(1).padStart(10)}`);
    await s.close();
  }
}
