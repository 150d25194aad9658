package bandwidth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/s3limit/s3limit/bandwidth"
)

// virtualClock is a bandwidth.Clock for examples: Sleep moves the time
// forward at once, so the examples run instantly and print exact times.
type virtualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newVirtualClock() *virtualClock {
	return &virtualClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *virtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

// Limit the rate of an upload body to 1 MiB/s. In a program, pass a nil
// clock to use the system clock.
func Example() {
	clock := newVirtualClock()
	limiter := bandwidth.NewLimiter(bandwidth.NewPacingBucket(1<<20, 0, clock), clock)

	body := limiter.LimitedStream(context.Background(), bytes.NewReader(make([]byte, 4<<20)))
	defer body.Close()

	start := clock.Now()
	n, err := io.Copy(io.Discard, body)
	fmt.Println(n, err, clock.Now().Sub(start).Round(time.Millisecond))
	// Output: 4194304 <nil> 3.93s
}

// A LeakyBucket keeps the behaviour of the Python s3transfer library. With
// a reader that takes no time, as here, it runs a little over its limit:
// the first 256 KiB of the stream pass at once and each later step waits
// only for its own bytes, so 4 MiB at 1 MiB/s take 3.75 s, not 4 s. A
// reader that takes time of its own gets less than the limit (see the
// package documentation); PacingBucket delivers the limit in both cases.
func ExampleNewLeakyBucket() {
	clock := newVirtualClock()
	limiter := bandwidth.NewLimiter(bandwidth.NewLeakyBucket(1<<20, clock), clock)

	body := limiter.LimitedStream(context.Background(), bytes.NewReader(make([]byte, 4<<20)))
	start := clock.Now()
	n, _ := io.Copy(io.Discard, body)
	body.Close()
	fmt.Println(n, clock.Now().Sub(start).Round(time.Millisecond))
	// Output: 4194304 3.75s
}

// Limit a download by wrapping the response body and reading it in chunks.
func ExampleLimiter_LimitedStream() {
	clock := newVirtualClock()
	limiter := bandwidth.NewLimiter(bandwidth.NewPacingBucket(512<<10, 0, clock), clock)
	responseBody := io.NopCloser(strings.NewReader(strings.Repeat("x", 1<<20)))

	stream := limiter.LimitedStream(context.Background(), responseBody)
	defer stream.Close()
	start := clock.Now()
	var total int
	chunk := make([]byte, 8192)
	for {
		n, err := stream.Read(chunk)
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("download failed:", err)
			return
		}
	}
	fmt.Printf("downloaded %d bytes in %v\n", total, clock.Now().Sub(start).Round(time.Millisecond))
	// Output: downloaded 1048576 bytes in 1.93s
}

// Turn limiting off for the first half of a stream and on for the rest.
func ExampleLimitedStream_DisableBandwidthLimiting() {
	clock := newVirtualClock()
	bucket := bandwidth.NewPacingBucket(2<<20, 0, clock)
	stream := bandwidth.NewLimitedStream(context.Background(),
		bytes.NewReader(make([]byte, 10<<20)), bucket, clock, 0)

	start := clock.Now()
	var total int64
	chunk := make([]byte, 64<<10)
	for {
		if total < 5<<20 {
			stream.DisableBandwidthLimiting() // the first 5 MiB are not limited
		} else {
			stream.EnableBandwidthLimiting()
		}
		n, err := stream.Read(chunk)
		total += int64(n)
		if err != nil {
			break
		}
	}
	stream.Close()
	fmt.Printf("%d MiB in %v\n", total>>20, clock.Now().Sub(start).Round(10*time.Millisecond))
	// Output: 10 MiB in 2.45s
}

// Track the rate of a transfer with an exponential moving average.
func ExampleRateTracker() {
	tracker := bandwidth.NewRateTracker(bandwidth.DefaultAlpha)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	samples := []struct {
		bytes int64
		after time.Duration
	}{{0, 0}, {64 << 10, 500 * time.Millisecond}, {32 << 10, time.Second}, {64 << 10, 1500 * time.Millisecond}}
	for _, s := range samples {
		tracker.RecordConsumptionRate(s.bytes, start.Add(s.after))
		fmt.Printf("at %v: %.1f KiB/s\n", s.after, tracker.CurrentRate()/1024)
	}
	fmt.Printf("projected for 128 KiB at 2s: %.1f KiB/s\n",
		tracker.ProjectedRate(128<<10, start.Add(2*time.Second))/1024)
	// Output:
	// at 0s: 0.0 KiB/s
	// at 500ms: 102.4 KiB/s
	// at 1s: 71.7 KiB/s
	// at 1.5s: 116.7 KiB/s
	// projected for 128 KiB at 2s: 228.1 KiB/s
}

// loggingClock is a custom Clock that reports every sleep.
type loggingClock struct{ *virtualClock }

func (c loggingClock) Sleep(ctx context.Context, d time.Duration) error {
	fmt.Println("sleeping", d)
	return c.virtualClock.Sleep(ctx, d)
}

// Supply a custom Clock, here one that logs the waits of a stream.
func ExampleClock() {
	clock := loggingClock{newVirtualClock()}
	bucket := bandwidth.NewLeakyBucket(1<<20, clock)
	stream := bandwidth.NewLimitedStream(context.Background(),
		bytes.NewReader(make([]byte, 1<<20)), bucket, clock, 256<<10)
	n, _ := io.Copy(io.Discard, stream)
	stream.Close()
	fmt.Println("read", n)
	// Output:
	// sleeping 250ms
	// sleeping 250ms
	// sleeping 250ms
	// read 1048576
}

// A ConsumptionScheduler queues refused requests: each one waits for all
// those before it.
func ExampleConsumptionScheduler() {
	scheduler := bandwidth.NewConsumptionScheduler()
	const rate = 1 << 20 // bytes per second
	var tokens []*bandwidth.RequestToken
	for range 5 {
		token := bandwidth.NewRequestToken(512<<10, time.Time{})
		tokens = append(tokens, token)
		timeToConsume := time.Duration(token.Amount()) * time.Second / rate
		fmt.Println("retry in", scheduler.ScheduleConsumption(token.Amount(), token, timeToConsume))
	}
	for _, token := range tokens[:2] {
		scheduler.ProcessScheduledConsumption(token)
	}
	fmt.Println("still queued:", scheduler.TotalWait())
	// Output:
	// retry in 500ms
	// retry in 1s
	// retry in 1.5s
	// retry in 2s
	// retry in 2.5s
	// still queued: 1.5s
}

// Handle a refusal from Consume by waiting RetryTime and retrying with the
// same token. A LimitedStream does this for you.
func ExampleRequestExceededError() {
	clock := newVirtualClock()
	bucket := bandwidth.NewPacingBucket(1024, 0, clock) // 1 KiB/s
	token := bandwidth.NewRequestToken(2048, clock.Now())
	for _, amt := range []int64{2048, 2048} {
		for {
			err := bucket.Consume(amt, token)
			var exceeded *bandwidth.RequestExceededError
			if errors.As(err, &exceeded) {
				fmt.Printf("%d bytes refused, retry in %v\n", exceeded.RequestedAmt, exceeded.RetryTime)
				clock.Sleep(context.Background(), exceeded.RetryTime)
				continue
			}
			fmt.Println("consumed", amt, "bytes, err:", err)
			break
		}
	}
	// Output:
	// consumed 2048 bytes, err: <nil>
	// 2048 bytes refused, retry in 1.95s
	// consumed 2048 bytes, err: <nil>
}

// WaitN paces any loop, such as a server writing a response.
func ExamplePacingBucket_WaitN() {
	clock := newVirtualClock()
	bucket := bandwidth.NewPacingBucket(10_000, 0, clock) // 10 KB/s
	start := clock.Now()
	for i := range 5 {
		if err := bucket.WaitN(context.Background(), bucket.Quantum()); err != nil {
			return
		}
		fmt.Printf("write %d: %d bytes at %v\n", i, bucket.Quantum(), clock.Now().Sub(start))
	}
	// Output:
	// write 0: 512 bytes at 0s
	// write 1: 512 bytes at 1.2ms
	// write 2: 512 bytes at 52.4ms
	// write 3: 512 bytes at 103.6ms
	// write 4: 512 bytes at 154.8ms
}

func ExampleParseRate() {
	for _, s := range []string{"1MB/s", "10Mb/s", "10KiB/s", "1048576", "0", "fast"} {
		rate, err := bandwidth.ParseRate(s)
		fmt.Println(rate, err)
	}
	// Output:
	// 1048576 <nil>
	// 1310720 <nil>
	// 10240 <nil>
	// 1048576 <nil>
	// 0 bandwidth: invalid rate "0": must be at least 1 byte per second; leave the limit unset for no limit
	// 0 bandwidth: invalid rate "fast": expected a whole number of bytes per second (1048576) or a number with a unit such as 10MB/s, 10Mb/s or 512KiB/s
}
