package server_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

// requestLines returns the access log lines of operation op.
func requestLines(log, op string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "msg=request ") && strings.Contains(line, " op="+op+" ") {
			out = append(out, line)
		}
	}
	return out
}

// lastRequestLine returns the last access log line of operation op.
func lastRequestLine(t *testing.T, log *testkit.SyncBuffer, op string) string {
	t.Helper()
	lines := requestLines(log.String(), op)
	if len(lines) == 0 {
		t.Fatalf("no access log line for %s in:\n%s", op, log)
	}
	return lines[len(lines)-1]
}

// TestAccessLogSaysWhy: every refusal names its reason in the access log:
// the limit (scope, bucket or user, action, type) of a throttle, the
// missing permission, the unknown key or the bad signature of a 403, and
// never a secret.
func TestAccessLogSaysWhy(t *testing.T) {
	t.Parallel()
	var accessLog testkit.SyncBuffer
	s := servertest.Start(t, servertest.Options{
		AccessLog: &accessLog,
		CircuitBreaker: &limits.Config{
			Global:  &limits.Section{Enabled: true, Actions: map[string]int64{"List:count": 0}},
			Buckets: map[string]*limits.Section{"big": {Enabled: true, Actions: map[string]int64{"Write:bytes": 100}}, "one": {Enabled: true, Actions: map[string]int64{"Write:count": 1}}},
			Users:   map[string]*limits.Section{"reader": {Enabled: true, Actions: map[string]int64{"Read:count": 0}}},
		},
	})
	ctx := context.Background()
	admin := s.Client()
	for _, b := range []string{"big", "one", "public"} {
		createBucket(t, admin, b)
	}
	put := func(c *s3.Client, bucket string, size int) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: bytes.NewReader(make([]byte, size))})
		return err
	}
	const wrongSecret = "wrongSecretThatMustNotBeLogged0000000000"
	const unknownSecret = "unknownSecretThatMustNotBeLogged00000000"

	// A held upload fills bucket one's single Write slot.
	held := dialRaw(t, s)
	r := unsignedPut(t, s, "one", "held", 1000)
	held.head(r)
	testkit.Eventually(t, 5*time.Second, func() string {
		if n := scrape(t, s).value("s3limit_s3_inflight_requests", "action", "Write"); n != 1 {
			return "the held upload is not in flight"
		}
		return ""
	})

	tests := []struct {
		name string
		do   func() error
		op   string
		want []string
	}{
		{"global count 0", func() error {
			_, err := admin.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("big")})
			return err
		}, "ListObjectsV2", []string{"status=429", "error=SlowDown", "limit.scope=global", "limit.action=List", "limit.type=count",
			`reason="the limit is 0: the action is blocked"`}},
		{"bucket bytes too large", func() error { return put(admin, "big", 200) }, "PutObject",
			[]string{"status=429", "error=RequestBytesExceed", "limit.scope=bucket", "limit.bucket=big", "limit.action=Write",
				"limit.type=bytes", `reason="the request alone is larger than the limit"`}},
		{"bucket count reached", func() error { return put(admin, "one", 10) }, "PutObject",
			[]string{"status=429", "error=SlowDown", "limit.scope=bucket", "limit.bucket=one", "limit.action=Write",
				"limit.type=count", `reason="limit reached"`}},
		{"user count 0", func() error {
			_, err := s.ClientFor(servertest.ReaderAccessKey, servertest.ReaderSecretKey).GetObject(ctx,
				&s3.GetObjectInput{Bucket: aws.String("public"), Key: aws.String("k")})
			return err
		}, "GetObject", []string{"user=reader", "status=429", "limit.scope=user", "limit.user=reader", "limit.action=Read", "limit.type=count"}},
		{"missing permission", func() error {
			return put(s.ClientFor(servertest.ReaderAccessKey, servertest.ReaderSecretKey), "public", 10)
		}, "PutObject", []string{"user=reader", "status=403", "error=AccessDenied", `reason="missing permission: Write on bucket public"`}},
		{"unknown key", func() error { return put(s.ClientFor("AKIAUNKNOWN000000000", unknownSecret), "public", 10) }, "PutObject",
			[]string{"user=-", "status=403", "error=InvalidAccessKeyId", "access_key=AKIAUNKNOWN000000000", `reason="unknown access key"`}},
		{"bad signature", func() error { return put(s.ClientFor(servertest.AdminAccessKey, wrongSecret), "public", 10) }, "PutObject",
			[]string{"status=403", "error=SignatureDoesNotMatch", "access_key=" + servertest.AdminAccessKey, `reason="bad signature`}},
		{"admin API without Admin", func() error {
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/_s3limit/circuit-breaker", nil)
			signRequest(t, req, servertest.ReaderAccessKey, servertest.ReaderSecretKey, "UNSIGNED-PAYLOAD", time.Now())
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			return err
		}, "AdminCircuitBreaker", []string{"status=403", "error=AccessDenied", `reason="missing permission: the admin API needs Admin on every bucket"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_ = tc.do()
			line := lastRequestLine(t, &accessLog, tc.op)
			for _, w := range tc.want {
				if !strings.Contains(line, " "+w) {
					t.Errorf("access log line lacks %s:\n%s", w, line)
				}
			}
		})
	}
	if log := accessLog.String(); strings.Contains(log, wrongSecret) || strings.Contains(log, unknownSecret) ||
		strings.Contains(log, servertest.AdminSecretKey) || strings.Contains(log, servertest.ReaderSecretKey) {
		t.Errorf("the access log contains a secret:\n%s", log)
	}
}

// TestClientHangupIs499: a client that hangs up in the middle of a
// download is logged and counted as 499, not as a 200 that looks served,
// and nothing is logged as a server failure.
func TestClientHangupIs499(t *testing.T) {
	t.Parallel()
	var accessLog, serverLog testkit.SyncBuffer
	s := servertest.Start(t, servertest.Options{AccessLog: &accessLog, Log: &serverLog})
	createBucket(t, s.Client(), "bkt")
	putObject(t, s.Client(), "bkt", "big", make([]byte, 32<<20))

	c := dialRaw(t, s)
	r, _ := http.NewRequest(http.MethodGet, s.URL+"/bkt/big", nil)
	signRequest(t, r, s.AccessKey, s.SecretKey, "UNSIGNED-PAYLOAD", time.Now())
	c.head(r)
	resp, err := http.ReadResponse(c.br, r)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 64<<10); err != nil {
		t.Fatal(err)
	}
	_ = c.conn.(*net.TCPConn).SetLinger(0) // hang up with RST
	c.conn.Close()

	testkit.Eventually(t, 10*time.Second, func() string {
		if len(requestLines(accessLog.String(), "GetObject")) == 0 {
			return "no access log line yet"
		}
		return ""
	})
	line := lastRequestLine(t, &accessLog, "GetObject")
	for _, w := range []string{"status=499", "error=ClientClosedRequest", `reason="the client closed the connection before the response was complete"`} {
		if !strings.Contains(line, " "+w) {
			t.Errorf("access log line lacks %s:\n%s", w, line)
		}
	}
	ms := scrape(t, s)
	if n := ms.value("s3limit_s3_request_total", "action", "Read", "bucket", "bkt", "status", "499"); n != 1 {
		t.Errorf("%v downloads counted as 499, want 1", n)
	}
	if n := ms.value("s3limit_s3_request_total", "action", "Read", "bucket", "bkt", "status", "200"); n != 0 {
		t.Errorf("the abandoned download is counted as a 200")
	}
	if log := serverLog.String(); log != "" {
		t.Errorf("a client's hang-up was logged as a server problem:\n%s", log)
	}
}

// TestShutdownCutOffIsNotAClientAbort: a request still running when the
// server's shutdown closes its connections is logged as cut off by the
// shutdown (503), not as its client's abort (499).
func TestShutdownCutOffIsNotAClientAbort(t *testing.T) {
	t.Parallel()
	var accessLog testkit.SyncBuffer
	s := servertest.Start(t, servertest.Options{AccessLog: &accessLog})
	createBucket(t, s.Client(), "bkt")
	putObject(t, s.Client(), "bkt", "big", make([]byte, 32<<20))

	// A download whose client reads nothing: the server's writes block
	// once the socket buffers are full.
	c := dialRaw(t, s)
	r, _ := http.NewRequest(http.MethodGet, s.URL+"/bkt/big", nil)
	signRequest(t, r, s.AccessKey, s.SecretKey, "UNSIGNED-PAYLOAD", time.Now())
	c.head(r)
	testkit.Eventually(t, 5*time.Second, func() string {
		if n := scrape(t, s).value("s3limit_s3_inflight_requests", "action", "Read"); n != 1 {
			return "the download is not in flight"
		}
		return ""
	})
	s.CutOff()
	if err := s.HTTP.Close(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() string {
		if len(requestLines(accessLog.String(), "GetObject")) == 0 {
			return "no access log line yet"
		}
		return ""
	})
	line := lastRequestLine(t, &accessLog, "GetObject")
	for _, w := range []string{"status=503", "error=ServiceUnavailable", `reason="cut off by the server's shutdown`} {
		if !strings.Contains(line, " "+w) {
			t.Errorf("access log line lacks %s:\n%s", w, line)
		}
	}
	if strings.Contains(line, "499") || strings.Contains(line, "ClientClosedRequest") {
		t.Errorf("a request cut off by the shutdown is logged as a client abort:\n%s", line)
	}
}
