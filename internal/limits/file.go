package limits

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/s3limit/s3limit/internal/metrics"
)

// errEmptyFile is the reason an empty circuit-breaker file is rejected.
// An empty file is an editor's half-written save or a failed write far
// more often than a wish to drop every limit, so it is rejected like any
// invalid file (loudly, keeping the last good configuration) instead of
// being read as "no limits"; {} or deleting the file says that.
const errEmptyFile = "file is empty (write {} or delete the file to remove all limits)"

// fileVersion is one reading of the circuit-breaker file.
type fileVersion struct {
	sum    [sha256.Size]byte // contentSum
	exists bool
	cfg    *Config // the parsed file; nil when err is set
	err    error   // why the file cannot be put in force, naming the file
}

// readVersion reads and checks the file at path as the server takes it: a
// missing file is the empty configuration; an empty or invalid one sets
// v.err. The returned error is set only when the file cannot be read.
func readVersion(path string) (v fileVersion, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileVersion{cfg: &Config{}}, nil
	}
	if err != nil {
		return fileVersion{}, fmt.Errorf("limits: %w", err)
	}
	v = fileVersion{sum: contentSum(data, true), exists: true}
	if len(bytes.TrimSpace(data)) == 0 {
		v.err = fmt.Errorf("%s: %w", path, &ConfigError{Reason: errEmptyFile})
		return v, nil
	}
	if v.cfg, v.err = ParseConfig(data); v.err != nil {
		v.err = fmt.Errorf("%s: %w", path, v.err)
	}
	return v, nil
}

// CheckConfigFile reads and checks the circuit-breaker file at path as the
// server does at start and on every change, and returns its error
// message: the file's name, then a *ConfigError naming the field, or the
// read error. Unlike the server, which takes a missing file for "no
// limits", it reports a missing file (fs.ErrNotExist): a check names a
// file that should exist.
func CheckConfigFile(path string) (*Config, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	v, err := readVersion(path)
	if err != nil {
		return nil, err
	}
	return v.cfg, v.err
}

// contentSum identifies a file content for change detection; a missing
// file is the zero sum.
func contentSum(data []byte, exists bool) [sha256.Size]byte {
	if !exists {
		return [sha256.Size]byte{}
	}
	return sha256.Sum256(data)
}

// FileError returns why the circuit-breaker file, as last read, is not
// the configuration in force (it could not be read, was empty or
// invalid): the last good configuration is in force instead. nil when the
// file's configuration is in force, or without ConfigPath.
func (l *Limits) FileError() error {
	if p := l.fileErr.Load(); p != nil {
		return *p
	}
	return nil
}

// loadAtStart puts the file in force when it can be used. When it cannot,
// it starts with the last configuration put in force before (kept at
// LastGoodPath), as a reload would keep it, and says so; without one it
// returns the file's error. l.mu must be held (or l not yet shared).
func (l *Limits) loadAtStart() error {
	path := l.opts.ConfigPath
	v, err := readVersion(path)
	if err == nil && v.err == nil {
		l.fileSum, l.fileKnown = v.sum, true
		_, _ = l.readLastGood() // learns its sum: an unchanged copy is not rewritten
		l.inForceLocked(v.cfg, nil)
		return nil
	}
	if err == nil {
		l.fileSum, l.fileKnown = v.sum, true // reported now, not again by Run
		err = v.err
	}
	l.metrics.ConfigLoad(metrics.FileCircuitBreaker, false)
	last, lastErr := l.readLastGood()
	if last == nil {
		if lastErr != nil {
			return fmt.Errorf("%w (and the last good configuration cannot be used: %v)", err, lastErr)
		}
		return err
	}
	l.breaker.install(last)
	l.fileErr.Store(&err)
	l.log.Error("circuit breaker file rejected at start; starting with the last good configuration, applied before the restart",
		"path", path, "err", err, "last_good", l.opts.LastGoodPath)
	return nil
}

// readLastGood reads the configuration saved at LastGoodPath: nil and no
// error when there is none.
func (l *Limits) readLastGood() (*Config, error) {
	if l.opts.LastGoodPath == "" {
		return nil, nil
	}
	data, err := os.ReadFile(l.opts.LastGoodPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.opts.LastGoodPath, err)
	}
	l.lastGoodSum = sha256.Sum256(data)
	return cfg, nil
}

// reloadLocked reads the file and, when its content changed since it was
// last seen, parses it and puts it in force. An unreadable, empty or
// invalid file is logged and counted and leaves the configuration in
// force. l.mu must be held.
func (l *Limits) reloadLocked() (changed bool, err error) {
	path := l.opts.ConfigPath
	v, err := readVersion(path)
	if err != nil {
		l.fileKnown = false // whatever is read next is new
		l.fileErr.Store(&err)
		l.log.Error("cannot read circuit breaker configuration; keeping the last good one", "path", path, "err", err)
		l.metrics.ConfigLoad(metrics.FileCircuitBreaker, false)
		return false, err
	}
	if l.fileKnown && v.sum == l.fileSum {
		return false, nil
	}
	l.fileSum, l.fileKnown = v.sum, true // an invalid file is reported once, not on every event
	if v.err != nil {
		l.fileErr.Store(&v.err)
		l.log.Error("circuit breaker configuration rejected; keeping the last good one", "path", path, "err", v.err)
		l.metrics.ConfigLoad(metrics.FileCircuitBreaker, false)
		return false, v.err
	}
	l.inForceLocked(v.cfg, nil)
	if !v.exists {
		l.log.Info("circuit breaker file removed; no limits in force", "path", path)
	} else {
		l.log.Info("circuit breaker configuration reloaded", "path", path, "buckets", len(v.cfg.Buckets))
	}
	return true, nil
}

// inForceLocked puts cfg, the content of the file, in force and records
// it: the file is in force, the load counted, and cfg saved as the last
// good configuration. doc is cfg's canonical document, or nil to marshal
// it. It returns the new snapshot. l.mu must be held.
func (l *Limits) inForceLocked(cfg *Config, doc []byte) *snapshot {
	s := l.breaker.install(cfg)
	if doc != nil {
		s.etagOnce.Do(func() { s.etagVal = etagOf(doc) })
	} else {
		doc, _ = s.document()
	}
	l.fileErr.Store(nil)
	l.metrics.ConfigLoad(metrics.FileCircuitBreaker, true)
	l.saveLastGoodLocked(doc)
	return s
}

// saveLastGoodLocked writes doc to LastGoodPath, atomically, unless it
// holds doc already. A failure is logged: the configuration is in force
// either way, only a restart with an invalid file could not fall back on
// it. l.mu must be held.
func (l *Limits) saveLastGoodLocked(doc []byte) {
	if l.opts.LastGoodPath == "" {
		return
	}
	sum := sha256.Sum256(doc)
	if sum == l.lastGoodSum {
		return
	}
	if err := writeFileAtomic(l.opts.LastGoodPath, doc, 0o644); err != nil {
		l.log.Error("cannot save the last good circuit breaker configuration; a restart with an invalid file would refuse to start",
			"path", l.opts.LastGoodPath, "err", err)
		return
	}
	l.lastGoodSum = sum
}
