// Module resolve hook (node:module register) for react_bench.mjs: weftdb/react
// (wasm/src/react.js) imports its peer dependency 'react', which wasm/ does
// not install; a bare import from wasm/src that finds nothing there is
// resolved from bench/, so the bench has one copy of React.
const benchDir = new URL('./', import.meta.url).href;

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    const bare = !specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.includes(':');
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !bare || !context.parentURL?.includes('/wasm/src/')) throw e;
    return next(specifier, { ...context, parentURL: benchDir + 'package.json' });
  }
}
