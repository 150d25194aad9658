package filewatch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// watchFile runs Watch on path until the test ends. Each call of changed
// sends what the file holds then ("<missing>" when it does not exist).
func watchFile(t *testing.T, path string, delay time.Duration) <-chan string {
	t.Helper()
	seen := make(chan string, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, path, delay, func() {
			data, err := os.ReadFile(path)
			if err != nil {
				seen <- "<missing>"
				return
			}
			seen <- string(data)
		}, nil)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch = %v after cancel, want nil", err)
		}
	})
	return seen
}

// next waits for the next call. The timeout only guards against a hang.
func next(t *testing.T, seen <-chan string) string {
	t.Helper()
	select {
	case s := <-seen:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("changed was not called within 10s")
		return ""
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace writes content to path atomically (temporary file + rename), so
// a call never sees a half-written version.
func replace(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	write(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestWatchSeesEveryKindOfChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cfg.json")
	write(t, path, "v1")
	seen := watchFile(t, path, 20*time.Millisecond)
	if got := next(t, seen); got != "v1" {
		t.Fatalf("first call saw %q, want v1 (a call once the watch is in place)", got)
	}

	// Renamed over the file, as atomic writers do.
	replace(t, path, "v2")
	if got := next(t, seen); got != "v2" {
		t.Fatalf("after rename: %q, want v2", got)
	}
	// Edited in place.
	write(t, path, "v3")
	for got := next(t, seen); got != "v3"; got = next(t, seen) {
		// An in-place write may show a truncated file to an early call.
	}
	// Removed, then created again.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for got := next(t, seen); got != "<missing>"; got = next(t, seen) {
		// A late event of the edit may give one more call that sees v3.
		if got != "v3" {
			t.Fatalf("after remove: %q", got)
		}
	}
	write(t, path, "v4")
	for got := next(t, seen); got != "v4"; got = next(t, seen) {
	}
}

func TestWatchIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cfg.json")
	write(t, path, "old")
	seen := watchFile(t, path, 50*time.Millisecond)
	next(t, seen)
	for i := range 20 {
		write(t, filepath.Join(dir, "other.db"), strings.Repeat("x", i))
	}
	write(t, filepath.Join(dir, "cfg.json.bak"), "not me")
	// Had the other files' events started the delay, a call would have
	// read "old" before this write.
	replace(t, path, "new")
	if got := next(t, seen); got != "new" {
		t.Fatalf("first call after other files changed saw %q, want new", got)
	}
}

func TestWatchCoalescesABurst(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cfg.json")
	seen := watchFile(t, path, time.Second)
	if got := next(t, seen); got != "<missing>" {
		t.Fatalf("first call saw %q", got)
	}
	// Versions far closer together than the delay: one call, after the
	// last of them.
	for i := range 10 {
		replace(t, path, strings.Repeat("v", i+1))
	}
	if got := next(t, seen); got != "vvvvvvvvvv" {
		t.Fatalf("call after the burst saw %q, want the last version", got)
	}
}

func TestWatchSetupErrors(t *testing.T) {
	ctx := context.Background()
	called := false
	err := Watch(ctx, filepath.Join(t.TempDir(), "missing-dir", "cfg.json"), time.Second, func() { called = true }, nil)
	if err == nil || !strings.Contains(err.Error(), "missing-dir") {
		t.Errorf("Watch on a missing directory = %v, want an error naming it", err)
	}
	if called {
		t.Error("changed was called although the watch failed")
	}
	if err := Watch(ctx, filepath.Join(t.TempDir(), "cfg.json"), 0, func() {}, nil); err == nil {
		t.Error("Watch with delay 0 succeeded")
	}
}
