package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeSource struct {
	up       UploadStats
	inflight map[string]int64
	limits   []Limit
}

func (f *fakeSource) LimitWaiting(func(string, int64)) {}

func (f *fakeSource) Uploads() UploadStats { return f.up }

func (f *fakeSource) InflightRequests(emit func(string, int64)) {
	for a, n := range f.inflight {
		emit(a, n)
	}
}

func (f *fakeSource) Limits(emit func(Limit)) {
	for _, l := range f.limits {
		emit(l)
	}
}

func TestSeaweedFSNames(t *testing.T) {
	m := New("seaweedfs")
	m.SetSource(&fakeSource{up: UploadStats{Files: 3, Bytes: 3 << 20, Waiting: 2}})
	m.ObserveRequest("Write", "photos", 429, 5*time.Millisecond)
	m.ObserveRequest("Write", "photos", 429, 5*time.Millisecond)
	m.ObserveRequest("Read", "photos", 200, time.Millisecond)
	want := `
# HELP seaweedfs_s3_inflight_upload_bytes Declared bytes of the uploads being served.
# TYPE seaweedfs_s3_inflight_upload_bytes gauge
seaweedfs_s3_inflight_upload_bytes 3.145728e+06
# HELP seaweedfs_s3_inflight_upload_count Uploads being served (admitted by the upload limiter, response not finished).
# TYPE seaweedfs_s3_inflight_upload_count gauge
seaweedfs_s3_inflight_upload_count 3
# HELP seaweedfs_s3_request_total S3 requests by action, HTTP status and bucket.
# TYPE seaweedfs_s3_request_total counter
seaweedfs_s3_request_total{action="Read",bucket="photos",status="200"} 1
seaweedfs_s3_request_total{action="Write",bucket="photos",status="429"} 2
# HELP seaweedfs_s3_upload_waiting Uploads queued for upload capacity.
# TYPE seaweedfs_s3_upload_waiting gauge
seaweedfs_s3_upload_waiting 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"seaweedfs_s3_inflight_upload_bytes", "seaweedfs_s3_inflight_upload_count",
		"seaweedfs_s3_request_total", "seaweedfs_s3_upload_waiting"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.duration, "seaweedfs_s3_request_duration_seconds"); n != 2 {
		t.Errorf("%d duration series, want 2 (Read, Write)", n)
	}
}

func TestDefaultNamespaceAndRuntimeCollectors(t *testing.T) {
	m := New("")
	if m.Namespace() != DefaultNamespace {
		t.Fatalf("namespace %q", m.Namespace())
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, name := range []string{
		"s3limit_s3_inflight_upload_count 0",
		"s3limit_s3_inflight_upload_bytes 0",
		"s3limit_s3_upload_waiting 0",
		`s3limit_s3_config_reloads_total{file="circuit_breaker",result="failure"} 0`,
		`s3limit_s3_config_reloads_total{file="identities",result="success"} 0`,
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
}

func TestStateFromSource(t *testing.T) {
	m := New("t")
	src := &fakeSource{
		inflight: map[string]int64{"Read": 4, "Write": 0},
		limits: []Limit{
			{Scope: ScopeGlobal, Action: "Read", Type: "count", Value: 500},
			{Scope: ScopeBucket, Bucket: "photos", Action: "Write", Type: "bytes", Value: 1 << 30},
		},
	}
	m.SetSource(src)
	want := `
# HELP t_s3_circuit_breaker_limit Configured circuit-breaker limits of enabled sections (count: simultaneous requests, bytes: simultaneous declared bytes, ops/s: requests per second, bytes/s: body bytes per second).
# TYPE t_s3_circuit_breaker_limit gauge
t_s3_circuit_breaker_limit{action="Read",bucket="",scope="global",type="count"} 500
t_s3_circuit_breaker_limit{action="Write",bucket="photos",scope="bucket",type="bytes"} 1.073741824e+09
# HELP t_s3_inflight_requests Requests admitted by the circuit breaker whose response is not finished, by action.
# TYPE t_s3_inflight_requests gauge
t_s3_inflight_requests{action="Read"} 4
t_s3_inflight_requests{action="Write"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"t_s3_circuit_breaker_limit", "t_s3_inflight_requests"); err != nil {
		t.Fatal(err)
	}
	// Values are read at scrape time.
	src.inflight["Read"] = 1
	src.limits = src.limits[:1]
	if n := testutil.CollectAndCount(m.Registry(), "t_s3_circuit_breaker_limit"); n != 1 {
		t.Errorf("%d limit series after the change, want 1", n)
	}
	m.SetSource(nil)
	if n := testutil.CollectAndCount(m.Registry(), "t_s3_inflight_requests", "t_s3_circuit_breaker_limit"); n != 0 {
		t.Errorf("%d state series without a source, want 0", n)
	}
}

func TestEventMetrics(t *testing.T) {
	m := New("t")
	c := m.Throttled("Write", ScopeBucket, "count")
	c.Inc()
	c.Inc()
	if got := testutil.ToFloat64(m.throttled.WithLabelValues("Write", "bucket", "count")); got != 2 {
		t.Errorf("throttled = %v, want 2", got)
	}
	if n := testutil.CollectAndCount(m.loadOK); n != 0 {
		t.Errorf("%d last-load gauges before any load, want 0 (no file, no series)", n)
	}
	m.ConfigLoad(FileCircuitBreaker, true)
	m.ConfigLoad(FileCircuitBreaker, false)
	m.ConfigLoad(FileIdentities, true)
	m.ConfigLoad(FileCircuitBreaker, false)
	wantLoads := `
# HELP t_s3_config_last_load_success 1 when the last load of a configuration file (circuit_breaker, identities) succeeded, 0 when the file was rejected and the last good configuration stays in force.
# TYPE t_s3_config_last_load_success gauge
t_s3_config_last_load_success{file="circuit_breaker"} 0
t_s3_config_last_load_success{file="identities"} 1
# HELP t_s3_config_reloads_total Loads of a configuration file (circuit_breaker, identities) by result (success, failure).
# TYPE t_s3_config_reloads_total counter
t_s3_config_reloads_total{file="circuit_breaker",result="failure"} 2
t_s3_config_reloads_total{file="circuit_breaker",result="success"} 1
t_s3_config_reloads_total{file="identities",result="failure"} 0
t_s3_config_reloads_total{file="identities",result="success"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(wantLoads),
		"t_s3_config_last_load_success", "t_s3_config_reloads_total"); err != nil {
		t.Error(err)
	}
	m.ConfigLoad(FileCircuitBreaker, true)
	if got := testutil.ToFloat64(m.loadOK.WithLabelValues(FileCircuitBreaker)); got != 1 {
		t.Errorf("last load success after a good load = %v, want 1", got)
	}
	m.ObserveUploadWait(0)
	m.ObserveUploadWait(3 * time.Second)
	want := `
# HELP t_s3_upload_wait_seconds Time uploads spent queued for upload capacity before they were admitted.
# TYPE t_s3_upload_wait_seconds histogram
t_s3_upload_wait_seconds_bucket{le="0.001"} 1
t_s3_upload_wait_seconds_bucket{le="0.004"} 1
t_s3_upload_wait_seconds_bucket{le="0.016"} 1
t_s3_upload_wait_seconds_bucket{le="0.064"} 1
t_s3_upload_wait_seconds_bucket{le="0.256"} 1
t_s3_upload_wait_seconds_bucket{le="1.024"} 1
t_s3_upload_wait_seconds_bucket{le="4.096"} 2
t_s3_upload_wait_seconds_bucket{le="16.384"} 2
t_s3_upload_wait_seconds_bucket{le="65.536"} 2
t_s3_upload_wait_seconds_bucket{le="262.144"} 2
t_s3_upload_wait_seconds_bucket{le="+Inf"} 2
t_s3_upload_wait_seconds_sum 3
t_s3_upload_wait_seconds_count 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "t_s3_upload_wait_seconds"); err != nil {
		t.Fatal(err)
	}
}

func TestInstancesAreIndependent(t *testing.T) {
	a, b := New("x"), New("x")
	a.ObserveRequest("Read", "", 200, 0)
	if n := testutil.CollectAndCount(b.requests); n != 0 {
		t.Fatalf("a second Metrics sees %d series of the first", n)
	}
}

func TestBucketLabelCap(t *testing.T) {
	m := New("t")
	for i := range MaxBucketLabels {
		m.ObserveRequest("Read", fmt.Sprintf("bucket-%05d", i), 200, 0)
	}
	m.ObserveRequest("Read", "one-too-many", 200, 0)
	m.ObserveRequest("Read", "bucket-00007", 200, 0) // known names keep their label
	m.ObserveRequest("Read", "", 200, 0)             // service requests have no bucket
	if got := testutil.ToFloat64(m.requests.WithLabelValues("Read", "200", OtherBucket)); got != 1 {
		t.Errorf("requests for bucket %s = %v, want 1", OtherBucket, got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("Read", "200", "bucket-00007")); got != 2 {
		t.Errorf("requests for bucket-00007 = %v, want 2", got)
	}
	if n := testutil.CollectAndCount(m.requests); n != MaxBucketLabels+2 {
		t.Errorf("%d series, want %d", n, MaxBucketLabels+2)
	}
}

func TestStatusLabels(t *testing.T) {
	m := New("t")
	for _, st := range []int{0, 99, 200, 599, 600, 1000} {
		m.ObserveRequest("Read", "", st, 0)
	}
	for _, st := range []string{"0", "99", "200", "599", "600", "1000"} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues("Read", st, "")); got != 1 {
			t.Errorf("status %s counted %v times, want 1", st, got)
		}
	}
}

func TestNilMetricsRecordsNothing(t *testing.T) {
	var m *Metrics
	m.ObserveRequest("Read", "b", 200, time.Second)
	m.ObserveUploadWait(time.Second)
	m.ConfigLoad(FileCircuitBreaker, true)
	m.SetSource(&fakeSource{})
	if m.Throttled("Read", ScopeGlobal, "count") != nil || m.Registry() != nil || m.Namespace() != "" {
		t.Fatal("nil Metrics returned something")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Metrics handler status %d, want 404", rec.Code)
	}
}

func TestCheckNamespace(t *testing.T) {
	for ns, ok := range map[string]bool{
		"": true, "s3limit": true, "seaweedfs": true, "my_ns2": true, "_x": true,
		"2fast": false, "with-dash": false, "dot.ted": false, "spa ce": false,
	} {
		if err := CheckNamespace(ns); (err == nil) != ok {
			t.Errorf("CheckNamespace(%q) = %v, want ok=%v", ns, err, ok)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New with an invalid namespace did not panic")
		}
	}()
	New("with-dash")
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New("b")
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("Write", "photos", 200, time.Millisecond)
	}
}

func BenchmarkThrottledInc(b *testing.B) {
	c := New("b").Throttled("Write", ScopeBucket, "count")
	b.ReportAllocs()
	for b.Loop() {
		c.Inc()
	}
}
