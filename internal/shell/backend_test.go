package shell

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/limits"
)

func TestFileBackendMissingFileIsEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cb.json")
	b := &FileBackend{Path: path}
	cfg, version, err := b.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s := compact(t, cfg); s != "{}" {
		t.Errorf("config = %s, want {}", s)
	}
	want := &limits.Config{Global: &limits.Section{Enabled: true, Actions: map[string]int64{"Read:count": 3}}}
	saved, v2, err := b.Save(context.Background(), want, version)
	if err != nil {
		t.Fatal(err)
	}
	if v2 == version || compact(t, saved) != compact(t, want) {
		t.Errorf("Save returned %s version %q", compact(t, saved), v2)
	}
	onDisk, err := limits.LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if compact(t, onDisk) != compact(t, want) {
		t.Errorf("file holds %s, want %s", compact(t, onDisk), compact(t, want))
	}
	_, v3, err := b.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v3 != v2 {
		t.Errorf("version after reload %q, Save said %q", v3, v2)
	}
}

func TestFileBackendConflict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cb.json")
	if err := os.WriteFile(path, []byte(`{"global":{"enabled":true,"actions":{"Read:count":1}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &FileBackend{Path: path}
	_, version, err := b.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	other := `{"global":{"enabled":true,"actions":{"Read:count":2}}}`
	if err := os.WriteFile(path, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Save(context.Background(), &limits.Config{}, version)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Save over a changed file: err = %v, want ErrConflict", err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != other {
		t.Errorf("file was overwritten: %s", data)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Save(context.Background(), &limits.Config{}, version); !errors.Is(err, ErrConflict) {
		t.Errorf("Save over a removed file: err = %v, want ErrConflict", err)
	}
}

func TestFileBackendInvalidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cb.json")
	if err := os.WriteFile(path, []byte(`{"global":{"actions":{"Reed:count":1}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := (&FileBackend{Path: path}).Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "Reed") {
		t.Errorf("err = %v, want one naming the file and the bad key", err)
	}
}

func TestFileBackendUnreadable(t *testing.T) {
	dir := t.TempDir()
	_, _, err := (&FileBackend{Path: dir}).Load(context.Background())
	if err == nil {
		t.Error("loading a directory succeeded")
	}
}
