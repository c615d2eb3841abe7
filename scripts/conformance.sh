#!/usr/bin/env bash
# The Loki conformance cases against a fresh loam, from the repository's own
# data (e2e/testdata/conformance) with the Go runner: TestConformance checks
# every case from the head, from blocks after a restart and from compacted
# blocks, and logs the on-disk ratio; TestConformanceCluster checks them
# against three nodes with a replication factor of 3, pushed through one
# node and asked of another.
#
# Cross-check, optional: when the shared kit is beside the repository
# (scripts/conformance.sh [shared], default ../shared), its Python runner
# conformance.py is run too, against another fresh loam. Without it (or
# without python3 and curl) the cross-check is skipped with a note.
#
#   CONFORMANCE_ONLY=id,prefix*,…   narrows the cases (both runners)
#   LOAM_ARGS="…"                   extra flags for loam (both runners)
set -euo pipefail
shared=${1:-../shared}
only=${2:-${CONFORMANCE_ONLY:-}}
here=$(cd "$(dirname "$0")/.." && pwd)
kit=$(cd "$shared/conformance" 2>/dev/null && pwd) || kit=
cd "$here"
go build -o bin/loam ./server/cmd/loam

echo "== conformance: Go runner, e2e/testdata/conformance"
CONFORMANCE_ONLY="$only" LOAM_E2E_BINARY="$here/bin/loam" go test -count=1 -run '^TestConformance(Cluster)?$' -v ./e2e/

if [ -z "$kit" ] || [ ! -f "$kit/conformance.py" ]; then
  echo "note: no $shared/conformance beside the repository: cross-check with conformance.py skipped"
  exit 0
fi
for tool in python3 curl; do
  command -v "$tool" >/dev/null || { echo "note: no $tool: cross-check with conformance.py skipped"; exit 0; }
done

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$data/loam.log
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT
start() {
  bin/loam -http.addr "127.0.0.1:$port" -data.dir "$data/d" -compaction.cold-after 2s ${LOAM_ARGS:-} >>"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null && return 0
    sleep 0.1
  done
  cat "$log"; echo "loam did not become ready"; exit 1
}
# One shift for the push and every check, so that an hour turning during
# the run does not move the questions away from the corpus.
hours=$(( ($(date +%s) - 300 - 3600 - 1793491200) / 3600 ))
[ "$hours" -lt 0 ] && hours=0
args=("--offset-hours=$hours")
[ -n "$only" ] && args+=("--only=$only")
url="http://127.0.0.1:$port"
start
echo "== cross-check: $kit/conformance.py, answers from the head"
python3 "$kit/conformance.py" push "$url" "$kit/corpus.jsonl.gz" "--offset-hours=$hours"
python3 "$kit/conformance.py" check "$url" "$kit/cases.json" "${args[@]}"
kill -TERM "$pid"; wait "$pid" || true
start
echo "== cross-check: answers from blocks, after a restart"
python3 "$kit/conformance.py" check "$url" "$kit/cases.json" "${args[@]}"
for _ in $(seq 1 300); do
  curl -s "$url/metrics" | grep -q '^loam_compactions_total [1-9]' && break
  sleep 0.2
done
echo "== cross-check: answers from compacted blocks"
python3 "$kit/conformance.py" check "$url" "$kit/cases.json" "${args[@]}"
