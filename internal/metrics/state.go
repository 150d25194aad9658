package metrics

import "github.com/prometheus/client_golang/prometheus"

// Source reports the current state of the limits, read at scrape time.
// Its methods must be safe for concurrent use and must not block.
type Source interface {
	// Uploads returns the uploads being served (files and declared bytes)
	// and the number queued for capacity.
	Uploads() UploadStats
	// InflightRequests calls emit once per action with the number of
	// admitted requests of that action whose response is not finished.
	InflightRequests(emit func(action string, n int64))
	// Limits calls emit once per configured limit of every enabled section.
	Limits(emit func(Limit))
	// LimitWaiting calls emit once per scope with the number of requests
	// waiting for room under a limit of that scope.
	LimitWaiting(emit func(scope string, n int64))
}

// UploadStats is the state of the upload limiter.
type UploadStats struct {
	Files   int64 // uploads admitted and not finished
	Bytes   int64 // declared bytes of those uploads
	Waiting int64 // uploads queued for capacity
}

// Limit is one configured circuit-breaker limit.
type Limit struct {
	Scope  string // ScopeGlobal, ScopeBucket or ScopeUser
	Bucket string // the bucket of ScopeBucket, else ""
	User   string // the user of ScopeUser, else ""
	Action string // "Read", "Write", ...
	Type   string // "count", "bytes", "ops/s" or "bytes/s"
	Value  int64  // the limit; 0 blocks
}

// stateCollector turns the Source into gauges at scrape time, so the
// request path never touches them and a configuration with many buckets
// costs nothing between scrapes.
type stateCollector struct {
	m                        *Metrics
	uploadCount, uploadBytes *prometheus.Desc
	uploadWaiting, inflight  *prometheus.Desc
	limit, userLimit         *prometheus.Desc
	limitWaiting             *prometheus.Desc
}

func newStateCollector(m *Metrics) *stateCollector {
	name := func(n string) string { return prometheus.BuildFQName(m.namespace, "s3", n) }
	return &stateCollector{
		m: m,
		uploadCount: prometheus.NewDesc(name("inflight_upload_count"),
			"Uploads being served (admitted by the upload limiter, response not finished).", nil, nil),
		uploadBytes: prometheus.NewDesc(name("inflight_upload_bytes"),
			"Declared bytes of the uploads being served.", nil, nil),
		uploadWaiting: prometheus.NewDesc(name("upload_waiting"),
			"Uploads queued for upload capacity.", nil, nil),
		inflight: prometheus.NewDesc(name("inflight_requests"),
			"Requests admitted by the circuit breaker whose response is not finished, by action.",
			[]string{"action"}, nil),
		limit: prometheus.NewDesc(name("circuit_breaker_limit"),
			"Configured circuit-breaker limits of enabled sections (count: simultaneous requests, bytes: simultaneous declared bytes, ops/s: requests per second, bytes/s: body bytes per second).",
			[]string{"scope", "bucket", "action", "type"}, nil),
		limitWaiting: prometheus.NewDesc(name("limit_waiting"),
			"Requests waiting for room under a count or bytes limit, by scope.", []string{"scope"}, nil),
		userLimit: prometheus.NewDesc(name("user_limit"),
			"Configured limits of enabled user sections, by user, action and type (as circuit_breaker_limit).",
			[]string{"user", "action", "type"}, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.uploadCount
	ch <- c.uploadBytes
	ch <- c.uploadWaiting
	ch <- c.inflight
	ch <- c.limit
	ch <- c.userLimit
	ch <- c.limitWaiting
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	var src Source
	if b := c.m.source.Load(); b != nil {
		src = b.s
	}
	var up UploadStats
	if src != nil {
		up = src.Uploads()
	}
	ch <- prometheus.MustNewConstMetric(c.uploadCount, prometheus.GaugeValue, float64(up.Files))
	ch <- prometheus.MustNewConstMetric(c.uploadBytes, prometheus.GaugeValue, float64(up.Bytes))
	ch <- prometheus.MustNewConstMetric(c.uploadWaiting, prometheus.GaugeValue, float64(up.Waiting))
	if src == nil {
		return
	}
	src.InflightRequests(func(action string, n int64) {
		ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(n), action)
	})
	src.LimitWaiting(func(scope string, n int64) {
		ch <- prometheus.MustNewConstMetric(c.limitWaiting, prometheus.GaugeValue, float64(n), scope)
	})
	src.Limits(func(l Limit) {
		if l.Scope == ScopeUser {
			ch <- prometheus.MustNewConstMetric(c.userLimit, prometheus.GaugeValue, float64(l.Value), l.User, l.Action, l.Type)
			return
		}
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(l.Value),
			l.Scope, l.Bucket, l.Action, l.Type)
	})
}
