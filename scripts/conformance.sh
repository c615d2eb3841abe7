#!/usr/bin/env bash
# Start a fresh loam on a free port, push the shared corpus, compare answers
# with Grafana Loki's, then check again after a restart (answers from blocks).
set -euo pipefail
shared=${1:-../shared}
only=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$data/loam.log
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT
start() {
  "$here/bin/loam" -http.addr "127.0.0.1:$port" -data.dir "$data/d" -compaction.cold-after 2s ${LOAM_ARGS:-} >>"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null && return 0
    sleep 0.1
  done
  cat "$log"; echo "loam did not become ready"; exit 1
}
args=()
[ -n "$only" ] && args+=("--only=$only")
start
echo "== conformance: answers from the head"
python3 "$shared/conformance/conformance.py" run "http://127.0.0.1:$port" "$shared/conformance/cases.json" "${args[@]}"
kill -TERM "$pid"; wait "$pid" || true
start
echo "== conformance: answers from blocks, after a restart"
python3 "$shared/conformance/conformance.py" check "http://127.0.0.1:$port" "$shared/conformance/cases.json" "${args[@]}"
# Wait for the cold day's blocks to be compacted (filters, stronger zstd),
# then answer again and measure the disk.
for _ in $(seq 1 100); do
  curl -s "http://127.0.0.1:$port/metrics" | grep -q '^loam_compactions_total [1-9]' && break
  sleep 0.2
done
raw=5565870
blocks=$(find "$data/d/blocks" -name '*.blk' -printf '%s\n' | awk '{s+=$1} END {print s}')
(cd "$here" && go run ./internal/blockstat "$data"/d/blocks/*/*/*.blk) || true
echo "blocks on disk: $blocks bytes, $(python3 -c "print(round($raw/$blocks, 2))")x smaller than the corpus' raw lines"
echo "== conformance: answers from compacted blocks"
python3 "$shared/conformance/conformance.py" check "http://127.0.0.1:$port" "$shared/conformance/cases.json" "${args[@]}"
