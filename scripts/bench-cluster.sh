#!/usr/bin/env bash
# Cluster figures against the single node's, measured in the same run: three
# loam nodes on 127.0.0.1, replication factor 3, each its own ports and data.
#   1. ingest as fast as possible over 1,000 streams, pushed through all three
#      nodes in turn, against one node with the same pushbench settings (as the
#      first phase of bench-push.sh): accepted lines/s and lines per CPU-second
#      of the whole cluster (target: ≥ 1/3.5 of the single node's per CPU-s);
#   2. the queries of bench-query.sh, asked of one node, over the reference data
#      set pushed through all three (target: within 2× of the single node's).
# Three nodes and the pusher share this machine's cores, so the CPU-second
# figures are the ones to compare; lines/s is shown for completeness. The
# cold merge that ends each ingest run is the same work on every node, with
# nothing replicated in it: its figures show what sharing two cores among
# three nodes costs by itself.
#
#   BENCH_SHORT=1       a quick smoke run: 3 s of ingest, 650,000 lines to query
#   BENCH_DATA=dir      keeps the single node's data set there (shared with
#                       bench-query.sh) and the cluster's in dir-cluster
#   BENCH_TOTAL=n       the query data set's size (default 6,500,000)
#   BENCH_PROFILE=dir   saves 10 s CPU profiles taken during ingest: dir/single-ingest.pprof
#                       and dir/node-i-ingest.pprof (go tool pprof -top bin/loam dir/node-*)
#   BENCH_ONLY=ingest   only the ingest figures (BENCH_ONLY=query: only the queries)
#   LOAM_ARGS=…         extra flags for every loam
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
# shellcheck source=bench-data.sh
. "$here/scripts/bench-data.sh"
fast=20s
if [ "${BENCH_SHORT:-}" = 1 ]; then fast=3s; : "${BENCH_TOTAL:=650000}"; export BENCH_TOTAL; fi

# The cluster: node i answers HTTP on curls[i] and gossips on cgossip[i];
# cpids holds the running processes. The ports stay the same across restarts.
cpids=() curls=() cgossip=()
# shellcheck source=freeport.sh
. "$here/scripts/freeport.sh"
for i in 0 1 2; do
  curls+=("http://127.0.0.1:$(freeport)")
  cgossip+=("$(freeport)")
done
printf 'cluster bench secret\n' >"$work/secret"
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  for p in "${cpids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
# start_cluster DIR [flags…]: starts the three nodes on DIR/node-i and waits until
# each sees three healthy ACTIVE members and their first repair passes are
# done.
start_cluster() {
  local i j args n dir=$1
  shift
  cpids=()
  for i in 0 1 2; do
    args=(-http.addr "${curls[i]#http://}" -data.dir "$dir/node-$i" -compaction.cold-after 20s
      -node.name "node-$i" -memberlist.bind-addr 127.0.0.1 -memberlist.port "${cgossip[i]}"
      -ring.replication-factor 3 -cluster.secret-file "$work/secret")
    for j in 0 1 2; do [ "$j" = "$i" ] || args+=(-memberlist.join "127.0.0.1:${cgossip[j]}"); done
    # shellcheck disable=SC2086
    "$here/bin/loam" "${args[@]}" -limits.ingestion-rate-mb 1e6 -limits.ingestion-burst-size-mb 1e6 -limits.per-stream-rate-limit 0 -limits.max-global-streams-per-user 0 ${LOAM_ARGS:-} "$@" >"$work/node-$i.log" 2>&1 &
    cpids+=($!)
  done
  for i in 0 1 2; do
    for _ in $(seq 1 600); do curl -sf "${curls[i]}/ready" >/dev/null && continue 2; sleep 0.1; done
    cat "$work/node-$i.log"; exit 1
  done
  for _ in $(seq 1 300); do
    n=0
    for i in 0 1 2; do
      [ "$(curl -s -H 'Accept: application/json' "${curls[i]}/ring" |
        jq '[.members[] | select(.state == "ACTIVE" and .healthy)] | length' 2>/dev/null)" = 3 ] && n=$((n + 1))
    done
    [ "$n" = 3 ] && break
    sleep 0.1
  done
  [ "$n" = 3 ] || { echo "the ring did not settle:"; curl -s -H 'Accept: application/json' "${curls[0]}/ring"; exit 1; }
  # Each node runs repair passes a few seconds after it starts and after
  # each change of the ring; a pass run while the benchmark pushes compares
  # entries still in flight. Wait until every node made one and none made
  # another for 5 s.
  local prev= now same=0
  for _ in $(seq 1 60); do
    sleep 1
    now=
    for i in 0 1 2; do
      now="$now $(curl -s "${curls[i]}/metrics" | awk '$1 ~ /^loam_repair_passes_total/ { n += $2 } END { print n + 0 }')"
    done
    if [ "$now" = "$prev" ]; then same=$((same + 1)); else same=0; fi
    case " $now " in *" 0 "*) same=0 ;; esac
    [ "$same" -ge 5 ] && return
    prev=$now
  done
  echo "repair passes did not settle: $now"
}
stop_cluster() {
  kill "${cpids[@]}"
  for p in "${cpids[@]}"; do wait "$p" 2>/dev/null || true; done
  cpids=()
}
join() { local IFS=,; echo "$*"; }
cpu() { # CPU seconds so far of the processes, summed
  local p
  for p in "$@"; do cat "/proc/$p/stat"; done | awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%.2f", t / 100 }'
}
# drain URLS PID…: a push leaves work behind: the head it filled, and the
# merges of the blocks it made. Flushes the head of each of the
# comma-separated URLS (POST /flush), as each node's own flush would do a
# little later, then waits until the processes are idle (under 0.05 CPU-s
# in a second, at most 60 s) and prints the CPU seconds they spent since the
# push, so that one node and the cluster are counted the same work.
drain() {
  local c0 prev now u urls=$1
  shift
  c0=$(cpu "$@")
  for u in ${urls//,/ }; do curl -sf -XPOST "$u/flush" >/dev/null; done
  prev=$(cpu "$@")
  for _ in $(seq 1 60); do
    sleep 1
    now=$(cpu "$@")
    awk -v a="$prev" -v b="$now" 'BEGIN { exit !(b - a < 0.05) }' && break
    prev=$now
  done
  awk -v a="$c0" -v b="$now" 'BEGIN { printf "%.2f", b - a }'
}
# through_cold LOG… -- PID…: the cold merge is the last work a line costs:
# once its day's partition got no block for -compaction.cold-after, every
# block is merged once more into hourly blocks. Waits until each LOG says a
# cold merge was done and the processes are idle again (at most 240 s), and
# prints the CPU seconds they spent meanwhile.
through_cold() {
  local logs=() c0 prev now f
  while [ "$1" != -- ]; do logs+=("$1"); shift; done
  shift
  c0=$(cpu "$@")
  prev=$c0
  for _ in $(seq 1 240); do
    sleep 1
    now=$(cpu "$@")
    for f in "${logs[@]}"; do grep -q 'msg="compacted blocks".*cold=true' "$f" || { prev=$now; continue 2; }; done
    awk -v a="$prev" -v b="$now" 'BEGIN { exit !(b - a < 0.05) }' && break
    prev=$now
  done
  awk -v a="$c0" -v b="$now" 'BEGIN { printf "%.2f", b - a }'
}
field() { # the number before "$2" on the line of $1 that starts with $3
  awk -v k="$2" -v s="$3" 'index($0, s) == 1 && (i = index($0, k)) { m = split(substr($0, 1, i - 1), w, " "); print w[m]; exit }' "$1"
}
(cd "$here" && go build -o "$work/pushbench" ./internal/pushbench)
only=${BENCH_ONLY:-}
case $only in ""|ingest|query) ;; *) echo "BENCH_ONLY: ingest or query, not $only" >&2; exit 2 ;; esac

# profile NAME URL…: with BENCH_PROFILE, takes a CPU profile of each URL in
# the middle of an ingest run, in the background (prof: its PID).
prof=
profile() {
  prof=
  [ -n "${BENCH_PROFILE:-}" ] || return 0
  local name=$1 secs=${fast%s}; shift
  mkdir -p "$BENCH_PROFILE"
  (sleep $((secs > 12 ? (secs - 10) / 2 : 0))
    i=0
    for u in "$@"; do
      [ $# = 1 ] && f=$name || f=$name-$i
      curl -s -o "$BENCH_PROFILE/$f-ingest.pprof" "$u/debug/pprof/profile?seconds=$((secs > 12 ? 10 : secs))" &
      i=$((i + 1))
    done
    wait) &
  prof=$!
}

# bench_ingest sets, of one node and of the cluster: r1, r3 (lines/s), c1,
# c3 (lines per CPU-s during the push), n1, n3 (lines), s1, s3 (CPU-s during
# the push), t1, t3 (CPU-s after it until idle) and u1, u3 (CPU-s of the
# cold merge, from then until idle again); c1r, one node's lines per CPU-s
# when pushed at the cluster's rate.
bench_ingest() {
  echo "== ingest, as fast as possible, 1,000 streams, $fast: one node"
  # A partition goes cold 30 s after its last block: past the merges the
  # push left behind (the drain takes a few seconds, see "after the push").
  data=$work/single
  start -compaction.cold-after 30s
  profile single "$url"
  "$work/pushbench" -url "$url" -pid "$pid" -streams 1000 -duration "$fast" | tee "$work/ingest-1.txt"
  [ -z "$prof" ] || wait "$prof"
  t1=$(drain "$url" "$pid")
  echo "after the push: $t1 CPU-s until idle"
  u1=$(through_cold "$work/loam.log" -- "$pid")
  echo "the cold merge: $u1 CPU-s"
  stop
  echo "== the same through three nodes in turn, replication factor 3"
  start_cluster "$work/cluster" -compaction.cold-after 30s
  profile node "${curls[@]}"
  "$work/pushbench" -url "$(join "${curls[@]}")" -pid "$(join "${cpids[@]}")" -streams 1000 -duration "$fast" | tee "$work/ingest-3.txt"
  [ -z "$prof" ] || wait "$prof"
  t3=$(drain "$(join "${curls[@]}")" "${cpids[@]}")
  echo "after the push: $t3 CPU-s until idle"
  u3=$(through_cold "$work"/node-{0,1,2}.log -- "${cpids[@]}")
  echo "the cold merges: $u3 CPU-s"
  stop_cluster
  r1=$(field "$work/ingest-1.txt" " lines/s" accepted)
  r3=$(field "$work/ingest-3.txt" " lines/s" accepted)
  # Every node of the cluster stored every line (RF 3 of 3) at the
  # cluster's rate; one node is cheaper per line the faster it is pushed
  # (fixed costs spread over more lines), so it is also measured at that
  # rate: the replication overhead proper.
  echo "== one node again, pushed at the cluster's rate ($r3 lines/s)"
  rm -rf "$work/single"
  start -compaction.cold-after 10m
  "$work/pushbench" -url "$url" -pid "$pid" -streams 1000 -duration "$fast" -rate "${r3%.*}" | tee "$work/ingest-1r.txt"
  stop
  c1r=$(field "$work/ingest-1r.txt" " lines per CPU-s" "server:")
  c1=$(field "$work/ingest-1.txt" " lines per CPU-s" "server:")
  c3=$(field "$work/ingest-3.txt" " lines per CPU-s" "all 3 servers:")
  n1=$(field "$work/ingest-1.txt" " lines in" accepted)
  n3=$(field "$work/ingest-3.txt" " lines in" accepted)
  s1=$(field "$work/ingest-1.txt" " CPU-s (" "server:")
  s3=$(field "$work/ingest-3.txt" " CPU-s (" "all 3 servers:")
}

# bench_query sets names1, times1 (one node) and qtimes (the cluster).
bench_query() {
  echo "== query data set: one node"
  load_bench_data "${BENCH_DATA:-$work/data}"
  start
  settle
  run_queries "$url" "$data"
  names1=("${qnames[@]}") times1=("${qtimes[@]}")
  stop
  cdata=${BENCH_DATA:+$BENCH_DATA-cluster}
  cdata=${cdata:-$work/cluster-data}
  echo "== query data set: three nodes, replication factor 3, pushed through all three"
  if [ ! -f "$cdata/bench.needle" ]; then
    rm -rf "$cdata"; mkdir -p "$cdata"
    start_cluster "$cdata"
    echo "== loading ${BENCH_TOTAL:-6500000} unique lines over 1h into $cdata"
    push_bench_data "$(join "${curls[@]}")" "$(join "${cpids[@]}")"
    for u in "${curls[@]}"; do curl -sf -XPOST "$u/flush" >/dev/null; done
    settle "${curls[@]}"
    stop_cluster
    awk '/^needle:/ {print $2}' "$work/load.txt" >"$cdata/bench.needle"
    date +%s >"$cdata/bench.end"
  fi
  start_cluster "$cdata"
  settle "${curls[@]}"
  for i in 0 1 2; do echo "node-$i blocks: $(metric loam_blocks "${curls[i]}"), bytes on disk: $(du -sb "$cdata/node-$i/blocks" | cut -f1)"; done
  run_queries "${curls[0]}" "$cdata"
  stop_cluster
}

r1=0 r3=0 c1=0 c3=0 c1r=0 n1=0 n3=0 s1=0 s3=0 t1=0 t3=0 u1=0 u3=0 names1=() times1=() qtimes=()
[ "$only" = query ] || bench_ingest
[ "$only" = ingest ] || bench_query

echo
echo "== single node against three nodes with replication factor 3"
[ "$only" = query ] || awk -v r1="$r1" -v r3="$r3" -v c1="$c1" -v c3="$c3" -v n1="$n1" -v n3="$n3" \
  -v s1="$s1" -v s3="$s3" -v t1="$t1" -v t3="$t3" -v u1="$u1" -v u3="$u3" -v c1r="$c1r" 'BEGIN {
  a = s1 + t1 ? n1 / (s1 + t1) : 0; b = s3 + t3 ? n3 / (s3 + t3) : 0
  la = s1 + t1 + u1 ? n1 / (s1 + t1 + u1) : 0; lb = s3 + t3 + u3 ? n3 / (s3 + t3 + u3) : 0
  ca = u1 ? n1 / u1 : 0; cb = u3 ? n3 / u3 : 0
  printf "ingest (target: lines per CPU-s of the cluster ≥ %.3f = 1/3.5 of one node'"'"'s)   one node   cluster  ratio\n", 1 / 3.5
  printf "%-78s %9.0f %9.0f %6.3f\n", "lines/s", r1, r3, r1 ? r3 / r1 : 0
  printf "%-78s %9.0f %9.0f %6.3f\n", "lines per CPU-s during the push", c1, c3, c1 ? c3 / c1 : 0
  printf "%-78s %9.0f %9.0f %6.3f\n", "lines per CPU-s with the merges the push left behind", a, b, a ? b / a : 0
  printf "%-78s %9.0f %9.0f %6.3f\n", "lines per CPU-s with every merge, through the cold one (a line'"'"'s whole cost)", la, lb, la ? lb / la : 0
  printf "%-78s %9.0f %9.0f %6.3f\n", "lines per CPU-s of the cold merge alone (the same work, nothing replicated)", ca, cb, ca ? cb / ca : 0
  printf "%-78s %9.0f %9.0f %6.3f\n", "lines per CPU-s during the push, one node pushed at the cluster'"'"'s rate", c1r, c3, c1r ? c3 / c1r : 0
}'
[ "$only" = ingest ] || printf '%-62s %9s %9s %7s\n' "query (median of 3, s; target: cluster ≤ 2× one node)" "one node" cluster ratio
for i in "${!names1[@]}"; do
  awk -v n="${names1[i]}" -v a="${times1[i]}" -v b="${qtimes[i]}" 'BEGIN { printf "%-62s %9.3f %9.3f %6.2f×\n", n, a, b, a ? b / a : 0 }'
done
