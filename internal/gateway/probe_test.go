package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/gateway"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

func TestProbe(t *testing.T) {
	var mu sync.Mutex
	var seen []string // method, path and signing key of each request; guarded by mu
	status := http.StatusForbidden
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		code := status
		mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(store.Close)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String() // nothing listens there once closed
	ln.Close()
	newGW := func(upstream string) *gateway.Gateway {
		g, err := gateway.New(gateway.Config{Upstream: upstream, AccessKey: upstreamAccessKey, SecretKey: upstreamSecretKey})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}

	// Any answer below 500 is an answer, even a refusal.
	if err := newGW(store.URL + "/prefix").Probe(context.Background()); err != nil {
		t.Errorf("a store answering 403: %v, want nil", err)
	}
	mu.Lock()
	got := append([]string(nil), seen...)
	status = http.StatusServiceUnavailable
	mu.Unlock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "HEAD /prefix/ AWS4-HMAC-SHA256 Credential="+upstreamAccessKey+"/") {
		t.Errorf("probe requests %q, want one signed HEAD of the base path", got)
	}

	tests := []struct {
		name, upstream string
		timeout        time.Duration
		want           string
	}{
		{"store answering 503", store.URL, time.Minute, "answered 503 Service Unavailable"},
		{"nothing listening", "http://" + dead, time.Minute, "refused the connection"},
		{"store not answering", hang.URL, 100 * time.Millisecond, "did not answer in time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			err := newGW(tc.upstream).Probe(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), strings.TrimSuffix(tc.upstream, "/")) {
				t.Errorf("Probe = %v, want an error naming the upstream and %q", err, tc.want)
			}
		})
	}
}

// TestProbeRealStores: the probe gets an answer from every store the
// gateway tests run against.
func TestProbeRealStores(t *testing.T) {
	for _, u := range upstreams {
		t.Run(u.name, func(t *testing.T) {
			up := u.start(t)
			g, err := gateway.New(gateway.Config{Upstream: up.URL, AccessKey: upstreamAccessKey, SecretKey: upstreamSecretKey})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Probe(context.Background()); err != nil {
				t.Fatalf("Probe: %v", err)
			}
		})
	}
}

// TestReadinessFollowsTheUpstream: in gateway mode the readiness probe
// answers 200 while the store answers the gateway's probes and 503, with
// the reason, once it has stopped answering; the metrics say the same.
func TestReadinessFollowsTheUpstream(t *testing.T) {
	up := startEmbeddedUpstream(t)
	fs := gatewayFront(t, up, func(_ *gateway.Config, o *servertest.Options) { o.ProbeInterval = 20 * time.Millisecond })
	ready := func() (int, string) {
		resp, err := http.Get(fs.URL + "/_s3limit/health/ready")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, "ready while the store answers", func() string {
		if code, body := ready(); code != http.StatusOK {
			return body
		}
		return ""
	})
	up.Kill()
	waitFor(t, "not ready once the store is gone", func() string {
		if code, body := ready(); code != http.StatusServiceUnavailable || !strings.Contains(body, "the upstream store has not answered for") {
			return body
		}
		return ""
	})
	waitFor(t, "the metrics saying the store is down", func() string {
		mfs, err := fs.Metrics().Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		values := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				values[mf.GetName()] += m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
		if values["s3limit_upstream_up"] != 0 || values["s3limit_ready"] != 0 || values["s3limit_upstream_probe_failures_total"] < 1 {
			return fmt.Sprintf("upstream_up %v, ready %v, probe failures %v; want 0, 0, at least 1",
				values["s3limit_upstream_up"], values["s3limit_ready"], values["s3limit_upstream_probe_failures_total"])
		}
		return ""
	})
}
