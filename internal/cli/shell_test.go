package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// runCLI runs Main with the given stdin and environment.
func runCLI(t *testing.T, stdin string, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	}
	code = Main(context.Background(), args, e)
	return code, out.String(), errOut.String()
}

const startDoc = `{"global":{"enabled":true,"actions":{"Read:count":5}},"buckets":{"photos":{"enabled":false,"actions":{"Write:bytes":1048576}}}}`

// configFile returns a circuit-breaker file holding startDoc.
func configFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "circuit_breaker.json")
	if err := os.WriteFile(path, []byte(startDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var seedCommands = []string{
	"s3.circuitBreaker -global -type count -actions Read,Write -values 500,200 -apply",
	"s3.circuitBreaker -global -type MB -actions Write -values 1024 -apply",
	"s3.circuitBreaker -global -type count -actions Read,Write,List,Tagging,Admin -values 100 -apply",
	"s3.circuitBreaker -buckets mybucket,otherbucket -type count -actions Read,Write -values 200,100 -apply",
	"s3.circuitBreaker -buckets critical-bucket -type count -actions Read -values 50 -apply",
	"s3.circuitBreaker -buckets critical-bucket -type count -actions Write -values 10 -apply",
	"s3.circuitBreaker                                   # view the current configuration",
	"s3.circuitBreaker -buckets mybucket -disable -apply",
	"s3.circuitBreaker -global -disable -apply",
	"s3.circuitBreaker -buckets mybucket -delete -apply",
	"s3.circuitBreaker -global -actions Read -type count -delete -apply",
	"s3.circuitBreaker -delete -apply                    # clear everything",
}

func TestShellSeedWithC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "circuit_breaker.json")
	for i, cmd := range seedCommands {
		code, stdout, stderr := runCLI(t, "", nil, "shell", "-config", path, "-c", cmd)
		if code != ExitOK || stderr != "" {
			t.Fatalf("%s: exit %d, stderr %q", cmd, code, stderr)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if stdout != string(data) {
			t.Fatalf("%s: printed\n%s\nbut the file holds\n%s", cmd, stdout, data)
		}
		switch i {
		case 0:
			want := "{\n  \"global\": {\n    \"enabled\": true,\n    \"actions\": {\n      \"Read:count\": 500,\n      \"Write:count\": 200\n    }\n  }\n}\n"
			if stdout != want {
				t.Fatalf("printed\n%s\nwant\n%s", stdout, want)
			}
		case 9:
			if strings.Contains(stdout, "mybucket") || !strings.Contains(stdout, "otherbucket") {
				t.Fatalf("after deleting mybucket:\n%s", stdout)
			}
		case len(seedCommands) - 1:
			if stdout != "{}\n" {
				t.Fatalf("after clearing: %q", stdout)
			}
		}
	}
}

func TestShellSeedFromStdin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "circuit_breaker.json")
	// Pasted as the documentation shows it, prompts included.
	script := ""
	for _, cmd := range seedCommands {
		script += "> " + cmd + "\n"
	}
	code, stdout, stderr := runCLI(t, script, nil, "shell", "-config", path)
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if n := strings.Count(stdout, "\n}\n") + strings.Count(stdout, "{}\n"); n != len(seedCommands) {
		t.Errorf("printed %d documents, want %d:\n%s", n, len(seedCommands), stdout)
	}
	cfg, err := limits.LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Global != nil || cfg.Buckets != nil {
		t.Errorf("configuration not cleared: %+v", cfg)
	}
}

// badCommands must be refused with exit status 2, a one-line message and
// no change.
var badCommands = []struct {
	cmd  string
	want string
}{
	{"s3.circuitBreaker -global -type count -actions Reed -values 1 -apply", `unknown action "Reed" in -actions (allowed: Read, Write, List, Tagging, Admin)`},
	{"s3.circuitBreaker -global -type GB -actions Read -values 1 -apply", `unknown type "GB" in -type (allowed: count, MB)`},
	{"s3.circuitBreaker -global -type count -actions Read -values -1 -apply", `value "-1" in -values is not a non-negative integer`},
	{"s3.circuitBreaker -global -type count -actions Read -values x -apply", `value "x" in -values is not a non-negative integer`},
	{"s3.circuitBreaker -global -type count -actions Read,Write -values 1,2,3 -apply", "3 values for 2 actions"},
	{"s3.circuitBreaker -type count -actions Read -values 1 -apply", "-actions needs -global or -buckets"},
	{"s3.circuitBreaker -buckets ab -type count -actions Read -values 1 -apply", `invalid bucket name "ab"`},
	{"s3.circuitBreaker -global -nosuch -apply", `unknown flag "-nosuch"`},
	{"s3.circuitBreaker -global -disable -delete -apply", "-disable and -delete cannot be combined"},
	{"s3.circuitBreaker -global -actions Read -values 1 -apply", "-values needs -type"},
	{"s3.circuitBreaker -global -type count -actions Read -apply", "-actions needs -values"},
	{"s3.circuitBreaker -global -values 1 -delete -apply", "-values cannot be used with -delete"},
	{"s3.circuitBreaker -global stray -apply", `unexpected argument "stray"`},
	{"s3.circuitBreaker -buckets 'photos' -disable -apply 'unterminated", "unterminated ' quote"},
	{"s3.circuitbreakr -delete -apply", `unknown command "s3.circuitbreakr"`},
}

func checkRefused(t *testing.T, path string, code int, stdout, stderr, prefix, want string) {
	t.Helper()
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	if !strings.HasPrefix(stderr, "s3limit shell: "+prefix) || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q, want one line containing %q", stderr, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != startDoc {
		t.Errorf("file changed to %s", data)
	}
}

func TestShellRefusesBadCommandsWithC(t *testing.T) {
	for _, tc := range badCommands {
		t.Run(tc.cmd, func(t *testing.T) {
			path := configFile(t)
			code, stdout, stderr := runCLI(t, "", nil, "shell", "-config", path, "-c", tc.cmd)
			checkRefused(t, path, code, stdout, stderr, "", tc.want)
		})
	}
}

func TestShellRefusesBadCommandsFromStdin(t *testing.T) {
	for _, tc := range badCommands {
		t.Run(tc.cmd, func(t *testing.T) {
			path := configFile(t)
			// The bad command is on line 2; line 3 would clear everything
			// and must not run.
			script := "# change nothing\n" + tc.cmd + "\ns3.circuitBreaker -delete -apply\n"
			code, stdout, stderr := runCLI(t, script, nil, "shell", "-config", path)
			checkRefused(t, path, code, stdout, stderr, "line 2: ", tc.want)
		})
	}
}

func TestShellFlags(t *testing.T) {
	path := configFile(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no target", nil, []string{"shell"}, ExitUsage, "one of -server URL or -config FILE is required"},
		{"both targets", nil, []string{"shell", "-server", "http://127.0.0.1:1", "-config", path}, ExitUsage, "-server and -config cannot be combined"},
		{"bad URL", nil, []string{"shell", "-server", "127.0.0.1:8333", "-accessKey", "a", "-secretKey", "b"}, ExitUsage, `server "127.0.0.1:8333" is not a URL`},
		{"no credentials", nil, []string{"shell", "-server", "http://127.0.0.1:1"}, ExitUsage, "needs credentials"},
		{"half credentials", map[string]string{"AWS_ACCESS_KEY_ID": "AK"}, []string{"shell", "-server", "http://127.0.0.1:1"}, ExitUsage, "needs credentials"},
		{"keys with file", nil, []string{"shell", "-config", path, "-accessKey", "a"}, ExitUsage, "-accessKey and -secretKey are for -server"},
		{"positional", nil, []string{"shell", "-config", path, "s3.circuitBreaker"}, ExitUsage, `unexpected argument "s3.circuitBreaker"`},
		{"unknown flag", nil, []string{"shell", "-bogus"}, ExitUsage, "flag provided but not defined: -bogus"},
		{"unreachable server", map[string]string{"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"},
			[]string{"shell", "-server", "http://127.0.0.1:1", "-c", "s3.circuitBreaker"}, ExitFailure, "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}

func TestShellHelpAndExit(t *testing.T) {
	path := configFile(t)
	tests := []struct {
		args []string
		want string // on stdout
	}{
		{[]string{"shell", "-config", path, "-c", "help"}, "s3.circuitBreaker"},
		{[]string{"shell", "-config", path, "-c", "s3.circuitBreaker -h"}, "-type count|MB"},
		{[]string{"shell", "-config", path, "-c", "exit"}, ""},
		{[]string{"shell", "-config", path, "-c", ""}, ""},
		{[]string{"shell", "-config", path, "-c", "# nothing"}, ""},
	}
	for _, tc := range tests {
		code, stdout, stderr := runCLI(t, "", nil, tc.args...)
		if code != ExitOK || stderr != "" || !strings.Contains(stdout, tc.want) || (tc.want == "" && stdout != "") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, code, stdout, stderr)
		}
	}
	code, _, stderr := runCLI(t, "", nil, "shell", "-h")
	if code != ExitOK || !strings.Contains(stderr, "usage: s3limit shell") || !strings.Contains(stderr, "-accessKey") {
		t.Errorf("shell -h: exit %d, stderr %q", code, stderr)
	}
}

func TestShellNilStdin(t *testing.T) {
	path := configFile(t)
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"shell", "-config", path}, &Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
	if code != ExitOK || out.Len() != 0 || errOut.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

func TestShellServerCredentials(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	const cmd = "s3.circuitBreaker -buckets abc -type count -actions Read -values 3 -apply"
	const want = `{"buckets":{"abc":{"enabled":true,"actions":{"Read:count":3}}}}`
	adminEnv := map[string]string{"AWS_ACCESS_KEY_ID": servertest.AdminAccessKey, "AWS_SECRET_ACCESS_KEY": servertest.AdminSecretKey}
	readerEnv := map[string]string{"AWS_ACCESS_KEY_ID": servertest.ReaderAccessKey, "AWS_SECRET_ACCESS_KEY": servertest.ReaderSecretKey}
	_, startETag := srv.Limits().Config()

	// Flags win over the environment.
	code, _, stderr := runCLI(t, "", adminEnv, "shell", "-server", srv.URL,
		"-accessKey", servertest.ReaderAccessKey, "-secretKey", servertest.ReaderSecretKey, "-c", cmd)
	if code != ExitFailure || !strings.Contains(stderr, "403 Forbidden: AccessDenied") {
		t.Errorf("reader via flags: exit %d, stderr %q", code, stderr)
	}
	if _, etag := srv.Limits().Config(); etag != startETag {
		t.Fatal("a non-admin changed the configuration")
	}

	// A failing command on stdin: exit 1, line number, later lines not run.
	code, _, stderr = runCLI(t, "s3.circuitBreaker\n", readerEnv, "shell", "-server", srv.URL)
	if code != ExitFailure || !strings.HasPrefix(stderr, "s3limit shell: line 1: server answered 403") {
		t.Errorf("reader via stdin: exit %d, stderr %q", code, stderr)
	}

	if _, err := srv.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("abc")}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "", adminEnv, "shell", "-server", srv.URL, "-c", cmd)
	if code != ExitOK || stderr != "" {
		t.Fatalf("admin via environment: exit %d, stderr %q", code, stderr)
	}
	// A bucket the server does not have: applied, with a warning.
	code, _, stderr = runCLI(t, "", adminEnv, "shell", "-server", srv.URL, "-c", "s3.circuitBreaker -buckets nosuch -type count -actions Read -values 1 -apply")
	if code != ExitOK || !strings.Contains(stderr, `warning: bucket "nosuch" does not exist`) {
		t.Fatalf("missing bucket: exit %d, stderr %q", code, stderr)
	}
	if cfg, _ := srv.Limits().Config(); cfg.Buckets["nosuch"] == nil {
		t.Fatal("the limits of a missing bucket were not applied")
	}
	code, _, stderr = runCLI(t, "", adminEnv, "shell", "-server", srv.URL, "-c", "s3.circuitBreaker -buckets nosuch -delete -apply")
	if code != ExitOK || stderr != "" {
		t.Fatalf("deleting the missing bucket's section: exit %d, stderr %q", code, stderr)
	}
	// Without -apply, -c says that nothing was saved.
	code, _, stderr = runCLI(t, "", adminEnv, "shell", "-server", srv.URL, "-c", "s3.circuitBreaker -global -type count -actions Read -values 9")
	if code != ExitOK || !strings.Contains(stderr, "not saved: add -apply") {
		t.Fatalf("-c without -apply: exit %d, stderr %q", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "", adminEnv, "shell", "-server", srv.URL, "-c", "s3.circuitBreaker")
	if code != ExitOK || stderr != "" {
		t.Fatalf("viewing: exit %d, stderr %q", code, stderr)
	}
	inForce, _ := srv.Limits().Config()
	doc, _ := inForce.Marshal()
	if stdout != string(doc) || !strings.Contains(strings.Join(strings.Fields(stdout), ""), strings.Join(strings.Fields(want), "")) {
		t.Errorf("printed %q, server holds %q, want %s", stdout, doc, want)
	}
}

func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(r) {
		t.Error("a pipe is a terminal")
	}
	if isTerminal(strings.NewReader("")) {
		t.Error("a strings.Reader is a terminal")
	}
}

// TestShellSharedConfigCredentials: without keys in flags or the
// environment, the shell takes them from the shared credentials file, for
// AWS_PROFILE or -profile, as s3limit cp and the AWS CLI do.
func TestShellSharedConfigCredentials(t *testing.T) {
	// The AWS config loader also reads the process environment.
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
	}
	srv := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	content := "[default]\naws_access_key_id = " + servertest.ReaderAccessKey + "\naws_secret_access_key = " + servertest.ReaderSecretKey +
		"\n\n[ops]\naws_access_key_id = " + servertest.AdminAccessKey + "\naws_secret_access_key = " + servertest.AdminSecretKey + "\n"
	if err := os.WriteFile(creds, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "config")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_CONFIG_FILE": empty}
	// The default profile is a reader: refused by the admin API.
	if code, _, stderr := runCLI(t, "", env, "shell", "-server", srv.URL, "-c", "s3.circuitBreaker"); code != ExitFailure || !strings.Contains(stderr, "AccessDenied") {
		t.Fatalf("default profile: exit %d, stderr %q", code, stderr)
	}
	env["AWS_PROFILE"] = "ops"
	if code, _, stderr := runCLI(t, "", env, "shell", "-server", srv.URL, "-c", "s3.circuitBreaker"); code != ExitOK {
		t.Fatalf("AWS_PROFILE=ops: exit %d, stderr %q", code, stderr)
	}
	delete(env, "AWS_PROFILE")
	if code, _, stderr := runCLI(t, "", env, "shell", "-server", srv.URL, "-profile", "ops", "-c", "s3.circuitBreaker"); code != ExitOK {
		t.Fatalf("-profile ops: exit %d, stderr %q", code, stderr)
	}
}

// TestShellAgainstAPortThatIsNotS3limit: pointed at a web server, the
// shell says the server is not s3limit instead of a parse error.
func TestShellAgainstAPortThatIsNotS3limit(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>It works!</body></html>"))
	}))
	defer web.Close()
	code, _, stderr := runCLI(t, "", nil, "shell", "-server", web.URL, "-accessKey", "AK", "-secretKey", "SK", "-c", "s3.circuitBreaker")
	if code != ExitFailure || !strings.Contains(stderr, "server "+web.URL+" does not look like s3limit") ||
		!strings.Contains(stderr, "point -server at the S3 port of s3limit serve") {
		t.Errorf("exit %d, stderr %q; want 1 and a message that the server is not s3limit", code, stderr)
	}
}

// TestShellDoesNotAskInstanceMetadata: without keys anywhere the shell
// says so at once; it does not try the EC2 instance metadata service
// (which stalls and logs off EC2).
func TestShellDoesNotAskInstanceMetadata(t *testing.T) {
	var asked atomic.Int64
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer imds.Close()
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	dir := t.TempDir()
	empty := filepath.Join(dir, "none")
	env := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": empty, "AWS_CONFIG_FILE": empty}
	code, _, stderr := runCLI(t, "", env, "shell", "-server", "http://127.0.0.1:1", "-c", "s3.circuitBreaker")
	if code != ExitUsage || !strings.Contains(stderr, "needs credentials") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("the instance metadata service was asked %d times", n)
	}
}
