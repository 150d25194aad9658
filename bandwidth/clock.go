package bandwidth

import (
	"context"
	"time"
)

// Clock is the source of time for buckets and streams. Inject a virtual
// clock in tests; use [SystemClock] otherwise.
//
// Implementations must be safe for concurrent use. Buckets only subtract
// times obtained from the same Clock, so a Clock whose times carry a
// monotonic clock reading (as [time.Now] does) is immune to steps of the
// wall clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep pauses the calling goroutine for d, or until ctx is done,
	// whichever comes first. It returns nil after the full duration and
	// ctx.Err() if ctx is done first (including when it is already done on
	// entry). A d of zero or less does not pause and returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock returns the Clock of the running process: [time.Now], whose
// readings carry the monotonic clock, and a sleep that wakes as soon as its
// context is done. Inside a testing/synctest bubble it runs on the bubble's
// virtual time.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// orSystem returns c, or SystemClock when c is nil.
func orSystem(c Clock) Clock {
	if c == nil {
		return SystemClock()
	}
	return c
}
