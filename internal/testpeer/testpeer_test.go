package testpeer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records a skip or a failure instead of
// ending the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

// outcome describes what happened to r: "skip: ...", "fail: ..." or "ran".
func (r *recorder) outcome() string {
	switch {
	case r.skipped != "" && r.failed != "":
		return "both skipped and failed"
	case r.skipped != "":
		return "skip: " + r.skipped
	case r.failed != "":
		return "fail: " + r.failed
	}
	return "ran"
}

func TestMissing(t *testing.T) {
	tests := []struct {
		env  string
		want []string // prefix of the outcome, then strings it contains
	}{
		{"", []string{"skip: ", "testpeer: needs X", "./scripts/test.sh"}},
		{"0", []string{"skip: ", "needs X", "./scripts/test.sh"}},
		{"1", []string{"fail: ", "needs X", RequireEnv + "=1"}},
		{"yes", []string{"fail: ", RequireEnv + `="yes"`, "want 1"}},
	}
	for _, tc := range tests {
		t.Run("env="+tc.env, func(t *testing.T) {
			t.Setenv(RequireEnv, tc.env)
			r := &recorder{TB: t}
			Missing(r, "needs X")
			got := r.outcome()
			if !strings.HasPrefix(got, tc.want[0]) {
				t.Fatalf("outcome %q, want %q...", got, tc.want[0])
			}
			for _, s := range tc.want[1:] {
				if !strings.Contains(got, s) {
					t.Errorf("outcome %q lacks %q", got, s)
				}
			}
		})
	}
}

// writeExecutable writes a shell script to dir/name.
func writeExecutable(t *testing.T, dir, name, script string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVersitygw(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("S3LIMIT_VERSITYGW", "")
	t.Setenv("S3LIMIT_TEST_CACHE", cache)
	want := filepath.Join(cache, "bin", "versitygw")

	t.Setenv(RequireEnv, "")
	r := &recorder{TB: t}
	if p := Versitygw(r); p != "" || !strings.HasPrefix(r.outcome(), "skip: ") ||
		!strings.Contains(r.skipped, want) || !strings.Contains(r.skipped, VersitygwVersion) {
		t.Errorf("missing from the cache: %q, %s", p, r.outcome())
	}
	t.Setenv(RequireEnv, "1")
	r = &recorder{TB: t}
	if p := Versitygw(r); p != "" || !strings.HasPrefix(r.outcome(), "fail: ") || !strings.Contains(r.failed, want) {
		t.Errorf("missing from the cache, peers required: %q, %s", p, r.outcome())
	}

	if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
		t.Fatal(err)
	}
	writeExecutable(t, filepath.Dir(want), "versitygw", "exit 0\n")
	r = &recorder{TB: t}
	if p := Versitygw(r); p != want || r.outcome() != "ran" {
		t.Errorf("in the cache: %q, %s", p, r.outcome())
	}

	// An explicit path that names nothing fails even when peers are optional.
	t.Setenv(RequireEnv, "")
	t.Setenv("S3LIMIT_VERSITYGW", filepath.Join(cache, "nothing-here"))
	r = &recorder{TB: t}
	if p := Versitygw(r); p != "" || !strings.HasPrefix(r.outcome(), "fail: testpeer: S3LIMIT_VERSITYGW=") {
		t.Errorf("bad S3LIMIT_VERSITYGW: %q, %s", p, r.outcome())
	}
}

func TestPython(t *testing.T) {
	t.Setenv(RequireEnv, "")
	dir := t.TempDir()
	tests := []struct {
		name   string
		script string // python3 on PATH; "" = none
		want   string // outcome prefix
		say    string // and what it says
	}{
		{"not on PATH", "", "skip: ", "python3, which is not on PATH"},
		{"module missing", "echo 'Traceback (most recent call last):' >&2\necho \"ModuleNotFoundError: No module named 'boto3'\" >&2\nexit 1\n",
			"skip: ", "ModuleNotFoundError: No module named 'boto3' (install with: python3 -m pip install boto3)"},
		{"module present", "test \"$1 $2\" = '-c import boto3' || exit 1\n", "ran", ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join(dir, fmt.Sprint(i))
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			var python string
			if tc.script != "" {
				python = writeExecutable(t, bin, "python3", tc.script)
			}
			t.Setenv("PATH", bin)
			r := &recorder{TB: t}
			p := Python(r, "boto3")
			if got := r.outcome(); !strings.HasPrefix(got, tc.want) || !strings.Contains(got, tc.say) {
				t.Errorf("outcome %q, want %q... saying %q", got, tc.want, tc.say)
			}
			if tc.want == "ran" && p != python {
				t.Errorf("path %q, want %q", p, python)
			}
		})
	}
}
