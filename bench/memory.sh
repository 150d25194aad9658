#!/usr/bin/env bash
# Memory of s3limit serve (embedded store), two figures:
#
#  1. idle: RSS (/proc/PID/status VmRSS) IDLE_WAIT seconds after the server
#     answers its readiness probe, default limits.    target ≤ 30 MB
#  2. QUEUED uploads held by backpressure: a server with
#     -concurrentFileUploadLimit 1, one upload that holds the slot (its body
#     never comes) and QUEUED more, each a presigned PUT whose headers and
#     BODY bytes are all sent, queued behind it (bench/heldputs). Once the
#     server's upload_waiting gauge shows all of them: its RSS over 5 s
#     (least–most of 10 samples) and peak RSS, the Go runtime's breakdown
#     from /metrics (heap, stacks, goroutines) taken just before, to show
#     where the memory goes, and the server's CPU while they wait.
#                                                      target ≤ 200 MB
#
# Settings (environment): QUEUED=10000  BODY=4096  IDLE_WAIT=2
set -euo pipefail
cd "$(dirname "$0")/.."

QUEUED="${QUEUED:-10000}"
BODY="${BODY:-4096}"
IDLE_WAIT="${IDLE_WAIT:-2}"
case "$QUEUED$BODY" in *[!0-9]*) echo "memory.sh: QUEUED and BODY must be whole numbers" >&2; exit 2 ;; esac

# Every queued upload is a connection on both sides.
need=$((QUEUED + 1000))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
    echo "memory.sh: $QUEUED connections need $need open files; the hard limit is $(ulimit -Hn) (lower QUEUED or raise it)" >&2
    exit 2
  fi
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/s3limit-memory.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building s3limit, s3load and heldputs"
go build -o "$WORK/s3limit" ./cmd/s3limit
go build -o "$WORK/s3load" ./bench/s3load
go build -o "$WORK/heldputs" ./bench/heldputs

KEY=benchstorekey0000000
SECRET=benchStoreSecret00000000000000000000000
export S3LIMIT_ACCESS_KEY="$KEY" S3LIMIT_SECRET_KEY="$SECRET"

ready() { # port log
  for _ in $(seq 1 400); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/_s3limit/health/ready")" = 200 ]; then return 0; fi
    sleep 0.05
  done
  echo "memory.sh: the server did not become ready; its log:" >&2; tail -20 "$2" >&2; return 1
}
status_kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
metric() { # name file
  awk -v m="$1" '$1 == m { printf "%.0f", $2 }' "$2"
}

echo "== idle"
PORT="$("$WORK/s3load" -freeport)"
"$WORK/s3limit" serve -port "$PORT" -dir "$WORK/idle" -shutdownDelay 0 -shutdownTimeout 1s > "$WORK/idle.log" 2>&1 &
IDLE_PID=$!
PIDS+=("$IDLE_PID")
ready "$PORT" "$WORK/idle.log"
sleep "$IDLE_WAIT"
IDLE_RSS="$(status_kib VmRSS "$IDLE_PID")"
IDLE_HWM="$(status_kib VmHWM "$IDLE_PID")"
kill "$IDLE_PID"
wait "$IDLE_PID" 2>/dev/null || true
echo "  RSS $(mib "$IDLE_RSS") MiB, peak $(mib "$IDLE_HWM") MiB"

echo "== $QUEUED uploads of $BODY bytes queued behind one that holds the only slot"
PORT="$("$WORK/s3load" -freeport)"
MPORT="$("$WORK/s3load" -freeport)"
# -idleTimeout: the holder sends no body; it must keep the slot for the whole measurement.
"$WORK/s3limit" serve -port "$PORT" -dir "$WORK/queue" -quiet -metricsPort "$MPORT" \
  -concurrentFileUploadLimit 1 -idleTimeout 10m -shutdownDelay 0 -shutdownTimeout 1s > "$WORK/queue.log" 2>&1 &
SPID=$!
PIDS+=("$SPID")
ready "$PORT" "$WORK/queue.log"
BEFORE_RSS="$(status_kib VmRSS "$SPID")"
mkfifo "$WORK/hold"
"$WORK/heldputs" -endpoint "http://127.0.0.1:$PORT" -accessKey "$KEY" -secretKey "$SECRET" \
  -n "$QUEUED" -size "$BODY" -hold 10m < "$WORK/hold" > "$WORK/heldputs.out" 2>&1 &
HPID=$!
PIDS+=("$HPID")
exec 9> "$WORK/hold" # closing it lets heldputs go
t0=$SECONDS
until grep -q '^queued' "$WORK/heldputs.out"; do
  if ! kill -0 "$HPID" 2>/dev/null; then echo "memory.sh: heldputs failed:" >&2; cat "$WORK/heldputs.out" >&2; exit 1; fi
  sleep 0.2
done
waiting=0
for _ in $(seq 1 300); do
  curl -s "http://127.0.0.1:$MPORT/metrics" > "$WORK/metrics"
  waiting="$(metric s3limit_s3_upload_waiting "$WORK/metrics")"
  [ "${waiting:-0}" -ge "$QUEUED" ] && break
  sleep 0.2
done
echo "  $waiting uploads waiting after $((SECONDS - t0)) s"
if [ "${waiting:-0}" -lt "$QUEUED" ]; then echo "memory.sh: only $waiting of $QUEUED uploads queued" >&2; exit 1; fi
sleep 1
# While the uploads only wait: the server's CPU (watching their clients) and
# its RSS, sampled every 0.5 s for 5 s (the garbage collector lets it swing).
curl -s "http://127.0.0.1:$MPORT/metrics" > "$WORK/metrics"
c0="$(awk '{ print $14 + $15 }' "/proc/$SPID/stat")"
: > "$WORK/rss"
for _ in $(seq 1 10); do status_kib VmRSS "$SPID" >> "$WORK/rss"; sleep 0.5; done
c1="$(awk '{ print $14 + $15 }' "/proc/$SPID/stat")"
WAIT_CPU="$(awk -v d="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", d / hz / 5 * 100 }')"
Q_MIN="$(sort -n "$WORK/rss" | head -1)"
Q_MAX="$(sort -n "$WORK/rss" | tail -1)"
Q_HWM="$(status_kib VmHWM "$SPID")"
GOROUTINES="$(metric go_goroutines "$WORK/metrics")"
HEAP_INUSE="$(metric go_memstats_heap_inuse_bytes "$WORK/metrics")"
HEAP_ALLOC="$(metric go_memstats_alloc_bytes "$WORK/metrics")"
STACK="$(metric go_memstats_stack_inuse_bytes "$WORK/metrics")"
SYS="$(metric go_memstats_sys_bytes "$WORK/metrics")"
exec 9>&-
wait "$HPID" || { echo "memory.sh: heldputs failed:" >&2; cat "$WORK/heldputs.out" >&2; exit 1; }
sleep 2
AFTER_RSS="$(status_kib VmRSS "$SPID")"

b2m() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
per() { awk -v b="$1" -v n="$QUEUED" 'BEGIN { printf "%.1f", b / n / 1024 }'; }
echo
echo "## s3limit serve memory, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Machine: $(nproc) CPUs, $(go version | cut -d' ' -f3); RSS from /proc/PID/status, Go runtime figures from /metrics."
echo
echo "| what | measured | target |"
echo "|---|---:|---:|"
echo "| idle, ${IDLE_WAIT} s after start, default limits: RSS | $(mib "$IDLE_RSS") MiB | ≤ 30 MB |"
echo "| $QUEUED uploads of $BODY B queued by backpressure: RSS of the server over 5 s | $(mib "$Q_MIN")–$(mib "$Q_MAX") MiB (peak $(mib "$Q_HWM") MiB) | ≤ 200 MB |"
echo "| … per queued upload, least RSS above the ready server's ($(mib "$BEFORE_RSS") MiB) | $(awk -v a="$Q_MIN" -v b="$BEFORE_RSS" -v n="$QUEUED" 'BEGIN { printf "%.1f", (a - b) / n }') KiB | |"
echo "| … goroutines | $GOROUTINES ($(awk -v g="$GOROUTINES" -v n="$QUEUED" 'BEGIN { printf "%.1f", g / n }') per upload) | |"
echo "| … goroutine stacks in use | $(b2m "$STACK") MiB ($(per "$STACK") KiB per upload) | |"
echo "| … heap in use (spans) / live objects | $(b2m "$HEAP_INUSE") / $(b2m "$HEAP_ALLOC") MiB ($(per "$HEAP_ALLOC") KiB per upload) | |"
echo "| … memory the Go runtime obtained from the OS | $(b2m "$SYS") MiB | |"
echo "| … CPU of the server while they wait | ${WAIT_CPU} % of one CPU | |"
echo "| RSS 2 s after the clients left | $(mib "$AFTER_RSS") MiB | |"
