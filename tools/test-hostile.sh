#!/usr/bin/env bash
# The hostile-client suite (tests/relay/test_hostile.c; docs/RELAY.md,
# "Tests"): an attacker process on raw sockets against weft-relay built
# with ASan + UBSan, while honest clients sync through it; the relay's RSS
# and open descriptors are sampled throughout, and it must exit cleanly.
# About 65 s (5 s calm, 60 s under attack); WEFT_HOSTILE_SECS=N attacks for N
# seconds instead, WEFT_HOSTILE_CALM_SECS=N sets the calm phase,
# WEFT_HOSTILE_SEED=N replays the attack of a printed seed, and
# WEFT_HOSTILE_JSON=FILE writes the honest latency figures as bench records.
# WEFT_TEST_RELAY_LOG=1 shows the relay's log (else it is kept, and its end
# printed on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build asan
# Sanitizer reports go to files, and the relay's log (where a failed
# assert says which) to another unless WEFT_TEST_RELAY_LOG is set; the
# reports and the log's end are printed when the suite fails.
logs=$(mktemp -d /tmp/weft-hostile-XXXXXX)
trap 'rm -rf "$logs"' EXIT
rc=0
WEFT_TEST_RELAY_LOG=${WEFT_TEST_RELAY_LOG:-$logs/relay.log} \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$logs/asan \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan \
  timeout 300 build-asan/relay/test_hostile build-asan/relay/weft-relay "${WEFT_HOSTILE_SECS:-60}" || rc=$?
if [ "$rc" != 0 ]; then
  for f in "$logs"/*san*; do
    [ -e "$f" ] && { echo "== $f"; cat "$f"; }
  done
  if [ -s "$logs/relay.log" ]; then
    echo "== the relay's log, last 40 lines"
    tail -n 40 "$logs/relay.log"
  fi
  exit "$rc"
fi
