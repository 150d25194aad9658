package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	goodIDs := file("s3.json", `{"identities": [{"name": "ops", "credentials": [{"accessKey": "AKOPS", "secretKey": "s"}], "actions": ["Admin"]}]}`)
	typoIDs := file("typo.json", `{"identities": [{"name": "ops", "credentials": [{"accessKey": "AKOPS", "secretKey": "s"}], "action": ["Admin"]}]}`)
	goodCB := file("cb.json", startDoc)
	badCB := file("bad-cb.json", `{"global":{"enabled":true,"actions":{"Read:count":-1}}}`)
	emptyCB := file("empty-cb.json", "  \n")
	missing := filepath.Join(dir, "missing.json")

	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings
		stderr     []string // substrings; none = stderr must be empty
		stdoutNone bool
	}{
		{"both valid", []string{"-config", goodIDs, "-circuitBreaker", goodCB}, ExitOK,
			[]string{goodIDs + ": ok (1 identity)\n", goodCB + ": ok (global section: yes, 1 bucket section, 0 user sections)\n"}, nil, false},
		{"identities only", []string{"-config", goodIDs}, ExitOK, []string{goodIDs + ": ok"}, nil, false},
		{"unknown identities field", []string{"-config", typoIDs}, ExitUsage, nil,
			[]string{"s3limit check: " + typoIDs + `: s3api: identities[0].action: unknown field; did you mean "actions"?`}, true},
		{"invalid limit", []string{"-circuitBreaker", badCB}, ExitUsage, nil,
			[]string{"s3limit check: " + badCB + `: limits: invalid circuit breaker config: global.actions."Read:count"`}, true},
		{"empty circuit breaker", []string{"-circuitBreaker", emptyCB}, ExitUsage, nil, []string{emptyCB, "file is empty"}, true},
		{"missing file", []string{"-circuitBreaker", missing}, ExitUsage, nil, []string{missing, "no such file"}, true},
		{"one good one bad", []string{"-config", goodIDs, "-circuitBreaker", badCB}, ExitUsage,
			[]string{goodIDs + ": ok"}, []string{badCB}, false},
		{"nothing to check", nil, ExitUsage, nil, []string{"name a file to check"}, true},
		{"stray argument", []string{goodCB}, ExitUsage, nil, []string{"unexpected argument"}, true},
		{"unknown flag", []string{"-nope"}, ExitUsage, nil, []string{"-nope"}, true},
		{"help", []string{"-h"}, ExitOK, nil, []string{"usage: s3limit check", "-circuitBreaker"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", nil, append([]string{"check"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout %q lacks %q", stdout, want)
				}
			}
			if tc.stdoutNone && stdout != "" {
				t.Errorf("stdout %q, want none", stdout)
			}
			if len(tc.stderr) == 0 && stderr != "" {
				t.Errorf("stderr %q, want none", stderr)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q lacks %q", stderr, want)
				}
			}
		})
	}
}

func TestServeRefusesInvalidFilesOnFirstStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "circuit_breaker.json"), []byte(`{"global":{"enabled":true,"actions":{"Raed:count":1}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "", map[string]string{"S3LIMIT_ACCESS_KEY": "AK", "S3LIMIT_SECRET_KEY": "SK"},
		"serve", "-dir", dir, "-port", "0", "-quiet")
	if code != ExitUsage || !strings.Contains(stderr, filepath.Join(dir, "circuit_breaker.json")) || !strings.Contains(stderr, `global.actions."Raed:count"`) {
		t.Errorf("exit %d, stderr %q; want 2 naming the file and the field", code, stderr)
	}
	ids := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(ids, []byte(`{"identities": [{"name": "ops", "credentials": [{"accessKey": "AKOPS", "secretKey": "s"}], "Actions": ["Admin"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "", nil, "serve", "-dir", t.TempDir(), "-port", "0", "-quiet", "-config", ids)
	if code != ExitUsage || !strings.Contains(stderr, `identities[0].Actions: unknown field; did you mean "actions"?`) {
		t.Errorf("exit %d, stderr %q; want 2 naming the field", code, stderr)
	}
}
