#!/usr/bin/env bash
# Fuzz smoke test (docs/TESTING.md, "Fuzzing"): builds build-fuzz/ (clang-14,
# libFuzzer, ASan + UBSan), writes the seed corpus with make_corpus, then
# runs every libFuzzer target for FUZZ_SECONDS each, one at a time (the
# machine has two cores and others build on it too). Unset, FUZZ_SECONDS is
# 15, lowered so that all targets together fuzz for at most FUZZ_BUDGET
# seconds (default 120) and `make test` stays quick. Prints one line per
# target and fails when any target crashes, leaks, trips a sanitizer or
# breaks an invariant; the crashing input is kept in build-fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/build fuzz
fuzzdir=build-fuzz/tests/fuzz
n=0
for exe in "$fuzzdir"/fuzz_*; do [ -x "$exe" ] && [ -f "$exe" ] && n=$((n + 1)); done
if [ -n "${FUZZ_SECONDS:-}" ]; then
  secs=$FUZZ_SECONDS
else
  secs=15
  budget=${FUZZ_BUDGET:-120}
  if [ "$n" -gt 0 ] && [ $((secs * n)) -gt "$budget" ]; then secs=$((budget / n)); fi
  [ "$secs" -ge 5 ] || secs=5
fi
echo "fuzzing $n targets for ${secs}s each"
work=$(mktemp -d "${TMPDIR:-/tmp}/weft-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$fuzzdir/make_corpus" "$work/seeds" >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

failed=0
for exe in "$fuzzdir"/fuzz_*; do
  [ -x "$exe" ] && [ -f "$exe" ] || continue
  t=${exe##*/fuzz_}
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  inputs=("$work/corpus/$t" "$work/seeds/$t")
  [ -d "tests/fuzz/regressions/$t" ] && inputs+=("tests/fuzz/regressions/$t")
  log="$work/$t.log"
  rc=0
  # The new-corpus directory comes first: libFuzzer writes what it finds
  # there and only reads the others.
  "$exe" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$t/" "${inputs[@]}" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  cov=$(sed -E -n 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/cov \1, ft \2, corpus \3/p' \
    <<<"$done_line")
  if [ "$rc" -ne 0 ] || ls "$work/artifacts/$t"/* >/dev/null 2>&1; then
    failed=1
    mkdir -p build-fuzz/crashes
    cp "$work/artifacts/$t"/* build-fuzz/crashes/ 2>/dev/null || true
    printf 'fuzz_%-9s FAILED (exit %s); inputs kept in build-fuzz/crashes/\n' "$t" "$rc"
    grep -E 'ERROR|SUMMARY|invariant|runtime error|==[0-9]+==' "$log" | head -20 || true
    tail -n 30 "$log"
  else
    printf 'fuzz_%-9s ok: %s execs in %ss, %s\n' "$t" "${execs:-?}" "$secs" "${cov:-cov ?}"
  fi
done
[ "$failed" -eq 0 ] || { echo "fuzzing found a crash"; exit 1; }
echo "all fuzz targets ran clean"
