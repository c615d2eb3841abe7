#!/usr/bin/env bash
# Query figures on the reference data set: 6.5 M unique lines, 1,000
# streams, timestamps spread over one hour, pushed with internal/pushbench
# and flushed. Each query is timed with curl (median of 3) on a freshly
# started loam; the peak RSS of that process is reported at the end.
#
#   scripts/bench-query.sh                     load into a temp dir, then query
#   BENCH_DATA=/tmp/loam-bench scripts/…       keep the data there and reuse it
#   BENCH_TOTAL=650000                          a smaller data set (smoke test)
#   LOAM_ARGS="-block.chunk-target-size 393216"  extra flags for loam
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
# shellcheck source=bench-data.sh
. "$here/scripts/bench-data.sh"
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
load_bench_data "${BENCH_DATA:-$work/data}"
start
settle
echo "blocks: $(metric loam_blocks), bytes on disk: $(du -sb "$data/blocks" | cut -f1)"
run_queries "$url" "$data"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "peak RSS while answering: $((hwm / 1024)) MiB"
stop
