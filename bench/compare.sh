#!/usr/bin/env bash
# s3limit against its peers, side by side in one run, on loopback:
#
#   s3limit serve, embedded store   circuit-breaker limits on every action, never reached
#   versitygw (posix backend)       the version the tests pin (never fsyncs)
#   MinIO, single drive             pinned, built with `go install` (6-12 minutes, once)
#   nginx → MinIO                   Debian's nginx as a tuned reverse proxy (config below)
#   s3limit serve -upstream MinIO   the gateway, same limits as the embedded store
#
# Load: wrk (Debian's package), one thread, closed loop, cycling through
# presigned URLs (bench/presign, bench/compare.lua), so every server verifies
# SigV4 itself and no server's own client is used. Workloads: GET and PUT of
# SMALL with SMALL_CONC connections, GET of LARGE with LARGE_CONC. Each
# workload runs ROUNDS rounds of DURATION per server; the servers take turns
# within a round (the order rotating from round to round), so drift on a
# shared machine hits all of them alike. All servers run throughout; only one
# is loaded at a time.
#
# Printed: requests/s (median of the rounds, and min–max), the proxies as a
# ratio to direct MinIO (ratio of the medians), the embedded store against the
# best of the stores (versitygw, MinIO), the CPU time per request of each
# row's server (for the proxies also with MinIO's added), and per server
# the CPU seconds over the whole run (/proc/PID/stat utime+stime), the peak
# RSS (VmHWM) and the RSS after the run (VmRSS); nginx figures are master plus
# workers.
#
# Settings (environment):
#   ROUNDS=3  DURATION=5s  WARMUP=1s          rounds, measured time per run, one warm-up run per server and workload
#   SMALL=4KiB  SMALL_CONC=16  SMALL_OBJECTS=16  PUT_OBJECTS=64   small GET and PUT
#   LARGE=64MiB  LARGE_CONC=4  LARGE_OBJECTS=4   large GET
#   SMOKE=1        ROUNDS=1 DURATION=1s WARMUP=0 LARGE=1MiB unless set (well under a minute once built)
#   NGINX_WORKERS=1  NGINX_BUFFERING=on    nginx worker_processes, proxy_buffering (see the config below)
#   ONLY="minio nginx"  measure only these rows (embedded versitygw minio nginx gateway)
#   S3LIMIT_TEST_CACHE  where versitygw and MinIO are cached (as scripts/test.sh)
#   NGINX=/usr/sbin/nginx  WRK=/usr/bin/wrk
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${SMOKE:-0}" = 1 ]; then
  ROUNDS="${ROUNDS:-1}" DURATION="${DURATION:-1s}" WARMUP="${WARMUP:-0}" LARGE="${LARGE:-1MiB}"
fi
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5s}"
WARMUP="${WARMUP:-1s}"
SMALL="${SMALL:-4KiB}"
SMALL_CONC="${SMALL_CONC:-16}"
SMALL_OBJECTS="${SMALL_OBJECTS:-16}"
PUT_OBJECTS="${PUT_OBJECTS:-64}"
LARGE="${LARGE:-64MiB}"
LARGE_CONC="${LARGE_CONC:-4}"
LARGE_OBJECTS="${LARGE_OBJECTS:-4}"
NGINX_WORKERS="${NGINX_WORKERS:-1}"
NGINX_BUFFERING="${NGINX_BUFFERING:-on}"
NGINX="${NGINX:-/usr/sbin/nginx}"
WRK="${WRK:-/usr/bin/wrk}"

for tool in "$NGINX:nginx" "$WRK:wrk"; do
  if [ ! -x "${tool%%:*}" ]; then
    echo "compare.sh: ${tool%%:*} not found: install Debian's ${tool##*:} package or point \$$(echo "${tool##*:}" | tr '[:lower:]' '[:upper:]') at it" >&2
    exit 2
  fi
done
SERVERS=(embedded versitygw minio nginx gateway)
if [ -n "${ONLY:-}" ]; then
  for s in $ONLY; do
    case " ${SERVERS[*]} " in *" $s "*) ;; *) echo "compare.sh: ONLY=$ONLY: no row $s (embedded versitygw minio nginx gateway)" >&2; exit 2 ;; esac
  done
  read -r -a SERVERS <<< "$ONLY"
fi
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "compare.sh: ROUNDS=$ROUNDS: want a positive whole number" >&2; exit 2 ;; esac

# Peers, pinned and cached outside the repository like scripts/test.sh does.
CACHE_DIR="${S3LIMIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/s3limit-test}"
VERSITYGW_VERSION=$(sed -n 's/^const VersitygwVersion = "\(.*\)"$/\1/p' internal/testpeer/testpeer.go)
VERSITYGW="$CACHE_DIR/bin/versitygw"
if [ ! -x "$VERSITYGW" ] || [ "$(cat "$VERSITYGW.version" 2>/dev/null)" != "$VERSITYGW_VERSION" ]; then
  echo "installing versitygw $VERSITYGW_VERSION into $CACHE_DIR/bin"
  mkdir -p "$CACHE_DIR/bin"
  GOBIN="$CACHE_DIR/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  echo "$VERSITYGW_VERSION" > "$VERSITYGW.version"
fi
# MinIO's release tags are not Go module versions; this pseudo-version pins
# its commit of 2026-02-12, known to build with the Go the module needs.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO="$CACHE_DIR/bin/minio"
# A binary installed by hand the same way carries the version in its build info.
if [ -x "$MINIO" ] && [ ! -f "$MINIO.version" ] &&
  go version -m "$MINIO" 2>/dev/null | grep -q "^[[:space:]]*mod[[:space:]]*github.com/minio/minio[[:space:]]*$MINIO_VERSION[[:space:]]"; then
  echo "$MINIO_VERSION" > "$MINIO.version"
fi
if [ ! -x "$MINIO" ] || [ "$(cat "$MINIO.version" 2>/dev/null)" != "$MINIO_VERSION" ]; then
  echo "installing MinIO $MINIO_VERSION into $CACHE_DIR/bin (6-12 minutes, once)"
  mkdir -p "$CACHE_DIR/bin"
  GOBIN="$CACHE_DIR/bin" go install "github.com/minio/minio@$MINIO_VERSION"
  echo "$MINIO_VERSION" > "$MINIO.version"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/s3limit-compare.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building s3limit, s3load and presign"
go build -o "$WORK/s3limit" ./cmd/s3limit
go build -o "$WORK/s3load" ./bench/s3load
go build -o "$WORK/presign" ./bench/presign

wait_port() { # port name
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "compare.sh: $2 does not listen on 127.0.0.1:$1; its log:" >&2
  tail -20 "$WORK/$2.log" >&2
  return 1
}
freeport() { "$WORK/s3load" -freeport; }

# One key pair for the stores, another for the gateway's clients.
KEY=benchstorekey0000000
SECRET=benchStoreSecret00000000000000000000000
FRONT_KEY=benchfrontkey0000000
FRONT_SECRET=benchFrontSecret000000000000000000000000

# Circuit-breaker limits on every action, globally and on the bucket, far
# above anything the load reaches: every request is checked, none refused.
cat > "$WORK/circuit_breaker.json" <<'EOF'
{
  "global": {"enabled": true, "actions": {"Read:count": 100000, "Write:count": 100000,
    "Write:bytes": 1099511627776, "List:count": 100000, "Tagging:count": 100000}},
  "buckets": {"bench": {"enabled": true, "actions": {"Read:count": 100000, "Write:count": 100000,
    "Write:bytes": 1099511627776}}}
}
EOF
"$WORK/s3limit" check -circuitBreaker "$WORK/circuit_breaker.json" > /dev/null

echo "starting the servers"
MPORT="$(freeport)"
MINIO_ROOT_USER="$KEY" MINIO_ROOT_PASSWORD="$SECRET" MINIO_BROWSER=off MINIO_UPDATE=off \
  "$MINIO" server --quiet --address "127.0.0.1:$MPORT" --console-address "127.0.0.1:$(freeport)" \
  "$WORK/minio-data" > "$WORK/minio.log" 2>&1 &
MINIO_PID=$!
PIDS+=("$MINIO_PID")

VPORT="$(freeport)"
mkdir -p "$WORK/versitygw-data"
ROOT_ACCESS_KEY="$KEY" ROOT_SECRET_KEY="$SECRET" \
  "$VERSITYGW" --port "127.0.0.1:$VPORT" --quiet --keep-alive posix "$WORK/versitygw-data" > "$WORK/versitygw.log" 2>&1 &
VERSITYGW_PID=$!
PIDS+=("$VERSITYGW_PID")

EPORT="$(freeport)"
S3LIMIT_ACCESS_KEY="$KEY" S3LIMIT_SECRET_KEY="$SECRET" \
  "$WORK/s3limit" serve -ip.bind 127.0.0.1 -port "$EPORT" -dir "$WORK/embedded-data" -quiet \
  -circuitBreaker "$WORK/circuit_breaker.json" > "$WORK/embedded.log" 2>&1 &
EMBEDDED_PID=$!
PIDS+=("$EMBEDDED_PID")

GPORT="$(freeport)"
S3LIMIT_ACCESS_KEY="$FRONT_KEY" S3LIMIT_SECRET_KEY="$FRONT_SECRET" \
S3LIMIT_UPSTREAM_ACCESS_KEY="$KEY" S3LIMIT_UPSTREAM_SECRET_KEY="$SECRET" \
  "$WORK/s3limit" serve -ip.bind 127.0.0.1 -port "$GPORT" -dir "$WORK/gateway-data" -quiet \
  -circuitBreaker "$WORK/circuit_breaker.json" -upstream "http://127.0.0.1:$MPORT" > "$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")

# nginx as a reverse proxy tuned for this benchmark (the choices measured
# here on 2026-12-03, MinIO and nginx rows only, 2-4 rounds of 3 s, load
# average 7-11):
# - worker_processes 1 (NGINX_WORKERS): one wrk thread does not saturate one
#   event loop, and a second worker only competes with MinIO and wrk for the
#   two CPUs: GET 64 MiB reached 73-79 % of direct MinIO with 1 worker,
#   51-55 % with auto (2); small requests were within the noise.
# - proxy_buffering on (NGINX_BUFFERING) with 8 × 256 KiB buffers and
#   proxy_max_temp_file_size 0 (never to disk): 400 µs CPU per 4 KiB GET
#   (nginx + MinIO) against 470-565 µs with buffering off, 66 ms against
#   75-78 ms per 64 MiB GET, and higher throughput in every pair of runs.
# - upstream keepalive with HTTP/1.1 and an empty Connection header: no new
#   TCP connection to MinIO per request, as the gateway reuses its own.
# - proxy_request_buffering off: uploads stream to MinIO as they arrive (no
#   temp file, no wait for the whole body).
# - client_max_body_size 0 (no limit), no access log (the s3limit servers
#   run -quiet too), sendfile, tcp_nodelay, long keepalive_requests.
# - Host passed through unchanged ($http_host) and the URI untouched
#   (proxy_pass without a path), so the presigned signature, made for
#   nginx's host:port, verifies at MinIO.
NPORT="$(freeport)"
mkdir -p "$WORK/nginx/tmp"
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx.log warn;
events {
  worker_connections 4096;
  multi_accept on;
}
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  upstream minio {
    server 127.0.0.1:$MPORT;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$NPORT backlog=4096;
    client_max_body_size 0;
    location / {
      proxy_pass http://minio;
      proxy_http_version 1.1;
      proxy_set_header Host \$http_host;
      proxy_set_header Connection "";
      proxy_request_buffering off;
      proxy_buffering $NGINX_BUFFERING;
      proxy_max_temp_file_size 0;
      proxy_buffer_size 256k;
      proxy_buffers 8 256k;
      proxy_busy_buffers_size 512k;
      proxy_read_timeout 300s;
      proxy_send_timeout 300s;
    }
  }
}
EOF
"$NGINX" -t -q -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2> "$WORK/nginx.log" || {
  echo "compare.sh: nginx rejects the generated config:" >&2; cat "$WORK/nginx.log" >&2; exit 1; }
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >> "$WORK/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")

wait_port "$MPORT" minio
wait_port "$VPORT" versitygw
wait_port "$EPORT" embedded
wait_port "$GPORT" gateway
wait_port "$NPORT" nginx
# MinIO listens before it serves; wait until it is ready.
for _ in $(seq 1 600); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/minio/health/ready")" = 200 ]; then break; fi
  sleep 0.1
done
# nginx's workers: the master's children.
nginx_pids() { echo "$NGINX_PID" $(cat /proc/"$NGINX_PID"/task/*/children 2>/dev/null); }
NGINX_PIDS="$(nginx_pids)"

declare -A LABEL PORT AK SK OWNPIDS CHAIN
LABEL=([embedded]="s3limit, embedded store" [versitygw]="versitygw $VERSITYGW_VERSION, posix (never fsyncs)"
  [minio]="MinIO, single drive" [nginx]="nginx ($("$NGINX" -v 2>&1 | sed 's|.*nginx/||'), tuned proxy) → MinIO"
  [gateway]="s3limit \`-upstream\` → MinIO")
PORT=([embedded]=$EPORT [versitygw]=$VPORT [minio]=$MPORT [nginx]=$NPORT [gateway]=$GPORT)
AK=([embedded]=$KEY [versitygw]=$KEY [minio]=$KEY [nginx]=$KEY [gateway]=$FRONT_KEY)
SK=([embedded]=$SECRET [versitygw]=$SECRET [minio]=$SECRET [nginx]=$SECRET [gateway]=$FRONT_SECRET)
# Each row's own processes (nginx: master and workers), and the chain a
# request runs through (a proxy and MinIO behind it).
OWNPIDS=([embedded]=$EMBEDDED_PID [versitygw]=$VERSITYGW_PID [minio]=$MINIO_PID [nginx]=$NGINX_PIDS [gateway]=$GATEWAY_PID)
CHAIN=([embedded]=$EMBEDDED_PID [versitygw]=$VERSITYGW_PID [minio]=$MINIO_PID
  [nginx]="$NGINX_PIDS $MINIO_PID" [gateway]="$GATEWAY_PID $MINIO_PID")
# The stores hold the objects; the proxies reach MinIO's.
declare -A OWNS=([embedded]=1 [versitygw]=1 [minio]=1)

HZ="$(getconf CLK_TCK)"
# ticks pid...: the summed utime+stime of the processes, in clock ticks.
ticks() {
  local pid sum=0 t
  for pid in "$@"; do
    t="$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null)" || { echo "compare.sh: process $pid has ended" >&2; return 1; }
    sum=$((sum + t))
  done
  echo "$sum"
}
# kib field pid...: the summed /proc/PID/status field (VmHWM, VmRSS), in KiB.
kib() {
  local field=$1 pid sum=0 v
  shift
  for pid in "$@"; do
    v="$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status")"
    sum=$((sum + v))
  done
  echo "$sum"
}
START_TICKS=()
for s in "${SERVERS[@]}"; do START_TICKS+=("$(ticks ${OWNPIDS[$s]})"); done

# run server workload op conc duration warmup|measured: one wrk run; a
# measured one appends "workload|server|requests/s|chain µs/request|own
# µs/request" to $WORK/results. Any error response or socket error fails.
run() {
  local server=$1 wl=$2 op=$3 conc=$4 duration=$5 method=GET bodysize=0 t0 t1 o0 o1 out
  if [ "$op" = put ]; then method=PUT bodysize="$SMALL_BYTES"; fi
  local urls="$WORK/urls.$server.$wl"
  t0="$(ticks ${CHAIN[$server]})" o0="$(ticks ${OWNPIDS[$server]})"
  out="$("$WRK" -t1 -c"$conc" -d"$duration" --timeout 60s -s bench/compare.lua "$(head -1 "$urls")" -- "$urls" "$method" "$bodysize" 2>&1)" || {
    echo "compare.sh: wrk failed against $server:" >&2; echo "$out" >&2; return 1; }
  t1="$(ticks ${CHAIN[$server]})" o1="$(ticks ${OWNPIDS[$server]})"
  if echo "$out" | grep -q -e 'Non-2xx' -e 'Socket errors'; then
    echo "compare.sh: $server answered $wl with errors:" >&2; echo "$out" >&2
    echo "one request by curl:" >&2
    if [ "$method" = PUT ]; then
      head -c "$bodysize" /dev/zero | curl -s -S -T - "$(head -1 "$urls")" >&2 || true
    else
      curl -s -S "$(head -1 "$urls")" | head -c 600 >&2 || true
    fi
    echo >&2
    return 1
  fi
  if [ "$6" = warmup ]; then return 0; fi
  echo "$out" | awk -v wl="$wl" -v s="$server" -v t0="$t0" -v t1="$t1" -v o0="$o0" -v o1="$o1" -v hz="$HZ" '
    / requests in / { n = $1 }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%s|%s|%s|%.0f|%.0f\n", wl, s, rps, (n > 0) ? (t1 - t0) / hz / n * 1e6 : 0, (n > 0) ? (o1 - o0) / hz / n * 1e6 : 0 }' >> "$WORK/results"
  tail -1 "$WORK/results" | awk -F'|' '{ printf "  %-10s %10.1f requests/s  %6s µs CPU per request (%s µs the server alone)\n", $2, $3, $4, $5 }'
}

# bytes_of size: 4096, 4KiB, 64MiB, 1GiB (as bench/presign reads them) in bytes.
bytes_of() {
  awk -v s="$1" 'BEGIN {
    m = 1
    if (s ~ /GiB$/) m = 1073741824; else if (s ~ /MiB$/) m = 1048576; else if (s ~ /KiB$/) m = 1024
    sub(/[KMG]iB$/, "", s)
    if (s !~ /^[0-9]+$/) { print "compare.sh: size " s ": want 4096, 4KiB, 64MiB or 1GiB" > "/dev/stderr"; exit 1 }
    print s * m }'
}
SMALL_BYTES="$(bytes_of "$SMALL")"

# workload name op size conc objects
workload() {
  local wl=$1 op=$2 size=$3 conc=$4 objects=$5 r i n=${#SERVERS[@]} s
  echo
  echo "== $wl: $conc connections, $objects keys, $ROUNDS × $DURATION per server"
  for s in "${SERVERS[@]}"; do
    local prepare=false
    [ -n "${OWNS[$s]:-}" ] && prepare=true
    "$WORK/presign" -endpoint "http://127.0.0.1:${PORT[$s]}" -accessKey "${AK[$s]}" -secretKey "${SK[$s]}" \
      -op "$op" -size "$size" -objects "$objects" -prepare="$prepare" > "$WORK/urls.$s.$wl"
  done
  if [ "$WARMUP" != 0 ]; then
    for s in "${SERVERS[@]}"; do run "$s" "$wl" "$op" "$conc" "$WARMUP" warmup > /dev/null; done
  fi
  for r in $(seq 0 $((ROUNDS - 1))); do
    for i in $(seq 0 $((n - 1))); do
      s="${SERVERS[$(((i + r) % n))]}"
      run "$s" "$wl" "$op" "$conc" "$DURATION" measured
    done
  done
}

: > "$WORK/results"
STARTED="$(date -u '+%Y-%m-%d %H:%M UTC')"
workload "GET $SMALL" get "$SMALL" "$SMALL_CONC" "$SMALL_OBJECTS"
workload "PUT $SMALL" put "$SMALL" "$SMALL_CONC" "$PUT_OBJECTS"
workload "GET $LARGE" get "$LARGE" "$LARGE_CONC" "$LARGE_OBJECTS"

# Per-server totals, taken before anything stops.
: > "$WORK/totals"
for idx in "${!SERVERS[@]}"; do
  s="${SERVERS[$idx]}"
  echo "$s|$(( $(ticks ${OWNPIDS[$s]}) - START_TICKS[idx] ))|$(kib VmHWM ${OWNPIDS[$s]})|$(kib VmRSS ${OWNPIDS[$s]})" >> "$WORK/totals"
done

WLS=("GET $SMALL" "PUT $SMALL" "GET $LARGE")
labels() { for s in "${SERVERS[@]}"; do echo "$s|${LABEL[$s]}"; done; }
labels > "$WORK/labels"

echo
echo "## s3limit and its peers, $STARTED"
echo
echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(go version | cut -d' ' -f3), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
echo "wrk: 1 thread, $SMALL_CONC connections ($LARGE_CONC for GET $LARGE), presigned URLs; medians of $ROUNDS rounds of $DURATION; all servers and wrk share the CPUs."
awk -F'|' -v wls="$(printf '%s|' "${WLS[@]}")" -v hz="$HZ" '
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function minmax(list,   a, n, i, lo, hi) {
    n = split(list, a, " "); lo = hi = a[1] + 0
    for (i = 2; i <= n; i++) { if (a[i] + 0 < lo) lo = a[i] + 0; if (a[i] + 0 > hi) hi = a[i] + 0 }
    return fmt(lo) "–" fmt(hi)
  }
  function fmt(v) { return (v >= 100) ? commas(sprintf("%.0f", v)) : sprintf("%.1f", v) }
  function commas(s,   r) { r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } return s r }
  FILENAME ~ /labels$/ { order[++ns] = $1; label[$1] = $2; next }
  FILENAME ~ /totals$/ { cpu[$1] = $2 / hz; hwm[$1] = $3; rss[$1] = $4; next }
  { rps[$1 "|" $2] = rps[$1 "|" $2] " " $3; us[$1 "|" $2] = us[$1 "|" $2] " " $4; own[$1 "|" $2] = own[$1 "|" $2] " " $5 }
  END {
    nw = split(wls, wl, "|") - 1
    for (w = 1; w <= nw; w++) for (i = 1; i <= ns; i++) { k = wl[w] "|" order[i]; med[k] = median(rps[k]); cpuus[k] = median(us[k]); ownus[k] = median(own[k]) }
    printf "\n| requests/s | %s | %s | %s |\n|---|---:|---:|---:|\n", wl[1], wl[2], wl[3]
    for (i = 1; i <= ns; i++) {
      s = order[i]; line = "| " label[s] " |"
      for (w = 1; w <= nw; w++) {
        k = wl[w] "|" s; cell = fmt(med[k])
        if ((s == "nginx" || s == "gateway") && med[wl[w] "|minio"] > 0) cell = cell sprintf(" (%.0f %%)", 100 * med[k] / med[wl[w] "|minio"])
        line = line " " cell " |"
      }
      print line
    }
    printf "\nIn brackets: the proxy as a ratio to direct MinIO (ratio of the medians).\n"
    printf "\n| vs the best store (versitygw, MinIO) | %s | %s | %s |\n|---|---:|---:|---:|\n| s3limit, embedded store |", wl[1], wl[2], wl[3]
    for (w = 1; w <= nw; w++) {
      b = med[wl[w] "|versitygw"]; if (med[wl[w] "|minio"] > b) b = med[wl[w] "|minio"]
      if (b > 0 && med[wl[w] "|embedded"] > 0) printf " %.2f× |", med[wl[w] "|embedded"] / b; else printf " – |"
    }
    printf "\n\n| min–max of the rounds | %s | %s | %s |\n|---|---:|---:|---:|\n", wl[1], wl[2], wl[3]
    for (i = 1; i <= ns; i++) {
      s = order[i]; line = "| " label[s] " |"
      for (w = 1; w <= nw; w++) line = line " " minmax(rps[wl[w] "|" s]) " |"
      print line
    }
    printf "\n| CPU µs per request, median: the server alone / with MinIO | %s | %s | %s |\n|---|---:|---:|---:|\n", wl[1], wl[2], wl[3]
    for (i = 1; i <= ns; i++) {
      s = order[i]; line = "| " label[s] " |"
      for (w = 1; w <= nw; w++) {
        k = wl[w] "|" s; cell = commas(sprintf("%.0f", ownus[k]))
        if (s == "nginx" || s == "gateway") cell = cell " / " commas(sprintf("%.0f", cpuus[k]))
        line = line " " cell " |"
      }
      print line
    }
    printf "\n| server process | CPU s over the run | peak RSS | RSS after the run |\n|---|---:|---:|---:|\n"
    for (i = 1; i <= ns; i++) {
      s = order[i]; name = label[s]; sub(/ → MinIO$/, "", name)
      printf "| %s | %.1f | %.0f MiB | %.0f MiB |\n", name, cpu[s], hwm[s] / 1024, rss[s] / 1024
    }
  }' "$WORK/labels" "$WORK/totals" "$WORK/results"
