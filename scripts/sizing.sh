#!/usr/bin/env bash
# Sizing figures of real loam processes at fixed rates (docs/sizing.md):
# each run pushes R lines/s of B bytes over S streams for D seconds (pushbench
# -rate, -unique, -line-bytes), to one node or to three nodes with
# replication factor 3, and records per node, from /proc and the disk only
# (robust to other load on the machine):
#   cores    the loam processes' own CPU seconds (utime + stime) from the
#            start of the push until they are idle after POST /flush, over D:
#            ingest, WAL and flushes (-compaction.fan-in 1000: no live merge
#            runs during a run; the merges are measured apart, below);
#   rss      VmRSS sampled every 2 s during the push (mean) and VmHWM (peak);
#   query    VmHWM once four queries of the kinds dashboards run (a log
#            query, count_over_time, rate with | json, topk of
#            bytes_over_time, over all streams) ran at once, twice, on the
#            flushed data (the cluster: asked of node 0, the most of any node);
#   wal      the largest size of the WAL directory seen during the push;
#   live     block bytes once flushed (level-0 blocks, uncompressed);
#   fast     block bytes and CPU seconds of a merge of the day at the live
#            merges' effort (-block.compression fastest, as today's data is
#            merged, about log16(blocks of the day) times), and
#   cold     at the cold merge's (-compaction.compression best, as every
#            past day ends up): each by a restart of each node alone on a
#            copy of its data with -compaction.cold-after 1s.
# Measured apart after the runs: live merges (no templated lines) against
# the "fast" merge of the same data, and the queries' memory over a larger
# data set. Then internal/sizingfit fits the formula of docs/sizing.md to
# the grid and checks it against the runs named check-*.
#
#   SIZING_DURATION=60     seconds of each push (the head fills in
#                          min(8 MiB / (R·B), 2 min): shorter runs see less of it)
#   SIZING_RUNS="…"        the runs, one "name nodes rate streams bytes" per
#                          line (rate: lines/s pushed, in total); default below;
#                          empty: none (only the phases that follow)
#   SIZING_LIVE="…"        live merges measured apart, "rate streams bytes" a
#                          line (default: two; empty: none)
#   SIZING_OUT=file        keeps the table (TSV) there (default: printed only)
#   SIZING_QUERY_LINES=n   lines of the data set the queries' memory is
#                          measured on at the end (default 1,000,000; 0: none)
#   SIZING_SHORT=1         a smoke run: two runs of 5 s and 100,000 lines to query
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=() urls=() gossip=() sampler=
cleanup() {
  set +e # a process already gone must not stop the others' kill
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
dur=${SIZING_DURATION:-60}
runs=${SIZING_RUNS-"r1-500-100-200 1 500 100 200
r1-1000-100-200 1 1000 100 200
r1-4000-100-200 1 4000 100 200
r1-1000-1000-200 1 1000 1000 200
r1-1000-100-1000 1 1000 100 1000
r1-4000-1000-1000 1 4000 1000 1000
r3-1000-100-200 3 1000 100 200
r3-4000-1000-1000 3 4000 1000 1000
r1-1000-20000-200 1 1000 20000 200
check-r1-1000-500-500 1 1000 500 500
check-r3-1000-500-500 3 1000 500 500"}
if [ "${SIZING_SHORT:-}" = 1 ]; then
  dur=5
  runs="r1-1000-100-200 1 1000 100 200
check-r3-1000-100-500 3 1000 100 500"
fi
(cd "$here" && go build -o "$work/pushbench" ./internal/pushbench && go build -o "$work/sizingfit" ./internal/sizingfit)
loam=${LOAM:-$here/bin/loam}
nolimits=(-limits.ingestion-rate-mb 1e6 -limits.ingestion-burst-size-mb 1e6 -limits.per-stream-rate-limit 0 -limits.max-global-streams-per-user 0)
printf 'sizing secret\n' >"$work/secret"

# shellcheck source=freeport.sh
. "$here/scripts/freeport.sh"
# ports: fresh ports for the next start: held for long, they may be taken
# by another process of the machine in between.
ports() {
  local i
  urls=() gossip=()
  for i in 0 1 2; do
    urls+=("http://127.0.0.1:$(freeport)")
    gossip+=("$(freeport)")
  done
}
join() { local IFS=,; echo "$*"; }
cpu() { # CPU seconds so far of the processes, summed
  local p
  for p in "$@"; do cat "/proc/$p/stat"; done | awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%.2f", t / 100 }'
}
kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status"; } # VmRSS or VmHWM of a process, KiB
ready() { # waits for /ready of each URL
  local u
  for u in "$@"; do
    for _ in $(seq 1 600); do curl -sf "$u/ready" >/dev/null && continue 2; sleep 0.1; done
    echo "$u did not get ready"; cat "$work"/node-*.log; exit 1
  done
}
# start N DIR [flags…]: N loam nodes on DIR/node-i (N = 3: replication
# factor 3, each joined to the others), ready, and for a cluster with its
# ring settled and the first repair passes done, so that none runs during
# the push.
start() {
  local n=$1 dir=$2 i j args
  shift 2
  pids=()
  ports
  for ((i = 0; i < n; i++)); do
    args=(-http.addr "${urls[i]#http://}" -data.dir "$dir/node-$i" -node.name "node-$i")
    if [ "$n" -gt 1 ]; then
      args+=(-memberlist.bind-addr 127.0.0.1 -memberlist.port "${gossip[i]}" -ring.replication-factor "$n"
        -cluster.secret-file "$work/secret")
      for ((j = 0; j < n; j++)); do [ "$j" = "$i" ] || args+=(-memberlist.join "127.0.0.1:${gossip[j]}"); done
    fi
    "$loam" "${args[@]}" "${nolimits[@]}" "$@" >"$work/node-$i.log" 2>&1 &
    pids+=($!)
  done
  ready "${urls[@]:0:n}"
  [ "$n" -gt 1 ] || return 0
  local prev= now same=0 ok
  for _ in $(seq 1 90); do
    sleep 1
    now= ok=1
    for ((i = 0; i < n; i++)); do
      [ "$(curl -s -H 'Accept: application/json' "${urls[i]}/ring" |
        jq '[.members[] | select(.state == "ACTIVE" and .healthy)] | length' 2>/dev/null)" = "$n" ] || ok=0
      now="$now $(curl -s "${urls[i]}/metrics" | awk '$1 ~ /^loam_repair_passes_total/ { n += $2 } END { print n + 0 }')"
    done
    if [ "$ok" = 1 ] && [ "$now" = "$prev" ]; then same=$((same + 1)); else same=0; fi
    case " $now " in *" 0 "*) same=0 ;; esac
    [ "$same" -ge 5 ] && return
    prev=$now
  done
  echo "the cluster did not settle: repair passes $now"; exit 1
}
stop() {
  kill "${pids[@]}"
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
# idle PID…: waits until the processes spend under 0.05 CPU-s in a second
# (at most 120 s).
idle() {
  local prev now
  prev=$(cpu "$@")
  for _ in $(seq 1 120); do
    sleep 1
    now=$(cpu "$@")
    awk -v a="$prev" -v b="$now" 'BEGIN { exit !(b - a < 0.05) }' && return
    prev=$now
  done
}
# merge DIR EFFORT: starts each DIR/node-i alone on a copy of its data with
# -compaction.cold-after 1s, so that it merges the day into hourly blocks at
# -compaction.compression EFFORT, and prints the block bytes and the CPU
# seconds spent until idle, less those of a loam started on no data, summed
# over the nodes.
merge() {
  local d p t=0 c=0
  for d in "$1"/node-*; do
    rm -rf "$work/copy"
    cp -a "$d" "$work/copy"
    read -r p < <(merge_one "$work/copy" "$2")
    c=$(awk -v a="$c" -v b="$p" -v z="$startup" 'BEGIN { printf "%.3f", a + b - z }')
    t=$((t + $(bytes "$work/copy/blocks")))
  done
  rm -rf "$work/copy"
  echo "$t $c"
}
merge_one() { # DIR EFFORT: the CPU seconds of loam on DIR until idle
  local p c args=(-compaction.cold-after 1s -compaction.compression "$2")
  # live: one live merge of all the level-0 blocks (a fan-in of their
  # number), as today's blocks are merged: no templated lines.
  [ "$2" = live ] && args=(-compaction.fan-in "$(find "$1/blocks" -name 'L0-*.blk' | wc -l)")
  ports
  "$loam" -http.addr "${urls[0]#http://}" -data.dir "$1" "${args[@]}" >"$work/merge.log" 2>&1 &
  p=$!
  pids=("$p")
  ready "${urls[0]}"
  sleep 2
  idle "$p"
  c=$(cpu "$p")
  stop
  echo "$c"
}
# queries URL [SECONDS]: the four queries at once, twice, over the last
# SECONDS (900).
queries() {
  local q i end start c
  end=$(date +%s) start=$(($(date +%s) - ${2:-900}))
  for i in 1 2; do
    c=()
    for q in '{job="bench"} |= "timeout"' 'sum by (namespace) (count_over_time({job="bench"} |= "error" [1m]))' \
      'sum by (level) (rate({job="bench"} | json [1m]))' 'topk(5, sum by (container) (bytes_over_time({job="bench"}[5m])))'; do
      curl -sf -G -o /dev/null "$1/loki/api/v1/query_range" --data-urlencode "query=$q" \
        --data-urlencode "start=$start" --data-urlencode "end=$end" --data-urlencode step=15s --data-urlencode limit=1000 &
      c+=($!)
    done
    wait "${c[@]}"
  done
}
bytes() { [ -d "$1" ] && du -sb "$1" | cut -f1 || echo 0; }
sum_bytes() { # DIR SUB: bytes of DIR/node-*/SUB, summed
  local t=0 d
  for d in "$1"/node-*/; do t=$((t + $(bytes "$d$2"))); done
  echo "$t"
}

# What loam spends to start and settle on no data, taken off the merges'.
mkdir -p "$work/empty"
startup=0
startup=$(merge_one "$work/empty" best)
echo "startup on no data: $startup CPU-s"
out=$work/sizing.tsv
printf 'name\tnodes\trf\trate\tstreams\tline_bytes\tseconds\tlines\tcores\trss_idle_mib\trss_mean_mib\trss_peak_mib\trss_query_mib\twal_max_bytes\tlive_bytes\tfast_bytes\tfast_cpu_s\tcold_bytes\tcold_cpu_s\n' >"$out"
while read -r name n rate streams size; do
  [ -n "$name" ] || continue
  echo "== $name: $n node(s), replication factor $n, $rate lines/s of $size B over $streams streams, ${dur}s"
  data=$work/data
  rm -rf "$data"
  # A fan-in no 60 s run reaches: no live merge runs during the push, so
  # that its CPU is that of ingest and flushes alone, the merges being
  # measured apart below.
  start "$n" "$data" -compaction.fan-in 1000
  idle_rss=0
  for p in "${pids[@]}"; do idle_rss=$((idle_rss + $(kib VmRSS "$p"))); done
  # The sampler: every 2 s, the summed VmRSS and the WAL directories' size.
  (while :; do
    t=0
    for p in "${pids[@]}"; do t=$((t + $(kib VmRSS "$p"))); done
    echo "$t $(sum_bytes "$data" wal)"
    sleep 2
  done) >"$work/samples" 2>/dev/null &
  sampler=$!
  c0=$(cpu "${pids[@]}")
  # A push a second from each of pushbench's two workers, as Fluent Bit
  # sends one a second; 10 lines per stream in a push, fewer when there
  # are so many streams that a push could not reach them all within 10 s.
  batch=$((rate / 2 > 10 ? rate / 2 : 10))
  per=$((rate * 10 / streams)) per=$((per < 1 ? 1 : per > 10 ? 10 : per))
  "$work/pushbench" -url "$(join "${urls[@]:0:n}")" -pid "$(join "${pids[@]}")" -streams "$streams" \
    -rate "$rate" -batch "$batch" -per-stream "$per" -line-bytes "$size" -unique -duration "${dur}s" | tee "$work/push.txt"
  kill "$sampler"; wait "$sampler" 2>/dev/null || true; sampler=
  for u in "${urls[@]:0:n}"; do curl -sf -XPOST "$u/flush" >/dev/null; done
  idle "${pids[@]}"
  cpu_s=$(awk -v a="$c0" -v b="$(cpu "${pids[@]}")" 'BEGIN { printf "%.2f", b - a }')
  peak=0
  for p in "${pids[@]}"; do peak=$((peak + $(kib VmHWM "$p"))); done
  live=$(sum_bytes "$data" blocks)
  queries "${urls[0]}"
  qpeak=0
  for p in "${pids[@]}"; do q=$(kib VmHWM "$p"); [ "$q" -gt "$qpeak" ] && qpeak=$q; done
  stop
  # The merges of the day, one node at a time, each alone on a copy of its
  # data: at the effort of live merges and at that of cold ones.
  read -r fast fast_cpu < <(merge "$data" fastest)
  read -r cold cold_cpu < <(merge "$data" best)
  lines=$(awk '/^accepted/ { print $2 }' "$work/push.txt")
  avg=$(sed -n 's/.*(avg line \([0-9]*\) B).*/\1/p' "$work/push.txt")
  secs=$(awk '/^accepted/ { print $2 / $6 }' "$work/push.txt")
  # Per node: the sums over the nodes divided by their number.
  awk -v name="$name" -v n="$n" -v rate="$rate" -v s="$streams" -v b="$avg" -v secs="$secs" -v lines="$lines" \
    -v cpu="$cpu_s" -v idle="$idle_rss" -v peak="$peak" -v qpeak="$qpeak" -v live="$live" -v fast="$fast" -v fcpu="$fast_cpu" -v cold="$cold" -v ccpu="$cold_cpu" '
    { r += $1; k++; if ($2 > w) w = $2 }
    END { printf "%s\t%d\t%d\t%d\t%d\t%d\t%.2f\t%d\t%.4f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%d\t%.3f\t%d\t%.3f\n", name, n, n, rate, s, b, secs, lines,
      cpu / secs / n, idle / n / 1024, (k ? r / k : 0) / n / 1024, peak / n / 1024, qpeak / 1024, w / n, live / n, fast / n, fcpu / n, cold / n, ccpu / n }' \
    "$work/samples" | tee -a "$out"
done <<<"$runs"

# Today's blocks, merged live (-block.compression fastest, no templated
# lines), against the merge at the same effort the runs measure (a cold one,
# with templated lines): SIZING_LIVE runs ("rate streams bytes", one node,
# one a line), each pushed for the runs' duration and merged both ways.
lives=${SIZING_LIVE-"1000 500 500
4000 1000 1000"}
[ "${SIZING_SHORT:-}" = 1 ] && lives="4000 100 1000"
while read -r rate streams size; do
  [ -n "$rate" ] || continue
  echo "== a live merge: $rate lines/s of $size B over $streams streams, ${dur}s"
  rm -rf "$work/data"
  start 1 "$work/data" -compaction.fan-in 1000
  "$work/pushbench" -url "${urls[0]}" -streams "$streams" -rate "$rate" -batch $((rate / 2)) -line-bytes "$size" \
    -unique -duration "${dur}s" | grep '^accepted'
  curl -sf -XPOST "${urls[0]}/flush" >/dev/null
  idle "${pids[0]}"
  stop
  n=$(find "$work/data/node-0/blocks" -name 'L0-*.blk' | wc -l)
  if [ "$n" -lt 2 ]; then echo "a single level-0 block: nothing to merge live"; continue; fi
  read -r lb lc < <(merge "$work/data" live)
  read -r fb fc < <(merge "$work/data" fastest)
  echo "$n level-0 blocks of $(sum_bytes "$work/data" blocks) B: merged live $lb B in $lc CPU-s, merged cold at the same effort $fb B in $fc CPU-s"
done <<<"$lives"

# The queries' memory over more data than a run holds: SIZING_QUERY_LINES
# unique lines of 500 B over 1,000 streams, spread over the last hour,
# pushed as fast as they go and flushed (merged live, as today's data is); then, loam started
# afresh on that data (a process whose peak is the queries' own), the four
# queries at once, twice, over that hour: VmRSS before, VmHWM after.
qlines=${SIZING_QUERY_LINES:-1000000}
[ "${SIZING_SHORT:-}" = 1 ] && qlines=100000
if [ "$qlines" -gt 0 ]; then
  echo "== queries over $qlines lines of 500 B, 1,000 streams, one hour"
  rm -rf "$work/data"
  start 1 "$work/data"
  "$work/pushbench" -url "${urls[0]}" -pid "${pids[0]}" -streams 1000 -line-bytes 500 -unique \
    -total "$qlines" -span 1h -duration 30m | grep -E '^(accepted|server)'
  curl -sf -XPOST "${urls[0]}/flush" >/dev/null
  sleep 10
  idle "${pids[0]}"
  stop
  start 1 "$work/data"
  sleep 2
  before=$(kib VmRSS "${pids[0]}")
  queries "${urls[0]}" 3600
  echo "query memory over $(bytes "$work/data/node-0/blocks") block bytes: RSS before $((before / 1024)) MiB, peak after the queries $(($(kib VmHWM "${pids[0]}") / 1024)) MiB"
  stop
fi
echo
column -t -s $'\t' "$out"
[ -z "${SIZING_OUT:-}" ] || cp "$out" "$SIZING_OUT"
echo
if [ "$(wc -l <"$out")" -gt 3 ]; then "$work/sizingfit" "$out"; fi
