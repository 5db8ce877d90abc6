// Prepended to the emcc output of core_bench (tools/bench): Node 20's
// fetch() cannot load a file path, so hand the loader the .wasm bytes.
Module['wasmBinary'] = require('fs').readFileSync(require('path').join(__dirname, 'core_bench.wasm'));
