#!/usr/bin/env bash
# Server instructions per activity round trip, counted by callgrind (repeatable on a busy
# machine, unlike wall-clock figures). The stefuna-local binary runs under callgrind; the
# roundtrip bench drives it with the light client from another process (light-process mode);
# the count is dumped before shutdown so freeing everything at exit is not counted.
#
#   CARGO_TARGET_DIR=... cargo bench -p stefuna-local --bench roundtrip --no-run
#   stefuna-local/benches/profile.sh target/release/stefuna-local target/release/deps/roundtrip-HASH
#
# STEFUNA_BENCH_N round trips (default 2000); MODE=sdk-process drives it with the real SDK
# instead of the light client; the callgrind file is left in $OUT (default a
# fresh temporary directory) for callgrind_annotate.
set -euo pipefail
server=${1:?usage: profile.sh STEFUNA_LOCAL_BINARY ROUNDTRIP_BENCH_BINARY}
bench=${2:?usage: profile.sh STEFUNA_LOCAL_BINARY ROUNDTRIP_BENCH_BINARY}
n=${STEFUNA_BENCH_N:-2000}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"

STEFUNA_LOCAL_LOG=warn,warp::server=off valgrind --tool=callgrind \
    --callgrind-out-file="$out/callgrind.out" \
    "$server" --port 0 --long-poll-seconds 0.5 >"$out/server.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT

endpoint=
for _ in $(seq 1 600); do
    endpoint=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$out/server.log" || true)
    [ -n "$endpoint" ] && break
    kill -0 $pid 2>/dev/null || { cat "$out/server.log"; exit 1; }
    sleep 0.1
done
[ -n "$endpoint" ] || { echo "profile.sh: the server printed no endpoint" >&2; exit 1; }

STEFUNA_BENCH_ENDPOINT=$endpoint STEFUNA_BENCH_N=$n STEFUNA_BENCH_RUNS=1 \
    STEFUNA_BENCH_MODES=${MODE:-light-process} "$bench" --bench
callgrind_control --dump=after-bench $pid >/dev/null
sleep 1
dump=$(ls -t "$out"/callgrind.out.* | head -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "profile: $total server instructions for $n round trips: $((total / n)) per round trip ($dump)"
