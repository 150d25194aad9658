#!/usr/bin/env bash
# Fleet benchmark: three `s3limit serve` processes on loopback, each with
# its own embedded store and the same limits, loaded at once by three
# bench/s3load (closed loop, 4 KiB GETs): alone (no -redis) and as a
# fleet sharing one redis-server, alternating ROUNDS times. It prints the
# throughput and the p50 and p99 latency of each side, the added latency,
# and the Redis commands per request of the fleet side. Then it runs
# BenchmarkFleetAccuracy (internal/fleet) once: count, ops/s and bytes/s
# accuracy of three servers under uneven load.
#
# Settings (environment): DURATION=10s WARMUP=2s ROUNDS=2 CONC=4 (per
# instance); LIMITS, the circuit-breaker document every instance enforces
# (high limits, so that every request is counted and none is refused).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
ROUNDS="${ROUNDS:-2}"
CONC="${CONC:-4}"
LIMITS="${LIMITS:-{\"global\":{\"enabled\":true,\"actions\":{\"Read:count\":1000,\"Read:ops/s\":1000000,\"Read:bytes\":1073741824}}}}"
command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install redis-server)"; exit 1; }

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building s3limit and s3load"
go build -o "$WORK/s3limit" ./cmd/s3limit
go build -o "$WORK/s3load" ./bench/s3load

wait_port() { # port
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on 127.0.0.1:$1" >&2; return 1
}

KEY=benchfleetkey0000000
SECRET=benchFleetSecret000000000000000000000000
RPORT="$("$WORK/s3load" -freeport)"
mkdir -p "$WORK/redis"
redis-server --bind 127.0.0.1 --port "$RPORT" --dir "$WORK/redis" --save '' --appendonly no > "$WORK/redis.log" 2>&1 &
PIDS+=("$!")
wait_port "$RPORT"

# start side round: three instances, with -redis for side "fleet"; sets
# PORTS and SPIDS.
start() {
  local side=$1 r=$2 i port
  PORTS=(); SPIDS=()
  for i in 1 2 3; do
    port="$("$WORK/s3load" -freeport)"
    local dir="$WORK/$side$r-$i"
    mkdir -p "$dir"
    echo "$LIMITS" > "$dir/circuit_breaker.json"
    local extra=()
    [ "$side" = fleet ] && extra=(-redis "redis://127.0.0.1:$RPORT/0")
    S3LIMIT_ACCESS_KEY="$KEY" S3LIMIT_SECRET_KEY="$SECRET" \
      "$WORK/s3limit" serve -ip.bind 127.0.0.1 -port "$port" -dir "$dir" -quiet "${extra[@]}" \
      > "$dir.log" 2>&1 &
    SPIDS+=("$!"); PIDS+=("$!")
    PORTS+=("$port")
    wait_port "$port"
    "$WORK/s3load" -endpoint "http://127.0.0.1:$port" -accessKey "$KEY" -secretKey "$SECRET" -op prepare -size 4KiB -objects 16
  done
}
stop() {
  local pid
  for pid in "${SPIDS[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done
}
# commands: the commands the servers sent. Redis also counts the commands
# a script runs inside it, so only those a script does not use are summed:
# EVALSHA (a lease round), EVAL (a script loaded again), HMGET (a fetch of
# the configuration), SUBSCRIBE and PING (the channel's health check).
commands() {
  redis-cli -p "$RPORT" INFO commandstats | awk -F'[:=,]' '
    /^cmdstat_(evalsha|eval|hmget|subscribe|ping):/ { n += $3 } END { print n + 0 }'
}

# run side round: one round of load on the three instances at once; appends
# "<side> <ops_per_s> <p50_ms> <p99_ms>" per instance to $WORK/results.
run() {
  local side=$1 i pids=() c0 c1 ops=0
  start "$side" "$2"
  c0="$(commands)"
  for i in 0 1 2; do
    "$WORK/s3load" -endpoint "http://127.0.0.1:${PORTS[$i]}" -accessKey "$KEY" -secretKey "$SECRET" \
      -op get -size 4KiB -objects 16 -prepare=false -concurrency "$CONC" -duration "$DURATION" -warmup "$WARMUP" \
      > "$WORK/load$i.out" &
    pids+=("$!")
  done
  for i in 0 1 2; do wait "${pids[$i]}"; done
  c1="$(commands)"
  stop
  for i in 0 1 2; do
    awk -v side="$side" '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      print side, v["ops_per_s"], v["p50_ms"], v["p99_ms"], v["ops"], v["errors"] }' "$WORK/load$i.out" >> "$WORK/results"
    ops=$((ops + $(awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "ops") print kv[2] } }' "$WORK/load$i.out")))
  done
  echo "  $side: $(awk -v s="$side" '$1 == s' "$WORK/results" | tail -3 | awk '{ printf "%.0f ops/s p50 %s ms p99 %s ms; ", $2, $3, $4 }')"
  if [ "$side" = fleet ]; then
    # Commands over the whole run (warm-up included) per measured request: an upper bound.
    echo "  redis: $((c1 - c0)) commands sent, $(awk -v c="$((c1 - c0))" -v n="$ops" 'BEGIN { printf "%.4f", c / n }') per request"
  fi
}

echo "machine: $(nproc) CPUs, $(go version | cut -d' ' -f3), $(redis-server --version | cut -d' ' -f3)"
: > "$WORK/results"
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r"
  run alone "$r"
  run fleet "$r"
done
echo
echo "== summary (mean over instances and rounds)"
awk '{ o[$1] += $2; p50[$1] += $3; p99[$1] += $4; n[$1]++; e[$1] += $6 }
  END {
    for (s in o) printf "%-6s %8.0f ops/s total   p50 %.3f ms   p99 %.3f ms   errors %d\n", s, o[s] / n[s] * 3, p50[s] / n[s], p99[s] / n[s], e[s]
    printf "added by the fleet: p50 %+.0f µs, p99 %+.0f µs\n", (p50["fleet"] / n["fleet"] - p50["alone"] / n["alone"]) * 1000, (p99["fleet"] / n["fleet"] - p99["alone"] / n["alone"]) * 1000
  }' "$WORK/results"

echo
echo "== accuracy (go test -bench FleetAccuracy ./internal/fleet)"
unset AWS_CA_BUNDLE
go test -run '^$' -bench FleetAccuracy -benchtime 1x ./internal/fleet | grep -E '^(Benchmark|ok|FAIL)'
