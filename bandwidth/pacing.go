package bandwidth

import (
	"context"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// quantumDuration is how much of the rate one admission of a
	// LimitedStream over a PacingBucket covers.
	quantumDuration = 20 * time.Millisecond
	// minQuantum keeps admissions at low rates from shrinking to a few
	// bytes: at 10 KB/s one step is about 50 ms.
	minQuantum = 512
	// defaultBurstDuration is the idle credit of a PacingBucket created
	// without an explicit burst, as a duration of its rate.
	defaultBurstDuration = 50 * time.Millisecond
)

// PacingBucket limits throughput to a rate in bytes per second by virtual
// scheduling (the generic cell rate algorithm). It is the bucket to use
// unless the behaviour of [LeakyBucket] is required.
//
// The bucket keeps a virtual timeline whose tail is the end of the last
// granted slot. An admission of n bytes takes the slot
// [max(now, tail), +n/rate) and moves the tail to the slot's end; the caller
// waits until its slot starts, less the burst tolerance burst/rate. So:
//
//   - The long-run rate is exact, for any mix of request sizes, and the time
//     a caller spent reading before asking is not lost: a stream that could
//     read faster than the rate gets the full rate.
//   - Callers are served in the order they ask (FIFO), so concurrent streams
//     share the rate evenly.
//   - Idle time is not saved up beyond the burst: after a pause, at most
//     about burst bytes (plus the request in hand) pass at once. Over any
//     interval of length T the bytes admitted are at most
//     rate*T + burst + the size of one request.
//
// A request larger than the burst is not refused: it passes at the start of
// its slot and delays later requests by n/rate. For smooth traffic, admit
// about [PacingBucket.Quantum] bytes at a time, as [LimitedStream] does.
//
// The bucket implements [Bucket] (Consume refuses with the wait until the
// slot and admits a retry with the same token once the slot has come,
// without charging again), [Canceler] and [Pacer] ([PacingBucket.WaitN]
// blocks with a context).
//
// A PacingBucket is safe for concurrent use; its hot paths do not allocate.
// Create one with NewPacingBucket.
type PacingBucket struct {
	clock   Clock
	epoch   time.Time    // times are kept as nanoseconds since epoch
	quantum atomic.Int64 // bytes per admission; read by streams without the lock

	mu sync.Mutex
	// Guarded by mu.
	rate      int64 // bytes per second; zero or less means unlimited
	burst     int64 // bytes as configured; zero means the default
	tolerance int64 // ns a caller may be released ahead of its slot
	tail      int64 // ns since epoch: end of the last granted slot
	tailFrac  uint64
	// tailFrac is the fraction of a nanosecond of tail, in units of
	// 1/rate ns, so that many small slots add up to the exact rate.
	pending map[*RequestToken]reservation // refused Consume calls
}

// reservation is a slot granted to a refused Consume, kept until the retry.
type reservation struct {
	amt     int64 // bytes
	release int64 // ns since epoch: when the retry may pass
	length  int64 // ns of timeline the slot occupies
}

var (
	_ Bucket   = (*PacingBucket)(nil)
	_ Canceler = (*PacingBucket)(nil)
	_ Pacer    = (*PacingBucket)(nil)
)

// NewPacingBucket returns a bucket that admits rate bytes per second. A rate
// of zero or less means unlimited.
//
// burst is the idle credit in bytes: how far, in bytes, callers may run
// ahead of the timeline. Zero or less selects the default, 50 ms worth of the
// rate (which follows the rate when it changes). A nil clock means
// [SystemClock].
func NewPacingBucket(rate, burst int64, clock Clock) *PacingBucket {
	clock = orSystem(clock)
	b := &PacingBucket{clock: clock, epoch: clock.Now()}
	b.mu.Lock()
	b.burst = max(burst, 0)
	b.setRateLocked(rate)
	b.mu.Unlock()
	return b
}

// Consume asks for amt bytes for token. It returns nil when the bytes may
// pass now. Otherwise it grants the bytes a slot and returns a
// *RequestExceededError whose RetryTime is the wait until the slot; a retry
// with the same token and amount passes once that time has come and is not
// charged again. A retry with a different amount gives the earlier slot back
// and is treated as a new request. A nil token is an error; an amt of zero
// or less passes at once.
func (b *PacingBucket) Consume(amt int64, token *RequestToken) error {
	if token == nil {
		return errNilToken
	}
	now := b.now()
	b.mu.Lock()
	if r, ok := b.pending[token]; ok {
		if r.amt == amt {
			if now >= r.release {
				delete(b.pending, token)
				b.mu.Unlock()
				return nil
			}
			b.mu.Unlock()
			return &RequestExceededError{RequestedAmt: amt, RetryTime: time.Duration(r.release - now)}
		}
		delete(b.pending, token)
		b.giveBackLocked(now, r.length)
	}
	release, length := b.reserveLocked(now, amt)
	b.mu.Unlock()
	if release <= now {
		return nil
	}
	// now was read before the lock: a caller descheduled between the two
	// sees other callers' slots in its future. Read the clock again before
	// refusing; the slot is already taken, so it may simply be granted.
	if now = b.now(); release <= now {
		return nil
	}
	b.mu.Lock()
	if b.pending == nil {
		b.pending = make(map[*RequestToken]reservation)
	}
	b.pending[token] = reservation{amt: amt, release: release, length: length}
	b.mu.Unlock()
	return &RequestExceededError{RequestedAmt: amt, RetryTime: time.Duration(release - now)}
}

// WaitN blocks until n bytes may pass or ctx is done. It returns nil when
// the bytes were admitted, and ctx.Err() when ctx is done first (also when
// it is done on entry, in which case nothing is charged). A cancelled wait
// gives its slot back. An n of zero or less passes at once.
func (b *PacingBucket) WaitN(ctx context.Context, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	now := b.now()
	b.mu.Lock()
	release, length := b.reserveLocked(now, n)
	b.mu.Unlock()
	if release <= now {
		return nil
	}
	if now = b.now(); release <= now { // see Consume: now may be stale
		return nil
	}
	if err := b.clock.Sleep(ctx, time.Duration(release-now)); err != nil {
		now = b.now()
		b.mu.Lock()
		b.giveBackLocked(now, length)
		b.mu.Unlock()
		return err
	}
	return nil
}

// Cancel gives back the slot of a refused Consume for token that will never
// be retried. Later admissions move up by the slot's length. It does nothing
// when token has no pending slot. A refused Consume must be either retried
// or cancelled; otherwise its slot is remembered for the bucket's life.
func (b *PacingBucket) Cancel(token *RequestToken) {
	now := b.now()
	b.mu.Lock()
	if r, ok := b.pending[token]; ok {
		delete(b.pending, token)
		b.giveBackLocked(now, r.length)
	}
	b.mu.Unlock()
}

// SetRate changes the rate, in bytes per second, for the next admission.
// Zero or less means unlimited. Slots already granted keep their times.
func (b *PacingBucket) SetRate(rate int64) {
	b.mu.Lock()
	b.setRateLocked(rate)
	b.mu.Unlock()
}

// SetBurst changes the idle credit in bytes; zero or less selects the
// default of 50 ms worth of the rate.
func (b *PacingBucket) SetBurst(burst int64) {
	b.mu.Lock()
	b.burst = max(burst, 0)
	b.setRateLocked(b.rate)
	b.mu.Unlock()
}

// Rate returns the rate in bytes per second; zero or less means unlimited.
func (b *PacingBucket) Rate() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rate
}

// Burst returns the idle credit in bytes in force, with the default
// resolved; zero when the bucket is unlimited.
func (b *PacingBucket) Burst() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate <= 0 {
		return 0
	}
	if b.burst > 0 {
		return b.burst
	}
	return max(mulDiv(b.rate, int64(defaultBurstDuration), int64(time.Second)), 1)
}

// Quantum returns the number of bytes a [LimitedStream] charges per
// admission: 20 ms worth of the rate, at least 512 bytes. It is zero when
// the bucket is unlimited. It does not take the lock.
func (b *PacingBucket) Quantum() int64 { return b.quantum.Load() }

// Delay returns how long an admission of n bytes would wait if it were made
// now, without making it.
func (b *PacingBucket) Delay(n int64) time.Duration {
	now := b.now()
	b.mu.Lock()
	tail, frac := b.tail, b.tailFrac
	release, _ := b.reserveLocked(now, n)
	b.tail, b.tailFrac = tail, frac
	b.mu.Unlock()
	return time.Duration(release - now)
}

// now returns the clock's time in nanoseconds since the bucket's epoch, never
// negative (a clock that steps back before the epoch reads as the epoch).
func (b *PacingBucket) now() int64 { return max(int64(b.clock.Now().Sub(b.epoch)), 0) }

// setRateLocked installs rate and the values derived from it.
func (b *PacingBucket) setRateLocked(rate int64) {
	if rate != b.rate && b.tailFrac != 0 {
		// The fraction is in units of the old rate: round the tail up so
		// that no slot moves earlier.
		b.tail = satAdd(b.tail, 1)
		b.tailFrac = 0
	}
	b.rate = rate
	switch {
	case rate <= 0:
		b.tolerance = 0
		b.quantum.Store(0)
		return
	case b.burst == 0:
		b.tolerance = int64(defaultBurstDuration)
	default:
		b.tolerance = mulDiv(b.burst, int64(time.Second), rate)
	}
	b.quantum.Store(max(mulDiv(rate, int64(quantumDuration), int64(time.Second)), minQuantum))
}

// reserveLocked grants n bytes the next slot at time now and returns when the
// caller may pass and the slot's length, both in nanoseconds.
func (b *PacingBucket) reserveLocked(now, n int64) (release, length int64) {
	if b.rate <= 0 || n <= 0 {
		return now, 0
	}
	if b.tail < now {
		b.tail, b.tailFrac = now, 0
	}
	start := b.tail
	q, r := slotLength(n, b.rate)
	b.tail = satAdd(b.tail, q)
	b.tailFrac += r
	if b.tailFrac >= uint64(b.rate) {
		b.tailFrac -= uint64(b.rate)
		b.tail = satAdd(b.tail, 1)
	}
	if start-now <= b.tolerance {
		return now, q
	}
	return start - b.tolerance, q
}

// giveBackLocked returns length ns of timeline, never moving the tail into
// the past.
func (b *PacingBucket) giveBackLocked(now, length int64) {
	b.tail -= length
	if b.tail < now {
		b.tail, b.tailFrac = now, 0
	}
}

// slotLength returns n/rate seconds as whole nanoseconds and a remainder in
// units of 1/rate ns. It saturates at the largest int64. rate must be > 0.
func slotLength(n, rate int64) (ns int64, rem uint64) {
	hi, lo := bits.Mul64(uint64(n), uint64(time.Second))
	if hi >= uint64(rate) {
		return math.MaxInt64, 0
	}
	q, r := bits.Div64(hi, lo, uint64(rate))
	if q > math.MaxInt64 {
		return math.MaxInt64, 0
	}
	return int64(q), r
}

// mulDiv returns a*b/c rounded down, saturating at the largest int64. All
// arguments must be positive.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// satAdd returns a+d for d >= 0, saturating at the largest int64.
func satAdd(a, d int64) int64 {
	if a > math.MaxInt64-d {
		return math.MaxInt64
	}
	return a + d
}
