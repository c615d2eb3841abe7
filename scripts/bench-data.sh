# Sourced by the benchmarks that work on the reference data set: 6.5 M
# unique lines, 1,000 streams, timestamps spread over one hour, pushed with
# internal/pushbench and flushed (tenant "fake", the default).
#
# The caller sets here (the repository) and work (a scratch directory it
# removes) and may set LOAM_ARGS. It gets:
#   port, url            a free port for loam, and its base URL
#   start [flags…]       starts bin/loam on $data with -compaction.cold-after 20s; sets pid
#   stop                 SIGTERM, and waits
#   metric NAME          the value of an unlabelled metric
#   settle               waits until the cold merge is done
#   load_bench_data DIR  loads the data set into DIR unless it is there;
#                        DIR/bench.needle holds a request id it pushed,
#                        DIR/bench.end the end of its hour (Unix seconds)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
pid=
start() {
  "$here/bin/loam" -http.addr "127.0.0.1:$port" -data.dir "$data" -compaction.cold-after 20s ${LOAM_ARGS:-} "$@" >"$work/loam.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do curl -sf "$url/ready" >/dev/null && return; sleep 0.1; done
  cat "$work/loam.log"; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
metric() { curl -s "$url/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# settle waits until the cold merge is done: no merge for 30 s and at most
# three blocks (an hour of data is two hourly blocks, three if it straddles
# midnight), so that what follows does not compete with one. A merge of
# the whole data set takes minutes.
settle() {
  local prev=-1 same=0 n b
  for _ in $(seq 1 240); do
    sleep 5
    n=$(metric loam_compactions_total)
    b=$(metric loam_blocks)
    if [ "$n" = "$prev" ]; then same=$((same + 1)); else same=0; fi
    [ "$same" -ge 6 ] && [ "${b:-99}" -le 3 ] && break
    prev=$n
  done
}
load_bench_data() {
  local total=${BENCH_TOTAL:-6500000}
  data=$1
  [ -f "$data/bench.needle" ] && return
  (cd "$here" && go build -o "$work/pushbench" ./internal/pushbench)
  rm -rf "$data"; mkdir -p "$data"
  start
  echo "== loading $total unique lines over 1h into $data"
  "$work/pushbench" -url "$url" -pid "$pid" -streams 1000 -total "$total" -span 1h -unique -duration 30m | tee "$work/load.txt"
  curl -sf -XPOST "$url/flush" >/dev/null
  settle
  echo "blocks: $(metric loam_blocks), bytes on disk: $(du -sb "$data/blocks" | cut -f1)"
  stop
  awk '/^needle:/ {print $2}' "$work/load.txt" >"$data/bench.needle"
  date +%s >"$data/bench.end" # the queries cover the 75 minutes before this
}
