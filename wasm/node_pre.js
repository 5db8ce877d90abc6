// Prepended (--pre-js) to the emcc output of the test and bench programs:
// Node 20's fetch() cannot load a file path, so hand the loader the bytes
// of the .wasm that sits beside this .js file.
Module['wasmBinary'] = require('fs').readFileSync(__filename.replace(/\.js$/, '.wasm'));
