#!/usr/bin/env bash
# weft-relay's tests (meson suite 'relay'): real WebSocket and HTTP clients
# against relays started on free loopback ports, natively and under ASan +
# UBSan. Each test starts and stops its own relays and temporary data
# directories. WEFT_TEST_RELAY_LOG=1 shows the relays' logs.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build native
meson test -C build --print-errorlogs --suite relay
tools/build asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --suite relay
