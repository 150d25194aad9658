package bandwidth

import (
	"errors"
	"testing"
	"time"
)

// consumeStep is one call in a scripted sequence against a bucket.
type consumeStep struct {
	advance time.Duration // clock advance before the call
	amt     int64
	token   int           // index into the test's tokens
	retry   time.Duration // 0: the call passes; otherwise the wanted RetryTime
}

// runSteps plays steps against b on clock and fails on the first mismatch.
func runSteps(t *testing.T, b Bucket, clock *fakeClock, steps []consumeStep) {
	t.Helper()
	tokens := make([]*RequestToken, 8)
	for i := range tokens {
		tokens[i] = NewRequestToken(0, clock.Now())
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		err := b.Consume(st.amt, tokens[st.token])
		var ex *RequestExceededError
		switch {
		case st.retry == 0 && err != nil:
			t.Fatalf("step %d: Consume(%d, token %d) = %v, want it to pass", i, st.amt, st.token, err)
		case st.retry != 0 && !errors.As(err, &ex):
			t.Fatalf("step %d: Consume(%d, token %d) = %v, want a refusal", i, st.amt, st.token, err)
		case st.retry != 0 && (ex.RetryTime != st.retry || ex.RequestedAmt != st.amt):
			t.Fatalf("step %d: refusal (%d bytes, retry %v), want (%d bytes, retry %v)",
				i, ex.RequestedAmt, ex.RetryTime, st.amt, st.retry)
		}
	}
}

func TestLeakyBucketConsume(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name    string
		maxRate int64
		steps   []consumeStep
	}{
		{name: "first request passes", maxRate: 1, steps: []consumeStep{{amt: 1 << 30}}},
		{name: "under the rate passes", maxRate: 1000, steps: []consumeStep{
			{amt: 100}, {advance: 100 * ms, amt: 100}, // projected 800 B/s
		}},
		{name: "projected rate equal to the maximum passes", maxRate: 1000, steps: []consumeStep{
			{amt: 1}, {advance: time.Second, amt: 1250}, // 0.8*1250 = 1000
		}},
		{name: "over the rate is scheduled for amt/maxRate", maxRate: 1000, steps: []consumeStep{
			{amt: 100}, {advance: 100 * ms, amt: 100},
			{advance: 50 * ms, amt: 100, retry: 100 * ms}, // 0.8*2000+0.2*800 > 1000
		}},
		{name: "retry time is the queue's total wait", maxRate: 1000, steps: []consumeStep{
			{amt: 100}, {advance: 100 * ms, amt: 100},
			{advance: 50 * ms, amt: 100, token: 1, retry: 100 * ms},
			{amt: 200, token: 2, retry: 300 * ms},
			{amt: 300, token: 3, retry: 600 * ms},
		}},
		{name: "a scheduled token passes on retry and leaves the queue", maxRate: 1000, steps: []consumeStep{
			{amt: 100}, {advance: 100 * ms, amt: 100},
			{advance: 50 * ms, amt: 100, token: 1, retry: 100 * ms},
			{amt: 200, token: 2, retry: 300 * ms},
			{amt: 100, token: 1}, // passes at once, even though the rate is exceeded
			{amt: 300, token: 3, retry: 500 * ms},
		}},
		{name: "same timestamp projects an infinite rate", maxRate: 1e9, steps: []consumeStep{
			{amt: 1}, {amt: 1, token: 1, retry: time.Nanosecond},
		}},
		{name: "unlimited", maxRate: 0, steps: []consumeStep{
			{amt: 1 << 40}, {amt: 1 << 40, token: 1}, {amt: 1 << 40, token: 2},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			runSteps(t, NewLeakyBucket(tc.maxRate, clock), clock, tc.steps)
		})
	}
}

// The reference keeps a cancelled request's reservation forever, which
// lengthens every later wait.
func TestLeakyBucketCancelGivesReservationBack(t *testing.T) {
	clock := newFakeClock()
	b := NewLeakyBucket(1000, clock)
	a, x, y := NewRequestToken(0, clock.Now()), NewRequestToken(0, clock.Now()), NewRequestToken(0, clock.Now())
	if err := b.Consume(100, a); err != nil {
		t.Fatal(err)
	}
	var ex *RequestExceededError
	if err := b.Consume(500, x); !errors.As(err, &ex) || ex.RetryTime != 500*time.Millisecond {
		t.Fatalf("Consume = %v, want a refusal of 500ms", err)
	}
	b.Cancel(x)
	b.Cancel(x) // a second cancel does nothing
	if got := b.QueuedWait(); got != 0 {
		t.Fatalf("QueuedWait() = %v after Cancel, want 0", got)
	}
	if err := b.Consume(100, y); !errors.As(err, &ex) || ex.RetryTime != 100*time.Millisecond {
		t.Fatalf("Consume after Cancel = %v, want a refusal of 100ms (not 600ms)", err)
	}
	// The cancelled token is a fresh request again.
	if err := b.Consume(100, x); !errors.As(err, &ex) || ex.RetryTime != 200*time.Millisecond {
		t.Fatalf("Consume with the cancelled token = %v, want a refusal of 200ms", err)
	}
}

// The reference records an infinite rate for a request released at the same
// timestamp as the previous one, and refuses every later request once.
func TestLeakyBucketRecoversFromRepeatedTimestamp(t *testing.T) {
	clock := newFakeClock()
	b := NewLeakyBucket(1000, clock)
	a, x := NewRequestToken(0, clock.Now()), NewRequestToken(0, clock.Now())
	if err := b.Consume(10, a); err != nil {
		t.Fatal(err)
	}
	if err := b.Consume(10, x); err == nil {
		t.Fatal("second request at the same instant passed; want a refusal")
	}
	if err := b.Consume(10, x); err != nil { // the retry, still at the same instant
		t.Fatalf("scheduled retry refused: %v", err)
	}
	for i := range 20 {
		clock.Advance(100 * time.Millisecond)
		if err := b.Consume(50, a); err != nil { // 500 B/s
			t.Fatalf("request %d at half the rate refused: %v", i, err)
		}
	}
}

func TestLeakyBucketSetMaxRate(t *testing.T) {
	clock := newFakeClock()
	b := NewLeakyBucket(100, clock)
	a := NewRequestToken(0, clock.Now())
	if err := b.Consume(1, a); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if b.Consume(1000, NewRequestToken(0, clock.Now())) == nil {
		t.Fatal("800 B/s passed a 100 B/s bucket")
	}
	b.SetMaxRate(1000)
	if got := b.MaxRate(); got != 1000 {
		t.Fatalf("MaxRate() = %d, want 1000", got)
	}
	if err := b.Consume(1000, a); err != nil {
		t.Fatalf("800 B/s refused after SetMaxRate(1000): %v", err)
	}
	b.SetMaxRate(0)
	if err := b.Consume(1<<40, NewRequestToken(0, clock.Now())); err != nil {
		t.Fatalf("unlimited bucket refused: %v", err)
	}
}

func TestLeakyBucketRejectsNilToken(t *testing.T) {
	if err := NewLeakyBucket(1, newFakeClock()).Consume(1, nil); err == nil || errors.As(err, new(*RequestExceededError)) {
		t.Fatalf("Consume(1, nil) = %v, want a plain error", err)
	}
}

func TestLeakyBucketConsumeDoesNotAllocate(t *testing.T) {
	clock := newFakeClock()
	clock.step = time.Millisecond
	b := NewLeakyBucket(1<<40, clock)
	tok := NewRequestToken(0, clock.Now())
	allocs := testing.AllocsPerRun(1000, func() {
		if err := b.Consume(1024, tok); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Consume allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkLeakyBucketConsume(b *testing.B) {
	bucket := NewLeakyBucket(1<<62, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		tok := NewRequestToken(0, time.Now())
		for pb.Next() {
			// Two requests at the same instant project an infinite rate and
			// are refused once; the retry passes.
			if bucket.Consume(32<<10, tok) != nil {
				_ = bucket.Consume(32<<10, tok)
			}
		}
	})
}

func BenchmarkLeakyBucketConsumeSerial(b *testing.B) {
	clock := newFakeClock()
	clock.step = time.Microsecond
	bucket := NewLeakyBucket(1<<62, clock)
	tok := NewRequestToken(0, clock.Now())
	b.ReportAllocs()
	for b.Loop() {
		if err := bucket.Consume(32<<10, tok); err != nil {
			b.Fatal(err)
		}
	}
}
