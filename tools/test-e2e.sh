#!/usr/bin/env bash
# End-to-end tests of the demo PWA (web/) in Debian's Chromium through
# playwright-core, against a real weft-relay started by the tests on a free
# loopback port (tests/e2e). Builds what they need first: the relay, the
# weftdb WASM module and the app. Screenshots land in tests/e2e/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d web/node_modules ] || { echo "test-e2e: web/node_modules is missing: run tools/setup" >&2; exit 1; }
tools/build native >/dev/null
wasm/build.sh
(cd web && npx --no-install vite build --logLevel warn)
node --test --test-concurrency=1 --test-reporter=spec tests/e2e/*.test.mjs
