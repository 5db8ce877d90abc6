#!/usr/bin/env bash
# The weft CLI end to end: every command, its JSON and exit codes, invites
# and rights, two replicas merging to one state hash, and `log verify`
# finding a flipped bit and a torn tail. Works in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build native >/dev/null
W=$PWD/build/cli/weft
t=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$t"' EXIT
cd "$t"
fails=0
ok() { echo "  ok   $1"; }
bad() { echo "  FAIL $1" >&2; fails=$((fails + 1)); }
# expect NAME CODE CMD...: runs CMD, checks its exit code; output in $out.
expect() {
  local name=$1 code=$2
  shift 2
  set +e
  out=$("$@" 2>"$t/stderr")
  local rc=$?
  set -e
  if [ "$rc" = "$code" ]; then ok "$name"; else bad "$name: exit $rc, wanted $code: $out $(cat "$t/stderr")"; fi
}
has() { # has NAME TEXT: $out contains TEXT
  case "$out" in *"$2"*) ok "$1" ;; *) bad "$1: '$2' not in: $out" ;; esac
}
hash_of() { "$W" status "$1" | sed 's/.*"state_hash":"\([0-9a-f]*\)".*/\1/'; }

echo "test-cli: in $t"
expect "help" 0 "$W" help
has "help lists commands" "log verify"
expect "unknown command" 2 "$W" frobnicate
expect "missing args" 2 "$W" put

expect "keygen --out" 0 "$W" keygen --out id.json
has "keygen prints the public key" '"public":"'
[ "$(stat -c %a id.json)" = 600 ] && ok "key file is private" || bad "key file mode $(stat -c %a id.json)"
expect "keygen refuses to overwrite" 3 "$W" keygen --out id.json

expect "space create" 0 "$W" space create a
has "space id printed" '"space":"'
expect "space create twice" 3 "$W" space create a
[ "$(stat -c %a a/space.json)" = 600 ] && ok "space.json is private" || bad "space.json mode"

expect "put a document" 0 "$W" put a todos t1 '{"title":"milk","done":false,"tags":["a","b"],"n":2.5}'
expect "put a field" 0 "$W" put a todos t2 title '"bread"'
expect "put a counter-ish int" 0 "$W" put a todos t2 qty 3
expect "get a document" 0 "$W" get a todos t1
has "document round trip" '{"_id":"t1","done":false,"n":2.5,"tags":["a","b"],"title":"milk"}'
expect "get a field" 0 "$W" get a todos t2 title
[ "$out" = '"bread"' ] && ok "field round trip" || bad "field: $out"
expect "query" 0 "$W" query a todos
[ "$(echo "$out" | wc -l)" = 2 ] && ok "query lists 2 documents" || bad "query: $out"
expect "query --where" 0 "$W" query a todos --where 'title="bread"'
has "where matches t2 only" '"_id":"t2"'
case "$out" in *'"_id":"t1"'*) bad "where matched t1" ;; *) ok "where excludes t1" ;; esac
expect "query --limit" 0 "$W" query a todos --limit 1
[ "$(echo "$out" | wc -l)" = 1 ] && ok "limit 1" || bad "limit: $out"
expect "bad JSON is refused" 3 "$W" put a todos t3 v '{"x":'
grep -q "invalid JSON at byte" "$t/stderr" && ok "JSON error message" || bad "JSON error: $(cat "$t/stderr")"
expect "delete a field" 0 "$W" delete a todos t2 qty
expect "deleted field is gone" 1 "$W" get a todos t2 qty
expect "delete a document" 0 "$W" delete a todos t1
expect "deleted document is gone" 1 "$W" get a todos t1

# Invites and rights.
expect "read invite" 0 "$W" invite a --rights read --expires 1d --base https://example.org/
read_link=$out
has "invite is a link" "https://example.org/#"
expect "invite inspect" 0 "$W" invite inspect "$read_link"
has "inspect says read" '"rights":"read"'
expect "join read-only" 0 "$W" join r --invite "$read_link"
expect "read-only cannot write" 3 "$W" put r todos x v 1
grep -q "read only" "$t/stderr" && ok "says read only" || bad "message: $(cat "$t/stderr")"
expect "write invite" 0 "$W" invite a --rights write --expires 7d
expect "join read-write" 0 "$W" join b --invite "$out"
expect "writer writes" 0 "$W" put b notes n1 body '"from b"'
expect "not an invite" 3 "$W" invite inspect "https://example.org/#nope"
expect "join with garbage" 3 "$W" join z --invite "garbage"
expect "short-lived invite" 0 "$W" invite a --rights read --expires 1s
short=$out
sleep 2.2
expect "expired invite is refused" 3 "$W" invite inspect "$short"
has "says expired" '"error":"EXPIRED"'
expect "keyed invite" 0 "$W" invite a --rights write --for "$(sed 's/.*"public":"\([^"]*\)".*/\1/' id.json)"
keyed=$out
expect "keyed invite needs the key" 3 "$W" join k1 --invite "$keyed"
expect "keyed invite with --identity" 0 "$W" join k2 --invite "$keyed" --identity id.json
expect "non-admin cannot invite" 3 "$W" invite b --rights read

# Two replicas converge by exchanging change files.
expect "merge a into b" 0 "$W" merge b a
expect "merge b into a" 0 "$W" merge a b
expect "merge again is a no-op" 0 "$W" merge a b
has "duplicates only" '"applied":0'
[ "$(hash_of a)" = "$(hash_of b)" ] && ok "a and b have one state hash" || bad "hashes differ"
expect "b sees a's data" 0 "$W" get b todos t2 title
expect "merge into read-only replica" 0 "$W" merge r a
[ "$(hash_of r)" = "$(hash_of a)" ] && ok "the reader has the same state" || bad "reader differs"

# Collaborative text: both replicas edit one field, merge, and keep both edits.
expect "text insert" 0 "$W" text a notes n2 body insert 0 "héllo world"
expect "text delete" 0 "$W" text a notes n2 body delete 5 6
expect "text get" 0 "$W" get a notes n2 body
[ "$out" = '"héllo"' ] && ok "text reads as a string" || bad "text: $out"
expect "merge the text into b" 0 "$W" merge b a
expect "a types at the start" 0 "$W" text a notes n2 body insert 0 ">> "
expect "b types at the end" 0 "$W" text b notes n2 body splice 5 0 ", world"
expect "merge b into a (text)" 0 "$W" merge a b
expect "merge a into b (text)" 0 "$W" merge b a
expect "merged text" 0 "$W" get b notes n2 body
[ "$out" = '">> héllo, world"' ] && ok "both text edits survive" || bad "merged text: $out"
[ "$(hash_of a)" = "$(hash_of b)" ] && ok "a and b agree on the text" || bad "text hashes differ"
expect "a string becomes text" 0 "$W" text a notes n1 body insert 0 "["
expect "converted text" 0 "$W" get a notes n1 body
[ "$out" = '"[from b"' ] && ok "the string was kept" || bad "converted: $out"
expect "text past the end" 3 "$W" text a notes n2 body insert 99 x
expect "a number field" 0 "$W" put a notes n3 num 5
expect "text on a number" 3 "$W" text a notes n3 num insert 0 x
expect "text position not a number" 3 "$W" text a notes n2 body delete x 1
expect "text usage" 2 "$W" text a notes n2 body insert 0
expect "read-only cannot edit text" 3 "$W" text r notes n2 body insert 0 x

# Logs.
expect "log inspect" 0 "$W" log inspect a
has "inspect shows suite" '"suite":"v1"'
expect "log export" 0 "$W" log export a
has "export has records" '"record":"'
expect "log verify" 0 "$W" log verify a
has "verify ok" '"ok":true'
# Inverts the byte at offset $2 of file $1 (a constant written there may
# already be the byte: signatures are random).
flip() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
cp -r a flipped
size=$(stat -c %s flipped/changes.weft)
# in the last record's signature (a flip in a change's deps would only make
# it wait for a change that does not exist: `status` shows it pending)
flip flipped/changes.weft $((size - 10))
cmp -s a/changes.weft flipped/changes.weft && bad "the flip changed nothing"
expect "verify finds a flipped bit" 1 "$W" log verify flipped
has "verify reports it" '"ok":false'
expect "a damaged replica refuses to open" 3 "$W" get flipped todos t2
cp -r a torn
head -c $((size - 7)) a/changes.weft >torn/changes.weft
expect "verify accepts a torn tail" 0 "$W" log verify torn
has "and reports it" '"torn_tail_bytes":'
expect "writes after a torn tail" 0 "$W" put torn todos t9 v 9
expect "then verifies clean" 0 "$W" log verify torn
has "no tail left" '"torn_tail_bytes":0'
echo '{"format":"weft-space-v1",' >a2.json
mkdir -p broken && cp a2.json broken/space.json
expect "corrupt space.json" 3 "$W" status broken
grep -q "corrupt" "$t/stderr" && ok "says corrupt" || bad "message: $(cat "$t/stderr")"
expect "no replica here" 3 "$W" status nowhere

# Sync against a relay is tested with weftdb in tests/js/cli.test.mjs; here
# only the failures a script must be able to tell apart.
expect "sync with no relay URL" 2 "$W" sync a
expect "sync with a bad URL" 2 "$W" sync a --relay ftp://x
expect "sync with the relay down" 1 "$W" sync a --relay http://127.0.0.1:9
grep -q "cannot connect" "$t/stderr" && ok "says it cannot connect" || bad "message: $(cat "$t/stderr")"

# A relay's data directory: sync into a real relay, stop it, verify its
# segments read-only, then find a flipped bit in a copy.
port=$((20000 + RANDOM % 30000))
while (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
"$OLDPWD/build/relay/weft-relay" --listen 127.0.0.1:$port --data relaydata 2>relay.log &
relay_pid=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
expect "sync into a relay" 0 "$W" sync a --relay http://127.0.0.1:$port
expect "sync b through it" 0 "$W" sync b --relay ws://127.0.0.1:$port
expect "sync a again" 0 "$W" sync a --relay http://127.0.0.1:$port
# a's newest changes depend on b's: the relay took them only after b's came
expect "sync b again" 0 "$W" sync b --relay http://127.0.0.1:$port
[ "$(hash_of a)" = "$(hash_of b)" ] && ok "synced through the relay: one state hash" || bad "hashes differ after sync"
# Snapshots: an admin publishes, a fresh replica joins from the snapshot and
# the tail, and reaches the state hash of a replica that replayed everything.
R=http://127.0.0.1:$port
expect "a writer cannot publish a snapshot" 3 "$W" snapshot publish b --relay $R
expect "snapshot publish (admin)" 0 "$W" snapshot publish a --relay $R
has "snapshot stored" '"stored":true'
expect "a change after the snapshot" 0 "$W" put a todos t9 title '"after the snapshot"'
expect "sync the tail up" 0 "$W" sync a --relay $R
expect "join c read-only" 0 "$W" join c --invite "$read_link"
expect "sync c from the snapshot" 0 "$W" sync c --relay $R
case "$out" in *'"snapshot_rseq":0,'*) bad "c did not start from a snapshot: $out" ;; *'"snapshot_rseq":'*) ok "c started from the snapshot" ;; *) bad "no snapshot_rseq: $out" ;; esac
has "c pulled only the tail" '"pulled":1,'
[ -f c/snapshot.weft ] && ok "c keeps the snapshot" || bad "c/snapshot.weft missing"
expect "sync b (a full replay)" 0 "$W" sync b --relay $R
[ "$(hash_of c)" = "$(hash_of a)" ] && [ "$(hash_of c)" = "$(hash_of b)" ] &&
  ok "snapshot + tail: the full replay's state hash" || bad "c's hash differs from a's and b's"
expect "c reopens from its snapshot" 0 "$W" get c todos t9 title
[ "$out" = '"after the snapshot"' ] && ok "c reads the tail" || bad "c: $out"
expect "log verify a snapshot-joined replica" 0 "$W" log verify c
has "verify replays on the snapshot" '"replayed":true,"ok":true'
expect "sync c again" 0 "$W" sync c --relay $R
has "nothing new for c" '"pulled":0,'
kill $relay_pid; wait $relay_pid 2>/dev/null || true
expect "log verify a relay directory" 0 "$W" log verify relaydata
has "verify checks every space" '"ok":true'
expect "log inspect a relay directory" 0 "$W" log inspect relaydata
has "inspect names the space" '"space":"'
cp -r relaydata relaycopy
seg=$(ls relaycopy/*/*.seg | head -1)
flip "$seg" $(($(stat -c %s "$seg") / 2))
expect "verify finds a flipped bit in a relay copy" 1 "$W" log verify relaycopy
has "reports the damage" '"problem":"CRC mismatch"'

# Bounded history: a relay with --keep-history none trims what a snapshot
# covers; a fresh replica still joins (snapshot + tail), writers go on, and
# log verify/inspect read the trimmed directory (chains checked from the
# trim checkpoint's heads).
port=$((20000 + RANDOM % 30000))
while (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
"$OLDPWD/build/relay/weft-relay" --listen 127.0.0.1:$port --data trimdata --keep-history none --segment-bytes 1024 2>relay3.log &
relay_pid=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
R=http://127.0.0.1:$port
expect "a fresh space for it" 0 "$W" space create h
expect "a writer invite to h" 0 "$W" invite h --rights write --expires 1d --base https://example.org/
expect "join hw as a writer" 0 "$W" join hw --invite "$out"
expect "a read invite to h" 0 "$W" invite h --rights read --expires 1d --base https://example.org/
h_read=$out
for i in 1 2 3 4 5 6 7 8; do "$W" put h notes "n$i" body "\"note number $i, long enough to fill a segment soon\"" >/dev/null; done
expect "sync into a trimming relay" 0 "$W" sync h --relay $R
expect "hr joins early" 0 "$W" join hr --invite "$h_read"
expect "hr pulls the first notes" 0 "$W" sync hr --relay $R
expect "the writer joins before the trim" 0 "$W" sync hw --relay $R
expect "the writer writes" 0 "$W" put hw notes w1 body '"from the writer"'
expect "the writer syncs" 0 "$W" sync hw --relay $R
expect "h pulls it" 0 "$W" sync h --relay $R
expect "publish a snapshot there" 0 "$W" snapshot publish h --relay $R
grep -q "trimmed to rseq=" relay3.log && ok "the relay trimmed" || bad "no trim in: $(cat relay3.log)"
expect "h writes on" 0 "$W" put h notes after body '"after the trim"'
expect "sync h's tail" 0 "$W" sync h --relay $R
expect "join he read-only" 0 "$W" join he --invite "$h_read"
expect "he joins the trimmed relay" 0 "$W" sync he --relay $R
case "$out" in *'"snapshot_rseq":0,'*) bad "he did not start from the snapshot: $out" ;; *'"snapshot_rseq":'*) ok "he started from the snapshot" ;; *) bad "no snapshot_rseq: $out" ;; esac
expect "the writer writes after the trim" 0 "$W" put hw notes w2 body '"after the trim too"'
expect "the writer's chain goes on (its cursor was below the cut, its vector was not)" 0 "$W" sync hw --relay $R
expect "a replica that lacks trimmed history is told so" 1 "$W" sync hr --relay $R
grep -q "join the space afresh" "$t/stderr" && ok "says to join afresh" || bad "message: $(cat "$t/stderr")"
expect "h syncs again" 0 "$W" sync h --relay $R
expect "he syncs again" 0 "$W" sync he --relay $R
[ "$(hash_of he)" = "$(hash_of h)" ] && [ "$(hash_of hw)" = "$(hash_of h)" ] &&
  ok "joined from a trimmed relay: one state hash" || bad "hashes differ after the trim"
kill $relay_pid; wait $relay_pid 2>/dev/null || true
[ -f trimdata/*/trim ] && ok "the trim checkpoint is on disk" || bad "no trimdata/*/trim"
expect "log verify a trimmed relay directory" 0 "$W" log verify trimdata
has "verify reports the trim point" '"kind":"trimmed","upto_rseq":'
has "what remains verifies" '"ok":true'
expect "log inspect a trimmed relay directory" 0 "$W" log inspect trimdata
has "inspect reports the trim point" '"kind":"trimmed"'

# Operator admission: a relay that hosts only spaces its operator admitted.
expect "keygen for the operator" 0 "$W" keygen --out operator.json
opk=$(sed 's/.*"public":"\([^"]*\)".*/\1/' operator.json)
sid=$("$W" status a | sed 's/.*"space":"\([^"]*\)".*/\1/')
expect "admission issue" 0 "$W" admission issue --operator-key operator.json --space "$sid" --bytes 1000000 --expires 30d
adm=$out
[ ${#adm} -gt 200 ] && ok "admission token printed" || bad "admission token: '$adm'"
expect "admission issue needs --space" 2 "$W" admission issue --operator-key operator.json
expect "admission issue refuses a bad space id" 3 "$W" admission issue --operator-key operator.json --space nope
expect "admission issue refuses a bad --expires" 2 "$W" admission issue --operator-key operator.json --space "$sid" --expires soon
expect "admission issue refuses a missing key file" 3 "$W" admission issue --operator-key missing.json --space "$sid"
port=$((20000 + RANDOM % 30000))
while (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
"$OLDPWD/build/relay/weft-relay" --listen 127.0.0.1:$port --storage memory --admit "signed:$opk" 2>relay2.log &
relay_pid=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
expect "sync without an admission is refused" 3 "$W" sync a --relay http://127.0.0.1:$port
grep -q NOT_ADMITTED "$t/stderr" && ok "says why" || bad "no NOT_ADMITTED in: $(cat "$t/stderr")"
expect "sync with the admission" 0 "$W" sync a --relay http://127.0.0.1:$port --admission "$adm"
kill $relay_pid; wait $relay_pid 2>/dev/null || true

expect "bench" 0 "$W" bench --ops 20000
has "bench converged" '"converged":true'

if [ "$fails" -gt 0 ]; then
  echo "test-cli: $fails failed" >&2
  exit 1
fi
echo "test-cli: all passed"
