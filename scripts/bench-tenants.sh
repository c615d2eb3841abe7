#!/usr/bin/env bash
# One tenant flooding pushes must not hurt another. Tenant "quiet" pushes
# 2,000 lines/s over 100 streams (pushes of 100 lines), first alone, then
# while tenant "loud" floods, in two scenarios, each on a fresh loam:
#   rate:  loud pushes at ten times its ingestion rate limit
#          (ingestion_rate_mb 1 for "loud" in a runtime overrides file:
#          about 6,700 lines/s of 156 B; it pushes 67,000): the distributor
#          refuses the excess (429s).
#   flood: loud's limits are far above what it pushes (ingestion_rate_mb
#          1000), it pushes as fast as it can, and the head is small
#          (-head.max-bytes 256KB): the flush of the head is the bottleneck
#          and the store holds pushes back until it catches up, per tenant.
# Reported per scenario: quiet's push latency (p50, p99), lines lost, loud's
# accepted lines and refusals, the pushes held back by tenant. Target: quiet
# loses nothing and its p99 stays within 2× of its p99 alone.
#   scripts/bench-tenants.sh [duration per phase, default 15s] [rate|flood|all, default all]
# LOAM=path runs another build than bin/loam.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dur=${1:-15s}
which=${2:-all}
case $which in rate | flood | all) ;; *)
	echo "unknown scenario $which: rate, flood or all" >&2
	exit 2
	;;
esac
work=$(mktemp -d)
pid=
stop_loam() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}
cleanup() { stop_loam; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
(cd "$here" && go build -o "$work/pushbench" ./internal/pushbench)
loam=${LOAM:-$here/bin/loam}
p99() { # pushbench prints Go durations: 850µs, 1.63ms, 1.2s
	sed -n 's/.*p99 \([0-9.]*\)\([^0-9., ]*s\),.*/\1 \2/p' "$1" |
		awk '{ v = $1; if ($2 == "s") v *= 1000; else if ($2 != "ms") v /= 1000; print v }'
}

# scenario NAME OVERRIDES_YAML "LOUD PUSHBENCH FLAGS" [LOAM FLAGS...]
scenario() {
	local name=$1 overrides=$2 loudflags=$3
	shift 3
	local dir=$work/$name
	mkdir -p "$dir"
	printf '%s\n' "$overrides" >"$dir/overrides.yaml"
	local port url
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	url=http://127.0.0.1:$port
	"$loam" -http.addr "127.0.0.1:$port" -data.dir "$dir/data" -runtime-config.file "$dir/overrides.yaml" "$@" >"$dir/loam.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do curl -sf "$url/ready" >/dev/null && break; sleep 0.1; done
	quiet() { "$work/pushbench" -url "$url" -pid "$pid" -tenant quiet -streams 100 -batch 100 -rate 2000 -duration "$dur" -workers 2; }
	echo "== $name: quiet alone: 2,000 lines/s"
	quiet | tee "$dir/alone.txt" | grep -E '^(accepted|push latency)'
	echo "== $name: quiet again, while loud pushes ($loudflags)"
	# shellcheck disable=SC2086 # loudflags are words
	"$work/pushbench" -url "$url" -tenant loud $loudflags -duration "$dur" >"$dir/loud.txt" 2>&1 &
	local loud=$!
	quiet | tee "$dir/with.txt" | grep -E '^(accepted|push latency)'
	wait "$loud" || true
	grep -E '^(accepted|push latency)' "$dir/loud.txt" | sed 's/^/loud: /'
	curl -s "$url/metrics" | grep -E '^loam_discarded_samples_total\{reason="rate_limited",tenant="loud"\}' | sed 's/^/loud: /' || true
	curl -s "$url/metrics" | grep -E '^loam_(appends_held_back_total|flushes_total)' || true
	stop_loam
	local a w
	a=$(p99 "$dir/alone.txt") w=$(p99 "$dir/with.txt")
	awk -v n="$name" -v a="$a" -v w="$w" 'BEGIN { printf "%s: quiet p99: %.2f ms alone, %.2f ms with loud: %.2f× (target ≤ 2×)\n", n, a, w, a ? w / a : 0 }'
}

if [ "$which" != flood ]; then
	scenario rate 'overrides:
  loud:
    ingestion_rate_mb: 1
    ingestion_burst_size_mb: 2' "-streams 1000 -rate 67000 -workers 4"
fi
if [ "$which" != rate ]; then
	scenario flood 'overrides:
  loud:
    ingestion_rate_mb: 1000
    ingestion_burst_size_mb: 1000' "-streams 1000 -rate 0 -workers 4" -head.max-bytes 262144
fi
