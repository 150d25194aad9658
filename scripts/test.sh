#!/usr/bin/env bash
# Runs every check and test of s3limit. Needs Go and python3 with boto3;
# versitygw is installed here, pinned, into a cache outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

export CACHE_DIR="${S3LIMIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/s3limit-test}"
mkdir -p "$CACHE_DIR/bin"
# Tests build their own clients; a CA bundle from the environment would
# make the AWS config loader refuse custom HTTP clients.
unset AWS_CA_BUNDLE

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
# Pinned; built once into the cache.
STATICCHECK_VERSION=v0.8.2
if [ ! -x "$CACHE_DIR/bin/staticcheck" ] || [ "$(cat "$CACHE_DIR/bin/staticcheck.version" 2>/dev/null)" != "$STATICCHECK_VERSION" ]; then
  echo "installing staticcheck $STATICCHECK_VERSION into $CACHE_DIR/bin"
  GOBIN="$CACHE_DIR/bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
  echo "$STATICCHECK_VERSION" > "$CACHE_DIR/bin/staticcheck.version"
fi
"$CACHE_DIR/bin/staticcheck" ./...

step "alert rules (promtool)"
# promtool comes from Debian's prometheus package. Only the binary is taken
# out of the package (installing it would also set up a Prometheus server)
# and kept in the cache.
promtool=$(command -v promtool || true)
if [ -z "$promtool" ] && [ -x "$CACHE_DIR/bin/promtool" ]; then
  promtool="$CACHE_DIR/bin/promtool"
fi
if [ -z "$promtool" ] && command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
  echo "installing promtool from Debian's prometheus package into $CACHE_DIR/bin"
  pkgdir=$(mktemp -d)
  chmod 0755 "$pkgdir" # apt's download user writes here
  if ! (cd "$pkgdir" && apt-get download -q prometheus >/dev/null 2>&1); then
    # A fresh machine may have no package lists yet.
    if [ "$(id -u)" = 0 ]; then apt-get update -qq; fi
    (cd "$pkgdir" && apt-get download -q prometheus)
  fi
  dpkg-deb -x "$pkgdir"/prometheus_*.deb "$pkgdir/root"
  install -m 0755 "$pkgdir/root/usr/bin/promtool" "$CACHE_DIR/bin/promtool"
  rm -rf "$pkgdir"
  promtool="$CACHE_DIR/bin/promtool"
fi
if [ -n "$promtool" ]; then
  "$promtool" --version 2>&1 | sed -n 1p
  "$promtool" check rules deploy/prometheus/s3limit-rules.yml
  (cd deploy/prometheus && "$promtool" test rules s3limit-rules.test.yml)
else
  echo "no promtool and no apt-get to fetch it: the rules are checked by go test ./dashboards only"
fi

step "test peers"
# Tests skip when a peer is missing, so that `go test ./...` needs only Go;
# here every peer is required and a missing one fails its tests.
export S3LIMIT_REQUIRE_PEERS=1
# versitygw is the independent S3 server the gateway tests run against.
# Built once (about two minutes) and cached with its version; later runs skip it.
VERSITYGW_VERSION=$(sed -n 's/^const VersitygwVersion = "\(.*\)"$/\1/p' internal/testpeer/testpeer.go)
if [ ! -x "$CACHE_DIR/bin/versitygw" ] || [ "$(cat "$CACHE_DIR/bin/versitygw.version" 2>/dev/null)" != "$VERSITYGW_VERSION" ]; then
  echo "installing versitygw $VERSITYGW_VERSION into $CACHE_DIR/bin"
  GOBIN="$CACHE_DIR/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  echo "$VERSITYGW_VERSION" > "$CACHE_DIR/bin/versitygw.version"
fi
export S3LIMIT_VERSITYGW="$CACHE_DIR/bin/versitygw"
echo "versitygw $VERSITYGW_VERSION: $S3LIMIT_VERSITYGW"
# redis-server is the shared store of the fleet tests (Debian's package,
# pinned where the release has it); each test starts its own on a free
# loopback port and stops it by PID.
REDIS_PACKAGE_VERSION=5:7.0.15-1~deb12u10
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server $REDIS_PACKAGE_VERSION"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "redis-server=$REDIS_PACKAGE_VERSION" ||
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
fi
echo "$(redis-server --version | cut -d' ' -f1-3): $(command -v redis-server)"
# python3 with boto3, a second S3 client for the gateway tests, comes from the machine.
if ! boto3_version=$(python3 -c 'import boto3; print(boto3.__version__)' 2>/dev/null); then
  echo "the tests need python3 with boto3 (python3 -m pip install boto3)"; exit 1
fi
echo "boto3 $boto3_version: $(command -v python3)"

step "go test"
go test -count=1 -timeout 20m ./...

step "go test -race"
go test -count=1 -race -timeout 15m ./...

step "fuzz (short runs)"
fuzz() { # package target
  local out
  if out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZTIME:-5s}" "$1" 2>&1); then
    echo "$out" | tail -2; return 0
  fi
  echo "$out"
  # A found bug is written to testdata and fails the run. The fuzzing engine
  # itself sometimes ends a run with "context deadline exceeded" when the time
  # is up while it minimizes a new interesting input; that run is repeated once.
  if ! grep -q 'Failing input written to' <<<"$out" && grep -q 'context deadline exceeded' <<<"$out"; then
    echo "fuzz engine timed out without a failing input; repeating $2 once"
    go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZTIME:-5s}" "$1"
    return
  fi
  return 1
}
while read -r pkg target; do
  [ -n "$pkg" ] && fuzz "$pkg" "$target"
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
  d=$(dirname "$f"); grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | sed "s|^|$d |"; done)

step "all tests passed"
