// Package metrics holds the Prometheus collectors of s3limit serve.
//
// Every Metrics value owns its own prometheus.Registry: there is no
// package-level state, so tests and several servers in one process do not
// share counters. Metric names are "<namespace>_s3_<name>"; the namespace
// "seaweedfs" reproduces the names SeaweedFS exports
// (seaweedfs_s3_request_total, seaweedfs_s3_inflight_upload_count, ...).
//
// Gauges that describe current state (in-flight uploads and requests,
// waiting uploads, configured limits) are read from a Source at scrape time,
// so the request path never updates them. Event metrics (requests,
// throttles, waits, reloads) are updated by the caller; their label children
// can be resolved once (Throttled) so that hot paths do not allocate.
package metrics

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultNamespace is the metric name prefix used when New gets "".
const DefaultNamespace = "s3limit"

// Label values of the throttled and limit metrics.
const (
	ScopeGlobal = "global" // a limit of the global section
	ScopeBucket = "bucket" // a limit of one bucket's section
	ScopeUser   = "user"   // a limit of one user's section
	ScopeUpload = "upload" // the upload queue (type "wait": -concurrentUploadMaxWait)
)

// Configuration files, the "file" label of the config load metrics.
const (
	FileCircuitBreaker = "circuit_breaker" // the circuit-breaker file (-circuitBreaker)
	FileIdentities     = "identities"      // the identities file (-config)
)

// Metrics is the set of s3limit's collectors and the registry that holds
// them. The zero value is not usable; call New. A nil *Metrics is valid
// and records nothing, so callers need not check. All methods are safe for
// concurrent use.
type Metrics struct {
	namespace string
	reg       *prometheus.Registry

	requests   *prometheus.CounterVec   // action, status, bucket
	duration   *prometheus.HistogramVec // action
	uploadWait prometheus.Histogram
	throttled  *prometheus.CounterVec   // action, scope, type
	shadowed   *prometheus.CounterVec   // action, scope, type
	shapedB    *prometheus.CounterVec   // action, scope
	shapedWait *prometheus.CounterVec   // action, scope
	limitWait  *prometheus.HistogramVec // scope
	reloads    *prometheus.CounterVec   // file, result
	loadOK     *prometheus.GaugeVec     // file

	buckets bucketLabels
	status  [600]string // status code -> label, precomputed for 100..599

	source atomic.Pointer[sourceBox]
	server serverMetrics // build info, readiness, upstream (server.go)
}

type sourceBox struct{ s Source }

var namespaceRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// CheckNamespace reports whether ns can prefix metric names (letters,
// digits and underscores, not starting with a digit). "" is valid and means
// DefaultNamespace. Check user input with it before calling New.
func CheckNamespace(ns string) error {
	if ns == "" || namespaceRE.MatchString(ns) {
		return nil
	}
	return fmt.Errorf("metrics: invalid namespace %q: use letters, digits and underscores, not starting with a digit", ns)
}

// New returns the collectors registered in a new registry, together with
// the Go runtime and process collectors. namespace "" means
// DefaultNamespace. New panics when namespace fails CheckNamespace (a
// programming error: validate user input first).
func New(namespace string) *Metrics {
	if err := CheckNamespace(namespace); err != nil {
		panic(err)
	}
	if namespace == "" {
		namespace = DefaultNamespace
	}
	m := &Metrics{namespace: namespace, reg: prometheus.NewRegistry()}
	m.buckets.init(MaxBucketLabels)
	for code := 100; code < len(m.status); code++ {
		m.status[code] = strconv.Itoa(code)
	}
	durations := prometheus.ExponentialBuckets(0.001, 4, 10) // 1ms .. ~262s

	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "s3", Name: "request_total",
		Help: "S3 requests by action, HTTP status and bucket.",
	}, []string{"action", "status", "bucket"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "s3", Name: "request_duration_seconds",
		Help:    "Time from classification to the end of the response, by action.",
		Buckets: durations,
	}, []string{"action"})
	m.uploadWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "s3", Name: "upload_wait_seconds",
		Help:    "Time uploads spent queued for upload capacity before they were admitted.",
		Buckets: durations,
	})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "s3", Name: "throttled_total",
		Help: "Requests refused by a limit, by action, scope (global, bucket, user, upload) and type (count, bytes, ops/s, bytes/s, wait).",
	}, []string{"action", "scope", "type"})
	m.shadowed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "s3", Name: "shadow_refusals_total",
		Help: "Requests a shadow section would have refused (not enforced), by action, scope (global, bucket, user) and type (count, bytes, ops/s, bytes/s).",
	}, []string{"action", "scope", "type"})
	m.shapedB = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "s3", Name: "shaped_bytes_total",
		Help: "Body bytes paced by a bytes/s limit, by action and scope.",
	}, []string{"action", "scope"})
	m.shapedWait = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "s3", Name: "shaping_wait_seconds_total",
		Help: "Time requests spent waiting for bandwidth of a bytes/s limit, by action and scope.",
	}, []string{"action", "scope"})
	m.limitWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "s3", Name: "limit_wait_seconds",
		Help:    "Time requests waited for room under a count or bytes limit of a section with a wait, by scope (admitted or not).",
		Buckets: durations,
	}, []string{"scope"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "s3", Name: "config_reloads_total",
		Help: "Loads of a configuration file (circuit_breaker, identities) by result (success, failure).",
	}, []string{"file", "result"})
	for _, f := range []string{FileCircuitBreaker, FileIdentities} {
		m.reloads.WithLabelValues(f, "success")
		m.reloads.WithLabelValues(f, "failure")
	}
	m.loadOK = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "s3", Name: "config_last_load_success",
		Help: "1 when the last load of a configuration file (circuit_breaker, identities) succeeded, 0 when the file was rejected and the last good configuration stays in force.",
	}, []string{"file"})

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.uploadWait, m.throttled, m.shadowed, m.shapedB, m.shapedWait, m.limitWait, m.reloads, m.loadOK,
		newStateCollector(m),
	)
	m.registerServer()
	return m
}

// Namespace returns the metric name prefix in use.
func (m *Metrics) Namespace() string {
	if m == nil {
		return ""
	}
	return m.namespace
}

// Registry returns the registry holding every collector, for tests and for
// packages that add collectors of their own.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in the Prometheus text format, for /metrics.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// ObserveRequest records one classified request: it counts it in
// s3_request_total{action,status,bucket} and observes d in
// s3_request_duration_seconds{action}. bucket is "" for service-level
// requests. Past MaxBucketLabels distinct bucket names, further names are
// counted under the bucket label "_other", so a client cannot grow the
// registry without bound by naming random buckets.
func (m *Metrics) ObserveRequest(action, bucket string, status int, d time.Duration) {
	if m == nil {
		return
	}
	var st string
	if status >= 100 && status < len(m.status) {
		st = m.status[status]
	} else {
		st = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(action, st, m.buckets.label(bucket)).Inc()
	m.duration.WithLabelValues(action).Observe(d.Seconds())
}

// Throttled returns the counter of requests refused for action by a limit
// of the given scope (ScopeGlobal, ScopeBucket, ScopeUpload) and type
// ("count", "bytes", "wait"). Resolve it once and keep it: Inc on the
// result does not allocate. A nil *Metrics returns nil.
func (m *Metrics) Throttled(action, scope, typ string) prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.throttled.WithLabelValues(action, scope, typ)
}

// Shadowed returns the counter of requests a shadow section would have
// refused for action, by scope and type. Resolve it once; a nil *Metrics
// returns nil.
func (m *Metrics) Shadowed(action, scope, typ string) prometheus.Counter {
	if m == nil {
		return nil
	}
	return m.shadowed.WithLabelValues(action, scope, typ)
}

// Shaping returns the counters of body bytes paced and seconds waited
// for bandwidth under the bytes/s limits of scope for action. Resolve
// them once; a nil *Metrics returns nils.
func (m *Metrics) Shaping(action, scope string) (bytes, waitSeconds prometheus.Counter) {
	if m == nil {
		return nil, nil
	}
	return m.shapedB.WithLabelValues(action, scope), m.shapedWait.WithLabelValues(action, scope)
}

// ObserveLimitWait records how long a request waited for room under a
// limit of scope.
func (m *Metrics) ObserveLimitWait(scope string, d time.Duration) {
	if m == nil {
		return
	}
	m.limitWait.WithLabelValues(scope).Observe(d.Seconds())
}

// ObserveUploadWait records how long an admitted upload waited for
// capacity (0 when it did not wait).
func (m *Metrics) ObserveUploadWait(d time.Duration) {
	if m == nil {
		return
	}
	m.uploadWait.Observe(d.Seconds())
}

// ConfigLoad records one attempt to load a configuration file
// (FileCircuitBreaker, FileIdentities): it counts it in
// config_reloads_total{file,result} and sets
// config_last_load_success{file} to 1 or 0. The gauge appears with the
// first load, so a server without the file has no series for it.
func (m *Metrics) ConfigLoad(file string, ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.reloads.WithLabelValues(file, "success").Inc()
		m.loadOK.WithLabelValues(file).Set(1)
	} else {
		m.reloads.WithLabelValues(file, "failure").Inc()
		m.loadOK.WithLabelValues(file).Set(0)
	}
}

// SetSource installs the Source read at scrape time; nil removes it (the
// state gauges then read 0 and no limits are listed).
func (m *Metrics) SetSource(s Source) {
	if m == nil {
		return
	}
	if s == nil {
		m.source.Store(nil)
		return
	}
	m.source.Store(&sourceBox{s})
}
