#!/usr/bin/env bash
# Ingest figures with internal/pushbench against a real loam, WAL on:
#   1. as fast as possible, 1,000 streams, 20 s: accepted lines/s, lines per CPU-s;
#   2. 10,000 lines/s over 1,000 streams for 60 s: RSS.
# BENCH_SHORT=1 shortens both runs (for a smoke test).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
(cd "$here" && go build -o "$work/pushbench" ./internal/pushbench)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fast=20s; slow=60s
[ "${BENCH_SHORT:-}" = 1 ] && fast=3s && slow=5s
run() {
  rm -rf "$work/data"
  "$here/bin/loam" -http.addr "127.0.0.1:$port" -data.dir "$work/data" "$@" >"$work/loam.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && return; sleep 0.1; done
  cat "$work/loam.log"; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
echo "== ingest, as fast as possible, 1,000 streams, $fast (target: ≥ 300,000 lines/s and ≥ 300,000 lines per CPU-s)"
run
"$work/pushbench" -url "http://127.0.0.1:$port" -pid "$pid" -streams 1000 -duration "$fast"
stop
echo "== ingest at 10,000 lines/s, 1,000 streams, $slow (target: RSS ≤ 64 MiB)"
run
"$work/pushbench" -url "http://127.0.0.1:$port" -pid "$pid" -streams 1000 -rate 10000 -duration "$slow"
stop
