package limits

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

// metricValue returns the value of the sample of name with exactly the
// given labels (a histogram's sample count), or -1 when there is none.
func metricValue(t testing.TB, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, s := range f.GetMetric() {
			if len(s.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range s.GetLabel() {
				if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
					continue next
				}
			}
			return sampleValue(s)
		}
	}
	return -1
}

func sampleValue(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	}
	return -1
}

func counterValue(t testing.TB, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	return metricValue(t, m, name, labels)
}

func TestNewValidatesOptions(t *testing.T) {
	for _, o := range []Options{
		{ConcurrentUploadLimitBytes: -1},
		{ConcurrentFileUploadLimit: -1},
		{UploadMaxWait: -1},
		{ThrottleStatus: 418},
		{RetryAfter: -1},
		{ReloadDelay: -1},
		{AdminMaxBodyBytes: -1},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", o)
		}
	}
}

func TestNewLoadsConfigFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content *string // nil: no file
		wantErr string  // substring of New's error
		blocked bool    // whether a Read on photos is refused
	}{
		{name: "missing file means no limits"},
		{name: "empty file is rejected", content: ptr(" \n"), wantErr: "file is empty (write {} or delete the file"},
		{name: "valid file", content: ptr(`{"buckets":{"photos":{"enabled":true,"actions":{"Read:count":"0"}}}}`), blocked: true},
		{name: "SeaweedFS form", content: ptr(`{"global":{"enabled":true,"actions":{"Read:Count":"0","Write:MB":"1048576"}}}`), blocked: true},
		{name: "invalid file", content: ptr(`{"global":{"enabled":true,"actions":{"Raed:count":1}}}`), wantErr: `global.actions."Raed:count"`},
		{name: "not JSON", content: ptr(`{"global":`), wantErr: "not valid JSON"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "cb"+string(rune('a'+i))+".json")
			if tc.content != nil {
				if err := os.WriteFile(path, []byte(*tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m := metrics.New("test")
			l, err := New(Options{ConfigPath: path, Metrics: m})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("New = %v, want an error naming %s and %s", err, path, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = l.breaker.Admit(s3api.ActionRead, "photos", 0)
			if (err != nil) != tc.blocked {
				t.Errorf("read refused=%v, want %v", err != nil, tc.blocked)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestApplyAndConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "circuit_breaker.json")
	l := newLimits(t, Options{ConfigPath: path}, "")
	cfg0, etag0 := l.Config()
	if len(cfg0.Buckets) != 0 || cfg0.Global != nil || !strings.HasPrefix(etag0, `"`) {
		t.Fatalf("initial config %+v etag %s", cfg0, etag0)
	}
	cfg := &Config{Buckets: map[string]*Section{"photos": {Enabled: true, Actions: map[string]int64{"Write:count": 0}}}}
	etag1, err := l.Apply(cfg, etag0)
	if err != nil {
		t.Fatal(err)
	}
	if etag1 == etag0 {
		t.Fatal("ETag did not change")
	}
	// Apply copied cfg; the configuration in force is what was applied.
	cfg.Buckets["photos"].Actions["Write:count"] = 9
	got, etag := l.Config()
	if etag != etag1 || got.Buckets["photos"].Actions["Write:count"] != 0 {
		t.Fatalf("Config() = %+v %s, want the applied document with %s", got, etag, etag1)
	}
	// Config returns a copy too.
	got.Buckets["photos"].Enabled = false
	if _, err := l.breaker.Admit(s3api.ActionWrite, "photos", 0); err == nil {
		t.Fatal("write admitted; the limit must be in force")
	}
	// The file holds the canonical document.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := l.breaker.snap.Load().cfg.Marshal()
	if string(data) != string(want) {
		t.Fatalf("file = %s, want %s", data, want)
	}

	// A stale If-Match changes nothing.
	if _, err := l.Apply(&Config{}, etag0); !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("Apply with stale If-Match = %v, want ErrPreconditionFailed", err)
	}
	if _, etag := l.Config(); etag != etag1 {
		t.Fatal("a stale Apply changed the configuration")
	}
	// An invalid document changes nothing.
	bad := &Config{Buckets: map[string]*Section{"Photos!": {Enabled: true}}}
	var ce *ConfigError
	if _, err := l.Apply(bad, ""); !errors.As(err, &ce) || !strings.Contains(ce.Field, "Photos!") {
		t.Fatalf("Apply(invalid) = %v, want a ConfigError naming the bucket", err)
	}
	// If-Match forms: a list naming the current tag, "*", an unquoted tag.
	forms := map[string]func(cur string) string{
		"list":     func(cur string) string { return `"nope", ` + cur },
		"any":      func(string) string { return "*" },
		"unquoted": func(cur string) string { return strings.Trim(cur, `"`) },
	}
	for name, form := range forms {
		_, cur := l.Config()
		if _, err := l.Apply(cfg0, form(cur)); err != nil {
			t.Errorf("Apply with %s If-Match %s: %v", name, form(cur), err)
		}
	}
	_, cur := l.Config()
	if _, err := l.Apply(cfg, `W/`+cur); !errors.Is(err, ErrPreconditionFailed) {
		t.Errorf("a weak If-Match matched: %v", err)
	}
}

func TestApplySeesUnwatchedFileEdit(t *testing.T) {
	// An edit of the file that no watcher applied yet still counts for
	// If-Match: the caller's ETag is stale.
	path := filepath.Join(t.TempDir(), "circuit_breaker.json")
	l := newLimits(t, Options{ConfigPath: path}, "")
	_, etag := l.Config()
	if err := WriteConfigFile(path, &Config{Global: &Section{Enabled: true, Actions: map[string]int64{"Read:count": 3}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Apply(&Config{}, etag); !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("Apply = %v, want ErrPreconditionFailed", err)
	}
	cfg, _ := l.Config()
	if cfg.Global == nil || cfg.Global.Actions["Read:count"] != 3 {
		t.Fatalf("config %+v, want the file's edit in force", cfg)
	}
}

func TestApplyWithoutFile(t *testing.T) {
	l := newLimits(t, Options{}, `{"global":{"enabled":true,"actions":{"Tagging:count":0}}}`)
	if _, err := l.breaker.Admit(s3api.ActionTagging, "", 0); err == nil {
		t.Fatal("tagging admitted")
	}
	if _, err := l.Apply(nil, ""); err != nil {
		t.Fatal(err)
	}
	tk, err := l.breaker.Admit(s3api.ActionTagging, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	tk.Release()
}

func TestMetricsSource(t *testing.T) {
	m := metrics.New("test")
	l := newLimits(t, Options{Metrics: m}, `{"global":{"enabled":true,"actions":{"Read:count":7}},
		"buckets":{"photos":{"enabled":true,"actions":{"Write:bytes":1024}},"off":{"enabled":false,"actions":{"Read:count":1}}}}`)
	tk, err := l.breaker.Admit(s3api.ActionRead, "photos", 0)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"test_s3_inflight_requests", map[string]string{"action": "Read"}, 1},
		{"test_s3_inflight_requests", map[string]string{"action": "Write"}, 0},
		{"test_s3_circuit_breaker_limit", map[string]string{"scope": "global", "bucket": "", "action": "Read", "type": "count"}, 7},
		{"test_s3_circuit_breaker_limit", map[string]string{"scope": "bucket", "bucket": "photos", "action": "Write", "type": "bytes"}, 1024},
		{"test_s3_circuit_breaker_limit", map[string]string{"scope": "bucket", "bucket": "off", "action": "Read", "type": "count"}, -1},
		{"test_s3_inflight_upload_count", nil, 0},
	}
	for _, c := range checks {
		if got := metricValue(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	tk.Release()
	if _, err := l.breaker.Admit(s3api.ActionWrite, "photos", 2048); err == nil {
		t.Fatal("oversize write admitted")
	}
	if got := metricValue(t, m, "test_s3_throttled_total", map[string]string{"action": "Write", "scope": "bucket", "type": "bytes"}); got != 1 {
		t.Errorf("throttled = %v, want 1", got)
	}
	if got := metricValue(t, m, "test_s3_inflight_requests", map[string]string{"action": "Read"}); got != 0 {
		t.Errorf("reads in flight after release = %v, want 0", got)
	}
}
