package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

func TestMetricsSeaweedFSNames(t *testing.T) {
	t.Parallel()
	s, g := startGated(t, servertest.Options{
		MetricsNamespace: "seaweedfs",
		Limits:           limits.Options{ConcurrentUploadLimitBytes: 1 << 20},
		CircuitBreaker:   &limits.Config{Buckets: map[string]*limits.Section{"bkt": section(map[string]int64{"Write:count": 1})}},
	})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "bkt")
	held := goPut(ctx, c, "bkt", "hold/1", make([]byte, 700))
	g.await(t)

	ms := scrape(t, s)
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"seaweedfs_s3_inflight_upload_count", nil, 1},
		{"seaweedfs_s3_inflight_upload_bytes", nil, 700},
		{"seaweedfs_s3_inflight_requests", []string{"action", "Write"}, 1},
		{"seaweedfs_s3_circuit_breaker_limit", []string{"scope", "bucket", "bucket", "bkt", "action", "Write", "type", "count"}, 1},
	} {
		if got, ok := ms.get(m.name, m.labels...); !ok || got != m.want {
			t.Errorf("%s%v = %v (present %v), want %v", m.name, m.labels, got, ok, m.want)
		}
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("x"), Body: strings.NewReader("x")})
	wantThrottled(t, err, http.StatusTooManyRequests, "SlowDown")
	g.releaseOne(t)
	if err := result(t, held); err != nil {
		t.Fatal(err)
	}
	wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")

	ms = scrape(t, s)
	for _, m := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"action", "Write", "bucket", "bkt", "status", "429"}, 1},
		{[]string{"action", "Write", "bucket", "bkt", "status", "200"}, 1},
		{[]string{"action", "Admin", "bucket", "bkt", "status", "200"}, 1},
	} {
		if got, ok := ms.get("seaweedfs_s3_request_total", m.labels...); !ok || got != m.want {
			t.Errorf("seaweedfs_s3_request_total%v = %v (present %v), want %v", m.labels, got, ok, m.want)
		}
	}
	for _, smp := range ms {
		if strings.HasPrefix(smp.name, "s3limit_") {
			t.Fatalf("namespace seaweedfs still exports %s", smp.name)
		}
	}
	if _, ok := ms.get("go_goroutines"); !ok {
		t.Errorf("Go runtime metrics missing")
	}
}
