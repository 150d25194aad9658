// Package testpeer finds the programs some tests run beside s3limit:
// versitygw, an independent S3 server the gateway tests use as their
// upstream, and python3 with boto3, a second S3 client.
//
// `go test ./...` needs only Go, so a test whose peer is missing is
// skipped with a message naming ./scripts/test.sh, which installs the
// peers and runs every test. The script sets S3LIMIT_REQUIRE_PEERS=1:
// then a missing peer fails the test instead, so that a broken install
// cannot pass as a skip.
package testpeer

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireEnv is the environment variable that turns a missing peer from
// a skip into a failure when it is "1" ("" or "0": skip).
const RequireEnv = "S3LIMIT_REQUIRE_PEERS"

// VersitygwVersion is the versitygw release the tests are written
// against; ./scripts/test.sh installs the same one.
const VersitygwVersion = "v1.8.0"

// Missing ends t because a peer is not available; why says which and
// what is wrong. It skips t, or fails it when RequireEnv is "1". Like
// t.Skip, it does not return.
func Missing(t testing.TB, why string) {
	t.Helper()
	switch v := os.Getenv(RequireEnv); v {
	case "1":
		t.Fatalf("testpeer: %s (%s=1: every test peer is required)", why, RequireEnv)
	case "", "0":
		t.Skipf("testpeer: %s; ./scripts/test.sh provides the test peers and runs every test", why)
	default:
		t.Fatalf("testpeer: %s=%q: want 1 (peers required) or 0 (skip tests whose peer is missing)", RequireEnv, v)
	}
}

// Versitygw returns the path of the versitygw binary: $S3LIMIT_VERSITYGW,
// or the test script's cache ($S3LIMIT_TEST_CACHE, else $XDG_CACHE_HOME
// or ~/.cache, + /s3limit-test/bin/versitygw). A $S3LIMIT_VERSITYGW that
// names no file fails t: it was asked for explicitly.
func Versitygw(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("S3LIMIT_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("testpeer: S3LIMIT_VERSITYGW=%s: %v", p, err)
			return ""
		}
		return p
	}
	cache := os.Getenv("S3LIMIT_TEST_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				Missing(t, fmt.Sprintf("needs versitygw %s and cannot locate the test cache: %v", VersitygwVersion, err))
				return ""
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "s3limit-test")
	}
	bin := filepath.Join(cache, "bin")
	p := filepath.Join(bin, "versitygw")
	if _, err := os.Stat(p); err != nil {
		Missing(t, fmt.Sprintf("needs versitygw %s, which is not at %s (install it with "+
			"GOBIN=%s go install github.com/versity/versitygw/cmd/versitygw@%s, or set S3LIMIT_VERSITYGW)",
			VersitygwVersion, p, bin, VersitygwVersion))
		return ""
	}
	return p
}

// Python returns the path of the python3 on PATH after checking that it
// imports every module named (e.g. Python(t, "boto3")).
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		Missing(t, "needs python3, which is not on PATH")
		return ""
	}
	if len(modules) == 0 {
		return p
	}
	list := strings.Join(modules, ", ")
	out, err := exec.Command(p, "-c", "import "+list).CombinedOutput()
	if err != nil {
		lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
		Missing(t, fmt.Sprintf("needs python3 with %s, which %s cannot import: %s (install with: python3 -m pip install %s)",
			list, p, lines[len(lines)-1], strings.Join(modules, " ")))
		return ""
	}
	return p
}
