// Workload 6: what a web app ships for each library, gzip -9. Each library
// is bundled by esbuild (minified, ESM, browser) from a small entry that
// uses it as an app would (a document, a map set, an update or snapshot out
// and back in), so tree-shaking keeps only what such an app needs; WASM the
// library fetches at run time is counted as its own file. Weft's own module
// is given by tools/bench (--weft-entry, --weft-wasm); libsodium.js, which
// Weft loads for its crypto, is its own figure.
//
//   node bench/peers/bundle.mjs --json PATH [--out DIR]
//        [--weft-entry FILE --weft-wasm FILE [--weft-note TEXT]]
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const { values: opt } = parseArgs({
  options: {
    json: { type: 'string' }, out: { type: 'string', default: 'build-bench-bundle' },
    'weft-entry': { type: 'string' }, 'weft-wasm': { type: 'string', multiple: true, default: [] },
    'weft-note': { type: 'string' },
  },
});
const here = new URL('.', import.meta.url).pathname;
const nodeModules = join(here, '../node_modules');
mkdirSync(opt.out, { recursive: true });

// One app per library. `globalThis.app` keeps results alive (no dead code).
const apps = {
  yjs: {
    code: `import * as Y from 'yjs';
      const doc = new Y.Doc(), m = doc.getMap('m');
      doc.on('updateV2', (u) => globalThis.app?.send(u));
      m.set('k', 1);
      const copy = new Y.Doc();
      Y.applyUpdateV2(copy, Y.encodeStateAsUpdateV2(doc, Y.encodeStateVector(copy)));
      globalThis.app = copy.getMap('m').toJSON();`,
    wasm: [],
  },
  loro: {
    code: `import init, { LoroDoc } from 'loro-crdt/web';
      await init();
      const doc = new LoroDoc();
      doc.subscribeLocalUpdates((u) => globalThis.app?.send(u));
      doc.getMap('m').set('k', 1);
      doc.commit();
      const copy = new LoroDoc();
      copy.import(doc.export({ mode: 'update', from: copy.oplogVersion() }));
      globalThis.app = copy.getMap('m').toJSON();`,
    wasm: [join(nodeModules, 'loro-crdt/web/loro_wasm_bg.wasm')],
  },
  automerge: {
    code: `import * as A from '@automerge/automerge/slim';
      await A.initializeWasm(new URL('./automerge.wasm', import.meta.url).href);
      let doc = A.init();
      doc = A.change(doc, (d) => { d.k = 1; });
      globalThis.app?.send(A.getLastLocalChange(doc));
      const copy = A.loadIncremental(A.init(), A.save(doc));
      globalThis.app = A.toJS(copy);`,
    wasm: [join(nodeModules, '@automerge/automerge/dist/automerge.wasm')],
  },
  libsodium: {
    code: `import sodium from 'libsodium-wrappers';
      await sodium.ready;
      globalThis.app = sodium.crypto_aead_xchacha20poly1305_ietf_keygen();`,
    wasm: [],
  },
};

const gz = (buf) => gzipSync(buf, { level: 9 }).length;

async function bundle(name, code, external = []) {
  const r = await build({
    stdin: { contents: code, resolveDir: here, loader: 'js' },
    bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022',
    external, write: false, logLevel: 'error',
  });
  const js = r.outputFiles[0].contents;
  writeFileSync(join(opt.out, `${name}.js`), js);
  return js;
}

// gzip -9 bytes of the bundled JS plus each WASM file, and what it was.
async function measure(name, code, wasm, external) {
  const js = await bundle(name, code, external);
  let total = gz(js);
  const parts = [`${basename(name)}.js ${js.length} B raw, ${gz(js)} B gzip`];
  for (const f of wasm) {
    const b = readFileSync(f);
    total += gz(b);
    parts.push(`${basename(f)} ${b.length} B raw, ${gz(b)} B gzip`);
  }
  console.log(`bundle ${name}: ${total} B gzip -9 (${parts.join('; ')})`);
  return total;
}

const wl = 'bundle a web app ships';
const records = [];
const add = (impl, metric, value, note) =>
  records.push({ workload: wl, impl, metric, value, unit: 'B', ...(note ? { note } : {}) });
for (const peer of ['yjs', 'loro', 'automerge']) {
  const b = await measure(peer, apps[peer].code, apps[peer].wasm);
  add(peer, 'library JS + wasm, gzip -9', b);
  add(peer, 'with crypto, gzip -9', b, 'no end-to-end encryption: nothing to add');
}
const sodium = await measure('libsodium', apps.libsodium.code, []);
if (opt['weft-entry']) {
  // Weft's module as built for the web; libsodium.js stays external (counted
  // apart), as does Node's crypto, which a Node fallback in the glue names.
  const code = `import * as weft from ${JSON.stringify(resolve(opt['weft-entry']))};
    globalThis.app = weft;`;
  const w = await measure('weft', code, opt['weft-wasm'], ['libsodium-wrappers', 'libsodium-wrappers-sumo', 'crypto', 'node:crypto']);
  add('weft-wasm-web', 'library JS + wasm, gzip -9', w, opt['weft-note']);
  add('weft-wasm-web', 'crypto: libsodium.js, gzip -9', sodium);
  add('weft-wasm-web', 'with crypto, gzip -9', w + sodium);
}
if (opt.json) writeFileSync(opt.json, JSON.stringify(records, null, 2) + '\n');
