#!/usr/bin/env bash
# The cost of authentication on ingest: internal/pushbench against a real loam,
# as fast as possible over 1,000 streams, with -auth.enabled off, with basic auth
# (bcrypt, cached after the first push) and with a bearer token; the rounds
# alternate so that drift of the machine spreads evenly.
#   scripts/bench-auth.sh [duration per run, default 15s] [rounds, default 2]
# LOAM=path runs another build than bin/loam.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dur=${1:-15s}; rounds=${2:-2}
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
(cd "$here" && go build -o "$work/pushbench" ./internal/pushbench)
loam=${LOAM:-$here/bin/loam}
hash=$(printf 'bench-pw\n' | "$loam" hash-password)
sum=$(printf 'bench-token\n' | "$loam" hash-token)
cat >"$work/auth.yaml" <<YAML
users:
  - {name: bench, password_bcrypt: "$hash", tenants: [bench], role: push}
tokens:
  - {name: bench-token, token_sha256: $sum, tenants: [bench], role: push}
YAML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run() {
  rm -rf "$work/data"
  "$loam" -http.addr "127.0.0.1:$port" -data.dir "$work/data" -limits.ingestion-rate-mb 1e6 -limits.ingestion-burst-size-mb 1e6 -limits.per-stream-rate-limit 0 -limits.max-global-streams-per-user 0 "$@" >"$work/loam.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && return; sleep 0.1; done
  cat "$work/loam.log"; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
bench() { "$work/pushbench" -url "http://127.0.0.1:$port" -pid "$pid" -streams 1000 -duration "$dur" -tenant bench "$@" | grep -E '^(accepted|server)'; }
for r in $(seq 1 "$rounds"); do
  echo "== round $r: auth off"
  run; bench; stop
  echo "== round $r: basic auth"
  run -auth.enabled -auth.file "$work/auth.yaml"; bench -user bench -password bench-pw; stop
  echo "== round $r: bearer token"
  run -auth.enabled -auth.file "$work/auth.yaml"; bench -token bench-token; stop
done
