package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s3limit/s3limit/internal/filewatch"
	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

// identityFile keeps the server's identities in step with their file
// (Config.IdentitiesFile). Authenticators are immutable: a new version of
// the file gets a new one, swapped in atomically, so a request is
// authenticated against one version from start to end and the request
// path pays one atomic load.
type identityFile struct {
	path     string
	delay    time.Duration
	auth     *atomic.Pointer[s3api.Authenticator] // the server's
	authOpts s3api.AuthOptions
	log      *slog.Logger
	metrics  *metrics.Metrics

	mu  sync.Mutex        // serialises reloads; guards sum
	sum [sha256.Size]byte // of the bytes last read, valid or not; zero after a read error
}

// loadIdentities puts the first identities in force: Config.Identities,
// or the content of Config.IdentitiesFile.
func (s *Server) loadIdentities() error {
	opts := s3api.AuthOptions{Now: s.cfg.Now}
	if s.cfg.IdentitiesFile == "" {
		auth, err := s3api.NewAuthenticator(s.cfg.Identities, opts)
		if err != nil {
			return err
		}
		s.auth.Store(auth)
		return nil
	}
	delay := s.cfg.Limits.ReloadDelay
	if delay <= 0 {
		delay = limits.DefaultReloadDelay
	}
	s.ids = &identityFile{
		path:     s.cfg.IdentitiesFile,
		delay:    delay,
		auth:     &s.auth,
		authOpts: opts,
		log:      s.log,
		metrics:  s.metrics,
	}
	return s.ids.load()
}

// load reads the file at start: its identities are the server's first.
func (f *identityFile) load() error {
	cfg, data, err := s3api.ReadIdentityFile(f.path)
	if err != nil {
		return err
	}
	auth, err := s3api.NewAuthenticator(cfg, f.authOpts)
	if err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	f.auth.Store(auth)
	f.sum = sha256.Sum256(data)
	f.metrics.ConfigLoad(metrics.FileIdentities, true)
	return nil
}

// reload re-reads the file and, when it changed since it was last read,
// puts its identities in force for the requests that start from now on.
// An unreadable or invalid file is logged and counted, and the identities
// in force stay. With report, an unchanged file is logged too (SIGHUP).
func (f *identityFile) reload(report bool) (changed bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg, data, err := s3api.ReadIdentityFile(f.path)
	sum := [sha256.Size]byte{}
	if data != nil {
		sum = sha256.Sum256(data)
		if sum == f.sum {
			// An unchanged invalid file was reported when it was first
			// read; only an operator who asked is told again.
			switch {
			case report && err != nil:
				f.log.Error("identities file unchanged and still rejected; keeping the identities in force", "path", f.path, "err", err)
			case report:
				f.log.Info("identities file unchanged; its identities are in force", "path", f.path)
			}
			return false, err
		}
	}
	f.sum = sum // an invalid file is reported once, not on every event
	var auth *s3api.Authenticator
	if err == nil {
		auth, err = s3api.NewAuthenticator(cfg, f.authOpts)
	}
	if err != nil {
		f.log.Error("identities file rejected; keeping the identities in force", "path", f.path, "err", err)
		f.metrics.ConfigLoad(metrics.FileIdentities, false)
		return false, err
	}
	f.auth.Store(auth)
	f.metrics.ConfigLoad(metrics.FileIdentities, true)
	f.log.Info("identities reloaded", "path", f.path, "identities", len(cfg.Identities))
	return true, nil
}

// run follows the file until ctx ends.
func (f *identityFile) run(ctx context.Context) error {
	err := filewatch.Watch(ctx, f.path, f.delay, func() { _, _ = f.reload(false) }, func(err error) {
		f.log.Warn("identities file watch error", "path", f.path, "err", err)
	})
	if err != nil {
		return fmt.Errorf("server: identities: %w", err)
	}
	return nil
}

// runWatches follows the circuit-breaker file and, with
// Config.IdentitiesFile, the identities file until ctx is done, then
// returns nil. A watch that cannot be set up is logged at once and its
// error returned at the end; the other watch keeps running meanwhile.
func (s *Server) runWatches(ctx context.Context) error {
	watch := func(file string, run func(context.Context) error) error {
		err := run(ctx)
		if err != nil {
			s.log.Error("the "+file+" file is not watched; send SIGHUP after a change", "err", err)
		}
		return err
	}
	if s.ids == nil {
		return watch("circuit breaker", s.limits.Run)
	}
	errc := make(chan error, 1)
	go func() { errc <- watch("identities", s.ids.run) }()
	err := watch("circuit breaker", s.limits.Run)
	return errors.Join(err, <-errc)
}

// Reload re-reads the circuit-breaker file and, with
// Config.IdentitiesFile, the identities file now, as their watches do
// after a change (s3limit serve calls it on SIGHUP), and logs the outcome
// of each. A file that cannot be used leaves its configuration in force;
// the error says why. Requests in flight are not affected.
func (s *Server) Reload() error {
	_, err := s.limits.Reload()
	if s.ids != nil {
		_, ierr := s.ids.reload(true)
		err = errors.Join(err, ierr)
	}
	return err
}
