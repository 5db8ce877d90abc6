#!/usr/bin/env bash
# deploy/: the Grafana dashboard is JSON and graphs only metrics the relay
# exports (each weft_relay_* name it uses is in relay/metrics.c); and
# weft-relay.service: `systemd-analyze verify` accepts it with no warning
# (an unknown or misspelt key is only a warning, so any output fails), the
# hardening it promises is there, and systemd's own exposure score for it
# stays low (that part skips, saying so, without systemd-analyze).
set -euo pipefail
cd "$(dirname "$0")/.."
node -e 'JSON.parse(require("fs").readFileSync("deploy/grafana-dashboard.json", "utf8"))'
used=$(grep -o 'weft_relay_[a-z_]*' deploy/grafana-dashboard.json | sed 's/_bucket$//' | sort -u)
for m in $used; do
  grep -q "${m}\b" relay/metrics.c ||
    { echo "test-deploy: the dashboard uses $m, which the relay does not export"; exit 1; }
done
echo "test-deploy: dashboard ok ($(echo "$used" | wc -l) metrics, all exported)"
command -v systemd-analyze >/dev/null || { echo "test-deploy: SKIP: no systemd-analyze"; exit 0; }
[ -x build/relay/weft-relay ] || tools/build native
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify checks that ExecStart exists: point it at this build's binary.
sed "s|/usr/local/bin/weft-relay|$PWD/build/relay/weft-relay|" deploy/weft-relay.service \
  > "$tmp/weft-relay.service"
out=$(systemd-analyze verify "$tmp/weft-relay.service" 2>&1) || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "test-deploy: systemd-analyze verify warned:"; echo "$out"; exit 1; }
for want in DynamicUser=yes ProtectSystem=strict ReadWritePaths=/var/lib/weft-relay \
  StateDirectory=weft-relay NoNewPrivileges=yes 'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -qxF "$want" deploy/weft-relay.service || { echo "test-deploy: missing $want"; exit 1; }
done
score=$(systemd-analyze security --offline=true "$tmp/weft-relay.service" 2>/dev/null |
  sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "test-deploy: verify clean, exposure $score"
awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 2.0) }' ||
  { echo "test-deploy: exposure $score above 2.0"; exit 1; }
