#!/usr/bin/env bash
# `s3limit cp` against the AWS CLI (`aws s3 cp`), side by side in one run,
# both talking to the same local `s3limit serve` on loopback.
#
# 1. Accuracy under a cap: 40 MiB at --max-bandwidth 4MB/s (4 MiB/s, the
#    AWS CLI grammar) must take 10 s, within 3%. Uploads and downloads of
#    one 40 MiB file and of 8 files of 5 MiB (one recursive copy). The AWS
#    CLI gets the same cap through `aws configure set default.s3.max_bandwidth`.
# 2. Unlimited: throughput and client CPU seconds per GiB (user + system,
#    from /usr/bin/time) for SIZE_MIB of one file, up and down, with the
#    same concurrency (10 requests) and part size (8 MiB) on both sides.
#
# Wall times are taken around the whole command, so they include process
# start-up (a fraction of a second for the Python AWS CLI).
#
# Settings (environment): RATE=4MB/s RATE_BYTES=4194304 (the same rate in
# bytes per second, for the target time)  CAPPED_MIB=40  SIZE_MIB=1024  AWS=aws
set -euo pipefail
cd "$(dirname "$0")/.."

RATE="${RATE:-4MB/s}"
RATE_BYTES="${RATE_BYTES:-4194304}"
CAPPED_MIB="${CAPPED_MIB:-40}"
SIZE_MIB="${SIZE_MIB:-1024}"
AWS="${AWS:-$(command -v aws || echo /root/.pyenv/shims/aws)}"
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "needs GNU time at $TIME" >&2; exit 1; }
"$AWS" --version >/dev/null 2>&1 || { echo "needs the AWS CLI (set AWS=...)" >&2; exit 1; }

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building s3limit"
go build -o "$WORK/s3limit" ./cmd/s3limit

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on 127.0.0.1:$1" >&2; return 1
}

KEY=benchcpaccesskey0000
SECRET=benchCpSecretKey000000000000000000000000
PORT="$(free_port)"
ENDPOINT="http://127.0.0.1:$PORT"
S3LIMIT_ACCESS_KEY="$KEY" S3LIMIT_SECRET_KEY="$SECRET" \
  "$WORK/s3limit" serve -ip.bind 127.0.0.1 -port "$PORT" -dir "$WORK/data" -quiet \
  -concurrentUploadLimitMB 1024 > "$WORK/serve.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT"

# Both clients read credentials and region from the environment, and the
# AWS CLI its s3 settings from a private config file.
export AWS_ACCESS_KEY_ID="$KEY" AWS_SECRET_ACCESS_KEY="$SECRET" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials" AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_CA_BUNDLE AWS_ENDPOINT_URL || true
aws_config() { # file [max_bandwidth]
  export AWS_CONFIG_FILE="$1"
  : > "$1"
  "$AWS" configure set default.region us-east-1
  "$AWS" configure set default.s3.max_concurrent_requests 10
  "$AWS" configure set default.s3.multipart_threshold 8MB
  "$AWS" configure set default.s3.multipart_chunksize 8MB
  # Compute request checksums only where S3 requires them, as s3limit
  # does, so both sides read each body the same number of times.
  "$AWS" configure set default.request_checksum_calculation when_required
  if [ -n "${2:-}" ]; then "$AWS" configure set default.s3.max_bandwidth "$2"; fi
}
aws_config "$WORK/aws-config-capped" "$RATE"
aws_config "$WORK/aws-config-unlimited"

S3LIMIT=("$WORK/s3limit" cp --endpoint-url "$ENDPOINT" --no-progress --max-concurrent-requests 10
  --multipart-threshold 8MB --multipart-chunksize 8MB)
AWSCP=("$AWS" --endpoint-url "$ENDPOINT" s3 cp --no-progress --only-show-errors)

AWS_CONFIG_FILE="$WORK/aws-config-unlimited" "$AWS" --endpoint-url "$ENDPOINT" s3 mb s3://bench >/dev/null

echo "creating test data"
mkdir -p "$WORK/src/eight" "$WORK/dl"
head -c "$((CAPPED_MIB << 20))" /dev/urandom > "$WORK/src/one.bin"
for i in 1 2 3 4 5 6 7 8; do
  head -c "$((CAPPED_MIB << 20 >> 3))" /dev/urandom > "$WORK/src/eight/part$i.bin"
done
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$WORK/src/big.bin"

# run NAME CMD... : runs CMD, records wall seconds (ns clock) and CPU
# seconds (user + system of the command and its children).
declare -A WALL CPU
run() {
  local name="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  if ! "$TIME" -f "%U %S" -o "$WORK/time" "$@" > /dev/null 2> "$WORK/err"; then
    echo "FAILED: $*" >&2; cat "$WORK/err" >&2; exit 1
  fi
  t1=$(date +%s.%N)
  WALL[$name]=$(echo "$t1 $t0" | awk '{printf "%.3f", $1 - $2}')
  CPU[$name]=$(tail -1 "$WORK/time" | awk '{printf "%.2f", $1 + $2}')
  printf '  %-28s %8.3f s wall  %6.2f s CPU\n' "$name" "${WALL[$name]}" "${CPU[$name]}"
}
clean_dl() { rm -rf "$WORK/dl"; mkdir -p "$WORK/dl"; }
check_same() { cmp -s "$1" "$2" || { echo "DOWNLOAD DIFFERS: $1 $2" >&2; exit 1; }; }

echo
echo "capped at $RATE: $CAPPED_MIB MiB each"
export AWS_CONFIG_FILE="$WORK/aws-config-capped"
run "s3limit up 1"   "${S3LIMIT[@]}" --max-bandwidth "$RATE" "$WORK/src/one.bin" s3://bench/s3limit/one.bin
run "aws up 1"       "${AWSCP[@]}" "$WORK/src/one.bin" s3://bench/aws/one.bin
run "s3limit up 8"   "${S3LIMIT[@]}" --max-bandwidth "$RATE" --recursive "$WORK/src/eight" s3://bench/s3limit/eight/
run "aws up 8"       "${AWSCP[@]}" --recursive "$WORK/src/eight" s3://bench/aws/eight/
clean_dl
run "s3limit down 1" "${S3LIMIT[@]}" --max-bandwidth "$RATE" s3://bench/s3limit/one.bin "$WORK/dl/s3limit-one.bin"
run "aws down 1"     "${AWSCP[@]}" s3://bench/aws/one.bin "$WORK/dl/aws-one.bin"
check_same "$WORK/src/one.bin" "$WORK/dl/s3limit-one.bin"
check_same "$WORK/src/one.bin" "$WORK/dl/aws-one.bin"
run "s3limit down 8" "${S3LIMIT[@]}" --max-bandwidth "$RATE" --recursive s3://bench/s3limit/eight/ "$WORK/dl/s3limit-eight"
run "aws down 8"     "${AWSCP[@]}" --recursive s3://bench/aws/eight/ "$WORK/dl/aws-eight"
diff -r "$WORK/src/eight" "$WORK/dl/s3limit-eight" >/dev/null && diff -r "$WORK/src/eight" "$WORK/dl/aws-eight" >/dev/null \
  || { echo "RECURSIVE DOWNLOAD DIFFERS" >&2; exit 1; }

echo
echo "unlimited: one file of $SIZE_MIB MiB, 10 concurrent requests, 8 MiB parts"
export AWS_CONFIG_FILE="$WORK/aws-config-unlimited"
clean_dl
run "s3limit up big"   "${S3LIMIT[@]}" "$WORK/src/big.bin" s3://bench/s3limit/big.bin
run "aws up big"       "${AWSCP[@]}" "$WORK/src/big.bin" s3://bench/aws/big.bin
run "s3limit down big" "${S3LIMIT[@]}" s3://bench/s3limit/big.bin "$WORK/dl/s3limit-big.bin"
check_same "$WORK/src/big.bin" "$WORK/dl/s3limit-big.bin"
rm -f "$WORK/dl/s3limit-big.bin"
run "aws down big"     "${AWSCP[@]}" s3://bench/aws/big.bin "$WORK/dl/aws-big.bin"
check_same "$WORK/src/big.bin" "$WORK/dl/aws-big.bin"

# Tables.
target=$(awk -v m="$CAPPED_MIB" -v r="$RATE_BYTES" 'BEGIN{printf "%.3f", m * 1048576 / r}')

echo
echo "== capped at $RATE ($RATE_BYTES B/s): $CAPPED_MIB MiB, target $target s (within 3%)"
printf '%-22s %16s %16s %12s\n' "case" "s3limit cp" "aws s3 cp" "aws/s3limit"
for c in "up 1" "up 8" "down 1" "down 8"; do
  s="${WALL[s3limit $c]}"; a="${WALL[aws $c]}"
  printf '%-22s %16s %16s %12s\n' "$(echo "$c" | sed 's/ 1$/ 1 x '"$CAPPED_MIB"' MiB/; s/ 8$/ 8 x '"$((CAPPED_MIB / 8))"' MiB/')" \
    "$(awk -v w="$s" -v t="$target" 'BEGIN{printf "%.2f s (%+.1f%%)", w, (w/t-1)*100}')" \
    "$(awk -v w="$a" -v t="$target" 'BEGIN{printf "%.2f s (%+.1f%%)", w, (w/t-1)*100}')" \
    "$(awk -v a="$a" -v s="$s" 'BEGIN{printf "%.2fx", a/s}')"
done

echo
echo "== unlimited: $SIZE_MIB MiB, 10 concurrent requests, 8 MiB parts"
printf '%-10s %14s %14s %8s %18s %18s %8s\n' "case" "s3limit MiB/s" "aws MiB/s" "ratio" "s3limit CPU s/GiB" "aws CPU s/GiB" "ratio"
for c in up down; do
  sw="${WALL[s3limit $c big]}"; aw="${WALL[aws $c big]}"; sc="${CPU[s3limit $c big]}"; ac="${CPU[aws $c big]}"
  awk -v c="$c" -v m="$SIZE_MIB" -v sw="$sw" -v aw="$aw" -v sc="$sc" -v ac="$ac" 'BEGIN{
    g = m / 1024
    printf "%-10s %14.1f %14.1f %7.2fx %18.2f %18.2f %7.2fx\n", c, m/sw, m/aw, (m/sw)/(m/aw), sc/g, ac/g, (ac/g)/(sc/g)
  }'
done
echo "(ratio: s3limit over aws for throughput, aws over s3limit for CPU)"
