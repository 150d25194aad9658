package metrics

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The server's own state, outside the "s3" subsystem:
//
//	<ns>_build_info{version,goversion}         1
//	<ns>_ready                                 1 while the health probe says ready
//	<ns>_upstream_up                           gateway mode: 1 if the last probe of the store got an answer
//	<ns>_upstream_probe_duration_seconds       gateway mode: how long each probe took
//	<ns>_upstream_probe_failures_total         gateway mode: probes without an answer
//
// The upstream metrics are registered by the first UpstreamProbe, so a
// server on the embedded store does not export an upstream that is
// always "down".
type serverMetrics struct {
	buildInfo *prometheus.GaugeVec
	ready     atomic.Pointer[func() bool]

	upstreamOnce     sync.Once
	upstreamUp       prometheus.Gauge
	upstreamDuration prometheus.Histogram
	upstreamFailures prometheus.Counter
}

// registerServer registers the build information and readiness gauges.
func (m *Metrics) registerServer() {
	s := &m.server
	s.buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: m.namespace, Name: "build_info",
		Help: "Always 1; the labels say which s3limit version and Go version built the running binary.",
	}, []string{"version", "goversion"})
	s.buildInfo.WithLabelValues("unknown", runtime.Version()).Set(1)
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: m.namespace, Name: "ready",
		Help: "1 while the server answers its readiness probe with 200 (accepting work; in gateway mode, the store answered recently), else 0.",
	}, func() float64 {
		if f := s.ready.Load(); f != nil && (*f)() {
			return 1
		}
		return 0
	})
	m.reg.MustRegister(s.buildInfo, ready)
}

// SetBuildInfo sets the version label of <ns>_build_info (goversion is
// the running binary's Go version).
func (m *Metrics) SetBuildInfo(version string) {
	if m == nil {
		return
	}
	m.server.buildInfo.Reset()
	m.server.buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
}

// SetReadiness installs the function <ns>_ready reads at scrape time. It
// must be safe for concurrent use and must not block.
func (m *Metrics) SetReadiness(ready func() bool) {
	if m == nil {
		return
	}
	m.server.ready.Store(&ready)
}

// UpstreamProbe records one probe of the upstream store: whether it got
// an answer and how long it took.
func (m *Metrics) UpstreamProbe(ok bool, d time.Duration) {
	if m == nil {
		return
	}
	s := &m.server
	s.upstreamOnce.Do(func() {
		s.upstreamUp = prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: m.namespace, Name: "upstream_up",
			Help: "Gateway mode: 1 if the last probe of the upstream store got an answer, else 0.",
		})
		s.upstreamDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: m.namespace, Name: "upstream_probe_duration_seconds",
			Help:    "Gateway mode: time each probe of the upstream store took, answered or not.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8), // 1ms .. ~16s
		})
		s.upstreamFailures = prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: m.namespace, Name: "upstream_probe_failures_total",
			Help: "Gateway mode: probes of the upstream store that got no answer in time.",
		})
		m.reg.MustRegister(s.upstreamUp, s.upstreamDuration, s.upstreamFailures)
	})
	if ok {
		s.upstreamUp.Set(1)
	} else {
		s.upstreamUp.Set(0)
		s.upstreamFailures.Inc()
	}
	s.upstreamDuration.Observe(d.Seconds())
}
