package shell

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/s3limit/s3limit/internal/limits"
)

// ErrConflict is returned by Backend.Save when the stored configuration
// changed after it was loaded. The shell then loads it again and re-applies
// the command.
var ErrConflict = errors.New("shell: the configuration was changed by someone else")

// Backend loads and stores the circuit-breaker configuration with
// optimistic concurrency: Load returns a version token and Save stores
// only if the configuration still has that version.
type Backend interface {
	// Load returns the current configuration and its version, an opaque
	// token for Save.
	Load(ctx context.Context) (cfg *limits.Config, version string, err error)
	// Save stores cfg if the stored configuration still has version, and
	// returns the configuration as stored and its new version. A changed
	// version gives ErrConflict (possibly wrapped) and stores nothing.
	Save(ctx context.Context, cfg *limits.Config, version string) (*limits.Config, string, error)
	// String names where the configuration lives, for messages.
	String() string
}

// FileBackend edits a circuit-breaker file directly. A missing file is
// the empty configuration; it is created on the first save. Writes are
// atomic (limits.WriteConfigFile), so a server watching the file sees the
// old document or the new one. The version is a hash of the file's bytes;
// Save compares it with the file just before writing, which catches a
// concurrent edit except in the instant between that check and the
// rename.
type FileBackend struct {
	Path string
}

var _ Backend = (*FileBackend)(nil)

// noFile is the version of a missing file.
const noFile = "absent"

// Load reads and parses the file.
func (f *FileBackend) Load(context.Context) (*limits.Config, string, error) {
	data, version, err := f.read()
	if err != nil {
		return nil, "", err
	}
	cfg, err := limits.ParseConfig(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", f.Path, err)
	}
	return cfg, version, nil
}

// Save writes cfg if the file still has version.
func (f *FileBackend) Save(_ context.Context, cfg *limits.Config, version string) (*limits.Config, string, error) {
	_, cur, err := f.read()
	if err != nil {
		return nil, "", err
	}
	if cur != version {
		return nil, "", fmt.Errorf("%s: %w", f.Path, ErrConflict)
	}
	if err := limits.WriteConfigFile(f.Path, cfg); err != nil {
		return nil, "", err
	}
	data, err := cfg.Marshal()
	if err != nil {
		return nil, "", err
	}
	return cfg.Clone(), hashVersion(data), nil
}

func (f *FileBackend) String() string { return f.Path }

func (f *FileBackend) read() ([]byte, string, error) {
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, noFile, nil
	}
	if err != nil {
		return nil, "", err
	}
	return data, hashVersion(data), nil
}

func hashVersion(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
