package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/s3limit/s3limit/internal/metrics"
)

// fakeProber answers probes with the error the test sets; a probe hangs
// until its context ends while hang is set.
type fakeProber struct {
	mu    sync.Mutex
	err   error // guarded by mu
	hang  bool  // guarded by mu
	calls int   // guarded by mu
}

func (f *fakeProber) Probe(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	err, hang := f.err, f.hang
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fakeProber) set(err error, hang bool) {
	f.mu.Lock()
	f.err, f.hang = err, hang
	f.mu.Unlock()
}

func TestReadinessFollowsTheUpstreamProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logBuf bytes.Buffer
		m := metrics.New("")
		f := &fakeProber{err: errors.New("connection refused")}
		h := &health{prober: f, interval: time.Second, metrics: m,
			log: slog.New(slog.NewTextHandler(&logBuf, nil))}
		wantReady := func(step string, want bool, why string) {
			t.Helper()
			ok, got := h.ready(time.Now())
			if ok != want || !strings.Contains(got, why) {
				t.Errorf("%s: ready = %v (%q), want %v (%q)", step, ok, got, want, why)
			}
		}
		wantReady("before the first probe", false, "not been probed yet")

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.run(ctx)
		}()
		synctest.Wait() // the probe at start
		wantReady("store down at start", false, "has not answered since start: connection refused")

		f.set(nil, false)
		time.Sleep(time.Second)
		synctest.Wait()
		wantReady("store answering", true, "")

		// One, two, three lost probes are not an outage; after three
		// intervals without an answer the server is not ready.
		f.set(errors.New("connection reset"), false)
		for i := 1; i <= 3; i++ {
			time.Sleep(time.Second)
			synctest.Wait()
			wantReady("lost probes", true, "")
		}
		time.Sleep(500 * time.Millisecond)
		wantReady("three intervals without an answer", false, "has not answered for 3.5s: connection reset")

		// A probe that hangs is cut at the interval and counts as lost.
		f.set(nil, true)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		wantReady("hanging store", false, "context deadline exceeded")

		f.set(nil, false)
		time.Sleep(time.Second)
		synctest.Wait()
		wantReady("store back", true, "")

		h.draining.Store(true)
		wantReady("draining", false, "draining")

		cancel()
		<-done
		f.mu.Lock()
		calls := f.calls
		f.mu.Unlock()
		if calls != 8 {
			t.Errorf("%d probes, want 8 (one at start, one per interval)", calls)
		}
		want := `
# HELP s3limit_upstream_probe_failures_total Gateway mode: probes of the upstream store that got no answer in time.
# TYPE s3limit_upstream_probe_failures_total counter
s3limit_upstream_probe_failures_total 6
# HELP s3limit_upstream_up Gateway mode: 1 if the last probe of the upstream store got an answer, else 0.
# TYPE s3limit_upstream_up gauge
s3limit_upstream_up 1
`
		if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
			"s3limit_upstream_probe_failures_total", "s3limit_upstream_up"); err != nil {
			t.Error(err)
		}
		// One warning when the store stops answering, one line when it is
		// back: not a line per lost probe.
		log := logBuf.String()
		if n := strings.Count(log, "upstream store not answering"); n != 2 {
			t.Errorf("%d warnings, want 2 (down at start, then reset):\n%s", n, log)
		}
		if n := strings.Count(log, "upstream store answering again"); n != 2 {
			t.Errorf("%d recoveries logged, want 2:\n%s", n, log)
		}
	})
}
