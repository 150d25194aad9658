package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

func TestServeRejectsBadFlags(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined: -nope"},
		{"port out of range", []string{"-port", "70000"}, "-port 70000"},
		{"negative upload limit", []string{"-concurrentUploadLimitMB", "-1"}, "-concurrentUploadLimitMB -1"},
		{"negative file limit", []string{"-concurrentFileUploadLimit", "-3"}, "-concurrentFileUploadLimit -3"},
		{"throttle status", []string{"-throttleStatus", "500"}, "-throttleStatus 500: must be 429 or 503"},
		{"idle timeout zero", []string{"-idleTimeout", "0s"}, "-idleTimeout 0s: must be > 0"},
		{"min transfer rate", []string{"-minTransferRate", "fast"}, `-minTransferRate "fast"`},
		{"min transfer rate negative", []string{"-minTransferRate", "-5KB/s"}, `-minTransferRate "-5KB/s"`},
		{"bind address", []string{"-ip.bind", "not-an-ip"}, `-ip.bind "not-an-ip"`},
		{"metrics namespace", []string{"-metricsNamespace", "bad-name!"}, `-metricsNamespace "bad-name!"`},
		{"stray argument", []string{"extra"}, `unexpected argument "extra"`},
		{"missing identities file", []string{"-config", filepath.Join(dir, "missing.json")}, "-config"},
		{"upstream without credentials", []string{"-upstream", "http://127.0.0.1:1"}, "-upstream needs credentials"},
		{"upstream without scheme", []string{"-upstream", "127.0.0.1:9000", "-upstreamAccessKey", "a", "-upstreamSecretKey", "s"},
			`"127.0.0.1:9000" has no scheme: write it as a URL, e.g. http://127.0.0.1:9000`},
		{"log format", []string{"-logFormat", "xml"}, `-logFormat "xml": use text or json`},
		{"log level", []string{"-logLevel", "loud"}, `-logLevel "loud": use debug, info, warn or error`},
		{"negative shutdown delay", []string{"-shutdownDelay", "-1s"}, "-shutdownDelay -1s: must be >= 0"},
		{"metrics port is the S3 port", []string{"-port", "8444", "-metricsPort", "8444"},
			"-metricsPort 8444 is the S3 API's -port: the metrics listener needs a port of its own"},
		{"metrics port is the S3 port on all addresses", []string{"-port", "8444", "-metricsPort", "8444", "-metricsIp", "0.0.0.0"},
			"-metricsPort 8444 is the S3 API's -port"},
		{"one half of a key pair", nil, "S3LIMIT_ACCESS_KEY"},
		{"redis URL scheme", []string{"-redis", "http://127.0.0.1:6379"}, `-redis: fleet: Redis URL "http://127.0.0.1:6379": want redis://`},
		{"redis prefix", []string{"-redis", "redis://127.0.0.1:1/0", "-redisPrefix", "a{b}"}, `-redis: fleet: prefix "a{b}"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			if tc.args == nil {
				env["S3LIMIT_ACCESS_KEY"] = "AKONLY"
			}
			args := append([]string{"serve", "-dir", filepath.Join(dir, tc.name), "-port", "0"}, tc.args...)
			code, _, stderr := runCLI(t, "", env, args...)
			if code == 0 {
				t.Fatalf("exit code 0, want failure; stderr: %s", stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not name the problem (%q)", stderr, tc.want)
			}
		})
	}
}

// serveLog is a bytes.Buffer safe for the server goroutine and the test.
type serveLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *serveLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *serveLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// servingRE finds the URL in the start-up banner, in the text and the
// JSON log formats.
var servingRE = regexp.MustCompile(`"?msg"?[=:]"s3limit serving S3",?"? ?url"?[=:]"?(http://127\.0\.0\.1:\d+)`)

// startServe runs `s3limit serve -quiet` on a free port until the
// returned stop is called; stop returns the exit code.
func startServe(t *testing.T, dir string) (url string, stderr *serveLog, stop func() int) {
	t.Helper()
	return startServeWith(t, dir, nil, "-quiet")
}

// startServeWith is startServe with the environment env and more flags,
// and without -quiet; -shutdownDelay is 0 unless args set it.
func startServeWith(t *testing.T, dir string, env map[string]string, args ...string) (url string, stderr *serveLog, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &serveLog{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, append([]string{"serve", "-dir", dir, "-port", "0", "-shutdownDelay", "0"}, args...),
			&Env{Stdin: strings.NewReader(""), Stdout: stderr, Stderr: stderr, Getenv: func(k string) string { return env[k] }})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := servingRE.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return url, stderr, func() int { cancel(); return <-done }
}

func TestServeGeneratesCredentialsOnceAndShutsDownCleanly(t *testing.T) {
	dir := t.TempDir()
	url, stderr, stop := startServe(t, dir)
	credPath := filepath.Join(dir, "credentials.json")
	st, err := os.Stat(credPath)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("credentials file mode %o, want 600", perm)
	}
	var cred struct{ AccessKey, SecretKey string }
	data, _ := os.ReadFile(credPath)
	if err := json.Unmarshal(data, &cred); err != nil || cred.AccessKey == "" || len(cred.SecretKey) < 32 {
		t.Fatalf("credentials file %q: %v", data, err)
	}
	if out := stderr.String(); !strings.Contains(out, cred.AccessKey) || !strings.Contains(out, cred.SecretKey) {
		t.Errorf("first start did not print the generated pair: %s", out)
	}
	c := servertest.NewClient(url, cred.AccessKey, cred.SecretKey)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("first")}); err != nil {
		t.Fatalf("generated credentials do not work: %v", err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("graceful shutdown exit code %d: %s", code, stderr.String())
	}

	// A second start reuses the stored pair and does not print it again.
	url, stderr, stop = startServe(t, dir)
	defer stop()
	if strings.Contains(stderr.String(), cred.SecretKey) {
		t.Errorf("second start printed the secret again: %s", stderr.String())
	}
	c = servertest.NewClient(url, cred.AccessKey, cred.SecretKey)
	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != "first" {
		t.Errorf("after restart the bucket list is %+v, want [first]", out.Buckets)
	}
}

func TestServeHelpDescribesDirAndUpstreamTimeout(t *testing.T) {
	code, _, stderr := runCLI(t, "", nil, "serve", "-h")
	if code != ExitOK {
		t.Fatalf("serve -h exit %d", code)
	}
	for _, want := range []string{
		"data directory, in both modes", // gateway mode keeps credentials and limits there too
		"(default 2m0s)",                // -upstreamTimeout
		"reloaded on change and on SIGHUP",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("serve -h lacks %q:\n%s", want, stderr)
		}
	}
}

func TestServeNamesTheListenerThatCannotListen(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	env := map[string]string{"S3LIMIT_ACCESS_KEY": "AKLISTEN", "S3LIMIT_SECRET_KEY": "listenSecret0000000000000000000000000000"}
	for _, tc := range []struct{ flag, want string }{
		{"-port", "-port " + port + " (the S3 API listener): listen tcp 127.0.0.1:" + port},
		{"-metricsPort", "-metricsPort " + port + " (the metrics listener): listen tcp 127.0.0.1:" + port},
	} {
		code, _, stderr := runCLI(t, "", env, "serve", "-dir", t.TempDir(), "-port", "0", tc.flag, port)
		if code != ExitFailure || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "address already in use") {
			t.Errorf("%s %s taken: exit %d, stderr %q; want 1 and %q", tc.flag, port, code, stderr, tc.want)
		}
	}
}

func TestSameListenIP(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "127.0.0.2", false},
		{"127.0.0.1", "0.0.0.0", true},
		{"::", "10.0.0.1", true},
		{"", "10.0.0.1", true},
		{"::1", "0:0:0:0:0:0:0:1", true},
		{"localhost", "localhost", true},
		{"localhost", "10.0.0.1", false},
	}
	for _, tc := range tests {
		if got := sameListenIP(tc.a, tc.b); got != tc.want {
			t.Errorf("sameListenIP(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestServeLogsJSON: with -logFormat json every line of the log is a JSON
// object: the banner, the summary of what is in force, the access log
// (health probes too at -logLevel debug) and the shutdown.
func TestServeLogsJSON(t *testing.T) {
	dir := t.TempDir()
	cb := `{"global": {"enabled": true, "actions": {"Read:count": 100}},
		"buckets": {"photos": {"enabled": true, "actions": {"Write:count": 5}}, "backups": {"enabled": false, "actions": {"Write:count": 5}}},
		"users": {"alice": {"enabled": true, "actions": {"Write:ops/s": 10}}}}`
	if err := os.WriteFile(filepath.Join(dir, "circuit_breaker.json"), []byte(cb), 0o644); err != nil {
		t.Fatal(err)
	}
	const ak, sk = "AKJSONLOG", "jsonLogSecret00000000000000000000000000"
	url, stderr, stop := startServeWith(t, dir, map[string]string{"S3LIMIT_ACCESS_KEY": ak, "S3LIMIT_SECRET_KEY": sk},
		"-logFormat", "json", "-logLevel", "debug")
	if _, err := servertest.NewClient(url, ak, sk).ListBuckets(context.Background(), &s3.ListBucketsInput{}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + "/_s3limit/health/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := stop(); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}

	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line is not JSON: %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	find := func(msg string, match map[string]any) map[string]any {
		t.Helper()
	next:
		for _, m := range lines {
			if m["msg"] != msg {
				continue
			}
			for k, v := range match {
				if m[k] != v {
					continue next
				}
			}
			return m
		}
		t.Fatalf("no %q line with %v in:\n%s", msg, match, stderr)
		return nil
	}
	find("s3limit serving S3", map[string]any{"level": "INFO", "url": url, "mode": "embedded store", "version": "dev", "go": runtime.Version()})
	find("configuration in force", map[string]any{
		"identities": float64(1), "anonymous": false, "identities_from": "S3LIMIT_ACCESS_KEY/S3LIMIT_SECRET_KEY",
		"limits_file": filepath.Join(dir, "circuit_breaker.json"), "limits": "global, 2 buckets, 1 user",
		"store": "embedded in " + dir, "s3": url, "metrics": "off", "upload_limit": "128 MiB", "throttle_status": float64(429),
		"shutdown_delay": "0s", "shutdown_timeout": "30s", "access_log": true,
	})
	find("request", map[string]any{"level": "INFO", "op": "ListBuckets", "status": float64(200), "user": "admin"})
	find("request", map[string]any{"level": "DEBUG", "op": "HealthLive", "status": float64(200)})
	find("shutting down: no new connections; waiting for the requests in flight", nil)
	find("stopped", nil)
}

// TestServeQuietKeepsTheBanner: -quiet turns the access log off, not the
// start-up lines; the default level leaves health probes out.
func TestServeQuietKeepsTheBanner(t *testing.T) {
	const ak, sk = "AKQUIET", "quietSecret000000000000000000000000000000"
	url, stderr, stop := startServeWith(t, t.TempDir(), map[string]string{"S3LIMIT_ACCESS_KEY": ak, "S3LIMIT_SECRET_KEY": sk}, "-quiet")
	if _, err := servertest.NewClient(url, ak, sk).ListBuckets(context.Background(), &s3.ListBucketsInput{}); err != nil {
		t.Fatal(err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	out := stderr.String()
	if !strings.Contains(out, `msg="configuration in force"`) || !strings.Contains(out, "access_log=false") {
		t.Errorf("-quiet lost the start-up summary:\n%s", out)
	}
	if strings.Contains(out, "msg=request") {
		t.Errorf("-quiet still writes the access log:\n%s", out)
	}
}
