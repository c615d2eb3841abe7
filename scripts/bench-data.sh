# Sourced by the benchmarks that work on the reference data set: 6.5 M
# unique lines, 1,000 streams, timestamps spread over one hour, pushed with
# internal/pushbench and flushed (tenant "fake", the default).
#
# The caller sets here (the repository) and work (a scratch directory it
# removes) and may set LOAM_ARGS. It gets:
#   port, url            a free port for loam, and its base URL
#   start [flags…]       starts bin/loam on $data with -compaction.cold-after 20s; sets pid
#   stop                 SIGTERM, and waits
#   metric NAME [URL]    the value of an unlabelled metric (of $url by default)
#   settle [URL…]        waits until the cold merge is done (on each URL)
#   load_bench_data DIR  loads the data set into DIR unless it is there;
#                        DIR/bench.needle holds a request id it pushed,
#                        DIR/bench.end the end of its hour (Unix seconds)
#   push_bench_data URLS PIDS  pushes the data set through the comma-separated
#                        URLS (PIDS: their processes, for the figures); the
#                        report goes to $work/load.txt; $work/pushbench is built
#   run_queries URL DIR  times the reference queries against URL over the data
#                        set in DIR and prints them; their names and median
#                        times (s) are left in the arrays qnames and qtimes
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
pid=
start() {
  "$here/bin/loam" -http.addr "127.0.0.1:$port" -data.dir "$data" -compaction.cold-after 20s -limits.ingestion-rate-mb 1e6 -limits.ingestion-burst-size-mb 1e6 -limits.per-stream-rate-limit 0 -limits.max-global-streams-per-user 0 ${LOAM_ARGS:-} "$@" >"$work/loam.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do curl -sf "$url/ready" >/dev/null && return; sleep 0.1; done
  cat "$work/loam.log"; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
metric() { curl -s "${2:-$url}/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# settle waits until the cold merge is done: no merge for 30 s and at most
# three blocks (an hour of data is two hourly blocks, three if it straddles
# midnight), so that what follows does not compete with one. A merge of
# the whole data set takes minutes. With several URLs, on all of them.
settle() {
  local prev=-1 same=0 n b most u
  [ $# -gt 0 ] || set -- "$url"
  for _ in $(seq 1 240); do
    sleep 5
    n= most=0
    for u in "$@"; do
      n="$n $(metric loam_compactions_total "$u")"
      b=$(metric loam_blocks "$u")
      [ "${b:-99}" -gt "$most" ] && most=${b:-99}
    done
    if [ "$n" = "$prev" ]; then same=$((same + 1)); else same=0; fi
    [ "$same" -ge 6 ] && [ "$most" -le 3 ] && break
    prev=$n
  done
}
load_bench_data() {
  local total=${BENCH_TOTAL:-6500000}
  data=$1
  [ -f "$data/bench.needle" ] && return
  rm -rf "$data"; mkdir -p "$data"
  start
  echo "== loading $total unique lines over 1h into $data"
  push_bench_data "$url" "$pid"
  curl -sf -XPOST "$url/flush" >/dev/null
  settle
  echo "blocks: $(metric loam_blocks), bytes on disk: $(du -sb "$data/blocks" | cut -f1)"
  stop
  awk '/^needle:/ {print $2}' "$work/load.txt" >"$data/bench.needle"
  date +%s >"$data/bench.end" # the queries cover the 75 minutes before this
}
push_bench_data() {
  [ -x "$work/pushbench" ] || (cd "$here" && go build -o "$work/pushbench" ./internal/pushbench)
  "$work/pushbench" -url "$1" -pid "$2" -streams 1000 -total "${BENCH_TOTAL:-6500000}" -span 1h -unique -duration 30m | tee "$work/load.txt"
}
run_queries() {
  local qurl=$1 needle e s
  needle=$(cat "$2/bench.needle")
  e=$(cat "$2/bench.end" 2>/dev/null || date +%s)
  s=$((e - 75 * 60))
  qnames=() qtimes=()
  q() { # name, endpoint, params…
    local name=$1 ep=$2; shift 2
    local times=()
    for _ in 1 2 3; do
      times+=("$(curl -s -o "$work/out.json" -w '%{time_total}' -G "$qurl$ep" "$@")")
    done
    local med; med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
    qnames+=("$name") qtimes+=("$med")
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
}
