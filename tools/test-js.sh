#!/usr/bin/env bash
# The weftdb npm package (wasm/): builds its WASM module (wasm/build.sh),
# then runs tests/js with Node's test runner: the API in Node with memory
# storage, memory bounds, `npm pack` installed into a fresh app, and (when
# Debian's chromium is there) IndexedDB and two tabs in real Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
for d in wasm tests/js; do
  [ -d "$d/node_modules" ] || { echo "test-js: $d/node_modules is missing: run tools/setup" >&2; exit 1; }
done
wasm/build.sh
# The sync tests run a real weft-relay (they skip, saying so, when it is missing).
[ -x build/relay/weft-relay ] || tools/build native
cd tests/js
node --test --test-concurrency=1 --test-reporter=spec *.test.mjs
