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
	// AccessLog receives the access log: one line per request at level
	// Info, health probes at Debug. nil = Logger; a logger with
	// slog.DiscardHandler turns it off.
	AccessLog *slog.Logger
	// ProbeInterval is how often a Backend that is a Prober (the gateway)
	// is probed for the readiness probe. 0 = DefaultProbeInterval;
	// negative = never (readiness then leaves the store out).
	ProbeInterval time.Duration
}

// requestState is what ServeHTTP keeps for one request, allocated once.
type requestState struct {
	rw      responseWriter
	rule    progressRule
	body    body
	peer    peer
	ctl     http.ResponseController
	headers [2]string // the values of X-Amz-Request-Id and Server
}

// drainGrace is how long the rest of an unread request body may take to
// arrive before its connection is closed.
const drainGrace = 2 * time.Second

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

	accessLog *slog.Logger
	health    health      // readiness (health.go)
	cutOff    atomic.Bool // shutdown is cutting off the requests in flight
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
	if cfg.AccessLog == nil {
		cfg.AccessLog = cfg.Logger
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	s := &Server{cfg: cfg, log: cfg.Logger, accessLog: cfg.AccessLog}
	s.metrics = metrics.New(cfg.MetricsNamespace)
	if err := s.loadIdentities(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	var err error
	lopts := cfg.Limits
	lopts.Metrics = s.metrics
	lopts.Logger = cfg.Logger
	lopts.ClientCheck = func(r *http.Request) func() bool { return goneCheck(r.Context()) }
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
	s.health = health{interval: cfg.ProbeInterval, log: cfg.Logger, metrics: s.metrics}
	if cfg.ProbeInterval > 0 {
		s.health.prober, _ = s.backend.(Prober)
	}
	s.metrics.SetReadiness(func() bool { ok, _ := s.Ready(); return ok })
	return s, nil
}

// Limits returns the limiter, for tests and the admin API.
func (s *Server) Limits() *limits.Limits { return s.limits }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Run follows the circuit-breaker file and, with Config.IdentitiesFile,
// the identities file (see runWatches), and in gateway mode probes the
// store for the readiness probe, until ctx is done. The probing goes on
// until then even when a watch fails.
func (s *Server) Run(ctx context.Context) error {
	probing := make(chan struct{})
	go func() {
		defer close(probing)
		s.health.run(ctx)
	}()
	err := s.runWatches(ctx)
	if ctx.Err() != nil {
		<-probing
	}
	return err
}

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
	// The request's state lives in one allocation: its response writer,
	// its transfer rule, its body and the values of the headers set here.
	st := &requestState{peer: peerOf(r.Context())}
	st.ctl = *http.NewResponseController(w)
	ctl := &st.ctl
	st.headers = [...]string{info.RequestID, "s3limit"}
	h := w.Header()
	// Set by hand, canonical names and values capped so that an append
	// copies them: Header.Set costs two allocations each.
	h["X-Amz-Request-Id"] = st.headers[0:1:1]
	h["Server"] = st.headers[1:2:2]
	if s.health.draining.Load() {
		// Shutting down: each client's next request opens a connection,
		// which a load balancer sends elsewhere.
		h.Set("Connection", "close")
	}
	rule := &st.rule
	var acked ackCounter
	if st.peer.tcp != nil {
		acked = &st.peer
	}
	rule.init(ctl, s.cfg.IdleTimeout, s.cfg.MinTransferRate, acked)
	defer rule.stop()
	rw := &st.rw
	*rw = responseWriter{ResponseWriter: w, ctl: ctl, rule: rule, peer: st.peer,
		mayHold: st.peer.cc != nil && r.Method != http.MethodHead}
	r = r.WithContext(s3api.NewContext(r.Context(), info))
	if r.Body != nil && r.Body != http.NoBody {
		b := &st.body
		*b = body{rc: r.Body, rule: rule}
		if st.peer.tcp != nil {
			b.peer = &st.peer
		}
		rw.body = b
		r.Body = b
	}
	// authorized is set once the caller may perform the request: only then
	// does the bucket, which anyone can make up, become a metric label.
	authorized := false
	denied := "" // why authorization failed, for the access log
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
			// The body was not read to its end, and the response said
			// "Connection: close". Before closing, net/http reads what is
			// left of the body (up to 256 KiB) so that a client still
			// sending it gets the answer instead of a reset; it waits no
			// longer than drainGrace, so that a client that declared a
			// body and never sends it cannot hold the connection.
			_ = ctl.SetReadDeadline(time.Now().Add(min(s.cfg.IdleTimeout, drainGrace)))
		}
		s.finish(r, rw, info, outcome{authorized: authorized, aborted: p != nil, denied: denied}, start)
		if rw.holding && !st.peer.cc.outer {
			// Counted and logged, and no handler of NewHTTPServer's
			// around to release it: send the response (what net/http
			// would have flushed after the handler) in one write.
			rule.begin(true)
			_ = rw.release()
			rule.end(true, 0)
		}
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
	if info.Operation == s3api.OpHealthLive || info.Operation == s3api.OpHealthReady {
		// Load balancers probe without credentials, and a probe must not
		// wait behind the limits.
		s.serveHealth(rw, r, info.Operation)
		return
	}
	if info.Identity, err = s.auth.Load().Authenticate(r); err != nil {
		s3api.WriteError(rw, r, err)
		return
	}
	if err := s3api.Authorize(info.Identity, info); err != nil {
		denied = deniedReason(info, err)
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
