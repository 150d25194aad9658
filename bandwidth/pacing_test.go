package bandwidth

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestPacingBucketConsume(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name  string
		rate  int64
		burst int64
		steps []consumeStep
	}{
		{name: "first request passes whatever its size", rate: 1, burst: 1, steps: []consumeStep{{amt: 1 << 40}}},
		// rate 1000 B/s, burst 100 B: callers run up to 100 ms ahead of their slot.
		{name: "slots follow each other", rate: 1000, burst: 100, steps: []consumeStep{
			{amt: 100},                            // [0,100) passes
			{amt: 100, token: 1},                  // [100,200) passes: within the burst
			{amt: 100, token: 2, retry: 100 * ms}, // [200,300)
			{amt: 100, token: 3, retry: 200 * ms}, // [300,400)
		}},
		{name: "a retry is not charged twice", rate: 1000, burst: 100, steps: []consumeStep{
			{amt: 100}, {amt: 100, token: 1},
			{amt: 100, token: 2, retry: 100 * ms},
			{advance: 40 * ms, amt: 100, token: 2, retry: 60 * ms},
			{amt: 100, token: 3, retry: 160 * ms}, // [300,400), not [400,500)
			{advance: 60 * ms, amt: 100, token: 2},
			{amt: 100, token: 2, retry: 200 * ms}, // a new request: [400,500)
		}},
		{name: "a retry with another amount gives the old slot back", rate: 1000, burst: 100, steps: []consumeStep{
			{amt: 100}, {amt: 100, token: 1},
			{amt: 100, token: 2, retry: 100 * ms}, // [200,300)
			{amt: 200, token: 2, retry: 100 * ms}, // [200,400) instead
			{amt: 100, token: 3, retry: 300 * ms}, // [400,500)
		}},
		{name: "the time spent before asking is not lost", rate: 1000, burst: 1, steps: []consumeStep{
			{amt: 100}, // [0,100)
			{advance: 80 * ms, amt: 100, retry: 19 * ms}, // [100,200): 20 ms away, less 1 ms of burst
			{advance: 19 * ms, amt: 100},
			{advance: 300 * ms, amt: 100}, // idle: the slot starts now
		}},
		{name: "unlimited", rate: 0, steps: []consumeStep{
			{amt: 1 << 50}, {amt: 1 << 50, token: 1}, {amt: 1 << 50, token: 2},
		}},
		{name: "zero and negative amounts pass", rate: 1, burst: 1, steps: []consumeStep{
			{amt: 1 << 20}, {amt: 0, token: 1}, {amt: -5, token: 2},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			runSteps(t, NewPacingBucket(tc.rate, tc.burst, clock), clock, tc.steps)
		})
	}
}

func TestPacingBucketCancel(t *testing.T) {
	clock := newFakeClock()
	b := NewPacingBucket(1000, 100, clock)
	toks := []*RequestToken{NewRequestToken(0, clock.Now()), NewRequestToken(0, clock.Now()),
		NewRequestToken(0, clock.Now()), NewRequestToken(0, clock.Now())}
	for _, tok := range toks[:2] {
		if err := b.Consume(100, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Consume(100, toks[2]); err == nil { // [200,300)
		t.Fatal("third request passed")
	}
	b.Cancel(toks[2])
	b.Cancel(toks[2]) // does nothing
	if got := b.Delay(100); got != 100*time.Millisecond {
		t.Fatalf("Delay(100) = %v after Cancel, want 100ms (the cancelled slot)", got)
	}
	var ex *RequestExceededError
	if err := b.Consume(100, toks[3]); !errors.As(err, &ex) || ex.RetryTime != 100*time.Millisecond {
		t.Fatalf("Consume after Cancel = %v, want a refusal of 100ms", err)
	}
}

func TestPacingBucketIdleCreditCappedByBurst(t *testing.T) {
	tests := []struct {
		name       string
		rate       int64
		burst      int64
		n          int64
		wantAtOnce int64 // bytes that pass at once after a long idle time
	}{
		{name: "burst of one second", rate: 1000, burst: 1000, n: 100, wantAtOnce: 1100},
		{name: "burst of one request", rate: 1000, burst: 100, n: 100, wantAtOnce: 200},
		{name: "default burst is 50 ms", rate: 1000, n: 10, wantAtOnce: 60},
		{name: "large request", rate: 1000, burst: 100, n: 5000, wantAtOnce: 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			b := NewPacingBucket(tc.rate, tc.burst, clock)
			clock.Advance(time.Hour)
			var got int64
			for b.Delay(tc.n) == 0 {
				if err := b.WaitN(context.Background(), tc.n); err != nil {
					t.Fatal(err)
				}
				got += tc.n
			}
			if got != tc.wantAtOnce {
				t.Errorf("%d bytes passed at once, want %d", got, tc.wantAtOnce)
			}
			if len(clock.Sleeps()) != 0 {
				t.Errorf("WaitN slept %v", clock.Sleeps())
			}
		})
	}
}

func TestPacingBucketExactLongRunRate(t *testing.T) {
	// 3 bytes at 7 B/s is 428571428.57 ns: the fractions must add up.
	clock := newFakeClock()
	b := NewPacingBucket(7, 0, clock)
	start := clock.Now()
	for range 7000 {
		if err := b.WaitN(context.Background(), 3); err != nil {
			t.Fatal(err)
		}
	}
	// 7000 slots end at exactly 3000 s; the next one starts there.
	if err := b.WaitN(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	if got, want := clock.Since(start), 3000*time.Second-defaultBurstDuration; got != want {
		t.Errorf("the 7001st admission came after %v, want %v", got, want)
	}
}

func TestPacingBucketSetRate(t *testing.T) {
	clock := newFakeClock()
	b := NewPacingBucket(1000, 0, clock)
	if err := b.WaitN(context.Background(), 1000); err != nil { // [0,1s)
		t.Fatal(err)
	}
	b.SetRate(2000)
	if got := b.Rate(); got != 2000 {
		t.Fatalf("Rate() = %d, want 2000", got)
	}
	// Granted slots keep their times; new ones are half as long.
	if got, want := b.Delay(1000), time.Second-defaultBurstDuration; got != want {
		t.Errorf("Delay(1000) = %v, want %v", got, want)
	}
	if err := b.Consume(1000, NewRequestToken(0, clock.Now())); err == nil {
		t.Fatal("request passed before its slot")
	}
	if got, want := b.Delay(1), 1500*time.Millisecond-defaultBurstDuration; got != want {
		t.Errorf("Delay(1) = %v, want %v", got, want)
	}
	b.SetRate(0)
	if got := b.Delay(1 << 40); got != 0 {
		t.Errorf("unlimited: Delay = %v, want 0", got)
	}
	b.SetRate(3)
	b.SetRate(4) // a tail with a fraction of a nanosecond rounds up
	if got := b.Delay(1); got < 0 {
		t.Errorf("Delay = %v", got)
	}
}

func TestPacingBucketQuantumAndBurst(t *testing.T) {
	tests := []struct {
		rate, burst int64
		quantum     int64
		wantBurst   int64
	}{
		{rate: 0, quantum: 0, wantBurst: 0},
		{rate: -1, quantum: 0, wantBurst: 0},
		{rate: 10, quantum: 512, wantBurst: 1},
		{rate: 10_000, quantum: 512, wantBurst: 500},
		{rate: 1 << 20, quantum: 20971, wantBurst: 52428},
		{rate: 1e9, quantum: 20_000_000, wantBurst: 50_000_000},
		{rate: 1e9, burst: 4096, quantum: 20_000_000, wantBurst: 4096},
		{rate: math.MaxInt64, quantum: math.MaxInt64 / 50, wantBurst: math.MaxInt64 / 20},
	}
	for _, tc := range tests {
		b := NewPacingBucket(tc.rate, tc.burst, newFakeClock())
		if got := b.Quantum(); got != tc.quantum {
			t.Errorf("rate %d: Quantum() = %d, want %d", tc.rate, got, tc.quantum)
		}
		if got := b.Burst(); got != tc.wantBurst {
			t.Errorf("rate %d burst %d: Burst() = %d, want %d", tc.rate, tc.burst, got, tc.wantBurst)
		}
	}
	b := NewPacingBucket(1000, 0, newFakeClock())
	b.SetBurst(300)
	if got := b.Burst(); got != 300 {
		t.Errorf("after SetBurst(300): Burst() = %d", got)
	}
	b.SetBurst(0)
	if got := b.Burst(); got != 50 {
		t.Errorf("after SetBurst(0): Burst() = %d, want the default 50", got)
	}
}

func TestPacingBucketExtremeValuesDoNotOverflow(t *testing.T) {
	clock := newFakeClock()
	for _, rate := range []int64{1, math.MaxInt64} {
		for _, burst := range []int64{0, 1, math.MaxInt64} {
			b := NewPacingBucket(rate, burst, clock)
			for range 3 {
				_ = b.Consume(math.MaxInt64, NewRequestToken(0, clock.Now()))
				if d := b.Delay(math.MaxInt64); d < 0 {
					t.Fatalf("rate %d burst %d: Delay = %v", rate, burst, d)
				}
			}
		}
	}
}

func TestPacingBucketRejectsNilToken(t *testing.T) {
	if err := NewPacingBucket(1, 0, newFakeClock()).Consume(1, nil); err == nil || errors.As(err, new(*RequestExceededError)) {
		t.Fatalf("Consume(1, nil) = %v, want a plain error", err)
	}
}

func TestPacingBucketWaitN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewPacingBucket(1000, 1, nil) // 1 ms of burst
		ctx := t.Context()
		start := time.Now()
		if err := b.WaitN(ctx, 1000); err != nil || time.Since(start) != 0 { // [0,1s)
			t.Fatalf("first WaitN = %v after %v", err, time.Since(start))
		}
		if err := b.WaitN(ctx, 500); err != nil { // [1s,1.5s)
			t.Fatal(err)
		}
		if got := time.Since(start); got != 999*time.Millisecond {
			t.Errorf("second WaitN returned after %v, want 999ms", got)
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		if err := b.WaitN(done, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("WaitN on a done context = %v", err)
		}
		if got, want := b.Delay(1), 500*time.Millisecond; got != want { // nothing was charged
			t.Errorf("Delay(1) = %v, want %v", got, want)
		}
		if err := b.WaitN(ctx, 0); err != nil {
			t.Errorf("WaitN(0) = %v", err)
		}
	})
}

func TestPacingBucketCancelledWaitGivesSlotBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewPacingBucket(1000, 1, nil)
		start := time.Now()
		if err := b.WaitN(t.Context(), 1000); err != nil { // [0,1s)
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- b.WaitN(ctx, 1000) }() // [1s,2s)
		time.Sleep(100 * time.Millisecond)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled WaitN = %v", err)
		}
		if got := time.Since(start); got != 100*time.Millisecond {
			t.Fatalf("cancelled WaitN returned after %v, want 100ms", got)
		}
		if err := b.WaitN(t.Context(), 1000); err != nil { // the freed [1s,2s)
			t.Fatal(err)
		}
		if got := time.Since(start); got != 999*time.Millisecond {
			t.Errorf("next WaitN returned after %v, want 999ms", got)
		}
	})
}

func TestPacingBucketConcurrentWaitersShareTheTimeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate, n, callers, calls = 100_000, 1000, 8, 100
		b := NewPacingBucket(rate, 0, nil)
		start := time.Now()
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for range calls {
					if err := b.WaitN(t.Context(), n); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		// 800 slots of 10 ms: the last starts at 7.99 s and passes 50 ms early.
		want := (callers*calls-1)*10*time.Millisecond - defaultBurstDuration
		if got := time.Since(start); got != want {
			t.Errorf("%d waiters finished after %v, want %v", callers, got, want)
		}
	})
}

func TestPacingBucketDoesNotAllocate(t *testing.T) {
	clock := newFakeClock()
	clock.step = time.Microsecond
	b := NewPacingBucket(1<<40, 0, clock)
	tok := NewRequestToken(0, clock.Now())
	ctx := context.Background()
	for name, f := range map[string]func(){
		"Consume": func() {
			if err := b.Consume(1024, tok); err != nil {
				t.Fatal(err)
			}
		},
		"WaitN": func() {
			if err := b.WaitN(ctx, 1024); err != nil {
				t.Fatal(err)
			}
		},
		"Quantum": func() { _ = b.Quantum() },
	} {
		if allocs := testing.AllocsPerRun(1000, f); allocs != 0 {
			t.Errorf("%s allocates %v times per call, want 0", name, allocs)
		}
	}
}

func BenchmarkPacingBucketConsume(b *testing.B) {
	bucket := NewPacingBucket(1<<62, 0, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		tok := NewRequestToken(0, time.Now())
		for pb.Next() {
			if err := bucket.Consume(32<<10, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkPacingBucketWaitN(b *testing.B) {
	bucket := NewPacingBucket(1<<62, 0, nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := bucket.WaitN(ctx, 32<<10); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkPacingBucketConsumeSerial(b *testing.B) {
	bucket := NewPacingBucket(1<<62, 0, nil)
	tok := NewRequestToken(0, time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if err := bucket.Consume(32<<10, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// scriptedClock returns the given times in order, then the last one.
type scriptedClock struct {
	mu    sync.Mutex
	times []time.Time
}

func (c *scriptedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.times[0]
	if len(c.times) > 1 {
		c.times = c.times[1:]
	}
	return t
}

func (c *scriptedClock) Sleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

// A caller descheduled between reading the clock and taking the lock saw
// other callers' slots in its future and was refused at an unlimited-like
// rate (BenchmarkPacingBucketConsume failed under load).
func TestPacingBucketStaleClockReadingIsNotRefused(t *testing.T) {
	t0 := time.Unix(1000, 0)
	clock := &scriptedClock{times: []time.Time{t0}}
	b := NewPacingBucket(1000, 1, clock)
	// Fill the timeline up to t0+1s.
	if err := b.Consume(1000, NewRequestToken(1000, t0)); err != nil {
		t.Fatalf("first consume: %v", err)
	}
	// The next caller read t0 (stale); by the time it decides, it is t0+2s.
	clock.mu.Lock()
	clock.times = []time.Time{t0, t0.Add(2 * time.Second)}
	clock.mu.Unlock()
	if err := b.Consume(10, NewRequestToken(10, t0)); err != nil {
		t.Fatalf("consume with a stale first clock reading was refused: %v", err)
	}
	clock.mu.Lock()
	clock.times = []time.Time{t0.Add(2 * time.Second), t0.Add(3 * time.Second)}
	clock.mu.Unlock()
	if err := b.WaitN(context.Background(), 10); err != nil {
		t.Fatalf("WaitN with a stale first clock reading: %v", err)
	}
}
