#!/usr/bin/env bash
# Gateway benchmark: the same S3 load sent straight to an upstream store and
# through `s3limit serve -upstream` in front of it, side by side in one run.
#
# Upstream: versitygw (posix backend, --keep-alive) on loopback, the test
# suite's pinned version. Load: bench/s3load (aws-sdk-go-v2, closed loop).
# Every case alternates direct and gateway runs ROUNDS times and compares
# the totals, so drift on a shared machine hits both sides alike. It also
# reports the CPU time each process (versitygw, s3limit, s3load) spends
# per request, from /proc, over the measured window.
#
# Settings (environment):
#   DURATION=10s  WARMUP=2s  ROUNDS=2     measured time per run, warm-up, rounds
#   SMALL=4KiB    SMALL_CONC=16  SMALL_OBJECTS=64   small-object GET and PUT
#   LARGE=64MiB   LARGE_CONC=4   LARGE_OBJECTS=4    large-object GET
#   S3LIMIT_TEST_CACHE                     where versitygw is cached (as scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
ROUNDS="${ROUNDS:-2}"
SMALL="${SMALL:-4KiB}"
SMALL_CONC="${SMALL_CONC:-16}"
LARGE="${LARGE:-64MiB}"
LARGE_CONC="${LARGE_CONC:-4}"
SMALL_OBJECTS="${SMALL_OBJECTS:-64}"
LARGE_OBJECTS="${LARGE_OBJECTS:-4}"

VERSITYGW_VERSION=v1.8.0
CACHE_DIR="${S3LIMIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/s3limit-test}"
VERSITYGW="$CACHE_DIR/bin/versitygw"
if [ ! -x "$VERSITYGW" ] || [ "$(cat "$VERSITYGW.version" 2>/dev/null)" != "$VERSITYGW_VERSION" ]; then
  echo "installing versitygw $VERSITYGW_VERSION into $CACHE_DIR/bin"
  mkdir -p "$CACHE_DIR/bin"
  GOBIN="$CACHE_DIR/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  echo "$VERSITYGW_VERSION" > "$VERSITYGW.version"
fi

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

UP_KEY=benchupstreamkey0000
UP_SECRET=benchUpstreamSecret00000000000000000000
FRONT_KEY=benchfrontkey0000000
FRONT_SECRET=benchFrontSecret000000000000000000000000

VPORT="$("$WORK/s3load" -freeport)"
mkdir -p "$WORK/versitygw"
ROOT_ACCESS_KEY="$UP_KEY" ROOT_SECRET_KEY="$UP_SECRET" \
  "$VERSITYGW" --port "127.0.0.1:$VPORT" --quiet --keep-alive posix "$WORK/versitygw" > "$WORK/versitygw.log" 2>&1 &
VPID=$!
PIDS+=("$VPID")
wait_port "$VPORT"

SPORT="$("$WORK/s3load" -freeport)"
S3LIMIT_ACCESS_KEY="$FRONT_KEY" S3LIMIT_SECRET_KEY="$FRONT_SECRET" \
S3LIMIT_UPSTREAM_ACCESS_KEY="$UP_KEY" S3LIMIT_UPSTREAM_SECRET_KEY="$UP_SECRET" \
  "$WORK/s3limit" serve -ip.bind 127.0.0.1 -port "$SPORT" -dir "$WORK/front" -quiet \
  -upstream "http://127.0.0.1:$VPORT" > "$WORK/s3limit.log" 2>&1 &
SPID=$!
PIDS+=("$SPID")
wait_port "$SPORT"

direct=(-endpoint "http://127.0.0.1:$VPORT" -accessKey "$UP_KEY" -secretKey "$UP_SECRET")
gateway=(-endpoint "http://127.0.0.1:$SPORT" -accessKey "$FRONT_KEY" -secretKey "$FRONT_SECRET")

# seconds d: a Go-style duration (10s, 1500ms, 2m) in seconds.
seconds() {
  awk -v d="$1" 'BEGIN {
    if (d ~ /ms$/) { sub(/ms$/, "", d); print d / 1000 }
    else if (d ~ /m$/) { sub(/m$/, "", d); print d * 60 }
    else { sub(/s$/, "", d); print d + 0 } }'
}
WARMUP_S="$(seconds "$WARMUP")"
DURATION_S="$(seconds "$DURATION")"
# The CPU window ends a little before the measured one, while s3load still runs.
WINDOW_S="$(awk -v d="$DURATION_S" 'BEGIN { print (d > 2) ? d - 0.5 : d * 0.75 }')"
HZ="$(getconf CLK_TCK)"

# ticks pid...: utime+stime of each process, in clock ticks; "?" for a
# process that has ended.
ticks() {
  local pid
  for pid in "$@"; do
    if [ -r "/proc/$pid/stat" ]; then awk '{ printf "%s ", $14 + $15 }' "/proc/$pid/stat"; else printf '? '; fi
  done
}

# load case side op size concurrency objects: runs s3load, prints its
# summary and the CPU per request, appends "<side> <ops_per_s> <mib_per_s>"
# to $WORK/current and "<case>|<side>|<versitygw> <s3limit> <s3load>" (µs
# per request) to $WORK/cpu.
load() {
  local name=$1 side=$2 op=$3 size=$4 conc=$5 objects=$6 out pid t0 t1
  local -n target=$side
  "$WORK/s3load" "${target[@]}" -op "$op" -size "$size" -concurrency "$conc" -objects "$objects" \
    -duration "$DURATION" -warmup "$WARMUP" -prepare=false > "$WORK/load.out" &
  pid=$!
  sleep "$WARMUP_S"
  t0="$(ticks "$VPID" "$SPID" "$pid")"
  sleep "$WINDOW_S"
  t1="$(ticks "$VPID" "$SPID" "$pid")"
  if ! wait "$pid"; then
    echo "s3load failed:" >&2; cat "$WORK/load.out" >&2; return 1
  fi
  out="$(cat "$WORK/load.out")"
  echo "$out" | awk -v side="$side" '/^RESULT/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    print side, v["ops_per_s"], v["mib_per_s"] }' >> "$WORK/current"
  local cpu
  cpu="$(echo "$out" | awk -v t0="$t0" -v t1="$t1" -v hz="$HZ" -v w="$WINDOW_S" '/^RESULT/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    split(t0, a, " "); split(t1, b, " "); n = v["ops_per_s"] * w
    for (i = 1; i <= 3; i++) us[i] = (n > 0 && a[i] != "?" && b[i] != "?") ? (b[i] - a[i]) / hz / n * 1e6 : 0
    printf "%.0f %.0f %.0f", us[1], us[2], us[3] }')"
  echo "$name|$side|$cpu" >> "$WORK/cpu"
  set -- $cpu
  echo "  $side: $(echo "$out" | head -1)"
  echo "    CPU per request: versitygw $1 µs, s3limit $2 µs, s3load $3 µs"
}

SUMMARY=()
# bench name op size concurrency objects metric(ops|mib) target%
bench() {
  local name=$1 op=$2 size=$3 conc=$4 objects=$5 metric=$6 target=$7
  echo
  echo "== $name: $op $size, concurrency $conc, $objects keys, $ROUNDS x $DURATION per side"
  if [ "$op" = get ]; then # the objects to read, written straight to the upstream
    "$WORK/s3load" "${direct[@]}" -op prepare -size "$size" -objects "$objects"
  fi
  : > "$WORK/current"
  for _ in $(seq 1 "$ROUNDS"); do
    load "$name" direct "$op" "$size" "$conc" "$objects"
    load "$name" gateway "$op" "$size" "$conc" "$objects"
  done
  local line
  line="$(awk -v metric="$metric" -v target="$target" -v name="$name" '
    { col = (metric == "ops") ? 2 : 3; sum[$1] += $col; n[$1]++ }
    END {
      d = sum["direct"] / n["direct"]; g = sum["gateway"] / n["gateway"]
      unit = (metric == "ops") ? "ops/s" : "MiB/s"
      ratio = (d > 0) ? 100 * g / d : 0
      printf "%-14s direct %9.1f %s   through s3limit %9.1f %s   ratio %5.1f%%   target >= %d%%   %s\n",
        name, d, unit, g, unit, ratio, target, (ratio >= target) ? "MET" : "MISSED"
    }' "$WORK/current")"
  echo "$line"
  SUMMARY+=("$line")
}

echo
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(go version | cut -d' ' -f3)"
echo "versitygw, s3limit and s3load share these CPUs."
bench "GET $SMALL" get "$SMALL" "$SMALL_CONC" "$SMALL_OBJECTS" ops 90
bench "PUT $SMALL" put "$SMALL" "$SMALL_CONC" "$SMALL_OBJECTS" ops 90
bench "GET $LARGE" get "$LARGE" "$LARGE_CONC" "$LARGE_OBJECTS" mib 95

echo
echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
echo
echo "== CPU per request, µs (mean over rounds; s3limit is 0 when direct)"
awk -F'|' '
  { split($3, c, " "); k = $1 "|" $2; if (!(k in n)) order[++m] = k
    v[k] += c[1]; s[k] += c[2]; l[k] += c[3]; n[k]++ }
  END {
    printf "%-14s %-8s %10s %10s %10s %10s\n", "case", "side", "versitygw", "s3limit", "s3load", "total"
    for (i = 1; i <= m; i++) { k = order[i]; split(k, p, "|")
      printf "%-14s %-8s %10.0f %10.0f %10.0f %10.0f\n", p[1], p[2], v[k]/n[k], s[k]/n[k], l[k]/n[k], (v[k]+s[k]+l[k])/n[k] }
  }' "$WORK/cpu"
