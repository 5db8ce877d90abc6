// vite builds the app into dist/. Three small plugins: `icons` emits the
// PNG icons drawn by tools/icons.mjs, `serviceWorker` emits src/sw.js with
// the list of files to precache (the whole build) and a version hash, and
// `quietWasmLoader` drops two harmless notes about the Emscripten loader.
import { defineConfig } from 'vite';
import { readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ICONS, iconPng } from './tools/icons.mjs';

const PUBLIC = new URL('./public/', import.meta.url);

function icons() {
  return {
    name: 'weft-icons',
    generateBundle() {
      for (const [fileName, size] of Object.entries(ICONS)) this.emitFile({ type: 'asset', fileName, source: iconPng(size) });
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const size = ICONS[req.url.slice(1)];
        if (!size) return next();
        res.setHeader('content-type', 'image/png');
        res.end(iconPng(size));
      });
    },
  };
}

function serviceWorker() {
  return {
    name: 'weft-service-worker',
    apply: 'build',
    // Runs last: every other file of the bundle is known by then.
    generateBundle: {
      order: 'post',
      handler(_options, bundle) {
        const pub = readdirSync(PUBLIC).sort();
        const files = [...Object.keys(bundle).filter((f) => !f.endsWith('.map')), ...pub].sort();
        const precache = ['./', ...files.filter((f) => f !== 'index.html').map((f) => `./${f}`)];
        const hashes = files.map((f) => f + ':' + (bundle[f] ? hashOf(bundle[f]) : hashOf({ source: readFileSync(new URL(f, PUBLIC)) })));
        const version = createHash('sha256').update(hashes.join('\n')).digest('hex').slice(0, 12);
        const src = readFileSync(new URL('./src/sw.js', import.meta.url), 'utf8')
          .replace("'__VERSION__'", JSON.stringify(version))
          .replace('__PRECACHE__', JSON.stringify(precache, null, 2));
        this.emitFile({ type: 'asset', fileName: 'sw.js', source: src });
      },
    },
  };
}

// The Emscripten loader (wasm/dist) names Node's `crypto` in a branch a
// browser never takes, and tests for CommonJS `exports` before its ES
// `export`; vite would say so on every build. Only those two notes are dropped.
function quietWasmLoader() {
  return {
    name: 'weft-quiet-wasm-loader',
    onLog(_level, log) {
      if (/weftdb_core/.test(log.message ?? '') && (log.code === 'COMMONJS_VARIABLE_IN_ESM' || /"crypto" has been externalized/.test(log.message))) return false;
      return undefined;
    },
  };
}

function hashOf(item) {
  const data = item.type === 'chunk' ? item.code : item.source;
  return createHash('sha256').update(data).digest('hex');
}

export default defineConfig({
  base: './',
  // weftdb loads its .wasm from beside its loader (new URL(..., import.meta.url)):
  // keep it out of dependency pre-bundling so that path holds in dev too.
  optimizeDeps: { exclude: ['weftdb'] },
  // weftdb is ../wasm (a file: dependency) with its own node_modules (its
  // dev deps): its editor bindings must use the app's copy of ProseMirror
  // and CodeMirror, one instance each.
  resolve: { dedupe: ['prosemirror-model', 'prosemirror-state', 'prosemirror-view', 'prosemirror-transform', '@codemirror/state', '@codemirror/view'] },
  // weftdb is ../wasm (a file: dependency): let the dev server read it.
  server: { fs: { allow: ['..'] } },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0, // no data: URLs (the CSP allows none for scripts)
    chunkSizeWarningLimit: 600, // libsodium.js carries its own wasm inline (~500 kB, 177 kB gzip)
  },
  plugins: [quietWasmLoader(), icons(), serviceWorker()],
});
