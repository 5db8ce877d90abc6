// The size of each weftdb entry point (wasm/package.json "exports": ".",
// "./react", "./codemirror", ...) as a web app ships it: esbuild bundles the
// entry for the browser, minified ESM, with its third-party imports
// (libsodium, react, @codemirror/*) left out; the WASM module is a file of
// its own beside it (dist/weftdb_core.wasm). For a binding, also what it
// adds to an app that already ships the main entry (the two bundled
// together, minus the main one alone): the modules they share count once.
//
//   node bench/entry_sizes.mjs [--json PATH]
// Printed in KB (1,000 bytes) minified, and gzip -9 beside it.
import { build } from 'esbuild';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = join(root, 'wasm');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const external = ['libsodium-wrappers', 'libsodium-wrappers-sumo', 'libsodium', 'react', 'react-dom', '@codemirror/*', 'prosemirror-*', '@tiptap/*', 'node:*', 'crypto'] // crypto: a guarded require in the emcc loader;

/** Minified bytes and gzip -9 bytes of a bundle of `files` (one module importing them all). */
export async function bundleBytes(files) {
  const contents = files.map((f, i) => `export * as m${i} from ${JSON.stringify(f)};`).join('\n');
  const out = await build({
    stdin: { contents, resolveDir: pkgDir, loader: 'js' },
    bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'error', external,
  });
  const code = out.outputFiles[0].contents;
  return { min: code.length, gz: gzipSync(code, { level: 9 }).length };
}

/** [{ entry, min, gz, addedMin?, addedGz? }] for every JS entry point of the package, and the WASM file. */
export async function entrySizes() {
  const entries = Object.entries(pkg.exports).filter(([k, v]) => typeof v === 'object' && v.default?.endsWith('.js'));
  const rows = [];
  let main = null;
  for (const [name, v] of entries) {
    const file = join(pkgDir, v.default);
    const alone = await bundleBytes([file]);
    const row = { entry: name === '.' ? 'weftdb' : `weftdb/${name.slice(2)}`, ...alone };
    if (name === '.') main = { file, ...alone };
    else if (main) {
      const both = await bundleBytes([main.file, file]);
      row.addedMin = both.min - main.min;
      row.addedGz = both.gz - main.gz;
    }
    rows.push(row);
  }
  const wasm = join(pkgDir, 'dist/weftdb_core.wasm');
  if (existsSync(wasm)) {
    const b = readFileSync(wasm);
    rows.push({ entry: 'dist/weftdb_core.wasm (fetched by weftdb)', min: b.length, gz: gzipSync(b, { level: 9 }).length });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await entrySizes();
  const kb = (n) => (n / 1000).toFixed(1);
  console.log('| entry point | minified KB | gzip -9 KB | added to an app with weftdb: minified KB | gzip KB |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.entry} | ${kb(r.min)} | ${kb(r.gz)} | ${r.addedMin === undefined ? '—' : kb(r.addedMin)} | ${r.addedGz === undefined ? '—' : kb(r.addedGz)} |`);
  const i = process.argv.indexOf('--json');
  if (i > 0) writeFileSync(process.argv[i + 1], JSON.stringify(rows, null, 2) + '\n');
}
