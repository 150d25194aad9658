package bandwidth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeClock is a virtual clock for tests run by a single goroutine: Sleep
// returns at once after moving the time forward, and every call to Now can
// move it forward by step.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	step   time.Duration   // added after every Now
	sleeps []time.Duration // every Sleep, in order
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Since returns the time elapsed since t.
func (c *fakeClock) Since(t time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now.Sub(t)
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func TestSystemClockReadsMonotonicClock(t *testing.T) {
	// A time.Time prints its monotonic reading as "m=±..."; without one,
	// differences would follow steps of the wall clock.
	if now := SystemClock().Now(); !strings.Contains(now.String(), " m=") {
		t.Fatalf("SystemClock().Now() = %v, want a monotonic reading", now)
	}
}

func TestSystemClockSleep(t *testing.T) {
	tests := []struct {
		name     string
		d        time.Duration
		cancelAt time.Duration // <0: never; 0: before the call
		wantErr  error
		wantTook time.Duration
	}{
		{name: "full sleep", d: time.Second, cancelAt: -1, wantTook: time.Second},
		{name: "zero", d: 0, cancelAt: -1},
		{name: "negative", d: -time.Second, cancelAt: -1},
		{name: "cancelled before", d: time.Hour, cancelAt: 0, wantErr: context.Canceled},
		{name: "zero after cancel", d: 0, cancelAt: 0, wantErr: context.Canceled},
		// The reference sleeps uninterruptibly; this wakes at the cancel.
		{name: "cancelled during", d: time.Hour, cancelAt: 250 * time.Millisecond,
			wantErr: context.Canceled, wantTook: 250 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				switch {
				case tc.cancelAt == 0:
					cancel()
				case tc.cancelAt > 0:
					time.AfterFunc(tc.cancelAt, cancel)
				}
				start := time.Now()
				err := SystemClock().Sleep(ctx, tc.d)
				if took := time.Since(start); took != tc.wantTook {
					t.Errorf("Sleep took %v, want %v", took, tc.wantTook)
				}
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Errorf("Sleep error = %v, want %v", err, tc.wantErr)
				}
			})
		})
	}
}

func TestNilClockMeansSystemClock(t *testing.T) {
	if _, ok := NewLeakyBucket(1, nil).clock.(systemClock); !ok {
		t.Error("NewLeakyBucket(nil clock) does not use SystemClock")
	}
	if _, ok := NewPacingBucket(1, 0, nil).clock.(systemClock); !ok {
		t.Error("NewPacingBucket(nil clock) does not use SystemClock")
	}
	//lint:ignore SA1012 a nil context is documented to mean context.Background
	if _, ok := NewLimitedStream(nil, strings.NewReader(""), nil, nil, 0).clock.(systemClock); !ok {
		t.Error("NewLimitedStream(nil clock) does not use SystemClock")
	}
}
