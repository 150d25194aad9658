package limits

import (
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/testkit"
)

const (
	goodDoc = `{"buckets":{"photos":{"enabled":true,"actions":{"Read:count":0}}}}`
	// canonicalGood is goodDoc as Config.Marshal writes it.
	canonicalGood = "{\n  \"buckets\": {\n    \"photos\": {\n      \"enabled\": true,\n      \"actions\": {\n        \"Read:count\": 0\n      }\n    }\n  }\n}\n"
)

// instance is one start of a server's limits on a data directory.
type instance struct {
	l    *Limits
	m    *metrics.Metrics
	logs *testkit.SyncBuffer
}

// start runs New as `s3limit serve` does: the file and its last good copy
// in dir.
func start(t *testing.T, dir string) (*instance, error) {
	t.Helper()
	in := &instance{m: metrics.New("test"), logs: &testkit.SyncBuffer{}}
	var err error
	in.l, err = New(Options{
		ConfigPath:   filepath.Join(dir, "circuit_breaker.json"),
		LastGoodPath: filepath.Join(dir, "circuit_breaker.last-good.json"),
		Metrics:      in.m,
		Logger:       slog.New(slog.NewTextHandler(in.logs, nil)),
	})
	return in, err
}

func (in *instance) readRefused(t *testing.T) bool {
	t.Helper()
	tk, err := in.l.breaker.Admit(s3api.ActionRead, "photos", 0)
	tk.Release()
	return err != nil
}

func (in *instance) loadGauge(t *testing.T) float64 {
	t.Helper()
	return metricValue(t, in.m, "test_s3_config_last_load_success", map[string]string{"file": "circuit_breaker"})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// unusableFiles are circuit-breaker files a server cannot put in force,
// with what the error must name. "<dir>" makes the path a directory, which
// no one can read as a file (the tests run as root, so file modes would
// not do).
var unusableFiles = []struct {
	name, content, want string
}{
	{"unknown field", `{"buckets":{"photos":{"enabled":true,"action":{"Read:count":1}}}}`, `unknown field "action"`},
	{"bad action key", `{"global":{"enabled":true,"actions":{"Raed:count":1}}}`, `global.actions."Raed:count"`},
	{"negative limit", `{"global":{"enabled":true,"actions":{"Read:count":-1}}}`, `global.actions."Read:count"`},
	{"not JSON", `{"global":`, "not valid JSON"},
	{"empty", "\n", "file is empty"},
	{"unreadable", "<dir>", "is a directory"},
}

func makeUnusable(t *testing.T, path, content string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if content == "<dir>" {
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		return
	}
	writeFile(t, path, content)
}

func TestRestartWithUnusableFileKeepsLastGood(t *testing.T) {
	for _, tc := range unusableFiles {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "circuit_breaker.json")
			writeFile(t, path, goodDoc)
			first, err := start(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			_, etag := first.l.Config()
			if data, err := os.ReadFile(filepath.Join(dir, "circuit_breaker.last-good.json")); err != nil || string(data) != canonicalGood {
				t.Fatalf("last good copy %q, %v; want the canonical document", data, err)
			}

			makeUnusable(t, path, tc.content)
			again, err := start(t, dir)
			if err != nil {
				t.Fatalf("restart with an unusable file failed: %v", err)
			}
			if _, now := again.l.Config(); now != etag {
				t.Errorf("restart put ETag %s in force, want the last good %s", now, etag)
			}
			if !again.readRefused(t) {
				t.Error("the last good limit is not in force after the restart")
			}
			ferr := again.l.FileError()
			if ferr == nil || !strings.Contains(ferr.Error(), path) || !strings.Contains(ferr.Error(), tc.want) {
				t.Errorf("FileError = %v, want it to name %s and %q", ferr, path, tc.want)
			}
			log := again.logs.String()
			if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, path) || !strings.Contains(log, strings.ReplaceAll(tc.want, `"`, `\"`)) ||
				!strings.Contains(log, "last good") {
				t.Errorf("start log does not say loudly what happened:\n%s", log)
			}
			if g := again.loadGauge(t); g != 0 {
				t.Errorf("config_last_load_success = %v, want 0", g)
			}
			if n := metricValue(t, again.m, "test_s3_config_reloads_total", map[string]string{"file": "circuit_breaker", "result": "failure"}); n != 1 {
				t.Errorf("failed loads = %v, want 1", n)
			}

			// The file fixed: Reload (SIGHUP) puts it in force and the
			// rejection is over.
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, `{}`)
			changed, err := again.l.Reload()
			if !changed || err != nil || again.l.FileError() != nil {
				t.Fatalf("Reload after the fix = %v, %v (FileError %v); want the file in force", changed, err, again.l.FileError())
			}
			if again.readRefused(t) || again.loadGauge(t) != 1 {
				t.Errorf("after the fix: read refused=%v, gauge %v; want no limits and 1", again.readRefused(t), again.loadGauge(t))
			}
		})
	}
}

func TestNewServerWithUnusableFileRefusesToStart(t *testing.T) {
	for _, tc := range unusableFiles {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "circuit_breaker.json")
			makeUnusable(t, path, tc.content)
			_, err := start(t, dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error naming %q", err, tc.want)
			}
			if tc.content != "<dir>" && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			var cerr *ConfigError
			if isConfig := errors.As(err, &cerr); isConfig == (tc.content == "<dir>") {
				t.Errorf("errors.As(%v, *ConfigError) = %v", err, isConfig)
			}
			if _, err := os.Stat(filepath.Join(dir, "circuit_breaker.last-good.json")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused start left a last good copy (%v)", err)
			}
		})
	}
}

func TestRestartWithDamagedLastGoodRefuses(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "circuit_breaker.json"), `{"global":`)
	writeFile(t, filepath.Join(dir, "circuit_breaker.last-good.json"), `{"global":{"enabled":1}}`)
	_, err := start(t, dir)
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") || !strings.Contains(err.Error(), "last good configuration cannot be used") ||
		!strings.Contains(err.Error(), "circuit_breaker.last-good.json") {
		t.Fatalf("New = %v, want both problems named", err)
	}
}

func TestLastGoodFollowsConfigInForce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "circuit_breaker.json")
	lastGood := filepath.Join(dir, "circuit_breaker.last-good.json")
	readLastGood := func() string {
		t.Helper()
		data, err := os.ReadFile(lastGood)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	// No file: no limits is what is in force, and what a restart with an
	// invalid file will keep.
	in, err := start(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := readLastGood(); got != "{}\n" {
		t.Errorf("last good without a file %q, want {}", got)
	}
	// Apply (the admin API and the shell).
	cfg, _ := ParseConfig([]byte(goodDoc))
	if _, err := in.l.Apply(cfg, ""); err != nil {
		t.Fatal(err)
	}
	if got := readLastGood(); got != canonicalGood {
		t.Errorf("last good after Apply %q", got)
	}
	// A rejected edit leaves it.
	writeFile(t, path, `{"global":{"enabled":true,"actions":{"Read:cnt":1}}}`)
	if changed, err := in.l.Reload(); changed || err == nil {
		t.Fatalf("Reload of an invalid file = %v, %v", changed, err)
	}
	if got := readLastGood(); got != canonicalGood {
		t.Errorf("last good after a rejected edit %q", got)
	}
	// An unchanged rejected file is still reported by Reload.
	if changed, err := in.l.Reload(); changed || err == nil || !strings.Contains(err.Error(), "Read:cnt") {
		t.Errorf("second Reload = %v, %v; want the standing rejection", changed, err)
	}
	// A deleted file removes every limit: {} is the last good one.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if changed, err := in.l.Reload(); !changed || err != nil {
		t.Fatalf("Reload after delete = %v, %v", changed, err)
	}
	if got := readLastGood(); got != "{}\n" {
		t.Errorf("last good after delete %q, want {}", got)
	}
	if changed, err := in.l.Reload(); changed || err != nil {
		t.Errorf("Reload of an unchanged file = %v, %v; want nothing to do", changed, err)
	}
}

func TestStartWithoutLastGoodPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cb.json")
	writeFile(t, path, `{"global":`)
	if _, err := New(Options{ConfigPath: path}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("New = %v, want the file's error", err)
	}
	l, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := l.Reload(); changed || err != nil || l.FileError() != nil {
		t.Fatalf("Reload without a file = %v, %v", changed, err)
	}
}

func TestAdminTellsWhetherTheFileIsInForce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "circuit_breaker.json")
	writeFile(t, path, goodDoc)
	in, err := start(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	h := in.l.AdminHandler()
	get := func() http.Header {
		t.Helper()
		rec := adminDo(h, http.MethodGet, s3api.AdminCircuitBreakerPath, "", nil)
		if rec.Code != http.StatusOK || rec.Body.String() != canonicalGood {
			t.Fatalf("GET = %d %q", rec.Code, rec.Body)
		}
		return rec.Header()
	}
	if h := get(); h.Get(HeaderFileStatus) != FileInForce || h.Get(HeaderFileError) != "" {
		t.Errorf("file in force: %s=%q %s=%q", HeaderFileStatus, h.Get(HeaderFileStatus), HeaderFileError, h.Get(HeaderFileError))
	}
	writeFile(t, path, "{\"global\":{\"enabled\":true,\"actions\":{\"Read:count\":\"lots\u00e9\"}}}")
	in.l.Reload()
	h1 := get()
	msg := h1.Get(HeaderFileError)
	if h1.Get(HeaderFileStatus) != FileRejected || !strings.Contains(msg, path) || !strings.Contains(msg, `global.actions."Read:count"`) {
		t.Errorf("file rejected: %s=%q %s=%q", HeaderFileStatus, h1.Get(HeaderFileStatus), HeaderFileError, msg)
	}
	for _, c := range []byte(msg) {
		if c < ' ' || c >= 0x7f {
			t.Fatalf("header value %q holds byte %#x", msg, c)
		}
	}
	// HEAD says it too, and a PUT that replaces the file ends it.
	head := adminDo(h, http.MethodHead, s3api.AdminCircuitBreakerPath, "", nil)
	if head.Header().Get(HeaderFileStatus) != FileRejected {
		t.Errorf("HEAD %s=%q", HeaderFileStatus, head.Header().Get(HeaderFileStatus))
	}
	put := adminDo(h, http.MethodPut, s3api.AdminCircuitBreakerPath, `{}`, nil)
	if put.Code != http.StatusOK || put.Header().Get(HeaderFileStatus) != FileInForce || put.Header().Get(HeaderFileError) != "" {
		t.Errorf("PUT = %d, %s=%q %s=%q", put.Code, HeaderFileStatus, put.Header().Get(HeaderFileStatus), HeaderFileError, put.Header().Get(HeaderFileError))
	}
	if g := in.loadGauge(t); g != 1 {
		t.Errorf("config_last_load_success after the PUT = %v, want 1", g)
	}

	// Without a file there is nothing to compare.
	mem := newLimits(t, Options{}, "")
	if rec := adminDo(mem.AdminHandler(), http.MethodGet, s3api.AdminCircuitBreakerPath, "", nil); rec.Header().Get(HeaderFileStatus) != "" {
		t.Errorf("no file: %s=%q, want none", HeaderFileStatus, rec.Header().Get(HeaderFileStatus))
	}
}

func TestHeaderText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"plain", 10, "plain"},
		{"line\nbreak\r\x00", 20, "line?break??"},
		{"caf\u00e9", 10, "caf??"},
		{strings.Repeat("x", 20), 10, "xxxxxxx..."},
	} {
		if got := headerText(tc.in, tc.n); got != tc.want {
			t.Errorf("headerText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCheckConfigFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := CheckConfigFile(filepath.Join(dir, "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	for _, tc := range unusableFiles {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
		makeUnusable(t, path, tc.content)
		if _, err := CheckConfigFile(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: CheckConfigFile = %v, want %q", tc.name, err, tc.want)
		}
	}
	path := filepath.Join(dir, "good.json")
	writeFile(t, path, goodDoc)
	cfg, err := CheckConfigFile(path)
	if err != nil || cfg.Buckets["photos"] == nil {
		t.Fatalf("CheckConfigFile(good) = %+v, %v", cfg, err)
	}
}

func TestRestartDoesNotRewriteAnUnchangedLastGood(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "circuit_breaker.json"), goodDoc)
	lastGood := filepath.Join(dir, "circuit_breaker.last-good.json")
	if _, err := start(t, dir); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(lastGood)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := start(t, dir); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(lastGood)
	if err != nil {
		t.Fatal(err)
	}
	// An atomic write renames a new file over the old one.
	if !os.SameFile(before, after) {
		t.Error("a restart with the same configuration rewrote the last good copy")
	}
	// A different configuration is written.
	writeFile(t, filepath.Join(dir, "circuit_breaker.json"), `{}`)
	if _, err := start(t, dir); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(lastGood); string(data) != "{}\n" {
		t.Errorf("last good after a restart with a new file: %q", data)
	}
}
