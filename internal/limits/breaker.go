package limits

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/s3limit/s3limit/bandwidth"
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
	// Logger receives the (rate-limited) reports of shadow sections; nil
	// discards them.
	Logger *slog.Logger
}

// Breaker is the circuit breaker: it admits a request only if it fits every
// applicable limit of the current configuration (its user's, its bucket's
// and the global section, each when enabled): simultaneous requests and
// their declared bytes (count, bytes) and admitted requests per second
// (ops/s, by the generic cell rate algorithm). A ticket also carries the
// pacing buckets of the bytes/s limits that shape the request's body.
//
// The configuration is a compiled, immutable snapshot swapped atomically,
// so SetConfig never blocks Admit. The counters, rate states and pacing
// buckets live outside the snapshot and survive a swap: requests admitted
// before it are released against the same counters, and a changed bytes/s
// rate applies to transfers in progress at their next quantum. Global
// counters count every request; a bucket's or user's counters count the
// requests of names that have a section (enabled or not), so enabling a
// section sees the true load at once.
//
// A Breaker is safe for concurrent use. Admit and Release take no lock and
// do not allocate.
type Breaker struct {
	snap   atomic.Pointer[snapshot]
	global [numActions]paddedSlot
	epoch  time.Time // rate states are nanoseconds since epoch
	log    *slog.Logger

	// mu serialises SetConfig; it guards registry.
	mu sync.Mutex
	// registry[scopeBucket|scopeUser][name] are the counters that
	// outlive snapshots.
	registry [numScopes]map[string]*scopeCounters

	// refusals[action][scope][type][reason] are the errors Admit returns;
	// built once so a refusal does not allocate. An ops/s refusal carries
	// the time until a request would conform, to the millisecond: those
	// are built on first use and kept (opsRefusals).
	refusals    [numActions][numScopes][numTypes][numReasons]*s3api.Error
	opsRefusals [numActions][numScopes]*[maxRetryMillis + 1]atomic.Pointer[s3api.Error]
	throttled   [numActions][numScopes][numTypes]prometheus.Counter
	shadowed    [numActions][numScopes][numTypes]prometheus.Counter
	shadowLast  atomic.Int64 // ns since epoch of the last shadow log line
	metrics     *metrics.Metrics
	waiting     [numScopes]atomic.Int64 // requests waiting for room, by scope

	// fleet: limits are leased from a fleet (fleet.go); set before the
	// first configuration is installed. kick asks the fleet for a look.
	fleet     bool
	kick      chan struct{}
	fleetSize atomic.Int64 // servers in the fleet at the last contact
	leases    int64        // configurations installed with leasing; guarded by mu
}

// Indices of the compiled tables.
const (
	numActions = len(s3api.Actions)

	typeCount = 0 // simultaneous requests
	typeBytes = 1 // simultaneous declared bytes
	typeOps   = 2 // requests per second
	typeRate  = 3 // body bytes per second
	numTypes  = 4

	scopeGlobal = 0
	scopeBucket = 1
	scopeUser   = 2
	numScopes   = 3

	reasonFull     = 0 // the limit is reached
	reasonBlocked  = 1 // the limit is 0
	reasonTooLarge = 2 // the request alone exceeds a bytes limit
	numReasons     = 3

	// maxRetryMillis bounds the retry hint of an ops/s refusal: with a
	// whole number of requests per second, a request conforms within one
	// emission interval, at most a second.
	maxRetryMillis = 1000
)

var (
	typeNames  = [numTypes]string{TypeCount, TypeBytes, TypeOpsPerSec, TypeBytesPerSec}
	scopeNames = [numScopes]string{metrics.ScopeGlobal, metrics.ScopeBucket, metrics.ScopeUser}
)

// slot holds the state of one action in one scope.
type slot struct {
	count atomic.Int64 // admitted requests not yet released
	bytes atomic.Int64 // their declared bytes
	tat   atomic.Int64 // ops/s: theoretical arrival time, ns since epoch
	// pacer shapes bytes/s; nil until the scope has had a bytes/s limit.
	pacer atomic.Pointer[bandwidth.PacingBucket]
	// waitq holds the requests waiting for room (wait.go); waiting is
	// its length, read on the hot path without the queue's lock.
	waitq   atomic.Pointer[waitQueue]
	waiting atomic.Int64
	// fleet is the slot's share of fleet-wide limits (fleet.go); nil
	// unless the Breaker leases its limits.
	fleet atomic.Pointer[fleetSlot]
}

// paddedSlot keeps the heavily shared global slots on separate cache lines.
type paddedSlot struct {
	slot
	_ [64 - 56]byte
}

// scopeCounters are one bucket's or user's slots, indexed by action.
type scopeCounters [numActions]slot

func (c *scopeCounters) idle() bool {
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
	b := &Breaker{epoch: time.Now(), log: opts.Logger, metrics: opts.Metrics}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	for sc := range numScopes {
		b.registry[sc] = make(map[string]*scopeCounters)
	}
	for ai, action := range s3api.Actions {
		for sc := range numScopes {
			b.opsRefusals[ai][sc] = new([maxRetryMillis + 1]atomic.Pointer[s3api.Error])
			for ty := range numTypes {
				for re := range numReasons {
					b.refusals[ai][sc][ty][re] = refusal(string(action), sc, ty, re, status, retry)
				}
				b.throttled[ai][sc][ty] = opts.Metrics.Throttled(string(action), scopeNames[sc], typeNames[ty])
				b.shadowed[ai][sc][ty] = opts.Metrics.Shadowed(string(action), scopeNames[sc], typeNames[ty])
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
	where := [numScopes]string{"on this server", "for this bucket", "for this user"}[scope]
	var msg string
	switch {
	case reason == reasonBlocked:
		msg = fmt.Sprintf("%s requests %s are blocked by the server's circuit breaker (limit 0).", action, where)
	case reason == reasonTooLarge:
		msg = fmt.Sprintf("The request's declared size exceeds the %s bytes limit %s.", action, where)
	case typ == typeCount:
		msg = fmt.Sprintf("Please reduce your request rate: too many simultaneous %s requests %s.", action, where)
	case typ == typeOps:
		msg = fmt.Sprintf("Please reduce your request rate: too many %s requests per second %s.", action, where)
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
	slots [numScopes]*slot // counted slots by scope, nil when none
	ops   [numScopes]int64 // ns of rate taken from each slot (for a give-back)
	// pacers shape the request's body bytes, by scope; nil when none.
	pacers [numScopes]*bandwidth.PacingBucket
	bytes  int64 // declared bytes counted in each slot
}

// Release gives the ticket's counts back and clears the ticket, so a
// second Release of the same variable does nothing. Do not release copies.
// Requests per second are spent, not given back.
func (t *Ticket) Release() {
	for _, s := range t.slots {
		if s != nil {
			s.count.Add(-1)
			if t.bytes != 0 {
				s.bytes.Add(-t.bytes)
			}
			if s.waiting.Load() > 0 {
				s.wake()
			}
		}
	}
	*t = Ticket{}
}

// giveBack undoes an admission refused in a later scope: counts and the
// rate taken.
func (t *Ticket) giveBack() {
	for sc, s := range t.slots {
		if s != nil && t.ops[sc] != 0 {
			s.tat.Add(-t.ops[sc])
		}
	}
	t.Release()
}

// Shaped reports whether a bytes/s limit shapes the request.
func (t *Ticket) Shaped() bool {
	return t.pacers != [numScopes]*bandwidth.PacingBucket{}
}

// Admit is AdmitUser for a request without a user section to apply.
func (b *Breaker) Admit(action s3api.Action, bucket string, size int64) (Ticket, error) {
	return b.AdmitUser(action, bucket, "", size)
}

// AdmitUser counts one request of action by user (the identity's name; ""
// for none) on bucket ("" for none) declaring size bytes (negative counts
// as 0). It returns a Ticket to release when the response is finished, or,
// when the request does not fit, an *s3api.Error (SlowDown for a count or
// ops/s limit, RequestBytesExceed for a bytes limit, with RetryAfter: for
// ops/s the time until a request would conform) and counts nothing. Do not
// modify the error. Actions outside s3api.Actions are not limited and not
// counted.
//
// The user's limits are checked first, then the bucket's, then the
// global ones; a refusal gives back what the earlier scopes took. Limits
// are inclusive (a count limit of N admits N simultaneous requests) and 0
// blocks. A shadow section counts and reports what it would refuse, and
// refuses nothing.
func (b *Breaker) AdmitUser(action s3api.Action, bucket, user string, size int64) (Ticket, error) {
	return b.admit(action, bucket, user, size, nil)
}

// admit is AdmitUser that, when bl is not nil, reports in it the limit
// that refused the request if its section lets requests wait.
func (b *Breaker) admit(action s3api.Action, bucket, user string, size int64, bl *blocked) (Ticket, error) {
	ai := actionIndex(action)
	if ai < 0 {
		return Ticket{}, nil
	}
	if size < 0 {
		size = 0
	}
	s := b.snap.Load()
	t := Ticket{bytes: size}
	now := int64(-1) // read once, when a rate needs it
	if e := s.named[scopeUser][user]; e != nil && user != "" {
		if err := b.admitIn(&t, scopeUser, &e.counters[ai], &e.sectionLimits, ai, size, &now, bl); err != nil {
			return Ticket{}, err
		}
	}
	if e := s.named[scopeBucket][bucket]; e != nil && bucket != "" {
		if err := b.admitIn(&t, scopeBucket, &e.counters[ai], &e.sectionLimits, ai, size, &now, bl); err != nil {
			return Ticket{}, err
		}
	}
	if err := b.admitIn(&t, scopeGlobal, &b.global[ai].slot, &s.global, ai, size, &now, bl); err != nil {
		return Ticket{}, err
	}
	return t, nil
}

// admitIn admits the request into one scope's slot, or gives back what t
// holds and returns the refusal.
func (b *Breaker) admitIn(t *Ticket, sc int, sl *slot, sec *sectionLimits, ai int, size int64, now *int64, bl *blocked) error {
	lim := &sec.limits[ai]
	switch {
	case !sec.enabled:
		add(sl, size)
	case sec.shadow:
		b.shadowAdmit(sl, lim, sc, ai, size, now)
	default:
		typ, re := -1, 0
		if sec.wait > 0 && sl.waiting.Load() > 0 && (bl == nil || bl.woken != sl) {
			// Others are waiting for room here: queue behind them.
			typ, re = typeCount, reasonFull
			if lim.count == noLimit {
				typ = typeBytes
			}
		} else {
			typ, re = acquire(sl, lim, size)
		}
		if typ >= 0 {
			if lim.leased && re == reasonFull {
				if bl == nil || sec.wait == 0 {
					b.fleetRefused(sl, size)
				} else {
					b.fleetKick() // it waits: counted as waiting
				}
			}
			t.giveBack()
			if bl != nil && sec.wait > 0 && re == reasonFull {
				// The caller waits; it counts the refusal if the wait
				// ends without room.
				bl.sl, bl.wait, bl.sc, bl.ai, bl.typ = sl, sec.wait, sc, ai, typ
				return b.refusals[ai][sc][typ][re]
			}
			return b.refuse(ai, sc, typ, re)
		}
		t.slots[sc] = sl
		if lim.ops != noLimit {
			if *now < 0 {
				*now = b.nowNanos()
			}
			interval, tolerance := lim.opsInterval, lim.opsTolerance
			var f *fleetSlot
			if lim.leased {
				f = sl.fleet.Load()
				interval, tolerance = f.opsInterval.Load(), f.opsTolerance.Load()
				if interval == 0 { // no share yet
					f.opsRefused.Add(1)
					b.fleetKick()
					t.giveBack()
					return b.refuseOps(ai, sc, int64(100*time.Millisecond))
				}
			}
			if ok, retry := gcraTake(&sl.tat, interval, tolerance, *now); !ok {
				if f != nil {
					f.opsRefused.Add(1)
					b.fleetKick()
				}
				t.giveBack()
				return b.refuseOps(ai, sc, retry)
			}
			if f != nil {
				f.opsTaken.Add(1)
			}
			t.ops[sc] = interval
		}
		if lim.rate != noLimit {
			t.pacers[sc] = sl.pacer.Load()
		}
		return nil
	}
	t.slots[sc] = sl
	return nil
}

// shadowAdmit counts the request in a shadow section and reports each
// limit that would have refused it; it never refuses.
func (b *Breaker) shadowAdmit(sl *slot, lim *actionLimits, sc, ai int, size int64, now *int64) {
	switch {
	case lim.count == 0 || lim.count != noLimit && sl.count.Load() >= lim.count:
		b.shadow(ai, sc, typeCount)
	case lim.bytes == 0 || lim.bytes != noLimit && sl.bytes.Load()+size > lim.bytes:
		b.shadow(ai, sc, typeBytes)
	}
	add(sl, size)
	switch {
	case lim.ops == 0:
		b.shadow(ai, sc, typeOps)
	case lim.ops != noLimit:
		if *now < 0 {
			*now = b.nowNanos()
		}
		if ok, _ := gcraTake(&sl.tat, lim.opsInterval, lim.opsTolerance, *now); !ok {
			b.shadow(ai, sc, typeOps)
		}
	}
	if lim.rate == 0 {
		b.shadow(ai, sc, typeRate)
	}
}

// shadow counts a would-be refusal of a shadow section and logs it, at
// most once a second.
func (b *Breaker) shadow(ai, sc, typ int) {
	if c := b.shadowed[ai][sc][typ]; c != nil {
		c.Inc()
	}
	now := b.nowNanos()
	last := b.shadowLast.Load()
	if now-last >= int64(time.Second) && b.shadowLast.CompareAndSwap(last, now) {
		b.log.Info("shadow limit would refuse a request (not enforced)",
			"action", string(s3api.Actions[ai]), "scope", scopeNames[sc], "type", typeNames[typ])
	}
}

func (b *Breaker) nowNanos() int64 { return int64(time.Since(b.epoch)) }

// gcraTake admits one request at now into the rate state tat (generic
// cell rate algorithm: emission interval, tolerance) and advances it, or
// reports how long until a request would conform.
func gcraTake(tat *atomic.Int64, interval, tolerance, now int64) (ok bool, retry int64) {
	for {
		old := tat.Load()
		t := max(old, now)
		if t-now > tolerance {
			return false, t - tolerance - now
		}
		if tat.CompareAndSwap(old, t+interval) {
			return true, 0
		}
	}
}

func (b *Breaker) refuse(ai, scope, typ, reason int) error {
	if c := b.throttled[ai][scope][typ]; c != nil {
		c.Inc()
	}
	return b.refusals[ai][scope][typ][reason]
}

// refuseOps returns the ops/s refusal whose retry hint is retry (ns),
// rounded up to the millisecond.
func (b *Breaker) refuseOps(ai, scope int, retry int64) error {
	if c := b.throttled[ai][scope][typeOps]; c != nil {
		c.Inc()
	}
	ms := min(max((retry+int64(time.Millisecond)-1)/int64(time.Millisecond), 1), maxRetryMillis)
	cache := &b.opsRefusals[ai][scope][ms]
	if e := cache.Load(); e != nil {
		return e
	}
	e := *b.refusals[ai][scope][typeOps][reasonFull]
	e.RetryAfter = time.Duration(ms) * time.Millisecond
	cache.Store(&e)
	return &e
}

// acquire counts one request of n bytes in sl if it fits lim. It returns
// typ -1 on success, or the type and reason of the limit that refused it,
// leaving sl unchanged.
func acquire(sl *slot, lim *actionLimits, n int64) (typ, reason int) {
	switch {
	case lim.count == 0:
		return typeCount, reasonBlocked
	case lim.bytes == 0:
		return typeBytes, reasonBlocked
	case lim.ops == 0:
		return typeOps, reasonBlocked
	case lim.rate == 0:
		return typeRate, reasonBlocked
	case lim.bytes > 0 && n > lim.bytes:
		return typeBytes, reasonTooLarge
	}
	cl, bl := lim.count, lim.bytes
	if lim.leased {
		f := sl.fleet.Load()
		if cl > 0 {
			cl = f.count.Load()
		}
		if bl > 0 {
			bl = f.bytes.Load()
		}
	}
	if !tryAdd(&sl.count, 1, cl) {
		return typeCount, reasonFull
	}
	if !tryAdd(&sl.bytes, n, bl) {
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
	if b.fleet {
		b.leaseAll(s)
	}
	// Forget the idle counters of names no longer configured. Counters
	// with requests in flight stay, so a section removed and added back
	// finds its load. (A request admitted through the old snapshot in the
	// instant between this check and the swap is released against the
	// forgotten counters; only that section's count can briefly read low.)
	for sc, sections := range [numScopes]map[string]*Section{scopeBucket: cfg.Buckets, scopeUser: cfg.Users} {
		for name, c := range b.registry[sc] {
			if _, ok := sections[name]; !ok && c.idle() {
				delete(b.registry[sc], name)
			}
		}
	}
	// Pacing buckets follow the new rates at once: transfers in progress
	// take the new rate at their next quantum.
	for ai := range numActions {
		setPacer(&b.global[ai].slot, &s.global, ai, b.fleetSize.Load())
	}
	for _, m := range s.named {
		for _, e := range m {
			for ai := range numActions {
				setPacer(&e.counters[ai], &e.sectionLimits, ai, b.fleetSize.Load())
			}
		}
	}
	if b.fleet {
		b.fleetKick() // new limits: ask for their shares now
	}
	b.snap.Store(s)
	return s
}

// setPacer creates or updates the pacing bucket of sl for the bytes/s
// limit of sec; without one, an existing bucket becomes unlimited.
func setPacer(sl *slot, sec *sectionLimits, ai int, fleetSize int64) {
	rate := sec.limits[ai].rate
	if !sec.enabled || sec.shadow {
		rate = noLimit
	}
	p := sl.pacer.Load()
	if rate > 0 && sec.limits[ai].leased {
		// The fleet sets the rate: this instance's share (Grant); until
		// it is granted, the limit divided by the servers last seen.
		if share := sl.fleet.Load().rateShare.Load(); share > 0 {
			rate = share
		} else {
			rate = max(rate/fleetSize, 1)
		}
		if p == nil {
			sl.pacer.Store(bandwidth.NewPacingBucket(rate, 0, nil))
		}
		return
	}
	switch {
	case rate > 0 && p == nil:
		sl.pacer.Store(bandwidth.NewPacingBucket(rate, 0, nil))
	case rate > 0:
		p.SetRate(rate)
	case p != nil:
		p.SetRate(0) // unlimited
	}
}

// counters returns the persistent counters of a bucket or user; b.mu
// must be held.
func (b *Breaker) counters(scope int, name string) *scopeCounters {
	c := b.registry[scope][name]
	if c == nil {
		c = new(scopeCounters)
		b.registry[scope][name] = c
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
	c := b.registry[scopeBucket][bucket]
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
