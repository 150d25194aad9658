#!/usr/bin/env bash
# `s3limit cp` against the AWS CLI (`aws s3 cp` and `aws s3 sync`), side by
# side in one run, all talking to the same local `s3limit serve` on
# loopback.
#
# Two data sets: a directory of FILES small files of FILE_KIB KiB
# (1,000 x 64 KiB = 62.5 MiB by default) and one large file.
#
# 1. Under a cap (--max-bandwidth RATE; the AWS CLI gets the same cap
#    through `aws configure set default.s3.max_bandwidth`): the directory
#    up and down, and one file of CAPPED_MIB up and down. The time the cap
#    allows is the size over RATE_BYTES; the target is within 3 % of it.
# 2. Unlimited: the directory and one file of SIZE_MIB up and down:
#    throughput and client CPU seconds per GiB (user + system, from GNU
#    time), with the same concurrency (10 requests) and part size (8 MiB).
#
# Wall times are taken around the whole command, so they include process
# start-up (a fraction of a second for the Python AWS CLI) and, for the
# directory, listing it.
#
# Settings (environment): RATE=8MB/s RATE_BYTES=8388608 (the same rate in
# bytes per second)  FILES=1000 FILE_KIB=64  CAPPED_MIB=64  SIZE_MIB=1024
# AWS=aws (the AWS CLI to compare with; v2 is preferred: on Debian,
# `apt-get install awscli` installs it as /usr/bin/aws)
set -euo pipefail
cd "$(dirname "$0")/.."

RATE="${RATE:-8MB/s}"
RATE_BYTES="${RATE_BYTES:-8388608}"
FILES="${FILES:-1000}"
FILE_KIB="${FILE_KIB:-64}"
CAPPED_MIB="${CAPPED_MIB:-64}"
SIZE_MIB="${SIZE_MIB:-1024}"
if [ -z "${AWS:-}" ]; then
  # Prefer an AWS CLI v2 wherever it is on the PATH.
  for a in $(which -a aws 2>/dev/null) /usr/bin/aws; do
    if "$a" --version 2>&1 | grep -q '^aws-cli/2'; then AWS="$a"; break; fi
  done
  AWS="${AWS:-$(command -v aws || true)}"
fi
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "needs GNU time at $TIME" >&2; exit 1; }
"$AWS" --version >/dev/null 2>&1 || { echo "needs the AWS CLI (set AWS=...)" >&2; exit 1; }
AWS_VERSION="$("$AWS" --version 2>&1 | cut -d' ' -f1)"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building s3limit; comparing with $AWS_VERSION ($AWS)"
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
export AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials" AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
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
AWSS3=("$AWS" --endpoint-url "$ENDPOINT" s3)
Q=(--no-progress --only-show-errors)

AWS_CONFIG_FILE="$WORK/aws-config-unlimited" "${AWSS3[@]}" mb s3://bench >/dev/null

echo "creating test data: $FILES files of $FILE_KIB KiB, files of $CAPPED_MIB and $SIZE_MIB MiB"
mkdir -p "$WORK/src/small"
python3 - "$WORK/src/small" "$FILES" "$FILE_KIB" <<'PY'
import os, sys
d, n, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    with open(os.path.join(d, "f%04d.bin" % i), "wb") as f:
        f.write(os.urandom(kib * 1024))
PY
head -c "$((CAPPED_MIB << 20))" /dev/urandom > "$WORK/src/capped.bin"
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$WORK/src/big.bin"

# run NAME CMD... : runs CMD, records wall seconds and CPU seconds (user +
# system of the command and its children).
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
  printf '  %-26s %8.3f s wall  %6.2f s CPU\n' "$name" "${WALL[$name]}" "${CPU[$name]}"
}
fresh() { rm -rf "$WORK/dl"; mkdir -p "$WORK/dl"; }
check_file() { cmp -s "$1" "$2" || { echo "DOWNLOAD DIFFERS: $1 $2" >&2; exit 1; }; }
check_dir() { diff -r "$1" "$2" >/dev/null || { echo "DOWNLOAD DIFFERS: $1 $2" >&2; exit 1; }; }

# cases MODE: the three clients on the directory, two on the file.
cases() {
  local mode="$1" file="$2" extra=()
  [ "$mode" = capped ] && extra=(--max-bandwidth "$RATE")
  export AWS_CONFIG_FILE="$WORK/aws-config-$mode"
  run "s3limit cp dir up"    "${S3LIMIT[@]}" "${extra[@]}" --recursive "$WORK/src/small" "s3://bench/$mode/s3limit/"
  run "aws cp dir up"        "${AWSS3[@]}" cp "${Q[@]}" --recursive "$WORK/src/small" "s3://bench/$mode/awscp/"
  run "aws sync dir up"      "${AWSS3[@]}" sync "${Q[@]}" "$WORK/src/small" "s3://bench/$mode/awssync/"
  fresh
  run "s3limit cp dir down"  "${S3LIMIT[@]}" "${extra[@]}" --recursive "s3://bench/$mode/s3limit/" "$WORK/dl/s3limit"
  run "aws cp dir down"      "${AWSS3[@]}" cp "${Q[@]}" --recursive "s3://bench/$mode/awscp/" "$WORK/dl/awscp"
  run "aws sync dir down"    "${AWSS3[@]}" sync "${Q[@]}" "s3://bench/$mode/awssync/" "$WORK/dl/awssync"
  for d in s3limit awscp awssync; do check_dir "$WORK/src/small" "$WORK/dl/$d"; done
  run "s3limit cp file up"   "${S3LIMIT[@]}" "${extra[@]}" "$WORK/src/$file" "s3://bench/$mode/s3limit-$file"
  run "aws cp file up"       "${AWSS3[@]}" cp "${Q[@]}" "$WORK/src/$file" "s3://bench/$mode/awscp-$file"
  fresh
  run "s3limit cp file down" "${S3LIMIT[@]}" "${extra[@]}" "s3://bench/$mode/s3limit-$file" "$WORK/dl/s3limit-$file"
  check_file "$WORK/src/$file" "$WORK/dl/s3limit-$file"
  rm -f "$WORK/dl/s3limit-$file"
  run "aws cp file down"     "${AWSS3[@]}" cp "${Q[@]}" "s3://bench/$mode/awscp-$file" "$WORK/dl/awscp-$file"
  check_file "$WORK/src/$file" "$WORK/dl/awscp-$file"
  for n in "s3limit cp" "aws cp" "aws sync"; do
    for w in "dir up" "dir down" "file up" "file down"; do
      [ -n "${WALL[$n $w]:-}" ] || continue
      WALL["$mode $n $w"]="${WALL[$n $w]}"; CPU["$mode $n $w"]="${CPU[$n $w]}"
      unset "WALL[$n $w]" "CPU[$n $w]"
    done
  done
}

echo
echo "capped at $RATE"
cases capped capped.bin
echo
echo "unlimited"
cases unlimited big.bin

dir_mib=$(awk -v n="$FILES" -v k="$FILE_KIB" 'BEGIN{printf "%.4f", n * k / 1024}')
target() { awk -v m="$1" -v r="$RATE_BYTES" 'BEGIN{printf "%.3f", m * 1048576 / r}'; }
cell() { # wall target
  [ -n "$1" ] || { echo "-"; return; }
  awk -v w="$1" -v t="$2" 'BEGIN{printf "%.2f s (%+.1f%%)", w, (w/t-1)*100}'
}

echo
echo "== capped at $RATE ($RATE_BYTES B/s); $AWS_VERSION"
printf '%-34s %10s %18s %18s %18s\n' "case" "target" "s3limit cp" "aws s3 cp" "aws s3 sync"
for w in "dir up" "dir down" "file up" "file down"; do
  case "$w" in dir*) mib="$dir_mib"; label="$FILES x $FILE_KIB KiB ${w#dir }";; *) mib="$CAPPED_MIB"; label="1 x $CAPPED_MIB MiB ${w#file }";; esac
  t=$(target "$mib")
  printf '%-34s %9ss %18s %18s %18s\n' "$label" "$t" \
    "$(cell "${WALL[capped s3limit cp $w]:-}" "$t")" "$(cell "${WALL[capped aws cp $w]:-}" "$t")" "$(cell "${WALL[capped aws sync $w]:-}" "$t")"
done

echo
echo "== unlimited: MiB/s and client CPU s/GiB; $AWS_VERSION"
printf '%-34s %22s %22s %22s\n' "case" "s3limit cp" "aws s3 cp" "aws s3 sync"
ucell() { # wall cpu mib
  [ -n "$1" ] || { echo "-"; return; }
  awk -v w="$1" -v c="$2" -v m="$3" 'BEGIN{printf "%.1f MiB/s, %.2f s/GiB", m/w, c/(m/1024)}'
}
for w in "dir up" "dir down" "file up" "file down"; do
  case "$w" in dir*) mib="$dir_mib"; label="$FILES x $FILE_KIB KiB ${w#dir }";; *) mib="$SIZE_MIB"; label="1 x $SIZE_MIB MiB ${w#file }";; esac
  printf '%-34s %22s %22s %22s\n' "$label" \
    "$(ucell "${WALL[unlimited s3limit cp $w]:-}" "${CPU[unlimited s3limit cp $w]:-}" "$mib")" \
    "$(ucell "${WALL[unlimited aws cp $w]:-}" "${CPU[unlimited aws cp $w]:-}" "$mib")" \
    "$(ucell "${WALL[unlimited aws sync $w]:-}" "${CPU[unlimited aws sync $w]:-}" "$mib")"
done
