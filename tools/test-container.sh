#!/usr/bin/env bash
# The relay's container image (deploy/Dockerfile), built and run with podman
# from a local Debian root filesystem (no image registry is reachable here):
# the image builds, runs as a non-root user, answers /healthz and /readyz,
# serves the demo, stores a change in its volume, and stops on SIGTERM.
#
# Skips (exit 0, saying why) only when podman cannot run containers on this
# machine. The Debian rootfs (mmdebstrap, ~80 s) is cached in
# build/container/, so later runs only rebuild the image's changed layers.
set -euo pipefail
cd "$(dirname "$0")/.."
skip() { echo "test-container: SKIP: $*"; exit 0; }
for t in podman runc mmdebstrap; do
  command -v $t >/dev/null || skip "$t is not installed (tools/setup installs podman runc mmdebstrap)"
done
# ../shared/ENVIRONMENT.md: crun fails on this VM's hybrid cgroups; runc with
# cgroupfs works, with ulimits no higher than the current ones.
F=(--runtime runc --cgroup-manager cgroupfs)
U=(--ulimit "nofile=$(ulimit -n):$(ulimit -n)" --ulimit "nproc=1000:1000")
podman "${F[@]}" info >/dev/null 2>&1 || skip "podman cannot run here: $(podman "${F[@]}" info 2>&1 | tail -1)"

cache=build/container
mkdir -p "$cache"
base=localhost/weft-debian:bookworm
if ! podman "${F[@]}" image exists "$base"; then
  if [ ! -s "$cache/bookworm.tar" ]; then
    echo "test-container: making a Debian bookworm rootfs (mmdebstrap, once)"
    timeout 600 mmdebstrap --quiet --variant=minbase --format=tar bookworm "$cache/bookworm.tar.$$"
    mv "$cache/bookworm.tar.$$" "$cache/bookworm.tar"
  fi
  podman "${F[@]}" import -q "$cache/bookworm.tar" "$base" >/dev/null
fi

# The demo the image serves: weftdb's WASM module and the PWA.
if [ ! -f web/dist/index.html ]; then
  [ -d web/node_modules ] || { echo "test-container: web/node_modules is missing: run tools/setup" >&2; exit 1; }
  wasm/build.sh >/dev/null
  (cd web && npx --no-install vite build --logLevel warn)
fi

tag=localhost/weft-relay:test
echo "test-container: podman build (BASE=$base)"
timeout 900 podman "${F[@]}" build "${U[@]}" --network host --build-arg BASE="$base" \
  -f deploy/Dockerfile -t "$tag" -q . >/dev/null
size=$(podman "${F[@]}" image inspect "$tag" --format '{{.Size}}')
echo "test-container: image $tag, $((size / 1024 / 1024)) MiB"

port=$(python3 -c 'import random; print(random.randint(20000, 31999))')
vol=weft-test-data-$$
name=weft-relay-test-$$
cleanup() {
  podman "${F[@]}" rm -f -t 2 "$name" >/dev/null 2>&1 || true
  podman "${F[@]}" volume rm -f "$vol" >/dev/null 2>&1 || true
}
trap cleanup EXIT
podman "${F[@]}" run -d "${U[@]}" --name "$name" --network host -v "$vol:/var/lib/weft" \
  -e WEFT_RELAY_LISTEN="127.0.0.1:$port" "$tag" >/dev/null
base_url="http://127.0.0.1:$port"
for i in $(seq 1 100); do
  curl -fs "$base_url/healthz" >/dev/null 2>&1 && break
  [ "$i" = 100 ] && { podman "${F[@]}" logs "$name"; echo "test-container: no /healthz" >&2; exit 1; }
  sleep 0.1
done
fail() { echo "test-container: FAIL: $*" >&2; podman "${F[@]}" logs "$name" | tail -20 >&2; exit 1; }
[ "$(curl -fs "$base_url/readyz")" = ready ] || fail "/readyz"
curl -fs "$base_url/" | grep -q '<html' || fail "the demo is not served at /"
uid=$(podman "${F[@]}" exec "$name" id -u)
[ "$uid" != 0 ] || fail "the relay runs as root"
# A change stored through the image lands in its volume, and weft log
# verify (in the image too) finds it clean.
build/cli/weft space create "$cache/space-$$" --relay "$base_url" >/dev/null
build/cli/weft put "$cache/space-$$" notes n1 '{"text":"in a container"}' >/dev/null
build/cli/weft sync "$cache/space-$$" | grep -q '"pushed":1' || fail "weft sync"
rm -rf "$cache/space-$$"
podman "${F[@]}" exec "$name" weft log verify /var/lib/weft >/dev/null || fail "weft log verify in the volume"
# SIGTERM drains and exits 0.
podman "${F[@]}" stop -t 10 "$name" >/dev/null
code=$(podman "${F[@]}" inspect "$name" --format '{{.State.ExitCode}}')
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
echo "test-container: ok (non-root uid $uid, demo served, change stored and verified, clean stop)"
