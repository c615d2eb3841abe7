#!/usr/bin/env bash
# What retention costs ingestion. Loam holds the reference data set
# (scripts/bench-data.sh: 6.5 M lines, one hour, tenant "fake") while
# internal/pushbench pushes 10,000 lines/s over 1,000 streams into tenant
# "live"; for each phase it reports the push latency (p50, p99, max) and
# the lines per server CPU-second over the phase:
#   1. nothing else going on (the baseline);
#   2. a delete request ({job="bench"} |= "timeout", the whole hour, applied
#      at once) rewrites every block of the data set;
#   3. a runtime-configuration change cuts tenant fake's retention to 1m:
#      the whole data set is purged by age.
# The data set is copied first, so BENCH_DATA is left as it was.
#
#   scripts/bench-retention.sh                 load into a temp dir first
#   BENCH_DATA=/tmp/loam-bench scripts/…       reuse the data set there
#   BENCH_SHORT=1                              a shorter baseline (smoke test)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
# shellcheck source=bench-data.sh
. "$here/scripts/bench-data.sh"
bench=
cleanup() {
  [ -n "$bench" ] && kill "$bench" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  wait 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
load_bench_data "${BENCH_DATA:-$work/data}"
src=$data
data=$work/ret
cp -a "$src" "$data"
(cd "$here" && go build -o "$work/pushbench" ./internal/pushbench)
e=$(cat "$data/bench.end")
s=$((e - 75 * 60))
echo 'overrides: {}' >"$work/runtime.yaml"
start -runtime-config.file "$work/runtime.yaml" -runtime-config.reload-period 1s \
  -retention.interval 5s -retention.delete-delay 0s
settle
echo "blocks: $(metric loam_blocks), bytes on disk: $(du -sb "$data/blocks" | cut -f1)"

# push_during NAME: pushbench in the background until the caller's wait
# is over, then SIGINT ends it and its figures are printed.
push_begin() {
  "$work/pushbench" -url "$url" -pid "$pid" -tenant live -streams 1000 -rate 10000 -duration 30m >"$work/push.txt" &
  bench=$!
  sleep 5
}
push_end() {
  sleep 5
  kill -INT "$bench"; wait "$bench" || true; bench=
  sed 's/^/    /' "$work/push.txt"
}
labelled() { # name, label matchers as they appear: the summed value
  curl -s "$url/metrics" | awk -v m="$1" -v want="$2" 'index($1, m "{") == 1 && index($1, want) {s += $2} END {print s + 0}'
}
lines_of_fake() {
  curl -s -G "$url/loki/api/v1/query" --data-urlencode 'query=sum(count_over_time({job="bench"}[2h]))' -d time=$((e + 60)) |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'
}

echo "== 1. baseline: 10,000 lines/s into tenant live, nothing else ($([ "${BENCH_SHORT:-}" = 1 ] && echo 10 || echo 30) s)"
"$work/pushbench" -url "$url" -pid "$pid" -tenant live -streams 1000 -rate 10000 \
  -duration "$([ "${BENCH_SHORT:-}" = 1 ] && echo 10s || echo 30s)" | sed 's/^/    /'

echo "== 2. a delete that rewrites every block of the data set, while pushing"
before=$(lines_of_fake)
push_begin
t0=$(date +%s.%N)
curl -sf -XPOST -G "$url/loki/api/v1/delete" --data-urlencode 'query={job="bench"} |= "timeout"' -d start=$s -d end=$e
until curl -s "$url/loki/api/v1/delete" | grep -q '"status":"processed"'; do sleep 0.5; done
t1=$(date +%s.%N)
push_end
after=$(lines_of_fake)
echo "    delete applied in $(python3 -c "print(round($t1 - $t0, 1))") s: $before lines before, $after after," \
  "$(labelled loam_retention_purged_bytes_total 'reason="delete"') bytes purged"

echo "== 3. tenant fake's retention cut to 1m: the data set purged by age, while pushing"
push_begin
t0=$(date +%s.%N)
printf 'overrides:\n  fake:\n    retention_period: 1m\n' >"$work/runtime.yaml"
until [ "$(lines_of_fake)" = 0 ] && [ -z "$(ls "$data/blocks/t-fake" 2>/dev/null)" ]; do sleep 0.2; done
t1=$(date +%s.%N)
push_end
echo "    purged in $(python3 -c "print(round($t1 - $t0, 1))") s (the reload period is 1 s, the retention interval 5 s):" \
  "$(labelled loam_retention_purged_bytes_total 'reason="age"') bytes"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "peak RSS: $((hwm / 1024)) MiB"
stop
