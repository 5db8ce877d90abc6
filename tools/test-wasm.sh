#!/usr/bin/env bash
# The core built to WASM and run in Node: every unit test, then the
# convergence property test with the seeds of tests/vectors/convergence.txt
# the join-from-snapshot test with those of tests/vectors/sealed_join.txt
# and the list property test with those of tests/vectors/lists.txt,
# whose digests the native build must print too (same merge, same hashes,
# same sealed bytes).
#   WEFT_UPDATE_VECTORS=1 tools/test-wasm.sh   rewrites the golden digests
#                                              from the native build
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs
golden=tests/vectors/convergence.txt
[ -d wasm/node_modules/libsodium-wrappers ] || { echo "test-wasm: wasm/node_modules is missing: run tools/setup" >&2; exit 1; }

tools/build native
tools/build wasm
meson test -C build-wasm --print-errorlogs --num-processes 2 --suite unit

digest() { "$@" | sed -n 's/^digest of .*: \([0-9a-f]\{64\}\)$/\1/p'; }

fail=0
# golden_digests PROGRAM GOLDEN_FILE: each "cases seed digest" line must be
# what both builds of tests/PROGRAM print.
golden_digests() {
  local prog=$1 golden=$2
  if [ "${WEFT_UPDATE_VECTORS:-}" = 1 ]; then
    tmp=$(mktemp)
    grep '^#' "$golden" >"$tmp"
    grep -v '^#' "$golden" | while read -r cases seed _; do
      echo "$cases $seed $(digest build/tests/$prog "$cases" "$seed")"
    done >>"$tmp"
    mv "$tmp" "$golden"
    echo "test-wasm: rewrote $golden"
  fi
  while read -r cases seed want; do
    case "$cases" in '#'*|'') continue ;; esac
    native=$(digest build/tests/$prog "$cases" "$seed" || true)
    wasm=$(digest node build-wasm/tests/$prog.js "$cases" "$seed" || true)
    if [ "$native" = "$want" ] && [ "$wasm" = "$want" ]; then
      echo "test-wasm: $prog: $cases cases from seed $seed: native = wasm = golden ($want)"
    else
      echo "test-wasm: $prog: $cases cases from seed $seed differ:" >&2
      echo "  golden $want" >&2
      echo "  native ${native:-<no digest: the run failed>}" >&2
      echo "  wasm   ${wasm:-<no digest: the run failed>}" >&2
      fail=1
    fi
  done <"$golden"
}
golden_digests convergence "$golden"
golden_digests sealed_join tests/vectors/sealed_join.txt
golden_digests list/list_property tests/vectors/lists.txt
# The text property tests (the CRDT alone, text fields in documents, marks):
# the same seeds must end in the same texts and state hashes.
for t in text_property:500 text_doc_property:1000 marks_property:1000; do
  exe=${t%%:*} cases=${t##*:}
  tn=$(build/tests/text/$exe "$cases" | sed -n 's/.*digest \([0-9a-f]*\)$/\1/p' || true)
  tw=$(node build-wasm/tests/text/$exe.js "$cases" | sed -n 's/.*digest \([0-9a-f]*\)$/\1/p' || true)
  if [ -n "$tn" ] && [ "$tn" = "$tw" ]; then
    echo "test-wasm: $cases $exe cases: native = wasm ($tn)"
  else
    echo "test-wasm: $exe digests differ: native '${tn}' wasm '${tw}'" >&2
    fail=1
  fi
done
exit $fail
