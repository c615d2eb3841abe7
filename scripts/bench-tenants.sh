#!/usr/bin/env bash
# One tenant flooding pushes must not hurt another: tenant "quiet" pushes
# 2,000 lines/s over 100 streams (pushes of 100 lines), first alone, then
# while tenant "loud" pushes at ten times its ingestion rate limit
# (ingestion_rate_mb 1 for "loud" in a runtime overrides file: about 6,700
# lines/s of 156 B; it pushes 67,000). Reported: quiet's push latency (p50, p99), lines lost
# and loud's refusals (429s). Target: quiet loses nothing and its p99 stays
# within 2× of its p99 alone.
#   scripts/bench-tenants.sh [duration per phase, default 15s]
# LOAM=path runs another build than bin/loam.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dur=${1:-15s}
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
(cd "$here" && go build -o "$work/pushbench" ./internal/pushbench)
loam=${LOAM:-$here/bin/loam}
cat >"$work/overrides.yaml" <<YAML
overrides:
  loud:
    ingestion_rate_mb: 1
    ingestion_burst_size_mb: 2
YAML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
"$loam" -http.addr "127.0.0.1:$port" -data.dir "$work/data" -runtime-config.file "$work/overrides.yaml" >"$work/loam.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "$url/ready" >/dev/null && break; sleep 0.1; done
quiet() { "$work/pushbench" -url "$url" -pid "$pid" -tenant quiet -streams 100 -batch 100 -rate 2000 -duration "$dur" -workers 2; }
echo "== quiet alone: 2,000 lines/s"
quiet | tee "$work/alone.txt" | grep -E '^(accepted|push latency)'
echo "== quiet again, while loud pushes 67,000 lines/s (ten times its limit)"
"$work/pushbench" -url "$url" -tenant loud -streams 1000 -rate 67000 -duration "$dur" -workers 4 >"$work/loud.txt" 2>&1 &
loud=$!
quiet | tee "$work/with.txt" | grep -E '^(accepted|push latency)'
wait "$loud" || true
grep -E '^(accepted|push latency)' "$work/loud.txt" | sed 's/^/loud: /'
curl -s "$url/metrics" | grep -E '^loam_discarded_samples_total\{reason="rate_limited",tenant="loud"\}' | sed 's/^/loud: /' || true
p99() { # pushbench prints Go durations: 850µs, 1.63ms, 1.2s
  sed -n 's/.*p99 \([0-9.]*\)\([^0-9., ]*s\),.*/\1 \2/p' "$1" |
    awk '{ v = $1; if ($2 == "s") v *= 1000; else if ($2 != "ms") v /= 1000; print v }'
}
a=$(p99 "$work/alone.txt") w=$(p99 "$work/with.txt")
awk -v a="$a" -v w="$w" 'BEGIN { printf "quiet p99: %.2f ms alone, %.2f ms with loud: %.2f× (target ≤ 2×)\n", a, w, a ? w / a : 0 }'
