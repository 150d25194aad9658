package limits

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

// DefaultRetryAfter is the retry hint of a throttle response when nothing
// better is known: a concurrency limit cannot tell when a slot frees.
const DefaultRetryAfter = time.Second

// BreakerOptions configures a Breaker. The zero value is usable.
type BreakerOptions struct {
	// ThrottleStatus is the HTTP status of a refusal: 0 or 429 (Too Many
	// Requests, what S3 and SeaweedFS send) or 503 (Service Unavailable,
	// for clients that only retry 503).
	ThrottleStatus int
	// RetryAfter is sent as Retry-After / x-amz-retry-after with a
	// refusal; 0 means DefaultRetryAfter.
	RetryAfter time.Duration
	// Metrics receives throttle counts; nil records nothing.
	Metrics *metrics.Metrics
}

// Breaker is the circuit breaker: it admits a request only if it fits every
// applicable limit of the current configuration (its bucket's enabled
// section and the enabled global section), counting simultaneous requests
// and their declared bytes per action.
//
// The configuration is a compiled, immutable snapshot swapped atomically,
// so SetConfig never blocks Admit. The counters live outside the snapshot
// and survive a swap: requests admitted before it are released against the
// same counters. Global counters count every request; a bucket's counters
// count the requests of buckets that have a section (enabled or not), so
// enabling a section sees the true load at once.
//
// A Breaker is safe for concurrent use. Admit and Release take no lock and
// do not allocate.
type Breaker struct {
	snap   atomic.Pointer[snapshot]
	global [numActions]paddedSlot

	// mu serialises SetConfig; it guards registry.
	mu       sync.Mutex
	registry map[string]*bucketCounters // bucket -> counters that outlive snapshots

	// refusals[action][scope][type][reason] are the errors Admit returns;
	// built once so a refusal does not allocate.
	refusals  [numActions][numScopes][numTypes][numReasons]*s3api.Error
	throttled [numActions][numScopes][numTypes]prometheus.Counter
}

// Indices of the compiled tables.
const (
	numActions = len(s3api.Actions)

	typeCount = 0
	typeBytes = 1
	numTypes  = 2

	scopeGlobal = 0
	scopeBucket = 1
	numScopes   = 2

	reasonFull     = 0 // the limit is reached
	reasonBlocked  = 1 // the limit is 0
	reasonTooLarge = 2 // the request alone exceeds a bytes limit
	numReasons     = 3
)

var (
	typeNames  = [numTypes]string{TypeCount, TypeBytes}
	scopeNames = [numScopes]string{metrics.ScopeGlobal, metrics.ScopeBucket}
)

// slot holds the counters of one action in one scope.
type slot struct {
	count atomic.Int64 // admitted requests not yet released
	bytes atomic.Int64 // their declared bytes
}

// paddedSlot keeps the heavily shared global slots on separate cache lines.
type paddedSlot struct {
	slot
	_ [64 - 16]byte
}

// bucketCounters are one bucket's slots, indexed by action.
type bucketCounters [numActions]slot

func (c *bucketCounters) idle() bool {
	for i := range c {
		if c[i].count.Load() != 0 || c[i].bytes.Load() != 0 {
			return false
		}
	}
	return true
}

// NewBreaker returns a Breaker with no limits; install a configuration
// with SetConfig.
func NewBreaker(opts BreakerOptions) (*Breaker, error) {
	status := opts.ThrottleStatus
	switch status {
	case 0:
		status = http.StatusTooManyRequests
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
	default:
		return nil, fmt.Errorf("limits: throttle status %d not supported (use 429 or 503)", status)
	}
	if opts.RetryAfter < 0 {
		return nil, fmt.Errorf("limits: negative retry-after %v", opts.RetryAfter)
	}
	retry := opts.RetryAfter
	if retry == 0 {
		retry = DefaultRetryAfter
	}
	b := &Breaker{registry: make(map[string]*bucketCounters)}
	for ai, action := range s3api.Actions {
		for sc := range numScopes {
			for ty := range numTypes {
				for re := range numReasons {
					b.refusals[ai][sc][ty][re] = refusal(string(action), sc, ty, re, status, retry)
				}
				b.throttled[ai][sc][ty] = opts.Metrics.Throttled(string(action), scopeNames[sc], typeNames[ty])
			}
		}
	}
	b.snap.Store(compileSnapshot(&Config{}, nil))
	return b, nil
}

func refusal(action string, scope, typ, reason, status int, retry time.Duration) *s3api.Error {
	base := s3api.ErrSlowDown
	if typ == typeBytes {
		base = s3api.ErrRequestBytesExceed
	}
	where := "on this server"
	if scope == scopeBucket {
		where = "for this bucket"
	}
	var msg string
	switch {
	case reason == reasonBlocked:
		msg = fmt.Sprintf("%s requests %s are blocked by the server's circuit breaker (limit 0).", action, where)
	case reason == reasonTooLarge:
		msg = fmt.Sprintf("The request's declared size exceeds the %s bytes limit %s.", action, where)
	case typ == typeCount:
		msg = fmt.Sprintf("Please reduce your request rate: too many simultaneous %s requests %s.", action, where)
	default:
		msg = fmt.Sprintf("Please reduce your request rate: too many bytes of %s requests in flight %s.", action, where)
	}
	e := base.WithMessage("%s", msg)
	e.StatusCode = status
	e.RetryAfter = retry
	return e
}

// Ticket is an admission by Breaker.Admit. Call Release exactly once, when
// the response is completely written. The zero Ticket holds nothing.
type Ticket struct {
	global *slot // counted global slot, nil when none
	bucket *slot // counted bucket slot, nil when none
	bytes  int64 // declared bytes counted in each slot
}

// Release gives the ticket's counts back and clears the ticket, so a
// second Release of the same variable does nothing. Do not release copies.
func (t *Ticket) Release() {
	if s := t.global; s != nil {
		s.count.Add(-1)
		if t.bytes != 0 {
			s.bytes.Add(-t.bytes)
		}
	}
	if s := t.bucket; s != nil {
		s.count.Add(-1)
		if t.bytes != 0 {
			s.bytes.Add(-t.bytes)
		}
	}
	*t = Ticket{}
}

// Admit counts one request of action on bucket ("" for none) declaring
// size bytes (negative counts as 0). It returns a Ticket to release when
// the response is finished, or, when the request does not fit, an
// *s3api.Error (SlowDown for a count limit, RequestBytesExceed for a bytes
// limit, with RetryAfter) and counts nothing. Do not modify the error.
// Actions outside s3api.Actions are not limited and not counted.
//
// The bucket limits are checked before the global ones, so a request its
// bucket refuses does not touch the global counters. Limits are inclusive
// (a count limit of N admits N simultaneous requests) and 0 blocks.
func (b *Breaker) Admit(action s3api.Action, bucket string, size int64) (Ticket, error) {
	ai := actionIndex(action)
	if ai < 0 {
		return Ticket{}, nil
	}
	if size < 0 {
		size = 0
	}
	s := b.snap.Load()
	t := Ticket{bytes: size}
	if bucket != "" {
		if e := s.buckets[bucket]; e != nil {
			sl := &e.counters[ai]
			if e.enabled {
				if typ, re := acquire(sl, e.limits[ai], size); typ >= 0 {
					return Ticket{}, b.refuse(ai, scopeBucket, typ, re)
				}
			} else {
				add(sl, size)
			}
			t.bucket = sl
		}
	}
	g := &b.global[ai].slot
	if s.global.enabled {
		if typ, re := acquire(g, s.global.limits[ai], size); typ >= 0 {
			t.global = nil
			t.Release() // the bucket part
			return Ticket{}, b.refuse(ai, scopeGlobal, typ, re)
		}
	} else {
		add(g, size)
	}
	t.global = g
	return t, nil
}

func (b *Breaker) refuse(ai, scope, typ, reason int) error {
	if c := b.throttled[ai][scope][typ]; c != nil {
		c.Inc()
	}
	return b.refusals[ai][scope][typ][reason]
}

// acquire counts one request of n bytes in sl if it fits lim. It returns
// typ -1 on success, or the type and reason of the limit that refused it,
// leaving sl unchanged.
func acquire(sl *slot, lim actionLimits, n int64) (typ, reason int) {
	switch {
	case lim.count == 0:
		return typeCount, reasonBlocked
	case lim.bytes == 0:
		return typeBytes, reasonBlocked
	case lim.bytes > 0 && n > lim.bytes:
		return typeBytes, reasonTooLarge
	}
	if !tryAdd(&sl.count, 1, lim.count) {
		return typeCount, reasonFull
	}
	if !tryAdd(&sl.bytes, n, lim.bytes) {
		sl.count.Add(-1)
		return typeBytes, reasonFull
	}
	return -1, 0
}

// tryAdd adds n to c unless the result would exceed limit (noLimit: always
// adds). A compare-and-swap loop, so c never goes over the limit and a
// refused request leaves no trace for others to trip on.
func tryAdd(c *atomic.Int64, n, limit int64) bool {
	if limit == noLimit {
		if n != 0 {
			c.Add(n)
		}
		return true
	}
	for {
		v := c.Load()
		if v > limit-n { // v+n > limit without overflow (0 <= n <= limit)
			return false
		}
		if n == 0 || c.CompareAndSwap(v, v+n) {
			return true
		}
	}
}

// add counts a request in a slot whose limits are not enforced.
func add(sl *slot, n int64) {
	sl.count.Add(1)
	if n != 0 {
		sl.bytes.Add(n)
	}
}

// SetConfig validates cfg and makes it the configuration in force. It
// keeps a copy, so the caller may go on using cfg. Requests in flight keep
// their counts.
func (b *Breaker) SetConfig(cfg *Config) error {
	if cfg == nil {
		cfg = &Config{}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	b.install(cfg.Clone())
	return nil
}

// install compiles cfg, which the Breaker then owns, and swaps it in.
func (b *Breaker) install(cfg *Config) *snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := compileSnapshot(cfg, b.counters)
	// Forget the idle counters of buckets no longer configured. Counters
	// with requests in flight stay, so a bucket removed and added back
	// finds its load. (A request admitted through the old snapshot in the
	// instant between this check and the swap is released against the
	// forgotten counters; only that bucket's count can briefly read low.)
	for name, c := range b.registry {
		if _, ok := cfg.Buckets[name]; !ok && c.idle() {
			delete(b.registry, name)
		}
	}
	b.snap.Store(s)
	return s
}

// counters returns the persistent counters of bucket; b.mu must be held.
func (b *Breaker) counters(bucket string) *bucketCounters {
	c := b.registry[bucket]
	if c == nil {
		c = new(bucketCounters)
		b.registry[bucket] = c
	}
	return c
}

// Config returns a copy of the configuration in force and its ETag (a
// quoted strong entity tag of the canonical document).
func (b *Breaker) Config() (*Config, string) {
	s := b.snap.Load()
	return s.cfg.Clone(), s.etag()
}

// ETag returns the entity tag of the configuration in force.
func (b *Breaker) ETag() string { return b.snap.Load().etag() }

// Inflight returns the requests of action admitted and not released, and
// their declared bytes, over all buckets.
func (b *Breaker) Inflight(action s3api.Action) (count, bytes int64) {
	ai := actionIndex(action)
	if ai < 0 {
		return 0, 0
	}
	return b.global[ai].count.Load(), b.global[ai].bytes.Load()
}

// BucketInflight is Inflight for one bucket; it is 0 for buckets without
// a section, whose requests are not counted per bucket.
func (b *Breaker) BucketInflight(action s3api.Action, bucket string) (count, bytes int64) {
	ai := actionIndex(action)
	if ai < 0 {
		return 0, 0
	}
	b.mu.Lock()
	c := b.registry[bucket]
	b.mu.Unlock()
	if c == nil {
		return 0, 0
	}
	return c[ai].count.Load(), c[ai].bytes.Load()
}

func actionIndex(a s3api.Action) int {
	switch a {
	case s3api.ActionRead:
		return 0
	case s3api.ActionWrite:
		return 1
	case s3api.ActionList:
		return 2
	case s3api.ActionTagging:
		return 3
	case s3api.ActionAdmin:
		return 4
	}
	return -1
}
