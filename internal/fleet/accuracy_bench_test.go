package fleet_test

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkFleetAccuracy measures the fleet-wide limits of three servers
// sharing one redis-server, with the load spread unevenly (90 % / 5 % /
// 5 %); bench/fleet.sh runs it once:
//
//   - Read:count 6 under 18 closed-loop clients (16/1/1) of 5 ms GETs for
//     5 s: the most requests in flight at once at the backend (ideal 6);
//   - Read:ops/s 60 offered 180 requests/s (162/9/9) for 10 s after the
//     fleet was idle: requests admitted (ideal 660: 600 plus the burst);
//   - Read:bytes/s 6 MiB/s, 12 MiB through each server at once: seconds
//     for the 36 MiB (ideal 6.0).
func BenchmarkFleetAccuracy(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(float64(countAccuracy(b)), "max-inflight@count6")
		b.ReportMetric(float64(opsAccuracy(b)), "admitted@60ops/s×10s")
		b.ReportMetric(bytesAccuracy(b), "s/36MiB@6MiB/s")
	}
}

func countAccuracy(b *testing.B) int64 {
	tf := startFleet(b, nil, fleetOpts{n: 3, cb: section(30*time.Second, map[string]int64{"Read:count": 6})})
	tf.settle(b, "global/Read:count", 6)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var done atomic.Int64
	for i, n := range []int{16, 1, 1} {
		c := tf.servers[i].Client()
		for range n {
			wg.Go(func() {
				for ctx.Err() == nil {
					out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("fleet"), Key: aws.String("slow/x")})
					if err != nil {
						continue
					}
					_, _ = io.Copy(io.Discard, out.Body)
					out.Body.Close()
					done.Add(1)
				}
			})
		}
	}
	wg.Wait()
	b.Logf("count: %d GETs of 5 ms in 5 s (at most %d with 6 at a time)", done.Load(), 5*6*200)
	return tf.gate.maxHeld.Load()
}

func opsAccuracy(b *testing.B) int64 {
	tf := startFleet(b, nil, fleetOpts{n: 3, cb: section(0, map[string]int64{"Read:ops/s": 60})})
	tf.settle(b, "global/Read:ops/s", 60)
	time.Sleep(1500 * time.Millisecond) // idle: every burst full
	var ok atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, perSec := range []int{162, 9, 9} {
		c := tf.servers[i].Client()
		wg.Go(func() {
			tick := time.NewTicker(time.Second / time.Duration(perSec))
			defer tick.Stop()
			var inner sync.WaitGroup
			defer inner.Wait()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				inner.Go(func() {
					out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("fleet"), Key: aws.String("free")})
					if err == nil {
						_, _ = io.Copy(io.Discard, out.Body)
						out.Body.Close()
						ok.Add(1)
					}
				})
			}
		})
	}
	wg.Wait()
	return ok.Load()
}

func bytesAccuracy(b *testing.B) float64 {
	const rate = 6 << 20
	tf := startFleet(b, nil, fleetOpts{n: 3, cb: section(0, map[string]int64{"Read:bytes/s": rate})})
	if _, err := tf.servers[0].Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("fleet"),
		Key: aws.String("big"), Body: bytes.NewReader(bytes.Repeat([]byte("y"), 12<<20))}); err != nil {
		b.Fatal(err)
	}
	tf.settle(b, "global/Read:bytes/s", rate)
	start := time.Now()
	var results []<-chan error
	for i := range 3 {
		results = append(results, tf.get(i, "big"))
	}
	for _, r := range results {
		if err := <-r; err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start).Seconds()
}
