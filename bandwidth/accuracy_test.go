package bandwidth

import (
	"context"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// These tests run streams against SystemClock inside a synctest bubble, so a
// simulated minute takes milliseconds and every wait is a real timer.

const (
	accuracyRate   = 1 << 20 // R, bytes per second
	accuracyPeriod = 60 * time.Second
)

// slowReader delivers bytes at a natural rate in bytes per second, as a disk
// or a network would: each Read takes len(p)/rate of (virtual) time.
type slowReader struct{ rate float64 }

func (r slowReader) Read(p []byte) (int, error) {
	time.Sleep(time.Duration(float64(len(p)) / r.rate * float64(time.Second)))
	return len(p), nil
}

// readFor reads s with buffers of size chunk until period has passed since
// start and returns the bytes whose Read returned within the period.
func readFor(s io.Reader, start time.Time, period time.Duration, chunk int) int64 {
	buf := make([]byte, chunk)
	var total int64
	for {
		n, err := s.Read(buf)
		if time.Since(start) > period || err != nil {
			return total
		}
		total += int64(n)
	}
}

// measure runs streams readers of src through one bucket made by newBucket
// for accuracyPeriod and returns the bytes each delivered. The bucket is made
// inside the bubble, so that its clock reads the bubble's time.
func measure(t *testing.T, newBucket func() Bucket, streams int, src func() io.Reader) []int64 {
	t.Helper()
	got := make([]int64, streams)
	synctest.Test(t, func(t *testing.T) {
		bucket := newBucket()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		start := time.Now()
		var wg sync.WaitGroup
		for i := range streams {
			wg.Go(func() {
				s := NewLimitedStream(ctx, src(), bucket, nil, 0)
				got[i] = readFor(s, start, accuracyPeriod, 32<<10)
			})
		}
		wg.Wait()
	})
	return got
}

func sum(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s
}

// ratio returns the delivered rate as a fraction of accuracyRate.
func ratio(total int64) float64 {
	return float64(total) / accuracyPeriod.Seconds() / accuracyRate
}

func TestPacingBucketAccuracy(t *testing.T) {
	tests := []struct {
		name     string
		streams  int
		src      func() io.Reader
		min, max float64 // of R
	}{
		{name: "one stream", streams: 1, src: func() io.Reader { return infiniteReader{} }, min: 0.99, max: 1.01},
		{name: "ten streams", streams: 10, src: func() io.Reader { return infiniteReader{} }, min: 0.99, max: 1.01},
		{name: "one stream reading at 1.2R", streams: 1, min: 0.98, max: 1.01,
			src: func() io.Reader { return slowReader{rate: 1.2 * accuracyRate} }},
		{name: "ten streams reading at 0.12R each", streams: 10, min: 0.98, max: 1.01,
			src: func() io.Reader { return slowReader{rate: 0.12 * accuracyRate} }},
		{name: "one stream reading at 0.5R is not slowed", streams: 1, min: 0.499, max: 0.501,
			src: func() io.Reader { return slowReader{rate: 0.5 * accuracyRate} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := measure(t, func() Bucket { return NewPacingBucket(accuracyRate, 0, nil) }, tc.streams, tc.src)
			r := ratio(sum(got))
			t.Logf("delivered %.4f R over %v", r, accuracyPeriod)
			if r < tc.min || r > tc.max {
				t.Errorf("delivered %.4f R, want within [%.3f, %.3f]", r, tc.min, tc.max)
			}
			// FIFO: concurrent streams share the rate evenly.
			for i, n := range got {
				if share := float64(n) * float64(len(got)) / float64(sum(got)); share < 0.95 || share > 1.05 {
					t.Errorf("stream %d got %.3f of an even share", i, share)
				}
			}
		})
	}
}

func TestPacingBucketAccuracyThroughConsume(t *testing.T) {
	// A bucket seen only as a Bucket: the stream refuses, sleeps RetryTime
	// and retries with its token, with the default threshold.
	bucket := func() Bucket { return consumeOnly{NewPacingBucket(accuracyRate, 0, nil)} }
	for _, streams := range []int{1, 10} {
		got := measure(t, bucket, streams, func() io.Reader {
			return slowReader{rate: 1.2 * accuracyRate / float64(streams)}
		})
		r := ratio(sum(got))
		t.Logf("%d streams at 1.2R in all: delivered %.4f R", streams, r)
		if r < 0.98 || r > 1.01 {
			t.Errorf("%d streams: delivered %.4f R, want within [0.98, 1.01]", streams, r)
		}
	}
}

// The reference algorithm waits a full amt/maxRate after the time spent
// reading, so a stream that could read at 1.2R gets about R/(1+1/1.2).
func TestLeakyBucketUnderUsesTheLink(t *testing.T) {
	got := measure(t, func() Bucket { return NewLeakyBucket(accuracyRate, nil) }, 1, func() io.Reader {
		return slowReader{rate: 1.2 * accuracyRate}
	})
	r := ratio(sum(got))
	t.Logf("LeakyBucket, one stream reading at 1.2R: delivered %.4f R", r)
	if r < 0.50 || r > 0.60 {
		t.Errorf("delivered %.4f R, want about 0.55 R", r)
	}
}

func TestPacingBucketIsSmoothAt10KBps(t *testing.T) {
	const rate = 10_000
	synctest.Test(t, func(t *testing.T) {
		bucket := NewPacingBucket(rate, 0, nil)
		s := NewLimitedStream(t.Context(), infiniteReader{}, bucket, nil, 0)
		start := time.Now()
		type read struct {
			at time.Duration
			n  int
		}
		var reads []read
		buf := make([]byte, 32<<10)
		for time.Since(start) < 10*time.Second {
			n, err := s.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			reads = append(reads, read{time.Since(start), n})
		}
		var total int
		last := time.Duration(0)
		for _, r := range reads {
			if r.n > 512 {
				t.Fatalf("a Read delivered %d bytes at once, want at most the 512-byte quantum", r.n)
			}
			if gap := r.at - last; gap > 60*time.Millisecond {
				t.Fatalf("no bytes for %v at %v", gap, r.at)
			}
			last = r.at
			if r.at <= 10*time.Second {
				total += r.n
			}
		}
		// Any 100 ms window holds at most R*100ms + burst + one quantum.
		const limit = rate/10 + rate/20 + 512
		for i := range reads {
			window := 0
			for j := i; j < len(reads) && reads[j].at-reads[i].at < 100*time.Millisecond; j++ {
				window += reads[j].n
			}
			if window > limit {
				t.Fatalf("%d bytes in the 100 ms after %v, want at most %d", window, reads[i].at, limit)
			}
		}
		// Over the whole run: R*T, plus at most the burst and one quantum.
		if min, max := rate*10-512, rate*10+rate/20+512; total < min || total > max {
			t.Errorf("delivered %d bytes over 10 s, want within [%d, %d]", total, min, max)
		}
	})
}
