#!/usr/bin/env bash
# Redis scale-out tests (meson suite 'redis'), natively and under ASan +
# UBSan: test_redis (the storage backend alone: three stores standing for
# three relays) and test_scale (weft-relay --storage redis end to end:
# three relay processes, kill -9 of a relay and of Redis, SIGNAL/PRESENCE
# across relays, a shared rate limit), test_cluster (a 6-node Redis
# Cluster, resharding and a primary killed under traffic; needs redis-cli)
# and the redis variants of other suites. Each starts its own redis-server
# (127.0.0.1, a free port, a temporary directory, AOF with appendfsync
# always). Fails when redis-server or hiredis is missing (tools/setup
# installs both). WEFT_TEST_REDIS_LOG=1 shows redis-server's log,
# WEFT_TEST_RELAY_LOG=1 the relays'. See docs/SCALING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null || ! pkg-config --exists hiredis; then
  echo "test-redis: redis-server or libhiredis-dev missing (run tools/setup)" >&2
  exit 1
fi
tools/build native
meson test -C build --print-errorlogs --suite redis
tools/build asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --suite redis
