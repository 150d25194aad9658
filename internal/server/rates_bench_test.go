package server_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// BenchmarkRatesAccuracy measures the rate limits on loopback through the
// SDK (bench/rates.sh runs it once): one bucket at Read:bytes/s 4 MiB/s
// serving 4 concurrent 5 MiB downloads (ideal 5.0 s), and Read:ops/s 50
// offered 150 requests/s for 10 s (ideal 550 admitted: 500 plus the burst
// of 50).
func BenchmarkRatesAccuracy(b *testing.B) {
	for b.Loop() {
		s := servertest.Start(b, servertest.Options{})
		c := s.Client()
		ctx := context.Background()
		createBucket(b, c, "media")
		createBucket(b, c, "api")
		putObject(b, c, "media", "clip", randomBytes(9, 5<<20))
		putObject(b, c, "api", "small", []byte("x"))
		if _, err := s.Limits().Apply(&limits.Config{Buckets: map[string]*limits.Section{
			"media": {Enabled: true, Actions: map[string]int64{"Read:bytes/s": 4 << 20}},
			"api":   {Enabled: true, Actions: map[string]int64{"Read:ops/s": 50}},
		}}, ""); err != nil {
			b.Fatal(err)
		}

		start := time.Now()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { servertest.GetObject(b, c, "media", "clip") })
		}
		wg.Wait()
		shaped := time.Since(start).Seconds()

		var admitted atomic.Int64
		tick := time.NewTicker(time.Second / 150)
		deadline := time.Now().Add(10 * time.Second)
		var rg sync.WaitGroup
		for now := range tick.C {
			if now.After(deadline) {
				break
			}
			rg.Go(func() {
				if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("api"), Key: aws.String("small")}); err == nil {
					admitted.Add(1)
				}
			})
		}
		tick.Stop()
		rg.Wait()
		b.ReportMetric(shaped, "s/4x5MiB@4MiB/s")
		b.ReportMetric(shaped/5, "shaping-ratio")
		b.ReportMetric(float64(admitted.Load()), "admitted/10s@50ops/s")
		b.ReportMetric(float64(admitted.Load())/550, "ops-ratio")
	}
}
