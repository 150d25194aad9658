package metrics

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBuildInfo(t *testing.T) {
	m := New("")
	want := func(version string) string {
		return `
# HELP s3limit_build_info Always 1; the labels say which s3limit version and Go version built the running binary.
# TYPE s3limit_build_info gauge
s3limit_build_info{goversion="` + runtime.Version() + `",version="` + version + `"} 1
`
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want("unknown")), "s3limit_build_info"); err != nil {
		t.Fatal(err)
	}
	m.SetBuildInfo("v1.2.3")
	m.SetBuildInfo("v1.2.4") // replaces, never two series
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want("v1.2.4")), "s3limit_build_info"); err != nil {
		t.Fatal(err)
	}
	var nilMetrics *Metrics
	nilMetrics.SetBuildInfo("v1") // a nil *Metrics records nothing
	nilMetrics.SetReadiness(func() bool { return true })
	nilMetrics.UpstreamProbe(true, time.Second)
}

func TestReadyGaugeReadsAtScrapeTime(t *testing.T) {
	m := New("seaweedfs")
	want := func(v string) string {
		return `
# HELP seaweedfs_ready 1 while the server answers its readiness probe with 200 (accepting work; in gateway mode, the store answered recently), else 0.
# TYPE seaweedfs_ready gauge
seaweedfs_ready ` + v + "\n"
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want("0")), "seaweedfs_ready"); err != nil {
		t.Errorf("without a readiness function: %v", err)
	}
	var ready atomic.Bool
	m.SetReadiness(ready.Load)
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want("0")), "seaweedfs_ready"); err != nil {
		t.Errorf("not ready: %v", err)
	}
	ready.Store(true)
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want("1")), "seaweedfs_ready"); err != nil {
		t.Errorf("ready: %v", err)
	}
}

func TestUpstreamMetricsAppearWithTheFirstProbe(t *testing.T) {
	m := New("")
	names := []string{"s3limit_upstream_up", "s3limit_upstream_probe_failures_total", "s3limit_upstream_probe_duration_seconds"}
	if n, err := testutil.GatherAndCount(m.Registry(), names...); err != nil || n != 0 {
		t.Fatalf("%d upstream series before any probe (%v); a server without an upstream must not export them", n, err)
	}
	m.UpstreamProbe(true, 3*time.Millisecond)
	m.UpstreamProbe(false, 2*time.Second)
	m.UpstreamProbe(false, 2*time.Second)
	want := `
# HELP s3limit_upstream_probe_failures_total Gateway mode: probes of the upstream store that got no answer in time.
# TYPE s3limit_upstream_probe_failures_total counter
s3limit_upstream_probe_failures_total 2
# HELP s3limit_upstream_up Gateway mode: 1 if the last probe of the upstream store got an answer, else 0.
# TYPE s3limit_upstream_up gauge
s3limit_upstream_up 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names[:2]...); err != nil {
		t.Fatal(err)
	}
	m.UpstreamProbe(true, time.Millisecond)
	if v := testutil.ToFloat64(m.server.upstreamUp); v != 1 {
		t.Errorf("upstream_up = %v after an answered probe", v)
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "s3limit_upstream_probe_duration_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != 4 || h.GetSampleSum() < 4.004 || h.GetSampleSum() > 4.0041 {
				t.Errorf("probe durations: %d samples summing to %v s, want 4 summing to 4.004", h.GetSampleCount(), h.GetSampleSum())
			}
			return
		}
	}
	t.Error("no upstream_probe_duration_seconds")
}
