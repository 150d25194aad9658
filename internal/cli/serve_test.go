package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
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
		{"one half of a key pair", nil, "S3LIMIT_ACCESS_KEY"},
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

var servingRE = regexp.MustCompile(`serving S3 on (http://127\.0\.0\.1:\d+)`)

// startServe runs `s3limit serve` on a free port until the returned stop
// is called; stop returns the exit code.
func startServe(t *testing.T, dir string) (url string, stderr *serveLog, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &serveLog{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "-dir", dir, "-port", "0", "-quiet"},
			&Env{Stdin: strings.NewReader(""), Stdout: stderr, Stderr: stderr, Getenv: func(string) string { return "" }})
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
