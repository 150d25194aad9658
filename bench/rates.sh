#!/usr/bin/env bash
# Measures the accuracy of the ops/s and bytes/s limits on loopback through
# the AWS SDK: 4 concurrent 5 MiB downloads under one bucket's 4 MiB/s
# (ideal 5.0 s, ratio 1.00) and 150 requests/s offered to Read:ops/s 50 for
# 10 s (ideal 550 admitted, ratio 1.00).
set -euo pipefail
cd "$(dirname "$0")/.."
unset AWS_CA_BUNDLE
go test -run '^$' -bench 'RatesAccuracy' -benchtime "${COUNT:-1}x" ./internal/server/ | grep -E '^(Benchmark|ok|FAIL)'
