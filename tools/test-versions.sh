#!/usr/bin/env bash
# Old and new builds sharing spaces (issue 19; PROTOCOL.md §6, FORMAT.md §10).
#
# Builds the relay and CLI of an ancestor commit of main (by hash: tags may
# be missing in CI's clone) from `git archive` into build/old-<commit>/,
# once (later runs reuse it), then runs tests/js/versions.test.mjs with
# WEFT_OLD_RELAY and WEFT_OLD_CLI set: new weftdb clients and the old CLI
# through a new relay (writes both ways, a level raise, the old client told
# to update with nothing lost), and new clients through the old relay (the
# versions block refused, the plain HELLO after it).
#
# Why the old native CLI stands for "an old client" and no old weftdb is
# built: the WASM build of a second tree takes minutes on a shared 2-core
# machine, and the old CLI speaks the same protocol version, decodes the
# same records with the same core, and is told VERSION through the same
# relay path (the REST gate) as an old weftdb is through the WebSocket one,
# which the relay suite covers with a plain-HELLO client (tests/relay,
# format_levels). OLD=<commit> picks another ancestor.
set -euo pipefail
cd "$(dirname "$0")/.."
old=${OLD:-1fffcee}
tools/build native >/dev/null
[ -d wasm/node_modules ] && [ -d tests/js/node_modules ] || { echo "test-versions: run tools/setup" >&2; exit 1; }
wasm/build.sh >/dev/null
dir=$PWD/build/old-$old
if [ ! -x "$dir/build/relay/weft-relay" ] || [ ! -x "$dir/build/cli/weft" ]; then
  rm -rf "$dir"
  mkdir -p "$dir/src"
  git archive "$old" | tar -x -C "$dir/src"
  meson setup "$dir/build" "$dir/src" -Dtests=false -Dbench=false >/dev/null
  ninja -C "$dir/build" relay/weft-relay cli/weft >/dev/null
fi
echo "test-versions: old build of $old in $dir"
cd tests/js
WEFT_OLD_RELAY=$dir/build/relay/weft-relay WEFT_OLD_CLI=$dir/build/cli/weft \
  node --test --test-concurrency=1 --test-reporter=spec versions.test.mjs
