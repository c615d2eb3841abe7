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
needle=$(cat "$data/bench.needle")
start
settle
echo "blocks: $(metric loam_blocks), bytes on disk: $(du -sb "$data/blocks" | cut -f1)"
e=$(cat "$data/bench.end" 2>/dev/null || date +%s)
s=$((e - 75 * 60))
q() { # name, endpoint, params…
  local name=$1 ep=$2; shift 2
  local times=()
  for _ in 1 2 3; do
    times+=("$(curl -s -o "$work/out.json" -w '%{time_total}' -G "$url$ep" "$@")")
  done
  local med; med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
  printf '%-62s %8.3f s  %s\n' "$name" "$med" "$(head -c 120 "$work/out.json" | tr -d '\n')"
}
echo "== queries (median of 3)"
q "needle |= <id>, 75 min, limit 100" /loki/api/v1/query_range \
  --data-urlencode "query={job=\"bench\"} |= \"$needle\"" -d start=$s -d end=$e -d limit=100
q "count of lines with \"timeout\", 75 min" /loki/api/v1/query \
  --data-urlencode 'query=sum(count_over_time({job="bench"} |= "timeout" [75m]))' -d time=$e
q "sum by (namespace) (count_over_time[5m]), 75 min, step 60s" /loki/api/v1/query_range \
  --data-urlencode 'query=sum by (namespace) (count_over_time({job="bench"}[5m]))' -d start=$s -d end=$e -d step=60
q "by namespace, count_over_time | json [5m], 75 min, step 5s" /loki/api/v1/query_range \
  --data-urlencode 'query=sum by (namespace) (count_over_time({job="bench"} | json [5m]))' -d start=$s -d end=$e -d step=5
q "by namespace, count_over_time | json [5m], 75 min, step 60s" /loki/api/v1/query_range \
  --data-urlencode 'query=sum by (namespace) (count_over_time({job="bench"} | json [5m]))' -d start=$s -d end=$e -d step=60
q "newest 1,000 lines of ns-3" /loki/api/v1/query_range \
  --data-urlencode 'query={namespace="ns-3"}' -d start=$s -d end=$e -d limit=1000
q "ns-3 | json | status >= 500, limit 1000" /loki/api/v1/query_range \
  --data-urlencode 'query={namespace="ns-3"} | json | status >= 500' -d start=$s -d end=$e -d limit=1000
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "peak RSS while answering: $((hwm / 1024)) MiB"
stop
