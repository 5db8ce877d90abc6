import { defineConfig } from 'vite';

export default defineConfig({
  // weftdb finds its .wasm beside itself (new URL(..., import.meta.url)):
  // the dev server must serve it as it is, not pre-bundle it.
  optimizeDeps: { exclude: ['weftdb'] },
  build: { target: 'es2022' },
});
