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
# figures are the ones to compare; lines/s is shown for completeness.
#
#   BENCH_SHORT=1       a quick smoke run: 3 s of ingest, 650,000 lines to query
#   BENCH_DATA=dir      keeps the single node's data set there (shared with
#                       bench-query.sh) and the cluster's in dir-cluster
#   BENCH_TOTAL=n       the query data set's size (default 6,500,000)
#   BENCH_PROFILE=dir   saves a 10 s CPU profile of node-0 during cluster ingest
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
freeport() { # a port free for TCP and UDP, as memberlist needs
  python3 -c '
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        u.close(); t.close()'
}
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
# start_cluster DIR: starts the three nodes on DIR/node-i and waits until
# each sees three healthy ACTIVE members.
start_cluster() {
  local i j args n
  cpids=()
  for i in 0 1 2; do
    args=(-http.addr "${curls[i]#http://}" -data.dir "$1/node-$i" -compaction.cold-after 20s
      -node.name "node-$i" -memberlist.bind-addr 127.0.0.1 -memberlist.port "${cgossip[i]}"
      -ring.replication-factor 3 -cluster.secret-file "$work/secret")
    for j in 0 1 2; do [ "$j" = "$i" ] || args+=(-memberlist.join "127.0.0.1:${cgossip[j]}"); done
    # shellcheck disable=SC2086
    "$here/bin/loam" "${args[@]}" ${LOAM_ARGS:-} >"$work/node-$i.log" 2>&1 &
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
    [ "$n" = 3 ] && return
    sleep 0.1
  done
  echo "the ring did not settle:"; curl -s -H 'Accept: application/json' "${curls[0]}/ring"; exit 1
}
stop_cluster() {
  kill "${cpids[@]}"
  for p in "${cpids[@]}"; do wait "$p" 2>/dev/null || true; done
  cpids=()
}
join() { local IFS=,; echo "$*"; }
field() { # the number before "$2" on the line of $1 that starts with $3
  awk -v k="$2" -v s="$3" 'index($0, s) == 1 { n = split($0, f, k); m = split(f[1], w, " "); print w[m]; exit }' "$1"
}
(cd "$here" && go build -o "$work/pushbench" ./internal/pushbench)

echo "== ingest, as fast as possible, 1,000 streams, $fast: one node"
data=$work/single
start
"$work/pushbench" -url "$url" -pid "$pid" -streams 1000 -duration "$fast" | tee "$work/ingest-1.txt"
stop
echo "== the same through three nodes in turn, replication factor 3"
start_cluster "$work/cluster"
if [ -n "${BENCH_PROFILE:-}" ]; then
  mkdir -p "$BENCH_PROFILE"
  secs=${fast%s}
  (sleep $((secs > 12 ? (secs - 10) / 2 : 0))
    curl -s -o "$BENCH_PROFILE/node-0-ingest.pprof" "${curls[0]}/debug/pprof/profile?seconds=$((secs > 12 ? 10 : secs))") &
  prof=$!
fi
"$work/pushbench" -url "$(join "${curls[@]}")" -pid "$(join "${cpids[@]}")" -streams 1000 -duration "$fast" | tee "$work/ingest-3.txt"
[ -z "${prof:-}" ] || wait "$prof"
stop_cluster
r1=$(field "$work/ingest-1.txt" " lines/s" accepted)
r3=$(field "$work/ingest-3.txt" " lines/s" accepted)
c1=$(field "$work/ingest-1.txt" " lines per CPU-s" "server:")
c3=$(field "$work/ingest-3.txt" " lines per CPU-s" "all 3 servers:")

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

echo
echo "== single node against three nodes with replication factor 3"
awk -v r1="$r1" -v r3="$r3" -v c1="$c1" -v c3="$c3" 'BEGIN {
  printf "ingest, lines/s:         one node %9.0f   cluster %9.0f   ratio %.3f\n", r1, r3, r1 ? r3 / r1 : 0
  printf "ingest, lines per CPU-s: one node %9.0f   cluster %9.0f   ratio %.3f (target ≥ %.3f = 1/3.5)\n", c1, c3, c1 ? c3 / c1 : 0, 1 / 3.5
}'
printf '%-62s %9s %9s %7s\n' "query (median of 3, s; target: cluster ≤ 2× one node)" "one node" cluster ratio
for i in "${!names1[@]}"; do
  awk -v n="${names1[i]}" -v a="${times1[i]}" -v b="${qtimes[i]}" 'BEGIN { printf "%-62s %9.3f %9.3f %6.2f×\n", n, a, b, a ? b / a : 0 }'
done
