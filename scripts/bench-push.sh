#!/usr/bin/env bash
# Ingest figures with internal/pushbench against a real loam, WAL on:
#   1. as fast as possible, 1,000 streams, 20 s: accepted lines/s, lines per CPU-s;
#   2. 10,000 lines/s over 1,000 streams for 60 s: RSS;
#   3. 300,000 streams, 2 lines each per push, 30 s: peak RSS, and RSS once the head
#      is flushed (POST /flush) and the merges that follow are done, against the idle
#      server's.
# BENCH_SHORT=1 shortens the runs (for a smoke test); LOAM=path runs another build
# than bin/loam (to compare builds).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
(cd "$here" && go build -o "$work/pushbench" ./internal/pushbench)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fast=20s; slow=60s; many=30s; settle=60
[ "${BENCH_SHORT:-}" = 1 ] && fast=3s && slow=5s && many=5s && settle=20
# Throughput, not the per-tenant limits (4 MB/s, 5000 streams by default),
# is measured: lift them, on builds that have them.
nolimits=()
"${LOAM:-$here/bin/loam}" -help 2>&1 | grep -q -- -limits.ingestion-rate-mb &&
  nolimits=(-limits.ingestion-rate-mb 1e6 -limits.ingestion-burst-size-mb 1e6 -limits.per-stream-rate-limit 0 -limits.max-global-streams-per-user 0)
run() {
  rm -rf "$work/data"
  "${LOAM:-$here/bin/loam}" -http.addr "127.0.0.1:$port" -data.dir "$work/data" "${nolimits[@]}" "$@" >"$work/loam.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && return; sleep 0.1; done
  cat "$work/loam.log"; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
status() { awk -v k="$1:" '$1 == k { printf "%.0f", $2 / 1024 }' "/proc/$pid/status"; } # VmRSS, VmHWM in MiB
echo "== ingest, as fast as possible, 1,000 streams, $fast (target: ≥ 300,000 lines/s and ≥ 300,000 lines per CPU-s)"
run
"$work/pushbench" -url "http://127.0.0.1:$port" -pid "$pid" -streams 1000 -duration "$fast"
stop
echo "== ingest at 10,000 lines/s, 1,000 streams, $slow (target: RSS ≤ 64 MiB)"
run
"$work/pushbench" -url "http://127.0.0.1:$port" -pid "$pid" -streams 1000 -rate 10000 -duration "$slow"
stop
echo "== 300,000 streams, 2 lines per stream and push, $many (target: peak RSS ≤ 400 MiB; after /flush, RSS back near the idle server's)"
run
idle=$(status VmRSS)
"$work/pushbench" -url "http://127.0.0.1:$port" -pid "$pid" -streams 300000 -per-stream 2 -duration "$many"
curl -sf -X POST "http://127.0.0.1:$port/flush" >/dev/null
# The flush is followed by merges of the day's blocks, which free their memory when done.
series=
for _ in $(seq 1 $((settle / 5))); do sleep 5; series="$series $(status VmRSS)"; done
echo "RSS: idle $idle MiB, peak $(status VmHWM) MiB, after /flush every 5 s:$series MiB"
stop
