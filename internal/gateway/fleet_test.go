package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/fleet"
	"github.com/s3limit/s3limit/internal/gateway"
	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
	"github.com/s3limit/s3limit/internal/testpeer"
)

// gateTransport holds matching upstream requests until released one at a
// time, and records how many it holds at once.
type gateTransport struct {
	next    http.RoundTripper
	match   func(*http.Request) bool
	arrived chan struct{}
	release chan struct{}
	held    atomic.Int64
	maxHeld atomic.Int64
}

func (g *gateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if g.match(r) {
		n := g.held.Add(1)
		for {
			m := g.maxHeld.Load()
			if n <= m || g.maxHeld.CompareAndSwap(m, n) {
				break
			}
		}
		g.arrived <- struct{}{}
		select {
		case <-g.release:
		case <-r.Context().Done():
		}
		g.held.Add(-1)
	}
	return g.next.RoundTrip(r)
}

// TestGatewayFleet runs three gateways to one versitygw sharing their
// limits through a real redis-server: a configuration change through one
// reaches the others within a second, and a count limit holds across
// the three under uneven load.
func TestGatewayFleet(t *testing.T) {
	up := startVersitygw(t)
	r := testpeer.StartRedis(t)
	gate := &gateTransport{next: gateway.NewTransport(0), match: isGet("held"), arrived: make(chan struct{}, 64), release: make(chan struct{})}
	var fronts []*servertest.Server
	for i := range 3 {
		fl, err := fleet.New(fleet.Options{URL: r.URL(), ID: fmt.Sprintf("gateway%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fl.Close() })
		fronts = append(fronts, gatewayFront(t, up, func(g *gateway.Config, o *servertest.Options) {
			g.Transport = gate
			o.Limits.Fleet = fl
			if i == 0 {
				o.CircuitBreaker = &limits.Config{Global: &limits.Section{Enabled: true, Actions: map[string]int64{"Read:count": 100}}}
			}
		}))
	}
	c := fronts[0].Client()
	mustCreateBucket(t, c, "gw-fleet")
	mustPut(t, c, "gw-fleet", "held", []byte("held object"))

	// The limit changes through the third gateway.
	start := time.Now()
	etag, err := fronts[2].Limits().Apply(&limits.Config{Global: &limits.Section{Enabled: true, Wait: limits.Duration(20 * time.Second),
		Actions: map[string]int64{"Read:count": 4}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range fronts {
		testkit.Eventually(t, time.Second-time.Since(start), func() string {
			if _, e := f.Limits().Config(); e != etag {
				return fmt.Sprintf("gateway%d has ETag %s, want %s", i, e, etag)
			}
			return ""
		})
	}

	// 8 reads, 6 of them through the first gateway: 4 at a time fleet-wide.
	done := make(chan error, 8)
	for i, n := range []int{6, 1, 1} {
		for range n {
			go func() {
				out, err := fronts[i].Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("gw-fleet"), Key: aws.String("held")})
				if err == nil {
					_, err = io.Copy(io.Discard, out.Body)
					out.Body.Close()
				}
				done <- err
			}()
		}
	}
	arrive := func() {
		t.Helper()
		select {
		case <-gate.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("no read reached the upstream within 10s (%d held)", gate.held.Load())
		}
	}
	for range 4 {
		arrive()
	}
	select {
	case <-gate.arrived:
		t.Fatalf("a fifth read reached the upstream: %d in flight fleet-wide under Read:count 4", gate.held.Load())
	case <-time.After(300 * time.Millisecond):
	}
	for range 4 {
		gate.release <- struct{}{}
		arrive()
	}
	for range 4 {
		gate.release <- struct{}{}
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Errorf("GET: %v", err)
		}
	}
	if m := gate.maxHeld.Load(); m != 4 {
		t.Errorf("at most %d reads in flight fleet-wide, want the limit 4", m)
	}
}
