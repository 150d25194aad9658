package limits

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/testkit"
)

type reloadResult struct {
	changed bool
	err     error
}

// watched starts Run on a configuration file in a fresh directory and
// returns a channel of reload results. Run stops when the test ends.
func watched(t *testing.T, initial string) (l *Limits, path string, m *metrics.Metrics, results <-chan reloadResult, logs *testkit.SyncBuffer) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "circuit_breaker.json")
	if initial != "" {
		if err := os.WriteFile(path, []byte(initial), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m = metrics.New("test")
	logs = &testkit.SyncBuffer{}
	l, err := New(Options{ConfigPath: path, Metrics: m, ReloadDelay: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan reloadResult, 64)
	l.reloaded = func(changed bool, err error) { ch <- reloadResult{changed, err} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	// Run re-reads the file once its watch is in place.
	if r := nextReload(t, ch); r.changed || r.err != nil {
		t.Fatalf("first reload %+v, want no change", r)
	}
	return l, path, m, ch, logs
}

// nextReload waits for the watcher's next reload. The timeout only guards
// against a hang; a reload normally follows a write within ReloadDelay.
func nextReload(t *testing.T, ch <-chan reloadResult) reloadResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s of a change")
		return reloadResult{}
	}
}

// untilApplied waits for a reload that put a new configuration in force.
// Failed reloads on the way are skipped: an edit in place shows a
// truncated file for a moment.
func untilApplied(t *testing.T, ch <-chan reloadResult) {
	t.Helper()
	for !nextReload(t, ch).changed {
	}
}

// untilRejected waits for a reload that rejected the file.
func untilRejected(t *testing.T, ch <-chan reloadResult) error {
	t.Helper()
	for {
		if r := nextReload(t, ch); r.err != nil {
			return r.err
		} else if r.changed {
			t.Fatal("an invalid file was applied")
		}
	}
}

func writeCount(t *testing.T, l *Limits, bucket string) (admitted bool) {
	t.Helper()
	tk, err := l.breaker.Admit(s3api.ActionWrite, bucket, 0)
	tk.Release()
	return err == nil
}

func TestReloadAppliesValidEdit(t *testing.T) {
	l, path, m, results, _ := watched(t, `{"buckets":{"photos":{"enabled":true,"actions":{"Write:count":1}}}}`)
	held, err := l.breaker.Admit(s3api.ActionWrite, "photos", 0)
	if err != nil {
		t.Fatal(err)
	}
	if writeCount(t, l, "photos") {
		t.Fatal("second write admitted under Write:count 1")
	}
	// Atomic replacement (temporary file + rename).
	if err := WriteConfigFile(path, &Config{Buckets: map[string]*Section{"photos": {Enabled: true, Actions: map[string]int64{"Write:count": 2}}}}); err != nil {
		t.Fatal(err)
	}
	untilApplied(t, results)
	// The held request still counts against the new limit of 2.
	if !writeCount(t, l, "photos") {
		t.Fatal("write refused under Write:count 2 with one in flight")
	}
	tk1, _ := l.breaker.Admit(s3api.ActionWrite, "photos", 0)
	if writeCount(t, l, "photos") {
		t.Fatal("third write admitted: the count of the held request was lost in the reload")
	}
	tk1.Release()

	// Edit in place.
	if err := os.WriteFile(path, []byte(`{"buckets":{"photos":{"enabled":true,"actions":{"Write:count":0}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	untilApplied(t, results)
	if writeCount(t, l, "photos") {
		t.Fatal("write admitted under Write:count 0")
	}
	held.Release()
	assertIdle(t, l)
	if got := metricValue(t, m, "test_s3_config_reloads_total", map[string]string{"file": "circuit_breaker", "result": "success"}); got != 3 {
		t.Errorf("successful reloads = %v, want 3 (start and two edits)", got)
	}
}

func TestReloadKeepsConfigOnInvalidEdit(t *testing.T) {
	l, path, m, results, logs := watched(t, `{"global":{"enabled":true,"actions":{"Read:count":0}}}`)
	_, etag := l.Config()
	for i, bad := range []string{
		`{"global":{"enabled":true,"actions":{"Read:count":"many"}}}`,
		`{"global":{"enabled":true,"actions"`,
		`   `,
	} {
		// Written atomically, so each version is seen whole and once.
		if err := writeFileAtomic(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		untilRejected(t, results)
		if _, now := l.Config(); now != etag {
			t.Fatalf("invalid file %q changed the configuration", bad)
		}
		if _, err := l.breaker.Admit(s3api.ActionRead, "", 0); err == nil {
			t.Fatal("the last good limit is no longer in force")
		}
		if got := metricValue(t, m, "test_s3_config_reloads_total", map[string]string{"file": "circuit_breaker", "result": "failure"}); got != float64(i+1) {
			t.Errorf("failed reloads = %v, want %d", got, i+1)
		}
	}
	if log := logs.String(); !strings.Contains(log, `global.actions.\"Read:count\"`) || !strings.Contains(log, "keeping the last good one") {
		t.Errorf("log does not name the problem:\n%s", log)
	}
	// A valid version is taken again.
	if err := os.WriteFile(path, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	untilApplied(t, results)
	tk, err := l.breaker.Admit(s3api.ActionRead, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	tk.Release()
}

func TestReloadDeleteRemovesLimits(t *testing.T) {
	l, path, _, results, _ := watched(t, `{"global":{"enabled":true,"actions":{"Write:count":0}}}`)
	if writeCount(t, l, "") {
		t.Fatal("write admitted under Write:count 0")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	untilApplied(t, results)
	if !writeCount(t, l, "") {
		t.Fatal("write refused after the file was deleted")
	}
	if cfg, _ := l.Config(); cfg.Global != nil || len(cfg.Buckets) != 0 {
		t.Fatalf("config after delete %+v, want empty", cfg)
	}
	// And a file created again is picked up.
	if err := WriteConfigFile(path, &Config{Global: &Section{Enabled: true, Actions: map[string]int64{"Write:count": 0}}}); err != nil {
		t.Fatal(err)
	}
	untilApplied(t, results)
	if writeCount(t, l, "") {
		t.Fatal("write admitted after the file came back")
	}
}

func TestReloadIgnoresOtherFiles(t *testing.T) {
	l, path, _, results, _ := watched(t, `{}`)
	other := filepath.Join(filepath.Dir(path), "objects.db")
	for range 5 {
		if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A change to the config file after them is the next reload reported.
	if err := writeFileAtomic(path, []byte(`{"global":{"enabled":true,"actions":{"List:count":0}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := nextReload(t, results); !r.changed || r.err != nil {
		t.Fatalf("reload %+v, want the config change (other files must not trigger reloads)", r)
	}
	if _, err := l.breaker.Admit(s3api.ActionList, "", 0); err == nil {
		t.Fatal("list admitted")
	}
}

func TestRunWithoutConfigPath(t *testing.T) {
	l := newLimits(t, Options{}, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestRunMissingDirectory(t *testing.T) {
	l := newLimits(t, Options{ConfigPath: filepath.Join(t.TempDir(), "nope", "cb.json")}, "")
	if err := l.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Run = %v, want an error naming the directory", err)
	}
}
