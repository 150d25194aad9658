// Package limits protects the server from overload: upload backpressure
// (uploads queue while too many bytes or files are in flight), the circuit
// breaker (simultaneous requests and bytes per action, globally and per
// bucket, refused with 429 SlowDown / RequestBytesExceed), live reload of
// the circuit-breaker file, and the admin API that reads and replaces it.
//
// The package knows nothing of the backend: Limits.Middleware wraps any
// http.Handler and reads the request's classification from s3api.Info in
// the request context.
package limits

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

// ErrPreconditionFailed is returned by Apply when its ifMatch does not
// match the configuration in force (someone changed it since it was read).
var ErrPreconditionFailed = errors.New("limits: configuration changed since it was read (If-Match does not match)")

// Defaults for Options fields left zero.
const (
	DefaultReloadDelay       = 100 * time.Millisecond
	DefaultAdminMaxBodyBytes = 64 << 20
)

// Options configures Limits. The zero value has no upload limits, no
// configuration file and no metrics.
type Options struct {
	// ClientCheck, when set, is called for each upload that has to wait
	// and returns a check that reports whether the request's client has
	// closed or reset its connection, even while data it sent is still
	// unread (the server answers from the kernel's TCP state), or nil when
	// it cannot tell for this request. One goroutine calls the checks of
	// all queued uploads every clientGonePoll, so a check should be cheap
	// and not allocate. An upload without a check reads ahead the start
	// of its body instead (readahead.go); nil = none has a check.
	ClientCheck func(*http.Request) (check func() bool)
	// ConcurrentUploadLimitBytes caps the declared bytes of uploads in
	// flight; further uploads wait. 0 = unlimited. (The CLI flag
	// -concurrentUploadLimitMB defaults to 128 MiB.)
	ConcurrentUploadLimitBytes int64
	// ConcurrentFileUploadLimit caps the number of uploads in flight;
	// further uploads wait. 0 = unlimited.
	ConcurrentFileUploadLimit int64
	// UploadMaxWait bounds how long an upload waits for capacity before it
	// is refused like a throttled request. 0 = as long as the client waits.
	UploadMaxWait time.Duration
	// ThrottleStatus is the HTTP status of refusals: 0 or 429, or 503.
	ThrottleStatus int
	// RetryAfter is the retry hint of refusals; 0 = DefaultRetryAfter.
	RetryAfter time.Duration
	// ConfigPath is the circuit-breaker file, loaded by New, watched by Run
	// and written by Apply. "" = no file: the configuration lives in memory
	// and starts empty.
	ConfigPath string
	// LastGoodPath is where the configuration in force is saved, written
	// atomically, each time one is put in force from ConfigPath or by
	// Apply. When ConfigPath cannot be used at start (unreadable, empty or
	// invalid), New starts with the configuration saved there, as a reload
	// would keep the last good one, and logs the file's error. "" = not
	// saved: an unusable file at start is New's error. Used only with
	// ConfigPath.
	LastGoodPath string
	// ReloadDelay is how long Run waits after the last change to the file
	// before it reloads it (editors write in several steps). 0 =
	// DefaultReloadDelay.
	ReloadDelay time.Duration
	// AdminMaxBodyBytes caps the body of an admin PUT. 0 =
	// DefaultAdminMaxBodyBytes (room for about half a million buckets).
	AdminMaxBodyBytes int64
	// Metrics receives the limits' metrics and reads their state at scrape
	// time. nil = no metrics.
	Metrics *metrics.Metrics
	// Logger receives reload results and rejected files. nil = no logging.
	Logger *slog.Logger
	// Fleet, when set, shares the configuration and every limit with
	// other servers (fleet.go): ConfigPath becomes a local cache of the
	// fleet's document. nil = this server's limits are its own.
	Fleet Fleet
}

// Limits is the server's limiting stage: Middleware applies the upload
// limiter and the circuit breaker to each request, Run keeps the circuit
// breaker in step with its file, Config and Apply (and AdminHandler) read
// and replace the configuration. All methods are safe for concurrent use.
type Limits struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics.Metrics
	breaker *Breaker
	uploads *uploadLimiter
	refusal *s3api.Error // SlowDown of the upload queue after UploadMaxWait

	readAheadBytes atomic.Int64 // memory held by read-ahead of queued uploads
	// shapeCounters[action][scope] are the bytes and wait counters of
	// shaping, resolved once.
	shapeCounters [numActions][numScopes][2]prometheus.Counter

	// mu serialises Apply and file reloads, so the file and the
	// configuration in force change together. It guards fileSum,
	// fileKnown and lastGoodSum.
	mu          sync.Mutex
	fileSum     [sha256.Size]byte // contentSum of the file last seen (read or written)
	fileKnown   bool              // fileSum is set: the file was read or written
	lastGoodSum [sha256.Size]byte // SHA-256 of what LastGoodPath holds, when known
	// fileErr is why the file last read is not in force (FileError); nil
	// when it is. Written under mu, read without it.
	fileErr atomic.Pointer[error]

	// reloaded, when set (tests), is told the result of each file reload.
	reloaded func(changed bool, err error)
}

var _ metrics.Source = (*Limits)(nil)

// New checks opts, loads the configuration file (a missing file means no
// limits; an unreadable, empty or invalid one is an error unless a last
// good configuration was saved at LastGoodPath) and returns Limits ready
// to serve. Call Run to follow changes to the file.
func New(opts Options) (*Limits, error) {
	switch {
	case opts.ConcurrentUploadLimitBytes < 0:
		return nil, fmt.Errorf("limits: negative concurrent upload limit %d bytes", opts.ConcurrentUploadLimitBytes)
	case opts.ConcurrentFileUploadLimit < 0:
		return nil, fmt.Errorf("limits: negative concurrent file upload limit %d", opts.ConcurrentFileUploadLimit)
	case opts.UploadMaxWait < 0:
		return nil, fmt.Errorf("limits: negative upload max wait %v", opts.UploadMaxWait)
	case opts.ReloadDelay < 0:
		return nil, fmt.Errorf("limits: negative reload delay %v", opts.ReloadDelay)
	case opts.AdminMaxBodyBytes < 0:
		return nil, fmt.Errorf("limits: negative admin body limit %d", opts.AdminMaxBodyBytes)
	}
	if opts.ReloadDelay == 0 {
		opts.ReloadDelay = DefaultReloadDelay
	}
	if opts.AdminMaxBodyBytes == 0 {
		opts.AdminMaxBodyBytes = DefaultAdminMaxBodyBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b, err := NewBreaker(BreakerOptions{
		ThrottleStatus: opts.ThrottleStatus,
		RetryAfter:     opts.RetryAfter,
		Metrics:        opts.Metrics,
		Logger:         log,
	})
	if err != nil {
		return nil, err
	}
	// The upload queue's refusal is the count refusal's status and hint.
	refusal := s3api.ErrSlowDown.WithMessage("Please reduce your request rate: the upload waited longer than the server allows for upload capacity.")
	proto := b.refusals[0][scopeGlobal][typeCount][reasonFull]
	refusal.StatusCode, refusal.RetryAfter = proto.StatusCode, proto.RetryAfter

	l := &Limits{
		opts:    opts,
		log:     log,
		metrics: opts.Metrics,
		breaker: b,
		refusal: refusal,
		uploads: &uploadLimiter{
			maxBytes:  opts.ConcurrentUploadLimitBytes,
			maxFiles:  opts.ConcurrentFileUploadLimit,
			maxWait:   opts.UploadMaxWait,
			throttle:  refusal,
			metrics:   opts.Metrics,
			throttled: opts.Metrics.Throttled(string(s3api.ActionWrite), metrics.ScopeUpload, "wait"),
		},
	}
	l.shapeCounters = shapeCounterTable(opts.Metrics)
	if opts.Fleet != nil {
		b.attachFleet()
	}
	if opts.ConfigPath != "" {
		if err := l.loadAtStart(); err != nil {
			return nil, err
		}
	}
	if opts.Fleet != nil {
		if err := opts.Fleet.Attach(l); err != nil {
			return nil, err
		}
	}
	opts.Metrics.SetSource(l)
	return l, nil
}

// Breaker returns the circuit breaker, for callers that admit work
// outside Middleware.
func (l *Limits) Breaker() *Breaker { return l.breaker }

// Config returns a copy of the circuit-breaker configuration in force and
// its ETag, a quoted strong entity tag such as "\"3f2a...\"" that Apply
// and the admin API accept as If-Match.
func (l *Limits) Config() (*Config, string) { return l.breaker.Config() }

// Apply validates cfg, writes it to ConfigPath (atomically; when set) and
// puts it in force; it returns the new ETag. ifMatch "" applies
// unconditionally; otherwise it is an If-Match value (one or more entity
// tags, or "*") and Apply returns ErrPreconditionFailed, changing nothing,
// unless it names the configuration in force. An invalid cfg gives a
// *ConfigError. Requests in flight keep their counts.
func (l *Limits) Apply(cfg *Config, ifMatch string) (string, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	cfg = cfg.Clone()
	data, err := cfg.Marshal()
	if err != nil {
		return "", fmt.Errorf("limits: %w", err)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.opts.Fleet; f != nil {
		// The fleet's document is the one in force: If-Match is checked
		// against it, and the local file is only its cache.
		etag := etagOf(data)
		ctx, cancel := context.WithTimeout(context.Background(), fleetStoreTimeout)
		err := f.Store(ctx, data, etag, ifMatch)
		cancel()
		if err != nil {
			if errors.Is(err, ErrPreconditionFailed) {
				return "", err
			}
			// The fleet's store cannot be reached: nothing changed, and a
			// retry may succeed, which is what 503 says.
			return "", s3api.ErrServiceUnavailable.WithMessage("The fleet's configuration store could not be reached; nothing was changed: %v.", err)
		}
		l.inForceFromFleetLocked(cfg, data)
		l.log.Info("circuit breaker configuration applied to the fleet", "buckets", len(cfg.Buckets), "etag", etag)
		return etag, nil
	}
	if l.opts.ConfigPath != "" {
		// Take in an edit of the file that the watcher has not applied
		// yet, so If-Match compares against what is really current.
		l.reloadLocked()
	}
	if ifMatch != "" && !etagMatches(ifMatch, l.breaker.ETag()) {
		return "", ErrPreconditionFailed
	}
	var s *snapshot
	if l.opts.ConfigPath != "" {
		if err := writeFileAtomic(l.opts.ConfigPath, data, 0o644); err != nil {
			return "", err
		}
		l.fileSum, l.fileKnown = contentSum(data, true), true
		s = l.inForceLocked(cfg, data)
	} else {
		s = l.breaker.install(cfg)
		s.etagOnce.Do(func() { s.etagVal = etagOf(data) })
	}
	l.log.Info("circuit breaker configuration applied", "buckets", len(cfg.Buckets), "etag", s.etagVal)
	return s.etagVal, nil
}

// etagMatches reports whether an If-Match header value names etag
// (RFC 9110 section 13.1.1: "*" or a list of entity tags compared with the
// strong comparison; a weak tag never matches).
func etagMatches(ifMatch, etag string) bool {
	for _, t := range strings.Split(ifMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == etag {
			return true
		}
		// Be lenient with clients that drop the quotes.
		if !strings.HasPrefix(t, `"`) && !strings.HasPrefix(t, "W/") && `"`+t+`"` == etag {
			return true
		}
	}
	return false
}

// Uploads reports the upload limiter's state (metrics.Source).
func (l *Limits) Uploads() metrics.UploadStats { return l.uploads.stats() }

// InflightRequests reports admitted requests per action (metrics.Source).
func (l *Limits) InflightRequests(emit func(action string, n int64)) {
	for ai, a := range s3api.Actions {
		emit(string(a), l.breaker.global[ai].count.Load())
	}
}

// LimitWaiting reports the requests waiting for room, by scope
// (metrics.Source).
func (l *Limits) LimitWaiting(emit func(scope string, n int64)) {
	for sc := range numScopes {
		emit(scopeNames[sc], l.breaker.waiting[sc].Load())
	}
}

// Limits reports the configured limits of enabled sections (metrics.Source).
func (l *Limits) Limits(emit func(metrics.Limit)) {
	l.breaker.snap.Load().eachLimit(func(scope int, name string, ai, typ int, v int64) {
		lim := metrics.Limit{
			Scope:  scopeNames[scope],
			Action: string(s3api.Actions[ai]),
			Type:   typeNames[typ],
			Value:  v,
		}
		switch scope {
		case scopeBucket:
			lim.Bucket = name
		case scopeUser:
			lim.User = name
		}
		emit(lim)
	})
}
