package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

// DefaultProbeInterval is Config.ProbeInterval's zero value.
const DefaultProbeInterval = 5 * time.Second

// probeStaleAfter is how many probe intervals may pass without an answer
// from the store before the server stops being ready: one lost probe is
// not an outage.
const probeStaleAfter = 3

// Prober is implemented by backends that stand for another store (the
// gateway): Probe asks the store for a cheap answer and returns nil when
// it got one. It must return when ctx ends.
type Prober interface {
	Probe(ctx context.Context) error
}

// health is the server's answer to the health probes (s3api.HealthLivePath,
// s3api.HealthReadyPath). Live is always true while the process serves
// HTTP. Ready means the server accepts work: it is not draining for
// shutdown and, when the backend is a Prober, the store answered one of
// the probes of the last probeStaleAfter intervals. Its methods are safe
// for concurrent use.
type health struct {
	prober   Prober // nil = nothing to probe (embedded store)
	interval time.Duration
	log      *slog.Logger
	metrics  *metrics.Metrics

	draining atomic.Bool
	last     atomic.Pointer[probeResult] // nil until the first probe ends
}

// probeResult is the outcome of one probe.
type probeResult struct {
	at       time.Time // when it ended
	err      error     // nil = the store answered
	answered time.Time // when the store last answered; zero = never
}

// ready reports whether the server is ready at now and, if not, why.
func (h *health) ready(now time.Time) (bool, string) {
	if h.draining.Load() {
		return false, "draining: the server is shutting down"
	}
	if h.prober == nil {
		return true, ""
	}
	p := h.last.Load()
	switch {
	case p == nil:
		return false, "the upstream store has not been probed yet"
	case p.answered.IsZero():
		return false, fmt.Sprintf("the upstream store has not answered since start: %v", p.err)
	case now.Sub(p.answered) > probeStaleAfter*h.interval:
		return false, fmt.Sprintf("the upstream store has not answered for %s: %v", now.Sub(p.answered).Round(time.Millisecond), p.err)
	}
	return true, ""
}

// run probes the store at once and then every interval until ctx ends.
func (h *health) run(ctx context.Context) {
	if h.prober == nil {
		return
	}
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		h.probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe runs one probe, bounded by the interval, records it and logs a
// change of the store's state.
func (h *health) probe(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, h.interval)
	start := time.Now()
	err := h.prober.Probe(pctx)
	cancel()
	end := time.Now()
	if ctx.Err() != nil {
		return // stopping: the store is not to blame
	}
	h.metrics.UpstreamProbe(err == nil, end.Sub(start))
	prev := h.last.Load()
	next := &probeResult{at: end, err: err}
	if err == nil {
		next.answered = end
	} else if prev != nil {
		next.answered = prev.answered
	}
	h.last.Store(next)
	switch {
	case err != nil && (prev == nil || prev.err == nil):
		h.log.Warn("upstream store not answering; not ready until it does", "err", err)
	case err == nil && prev != nil && prev.err != nil:
		h.log.Info("upstream store answering again", "latency", end.Sub(start).Round(time.Microsecond))
	}
}

// serveHealth answers a health probe: 200 "live" or "ready", or 503 with
// the reason the server is not ready. Probes are never cached.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request, op s3api.Op) {
	status, body := http.StatusOK, "live\n"
	if op == s3api.OpHealthReady {
		body = "ready\n"
		if ok, why := s.health.ready(time.Now()); !ok {
			status, body = http.StatusServiceUnavailable, "not ready: "+why+"\n"
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}

// Ready reports whether the server answers its readiness probe with 200
// and, if not, why.
func (s *Server) Ready() (bool, string) { return s.health.ready(time.Now()) }

// Drain turns the readiness probe to 503 while requests go on being
// served. Call it when shutdown begins, so that load balancers move
// traffic away before the port closes. It cannot be undone.
func (s *Server) Drain() { s.health.draining.Store(true) }
