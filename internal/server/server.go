// Package server assembles the S3 request pipeline of s3limit serve:
//
//	request id → classify → authenticate → authorize → limits → backend
//
// Each stage reads and extends one request record (s3api.Info) that
// classification fills once: s3api.Classify, Authenticator.Authenticate,
// s3api.Authorize, limits.Middleware, then the embedded store, the
// upstream gateway, or the admin API.
//
// The backend is the embedded store or the upstream gateway; everything
// before it is shared, so limits behave the same in both modes.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/store"
)

// Config configures a Server. Zero values are the defaults noted per field.
type Config struct {
	// Dir is the data directory of the embedded store. Required unless
	// Backend is set.
	Dir string
	// DomainName enables virtual-hosted-style buckets (<bucket>.<DomainName>).
	// "" = path style only (path style always works).
	DomainName string
	// Identities are the credentials and permissions. Required unless
	// IdentitiesFile is set.
	Identities *s3api.IdentityConfig
	// IdentitiesFile is the identities file (s3limit serve -config). When
	// set, New reads the identities from it (Identities must be nil), Run
	// follows its changes and Reload re-reads it: a valid new version
	// applies to the requests that start after it, an invalid one is
	// logged and the identities in force stay. "" = Identities never
	// change.
	IdentitiesFile string
	// Limits configures the upload limiter and the circuit breaker.
	// Metrics and Logger in it are filled in by New.
	Limits limits.Options
	// MetricsNamespace prefixes every metric name; "" = "s3limit".
	MetricsNamespace string
	// Backend serves classified, authorized, admitted requests.
	// nil = the embedded store in Dir.
	Backend http.Handler
	// Logger receives the access log and errors; nil = slog.Default().
	Logger *slog.Logger
	// Now is the clock used for signature checks; nil = time.Now.
	Now func() time.Time
	// IdleTimeout is the window of the transfer rule (progress.go): the
	// longest a request body or a response may make no progress at all
	// while the server waits on the client. 0 = DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MinTransferRate is the least average rate, in bytes per second, a
	// client must keep over each IdleTimeout it is waited on. 0 = none
	// (only IdleTimeout applies); negative = DefaultMinTransferRate.
	MinTransferRate int64
}

// Defaults of the transfer rule (progress.go).
const (
	DefaultIdleTimeout     = time.Minute
	DefaultMinTransferRate = 1024 // bytes/s: "1KB/s" in the ParseRate grammar
)

// Server is the S3 endpoint. Create it with New; serve Handler() with an
// http.Server (see NewHTTPServer); call Run to follow the configuration
// files and Close when done.
type Server struct {
	cfg     Config
	log     *slog.Logger
	auth    atomic.Pointer[s3api.Authenticator] // swapped when the identities file changes
	ids     *identityFile                       // nil without Config.IdentitiesFile
	limits  *limits.Limits
	metrics *metrics.Metrics
	store   *store.Store // nil in gateway mode
	backend http.Handler
	admin   http.Handler
	inner   http.Handler // limits middleware around the backend
}

// New builds the pipeline. It opens the embedded store when cfg.Backend is nil.
func New(cfg Config) (*Server, error) {
	if (cfg.Identities == nil) == (cfg.IdentitiesFile == "") {
		return nil, errors.New("server: configure either Identities or IdentitiesFile")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MetricsNamespace == "" {
		cfg.MetricsNamespace = "s3limit"
	}
	if cfg.IdleTimeout < 0 {
		return nil, errors.New("server: negative IdleTimeout")
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MinTransferRate < 0 {
		cfg.MinTransferRate = DefaultMinTransferRate
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.metrics = metrics.New(cfg.MetricsNamespace)
	if err := s.loadIdentities(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	var err error
	lopts := cfg.Limits
	lopts.Metrics = s.metrics
	lopts.Logger = cfg.Logger
	s.limits, err = limits.New(lopts)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.backend = cfg.Backend
	if s.backend == nil {
		if cfg.Dir == "" {
			return nil, errors.New("server: no data directory and no backend")
		}
		st, err := store.Open(cfg.Dir, store.Options{})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		s.store = st
		s.backend = st
	}
	s.admin = s.limits.AdminHandler()
	s.inner = s.limits.Middleware(s.backend)
	return s, nil
}

// Limits returns the limiter, for tests and the admin API.
func (s *Server) Limits() *limits.Limits { return s.limits }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Run follows the circuit-breaker file and, with Config.IdentitiesFile,
// the identities file until ctx is done, then returns nil (see
// runWatches).
func (s *Server) Run(ctx context.Context) error { return s.runWatches(ctx) }

// Close releases the embedded store.
func (s *Server) Close() error {
	if s.store != nil {
		return s.store.Close()
	}
	return nil
}

// ServeHTTP runs one request through the pipeline.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &s3api.Info{RequestID: newRequestID(), Size: -1}
	h := w.Header()
	h.Set("x-amz-request-id", info.RequestID)
	h.Set("Server", "s3limit")
	ctl := http.NewResponseController(w)
	pr := peerOf(r.Context())
	var acked func() (int64, bool)
	if pr.tcp != nil {
		acked = pr.acked
	}
	rule := newProgressRule(ctl, s.cfg.IdleTimeout, s.cfg.MinTransferRate, acked)
	defer rule.stop()
	rw := &responseWriter{ResponseWriter: w, ctl: ctl, rule: rule}
	ctx := s3api.NewContext(r.Context(), info)
	if pr.tcp != nil {
		ctx = limits.WithClientGone(ctx, pr.gone)
	}
	r = r.WithContext(ctx)
	if r.Body != nil && r.Body != http.NoBody {
		b := &body{rc: r.Body, rule: rule}
		if pr.tcp != nil {
			b.gone = pr.gone
		}
		rw.body = b
		r.Body = b
	}
	// authorized is set once the caller may perform the request: only then
	// does the bucket, which anyone can make up, become a metric label.
	authorized := false
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			s.log.Error("panic serving request", "request_id", info.RequestID, "op", info.Operation.String(),
				"panic", p, "stack", string(debug.Stack()))
			if !rw.wroteHeader {
				s3api.WriteError(rw, r, s3api.ErrInternalError)
				p = nil // answered
			}
		}
		if rw.body != nil && !rw.body.eof.Load() {
			// The body was not read to its end. net/http would drain it,
			// without a deadline, before reusing the connection; a client
			// that declared a body and never sends it must not hold the
			// connection that way. The response said "Connection: close".
			_ = ctl.SetReadDeadline(time.Now())
		}
		s.finish(r, rw, info, authorized, start)
		if p != nil {
			// The response has begun: ending normally would pass a
			// truncated body off as complete (a chunked response gets its
			// terminating chunk). Abort the connection instead.
			panic(http.ErrAbortHandler)
		}
	}()

	ci, err := s3api.Classify(r, s.cfg.DomainName)
	if err != nil {
		s3api.WriteError(rw, r, err)
		return
	}
	ci.RequestID = info.RequestID
	*info = *ci
	if info.Identity, err = s.auth.Load().Authenticate(r); err != nil {
		s3api.WriteError(rw, r, err)
		return
	}
	if err := s3api.Authorize(info.Identity, info); err != nil {
		s3api.WriteError(rw, r, err)
		return
	}
	authorized = true
	if info.Operation.ReadsCopySource() && !info.CopySource.HasRange {
		s.sizeCopy(r.Context(), info)
	}
	if info.Operation == s3api.OpAdminCircuitBreaker {
		// Never behind the limits: an operator can always lift a limit
		// that blocks everything.
		s.admin.ServeHTTP(rw, r)
		return
	}
	s.inner.ServeHTTP(rw, r)
}

// sizeCopy sets the size of a copy to the size of its source, so that the
// limits charge the bytes a copy moves as they charge an upload's. The
// backend tells it, when it can; a source it cannot find is left for the
// backend to refuse.
func (s *Server) sizeCopy(ctx context.Context, info *s3api.Info) {
	cs, ok := s.backend.(CopySizer)
	if !ok {
		return
	}
	if n, err := cs.CopySourceSize(ctx, info.CopySource); err == nil && n > 0 {
		info.Size = n
	}
}

// CopySizer is implemented by backends that can tell the size of a copy's
// source before the copy runs (the embedded store, the gateway).
type CopySizer interface {
	CopySourceSize(ctx context.Context, src s3api.CopySource) (int64, error)
}

// finish records metrics and the access log line. The bucket label is
// left empty for requests that were not authorized, so that unsigned or
// refused requests naming made-up buckets cannot use up the metrics'
// bucket labels (metrics.MaxBucketLabels).
func (s *Server) finish(r *http.Request, rw *responseWriter, info *s3api.Info, authorized bool, start time.Time) {
	d := time.Since(start)
	status := rw.status
	if !rw.wroteHeader {
		status = http.StatusOK
	}
	action := string(info.Action)
	if action == "" {
		action = "Unknown"
	}
	bucket := ""
	if authorized {
		bucket = info.Bucket
	}
	s.metrics.ObserveRequest(action, bucket, status, d)
	if s.log.Enabled(r.Context(), slog.LevelInfo) {
		user := "-"
		if info.Identity != nil {
			user = info.Identity.Name
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", info.RequestID),
			slog.String("remote", r.RemoteAddr),
			slog.String("user", user),
			slog.String("op", info.Operation.String()),
			slog.String("bucket", info.Bucket),
			slog.String("key", info.Key),
			slog.Int("status", status),
			slog.Int64("bytes_out", rw.written),
			slog.Duration("duration", d),
		)
	}
}
