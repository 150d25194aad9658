package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/s3limit/s3limit/internal/limits"
)

// pretty is the canonical indented form of a compact expectation.
func pretty(t *testing.T, compactDoc string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(compactDoc), "", "  "); err != nil {
		t.Fatal(err)
	}
	return b.String() + "\n"
}

func newShell(b Backend) (*Shell, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &Shell{Backend: b, Stdout: &out, Stderr: &errOut}, &out, &errOut
}

func TestShellSeedSequenceOnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "circuit_breaker.json")
	sh, out, _ := newShell(&FileBackend{Path: path})
	for _, step := range seedSteps {
		out.Reset()
		if err := sh.Exec(context.Background(), step.cmd); err != nil {
			t.Fatalf("%s: %v", step.cmd, err)
		}
		if got, want := out.String(), pretty(t, step.want); got != want {
			t.Fatalf("%s: printed\n%s\nwant\n%s", step.cmd, got, want)
		}
		onDisk, err := limits.LoadConfigFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := compact(t, onDisk); got != step.want {
			t.Fatalf("%s: file holds %s, want %s", step.cmd, got, step.want)
		}
	}
}

func TestShellSeedSequenceOnServer(t *testing.T) {
	srv := startAdminServer(t)
	b, err := NewAdminBackend(srv.URL, adminCreds())
	if err != nil {
		t.Fatal(err)
	}
	sh, out, _ := newShell(b)
	for _, step := range seedSteps {
		out.Reset()
		if err := sh.Exec(context.Background(), step.cmd); err != nil {
			t.Fatalf("%s: %v", step.cmd, err)
		}
		if got, want := out.String(), pretty(t, step.want); got != want {
			t.Fatalf("%s: printed\n%s\nwant\n%s", step.cmd, got, want)
		}
		if got := compact(t, srv.Config()); got != step.want {
			t.Fatalf("%s: server holds %s, want %s", step.cmd, got, step.want)
		}
	}
	// The view step and nothing else left the configuration alone.
	if got, want := srv.Puts(), len(seedSteps)-1; got != want {
		t.Errorf("server got %d saves, want %d", got, want)
	}
}

func TestShellWithoutApplyChangesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cb.json")
	const start = `{"global":{"enabled":true,"actions":{"Read:count":5}}}`
	if err := os.WriteFile(path, []byte(start), 0o644); err != nil {
		t.Fatal(err)
	}
	sh, out, errOut := newShell(&FileBackend{Path: path})
	in := "s3.circuitBreaker -global -type count -actions Write -values 7\ns3.circuitBreaker -delete\n"
	if err := sh.RunInteractive(context.Background(), strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	want := "> " + pretty(t, `{"global":{"enabled":true,"actions":{"Read:count":5,"Write:count":7}}}`) +
		"> " + pretty(t, `{}`) + "> \n"
	if out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", out, want)
	}
	if n := strings.Count(errOut.String(), "not saved: add -apply"); n != 2 {
		t.Errorf("stderr has %d dry-run notes, want 2:\n%s", n, errOut)
	}
	data, _ := os.ReadFile(path)
	if string(data) != start {
		t.Errorf("file changed to %s", data)
	}
}

func TestShellApplyUnchangedDoesNotSave(t *testing.T) {
	srv := startAdminServer(t)
	b, _ := NewAdminBackend(srv.URL, adminCreds())
	sh, _, _ := newShell(b)
	for _, cmd := range []string{"s3.circuitBreaker -apply", "s3.circuitBreaker -global -disable -apply", "s3.circuitBreaker -delete -apply"} {
		if err := sh.Exec(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
	}
	if srv.Puts() != 0 {
		t.Errorf("%d saves of an unchanged configuration", srv.Puts())
	}
}

func TestShellRetriesOnConflict(t *testing.T) {
	srv := startAdminServer(t)
	b, _ := NewAdminBackend(srv.URL, adminCreds())
	sh, out, _ := newShell(b)
	sh.MaxAttempts = 3
	// Another admin saves just before each of our first two saves.
	var concurrent atomic.Int64
	srv.BeforePut(func() {
		if n := concurrent.Add(1); n <= 2 {
			cfg := srv.Config()
			if cfg.Buckets == nil {
				cfg.Buckets = map[string]*limits.Section{}
			}
			cfg.Buckets["other"] = &limits.Section{Enabled: true, Actions: map[string]int64{"List:count": n}}
			srv.SetConfig(t, cfg)
		}
	})
	if err := sh.Exec(context.Background(), "s3.circuitBreaker -global -type count -actions Read -values 9 -apply"); err != nil {
		t.Fatal(err)
	}
	want := `{"global":{"enabled":true,"actions":{"Read:count":9}},"buckets":{"other":{"enabled":true,"actions":{"List:count":2}}}}`
	if got := compact(t, srv.Config()); got != want {
		t.Errorf("server holds %s, want %s (both changes)", got, want)
	}
	if out.String() != pretty(t, want) {
		t.Errorf("printed %s", out)
	}
}

func TestShellGivesUpAfterMaxAttempts(t *testing.T) {
	srv := startAdminServer(t)
	b, _ := NewAdminBackend(srv.URL, adminCreds())
	sh, out, _ := newShell(b)
	sh.MaxAttempts = 2
	// Every save meets a change. The server's ETag is the document's hash,
	// so the other admin's change must change the document.
	var other atomic.Int64
	srv.BeforePut(func() {
		srv.SetConfig(t, &limits.Config{Buckets: map[string]*limits.Section{
			"other": {Enabled: true, Actions: map[string]int64{"List:count": other.Add(1)}}}})
	})
	err := sh.Exec(context.Background(), "s3.circuitBreaker -global -apply")
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Errorf("err = %v, want ErrConflict after 2 attempts", err)
	}
	if out.Len() != 0 || srv.Puts() != 0 {
		t.Errorf("printed %q, %d saves", out, srv.Puts())
	}
}

func TestShellBackendErrorIsReturned(t *testing.T) {
	srv := startAdminServer(t)
	b, _ := NewAdminBackend(srv.URL, readerCreds())
	sh, out, _ := newShell(b)
	err := sh.Exec(context.Background(), "s3.circuitBreaker")
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("err = %v, want AccessDenied", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q", out)
	}
}

func TestShellHelp(t *testing.T) {
	sh, out, _ := newShell(&FileBackend{Path: filepath.Join(t.TempDir(), "x.json")})
	tests := []struct{ line, want string }{
		{"help", "s3.circuitBreaker   view or change"},
		{"help s3.circuitBreaker", "-type count|MB"},
		{"s3.circuitBreaker -h", "-disable"},
		{"help exit", "leave the shell"},
		{"help help", "list the commands"},
	}
	for _, tc := range tests {
		out.Reset()
		if err := sh.Exec(context.Background(), tc.line); err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: printed %q, want it to contain %q", tc.line, out, tc.want)
		}
	}
	// Every documented example in the help runs.
	out.Reset()
	sh.Exec(context.Background(), "help s3.circuitBreaker")
	_, examples, _ := strings.Cut(out.String(), "examples:\n")
	for _, line := range strings.Split(strings.TrimSpace(examples), "\n") {
		if _, err := ParseCommand(line); err != nil {
			t.Errorf("help example %q: %v", line, err)
		}
	}
}

func TestRunScript(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		wantErr string // "" = success
		want    string // final configuration
	}{
		{"comments and blank lines", "# set up\n\n  s3.circuitBreaker -global -type count -actions Read -values 3 -apply # three\n\r\n",
			"", `{"global":{"enabled":true,"actions":{"Read:count":3}}}`},
		{"stops at the first failure", "s3.circuitBreaker -global -type count -actions Read -values 3 -apply\ns3.circuitBreaker -global -type count -actions Reed -values 1 -apply\ns3.circuitBreaker -delete -apply\n",
			`line 2: s3.circuitBreaker: unknown action "Reed"`, `{"global":{"enabled":true,"actions":{"Read:count":3}}}`},
		{"exit ends the script", "s3.circuitBreaker -global -apply\nexit\ns3.circuitBreaker -delete -apply\n",
			"", `{"global":{"enabled":true}}`},
		{"unknown command", "\nfoo\n", `line 2: unknown command "foo"`, `{}`},
		{"no final newline", "s3.circuitBreaker -buckets abc -apply", "", `{"buckets":{"abc":{"enabled":true}}}`},
		{"line too long", strings.Repeat("x", maxLineBytes+1) + "\n", "line 1: line longer than", `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cb.json")
			sh, _, _ := newShell(&FileBackend{Path: path})
			err := sh.RunScript(context.Background(), strings.NewReader(tc.script))
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			cfg, err := limits.LoadConfigFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := compact(t, cfg); got != tc.want {
				t.Errorf("file holds %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRunScriptStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sh, _, _ := newShell(&FileBackend{Path: filepath.Join(t.TempDir(), "cb.json")})
	if err := sh.RunScript(ctx, strings.NewReader("s3.circuitBreaker -global -apply\n")); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestRunInteractive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cb.json")
	sh, out, errOut := newShell(&FileBackend{Path: path})
	in := "s3.circuitBreaker -global -type count -actions Reed -values 1 -apply\n" +
		"s3.circuitBreaker -global -type count -actions Read -values 1 -apply\n" +
		"quit\n" +
		"s3.circuitBreaker -delete -apply\n"
	if err := sh.RunInteractive(context.Background(), strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	wantOut := "> > " + pretty(t, `{"global":{"enabled":true,"actions":{"Read:count":1}}}`) + "> "
	if out.String() != wantOut {
		t.Errorf("stdout\n%q\nwant\n%q", out, wantOut)
	}
	if !strings.Contains(errOut.String(), `error: s3.circuitBreaker: unknown action "Reed"`) {
		t.Errorf("stderr %q lacks the error", errOut)
	}
	if !strings.Contains(errOut.String(), "s3limit shell on "+path) {
		t.Errorf("stderr %q lacks the greeting", errOut)
	}
	cfg, _ := limits.LoadConfigFile(path)
	if got := compact(t, cfg); got != `{"global":{"enabled":true,"actions":{"Read:count":1}}}` {
		t.Errorf("file holds %s (commands after quit must not run)", got)
	}
}

func TestRunInteractiveEndsWhenCancelled(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sh, out, _ := newShell(&FileBackend{Path: filepath.Join(t.TempDir(), "cb.json")})
	if err := sh.RunInteractive(ctx, pr); err != nil {
		t.Fatal(err)
	}
	if out.String() != "> \n" {
		t.Errorf("stdout %q", out)
	}
}

func TestRunInteractiveReadError(t *testing.T) {
	sh, _, _ := newShell(&FileBackend{Path: filepath.Join(t.TempDir(), "cb.json")})
	boom := errors.New("boom")
	if err := sh.RunInteractive(context.Background(), io.MultiReader(strings.NewReader("help\n"), errReader{boom})); !errors.Is(err, boom) {
		t.Errorf("err = %v, want %v", err, boom)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestShellUsersSequenceOnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "circuit_breaker.json")
	sh, out, _ := newShell(&FileBackend{Path: path})
	for _, step := range usersSteps {
		out.Reset()
		if err := sh.Exec(context.Background(), step.cmd); err != nil {
			t.Fatalf("%s: %v", step.cmd, err)
		}
		if got, want := out.String(), pretty(t, step.want); got != want {
			t.Fatalf("%s: printed\n%s\nwant\n%s", step.cmd, got, want)
		}
		onDisk, err := limits.LoadConfigFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := compact(t, onDisk); got != step.want {
			t.Fatalf("%s: file holds %s, want %s", step.cmd, got, step.want)
		}
	}
}

func TestShellUsersSequenceOnAdminAPI(t *testing.T) {
	srv := startAdminServer(t)
	b, err := NewAdminBackend(srv.URL, adminCreds())
	if err != nil {
		t.Fatal(err)
	}
	sh, out, _ := newShell(b)
	for _, step := range usersSteps {
		out.Reset()
		if err := sh.Exec(context.Background(), step.cmd); err != nil {
			t.Fatalf("%s: %v", step.cmd, err)
		}
		if got, want := out.String(), pretty(t, step.want); got != want {
			t.Fatalf("%s: printed\n%s\nwant\n%s", step.cmd, got, want)
		}
		if got := compact(t, srv.Config()); got != step.want {
			t.Fatalf("%s: server holds %s, want %s", step.cmd, got, step.want)
		}
	}
	// The view step and nothing else left the configuration alone.
	if got, want := srv.Puts(), len(usersSteps)-1; got != want {
		t.Errorf("server got %d saves, want %d", got, want)
	}
}

// A script stops at a bad -users, -type or -shadow line with the flag in
// the message, and the line saves nothing.
func TestShellScriptStopsAtBadUsersLine(t *testing.T) {
	for _, tc := range []struct{ bad, want string }{
		{`s3.circuitBreaker -users 'a,,b' -type ops/s -actions Write -values 1 -apply`, `line 2: s3.circuitBreaker: empty user name in -users`},
		{`s3.circuitBreaker -users alice -type bytes/s -actions Write -values 1 -apply`, `line 2: s3.circuitBreaker: unknown type "bytes/s" in -type`},
		{`s3.circuitBreaker -shadow -apply`, `line 2: s3.circuitBreaker: -shadow needs -global or -buckets or -users`},
	} {
		t.Run(tc.bad, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cb.json")
			sh, _, _ := newShell(&FileBackend{Path: path})
			script := "s3.circuitBreaker -users alice -type count -actions Write -values 2 -apply\n" + tc.bad +
				"\ns3.circuitBreaker -delete -apply\n"
			err := sh.RunScript(context.Background(), strings.NewReader(script))
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a usage error starting %q", err, tc.want)
			}
			onDisk, err := limits.LoadConfigFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := compact(t, onDisk), `{"users":{"alice":{"enabled":true,"actions":{"Write:count":2}}}}`; got != want {
				t.Errorf("file holds %s, want %s (the first line only)", got, want)
			}
		})
	}
}

// The README's shell examples parse, so the documentation cannot drift
// from the command.
func TestREADMEExamplesParse(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(readme), "\n") {
		cmd, ok := strings.CutPrefix(line, "> s3.circuitBreaker")
		if !ok {
			continue
		}
		n++
		if _, err := ParseCommand(CmdCircuitBreaker + cmd); err != nil {
			t.Errorf("README example %q: %v", line, err)
		}
	}
	if n < 10 {
		t.Errorf("found %d s3.circuitBreaker examples in the README, want at least 10", n)
	}
}
