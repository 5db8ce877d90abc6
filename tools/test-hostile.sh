#!/usr/bin/env bash
# The hostile-client suite (tests/relay/test_hostile.c; docs/RELAY.md,
# "Tests"): an attacker process on raw sockets against weft-relay built
# with ASan + UBSan, while honest clients sync through it; the relay's RSS
# and open descriptors are sampled throughout, and it must exit cleanly.
# About 65 s (5 s calm, 60 s under attack); WEFT_HOSTILE_SECS=N attacks for N
# seconds instead, WEFT_HOSTILE_CALM_SECS=N sets the calm phase, and
# WEFT_HOSTILE_JSON=FILE writes the honest latency figures as bench records.
# WEFT_TEST_RELAY_LOG=1 shows the relay's log.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  timeout 300 build-asan/relay/test_hostile build-asan/relay/weft-relay "${WEFT_HOSTILE_SECS:-60}"
