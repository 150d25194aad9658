package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

// probe sends an unsigned request to a health path and returns the
// status, the body and the response.
func probe(t *testing.T, s *servertest.Server, method, path string) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp
}

// TestHealthProbes: the probes answer without credentials and past a limit
// that blocks everything, are not counted as S3 requests, and readiness
// turns to 503 when the server drains while S3 requests are still served.
func TestHealthProbes(t *testing.T) {
	t.Parallel()
	var accessLog testkit.SyncBuffer
	s := servertest.Start(t, servertest.Options{
		AccessLog: &accessLog,
		CircuitBreaker: &limits.Config{Global: &limits.Section{Enabled: true,
			Actions: map[string]int64{"Read:count": 0, "List:count": 0, "Admin:count": 0}}},
	})
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/_s3limit/health/live", "live\n"},
		{"GET", "/_s3limit/health/ready", "ready\n"},
		{"HEAD", "/_s3limit/health/ready", ""},
		{"HEAD", "/_s3limit/health/live", ""},
	} {
		status, body, resp := probe(t, s, tc.method, tc.path)
		if status != http.StatusOK || body != tc.body {
			t.Errorf("%s %s: %d %q, want 200 %q", tc.method, tc.path, status, body, tc.body)
		}
		if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); !strings.HasPrefix(ct, "text/plain") || cc != "no-store" {
			t.Errorf("%s %s: Content-Type %q, Cache-Control %q", tc.method, tc.path, ct, cc)
		}
		if resp.Header.Get("x-amz-request-id") == "" {
			t.Errorf("%s %s: no request id", tc.method, tc.path)
		}
	}
	if status, body, _ := probe(t, s, "POST", "/_s3limit/health/ready"); status != http.StatusMethodNotAllowed || !strings.Contains(body, "MethodNotAllowed") {
		t.Errorf("POST ready: %d %s, want 405 MethodNotAllowed", status, body)
	}
	// The same limits refuse S3 reads: the probes did not pass through them.
	if _, err := s.Client().ListBuckets(context.Background(), &s3.ListBucketsInput{}); err == nil || !strings.Contains(err.Error(), "SlowDown") {
		t.Errorf("ListBuckets under List:count 0: %v, want SlowDown", err)
	}
	ms := scrape(t, s)
	if n := ms.sum("s3limit_s3_request_total"); n != 2 { // the POST (refused by classification) and ListBuckets
		t.Errorf("%v S3 requests counted, want 2: health probes are not S3 requests", n)
	}
	if v := ms.value("s3limit_ready"); v != 1 {
		t.Errorf("s3limit_ready = %v, want 1", v)
	}
	log := accessLog.String()
	if !strings.Contains(log, "level=DEBUG msg=request") || !strings.Contains(log, "op=HealthReady") {
		t.Errorf("health probes are not in the access log at level DEBUG:\n%s", log)
	}

	s.Drain()
	status, body, resp := probe(t, s, "GET", "/_s3limit/health/ready")
	if status != http.StatusServiceUnavailable || body != "not ready: draining: the server is shutting down\n" {
		t.Errorf("ready while draining: %d %q", status, body)
	}
	if !resp.Close {
		t.Error("a response while draining keeps its connection open; it should close it, so the client's next request can go elsewhere")
	}
	if status, _, _ := probe(t, s, "GET", "/_s3limit/health/live"); status != http.StatusOK {
		t.Errorf("live while draining: %d, want 200", status)
	}
	if v := scrape(t, s).value("s3limit_ready"); v != 0 {
		t.Errorf("s3limit_ready = %v while draining, want 0", v)
	}
	// Draining does not refuse work: it only tells balancers to go.
	if _, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k"),
		Body: strings.NewReader("x")}); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("PutObject while draining: %v, want it served (NoSuchBucket)", err)
	}
}
