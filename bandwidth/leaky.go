package bandwidth

import (
	"math"
	"sync"
	"time"
)

// LeakyBucket is the rate limiter of the Python s3transfer library's
// bandwidth module. Prefer [PacingBucket] unless you need this behaviour.
//
// Consume works as follows. A request whose token is scheduled (it was
// refused before) passes at once and leaves the schedule. Otherwise, if the
// [RateTracker]'s projected rate for the request is strictly greater than
// the maximum rate, the request is scheduled to take amt/maxRate seconds and
// refused with a RetryTime equal to the scheduler's total queued wait.
// Otherwise it passes. Every request that passes is recorded in the tracker.
//
// Because the decision looks at a moving average, and each refused request
// waits a full amt/maxRate regardless of how long its bytes took to read,
// the bucket under-uses the link: a single stream able to read at 1.2 times
// maxRate gets about 0.55 times maxRate.
//
// Unlike the library, a LeakyBucket reads the monotonic clock, cannot be
// poisoned by repeated timestamps (see [RateTracker]) and lets a refused
// request be cancelled ([LeakyBucket.Cancel]).
//
// A LeakyBucket is safe for concurrent use. Create one with NewLeakyBucket.
type LeakyBucket struct {
	clock Clock

	mu sync.Mutex
	// Guarded by mu.
	maxRate   float64 // bytes per second; zero or less means unlimited
	tracker   RateTracker
	scheduler ConsumptionScheduler
}

var (
	_ Bucket   = (*LeakyBucket)(nil)
	_ Canceler = (*LeakyBucket)(nil)
)

// NewLeakyBucket returns a bucket that limits consumption to maxRate bytes
// per second. A maxRate of zero or less means unlimited: every request
// passes. A nil clock means [SystemClock].
func NewLeakyBucket(maxRate int64, clock Clock) *LeakyBucket {
	return &LeakyBucket{
		clock:   orSystem(clock),
		maxRate: float64(maxRate),
		tracker: RateTracker{alpha: DefaultAlpha},
	}
}

// Consume asks for amt bytes for token; see [LeakyBucket] for the rules. It
// returns nil or a *RequestExceededError, or an error for a nil token. A
// negative amt counts as zero.
func (b *LeakyBucket) Consume(amt int64, token *RequestToken) error {
	if token == nil {
		return errNilToken
	}
	amt = max(amt, 0)
	b.mu.Lock()
	defer b.mu.Unlock()
	// The time is read under the lock so that samples reach the tracker in
	// time order; Clock.Now must not block.
	now := b.clock.Now()
	if b.scheduler.IsScheduled(token) {
		b.scheduler.ProcessScheduledConsumption(token)
		b.tracker.RecordConsumptionRate(amt, now)
		return nil
	}
	if b.maxRate > 0 && b.tracker.ProjectedRate(amt, now) > b.maxRate {
		allocated := secondsToDuration(float64(amt) / b.maxRate)
		retry := b.scheduler.ScheduleConsumption(amt, token, allocated)
		return &RequestExceededError{RequestedAmt: amt, RetryTime: retry}
	}
	b.tracker.RecordConsumptionRate(amt, now)
	return nil
}

// Cancel gives back the scheduled reservation of token, whose request will
// never be retried, so that it no longer lengthens later waits. It does
// nothing when token is not scheduled.
func (b *LeakyBucket) Cancel(token *RequestToken) {
	b.mu.Lock()
	b.scheduler.ProcessScheduledConsumption(token)
	b.mu.Unlock()
}

// SetMaxRate changes the maximum rate, in bytes per second, for the next
// Consume. Zero or less means unlimited. Requests already scheduled keep
// their wait.
func (b *LeakyBucket) SetMaxRate(maxRate int64) {
	b.mu.Lock()
	b.maxRate = float64(maxRate)
	b.mu.Unlock()
}

// MaxRate returns the maximum rate in bytes per second; zero or less means
// unlimited.
func (b *LeakyBucket) MaxRate() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int64(b.maxRate)
}

// QueuedWait returns the total wait of the requests currently scheduled.
func (b *LeakyBucket) QueuedWait() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.scheduler.TotalWait()
}

// secondsToDuration converts seconds to a Duration, saturating at the
// largest Duration.
func secondsToDuration(s float64) time.Duration {
	ns := s * float64(time.Second)
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}
