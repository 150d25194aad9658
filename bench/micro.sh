#!/usr/bin/env bash
# Runs the Go micro-benchmarks behind the README's performance table:
# bandwidth buckets and streams, circuit-breaker admission, the request
# pipeline (classify + SigV4 + limits), the store and the transfer manager.
# BENCHTIME (default 1s) and COUNT (default 3) adjust the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bt="${BENCHTIME:-1s}"
n="${COUNT:-3}"
run() { go test -run '^$' -bench "$2" -benchtime "$bt" -count "$n" -benchmem "$1" | grep -E '^(Benchmark|ok|FAIL)'; }
run ./bandwidth/ 'Bucket|LimitedStreamRead'
run ./internal/limits/ 'AdmitRelease|AdmitRefused|Middleware|Load100kBuckets'
run ./internal/s3api/ 'ClassifyAuthenticate'
run ./internal/server/ 'Pipeline|Gateway|LogBuffer'
run ./internal/metrics/ 'ObserveRequest'
run ./internal/store/ 'PutGetObject4KiB|PutObject4KiBParallel|GetObject4KiBParallel'
run ./transfer/ 'GovernorAcquireRelease|MeteredBodyRead'
