package gateway_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	dto "github.com/prometheus/client_model/go"

	"github.com/s3limit/s3limit/internal/gateway"
	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// gauges reads the limits' state gauges from the server's metrics
// registry, as a Prometheus scrape sees them.
func gauges(t testing.TB, fs *servertest.Server) map[string]float64 {
	t.Helper()
	mfs, err := fs.Metrics().Registry().Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetType() != dto.MetricType_GAUGE {
			continue
		}
		name := strings.TrimPrefix(mf.GetName(), "s3limit_s3_")
		if name == mf.GetName() {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := name
			for _, lp := range m.GetLabel() {
				key += "," + lp.GetName() + "=" + lp.GetValue()
			}
			out[key] += m.GetGauge().GetValue()
		}
	}
	return out
}

// idleProblem describes the in-flight state of fs, or returns "" when
// every in-flight gauge is back to 0.
func idleProblem(t testing.TB, fs *servertest.Server) string {
	var busy []string
	for k, v := range gauges(t, fs) {
		if (strings.HasPrefix(k, "inflight_") || strings.HasPrefix(k, "upload_waiting")) && v != 0 {
			busy = append(busy, fmt.Sprintf("%s=%v", k, v))
		}
	}
	if len(busy) == 0 {
		return ""
	}
	return strings.Join(busy, " ")
}

// waitIdle waits until every in-flight gauge of fs is 0. The server
// releases its counters when the handler returns, which can be just after
// the client has read the last byte, so this polls briefly.
func waitIdle(t testing.TB, fs *servertest.Server) {
	t.Helper()
	waitFor(t, "in-flight gauges back to 0", func() string { return idleProblem(t, fs) })
}

// waitFor polls cond (which returns "" when satisfied, else what is still
// wrong) every few milliseconds for up to 10 seconds.
func waitFor(t testing.TB, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		problem := cond()
		if problem == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after 10s", what, problem)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isGet(key string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/"+key)
	}
}

func TestGatewayLimits(t *testing.T) {
	for _, u := range upstreams {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			up := u.start(t)
			t.Run("CircuitBreaker", func(t *testing.T) { testCircuitBreaker(t, up) })
			t.Run("UploadBackpressure", func(t *testing.T) { testUploadBackpressure(t, up) })
		})
	}
}

func testCircuitBreaker(t *testing.T, up *upstream) {
	hold := newHoldTransport(gateway.NewTransport(0), isGet("held"))
	fs := gatewayFront(t, up, func(g *gateway.Config, o *servertest.Options) {
		g.Transport = hold
		o.CircuitBreaker = &limits.Config{Global: &limits.Section{Enabled: true, Actions: map[string]int64{"Read:count": 1}}}
	})
	c := fs.Client()
	mustCreateBucket(t, c, "gw-breaker")
	mustPut(t, c, "gw-breaker", "held", []byte("held object"))

	// One read in flight at the upstream fills the Read:count limit of 1.
	type result struct {
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("gw-breaker"), Key: aws.String("held")})
		if err != nil {
			done <- result{err: err}
			return
		}
		var b bytes.Buffer
		_, err = b.ReadFrom(out.Body)
		out.Body.Close()
		done <- result{b.Bytes(), err}
	}()
	<-hold.arrived
	if n, _ := fs.Limits().Breaker().Inflight(s3api.ActionRead); n != 1 {
		t.Errorf("Read in flight = %d, want 1", n)
	}
	if g := gauges(t, fs)["inflight_requests,action=Read"]; g != 1 {
		t.Errorf("inflight_requests{action=Read} = %v, want 1", g)
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("gw-breaker"), Key: aws.String("held")})
	code, _, status := apiError(err)
	if status != http.StatusTooManyRequests || code != "SlowDown" {
		t.Errorf("second read: %d %q, want 429 SlowDown", status, code)
	}
	var re interface{ HTTPResponse() *http.Response }
	if errors.As(err, &re) && re.HTTPResponse() != nil && re.HTTPResponse().Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Other actions are not limited.
	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("gw-breaker")}); err != nil {
		t.Errorf("ListObjectsV2 while a read is held: %v", err)
	}
	close(hold.release)
	if r := <-done; r.err != nil || string(r.body) != "held object" {
		t.Fatalf("held read: %q, %v", r.body, r.err)
	}
	waitIdle(t, fs)
	// The slot is free again.
	if got := servertest.GetObject(t, c, "gw-breaker", "held"); string(got) != "held object" {
		t.Errorf("read after release: %q", got)
	}
	waitIdle(t, fs)
}

func testUploadBackpressure(t *testing.T, up *upstream) {
	hold := newHoldTransport(gateway.NewTransport(0), func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/queued-")
	})
	fs := gatewayFront(t, up, func(g *gateway.Config, o *servertest.Options) {
		g.Transport = hold
		o.Limits.ConcurrentFileUploadLimit = 1
	})
	c := fs.Client()
	mustCreateBucket(t, c, "gw-backpressure")

	const uploads = 4
	var wg sync.WaitGroup
	errs := make([]error, uploads)
	for i := range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("gw-backpressure"), Key: aws.String(fmt.Sprintf("queued-%d", i)),
				Body: bytes.NewReader(randomBytes(uint64(i), 100_000)),
			})
		}()
	}
	<-hold.arrived // one upload reached the upstream; the others queue
	waitFor(t, "uploads queued behind the one in flight", func() string {
		g := gauges(t, fs)
		if g["inflight_upload_count"] == 1 && g["upload_waiting"] == uploads-1 {
			return ""
		}
		return fmt.Sprintf("inflight_upload_count=%v upload_waiting=%v", g["inflight_upload_count"], g["upload_waiting"])
	})
	if g := gauges(t, fs)["inflight_upload_bytes"]; g != 100_000 {
		t.Errorf("inflight_upload_bytes = %v, want 100000", g)
	}
	close(hold.release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("upload %d: %v", i, err)
		}
	}
	for i := range uploads {
		if got := servertest.GetObject(t, c, "gw-backpressure", fmt.Sprintf("queued-%d", i)); !bytes.Equal(got, randomBytes(uint64(i), 100_000)) {
			t.Errorf("queued-%d stored wrong", i)
		}
	}
	waitIdle(t, fs)
}
