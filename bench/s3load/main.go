// Command s3load is a closed-loop S3 load generator for s3limit's
// benchmarks: -concurrency workers each send GetObject or PutObject
// requests of -size bytes back to back for -duration with aws-sdk-go-v2,
// then it prints the throughput and latency.
//
//	s3load -endpoint http://127.0.0.1:8333 -op get -size 4KiB -concurrency 16 -duration 10s
//
// GET reads -objects objects that -prepare (or -op prepare) uploads first,
// skipping those that already have the right size. The last line of output is
// machine-readable: "RESULT op=get size=4096 ... ops_per_s=... mib_per_s=...".
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/bandwidth"
)

type config struct {
	endpoint    string
	accessKey   string
	secretKey   string
	bucket      string
	op          string
	size        int64
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	objects     int
	prepare     bool
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "s3load:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var cfg config
	var size string
	var freePort bool
	fs := flag.NewFlagSet("s3load", flag.ContinueOnError)
	fs.StringVar(&cfg.endpoint, "endpoint", "http://127.0.0.1:8333", "S3 endpoint URL (path-style)")
	fs.StringVar(&cfg.accessKey, "accessKey", os.Getenv("AWS_ACCESS_KEY_ID"), "access key (default $AWS_ACCESS_KEY_ID)")
	fs.StringVar(&cfg.secretKey, "secretKey", os.Getenv("AWS_SECRET_ACCESS_KEY"), "secret key (default $AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&cfg.bucket, "bucket", "bench", "bucket (created when missing)")
	fs.StringVar(&cfg.op, "op", "get", "operation: get, put, or prepare (upload the objects get reads, then exit)")
	fs.StringVar(&size, "size", "4KiB", "object size (bytes, or with KiB, MiB, GiB)")
	fs.IntVar(&cfg.concurrency, "concurrency", 16, "simultaneous requests")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured time before it (connections, caches)")
	fs.IntVar(&cfg.objects, "objects", 64, "distinct keys per size")
	fs.BoolVar(&cfg.prepare, "prepare", true, "for get: upload the objects first when missing")
	fs.BoolVar(&freePort, "freeport", false, "print a free loopback TCP port and exit (for scripts)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if freePort {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		return nil
	}
	n, err := bandwidth.ParseSize(size)
	if err != nil {
		return err
	}
	cfg.size = n
	switch {
	case cfg.op != "get" && cfg.op != "put" && cfg.op != "prepare":
		return fmt.Errorf("-op %q: use get, put or prepare", cfg.op)
	case cfg.concurrency < 1 || cfg.objects < 1 || cfg.duration <= 0:
		return errors.New("-concurrency, -objects and -duration must be positive")
	case cfg.accessKey == "" || cfg.secretKey == "":
		return errors.New("no credentials: set -accessKey/-secretKey or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
	}
	client := newClient(cfg)
	ctx := context.Background()
	if err := ensureBucket(ctx, client, cfg.bucket); err != nil {
		return err
	}
	if cfg.op == "prepare" || (cfg.op == "get" && cfg.prepare) {
		if err := prepare(ctx, client, cfg); err != nil {
			return err
		}
		if cfg.op == "prepare" {
			return nil
		}
	}
	res := measure(ctx, client, cfg)
	res.print(os.Stdout, cfg)
	if res.errors > 0 {
		return fmt.Errorf("%d requests failed; first: %v", res.errors, res.firstErr)
	}
	return nil
}

func newClient(cfg config) *s3.Client {
	tr := &http.Transport{
		MaxIdleConns:        4 * cfg.concurrency,
		MaxIdleConnsPerHost: 2 * cfg.concurrency,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		ReadBufferSize:      64 << 10,
		WriteBufferSize:     64 << 10,
	}
	return s3.New(s3.Options{
		BaseEndpoint:     aws.String(cfg.endpoint),
		Region:           "us-east-1",
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(cfg.accessKey, cfg.secretKey, ""),
		HTTPClient:       &http.Client{Transport: tr},
		RetryMaxAttempts: 1, // every failure counts; nothing is hidden by retries
	})
}

func ensureBucket(ctx context.Context, c *s3.Client, bucket string) error {
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil {
		return nil
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

func key(cfg config, i int) string {
	return fmt.Sprintf("s3load/%d/%04d", cfg.size, i%cfg.objects)
}

// prepare uploads the objects GET reads, skipping those already there.
func prepare(ctx context.Context, c *s3.Client, cfg config) error {
	body := payload(cfg.size)
	for i := range cfg.objects {
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(cfg.bucket), Key: aws.String(key(cfg, i))})
		if err == nil && aws.ToInt64(head.ContentLength) == cfg.size {
			continue
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(cfg.bucket), Key: aws.String(key(cfg, i)), Body: bytes.NewReader(body),
		}); err != nil {
			return fmt.Errorf("prepare %s: %w", key(cfg, i), err)
		}
	}
	return nil
}

func payload(n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

type result struct {
	ops, bytes int64
	errors     int64
	firstErr   error
	elapsed    time.Duration
	latencies  []time.Duration
}

// measure runs the workers through the warm-up and the measured window
// and counts only requests that finished inside the window.
func measure(ctx context.Context, c *s3.Client, cfg config) result {
	body := payload(cfg.size)
	start := time.Now()
	measureFrom := start.Add(cfg.warmup)
	end := measureFrom.Add(cfg.duration)
	var ops, nbytes, nerr atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var lat []time.Duration
	var wg sync.WaitGroup
	for w := range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			var mine []time.Duration
			for i := w; ; i += cfg.concurrency {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				var err error
				var n int64
				switch cfg.op {
				case "get":
					n, err = get(ctx, c, cfg.bucket, key(cfg, i), buf)
				case "put":
					n, err = put(ctx, c, cfg.bucket, fmt.Sprintf("s3load/put/%d/w%d/%04d", cfg.size, w, i/cfg.concurrency%cfg.objects), body)
				}
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(end) {
					continue
				}
				if err != nil {
					if nerr.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					continue
				}
				ops.Add(1)
				nbytes.Add(n)
				mine = append(mine, t1.Sub(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	return result{ops: ops.Load(), bytes: nbytes.Load(), errors: nerr.Load(), firstErr: firstErr, elapsed: cfg.duration, latencies: lat}
}

func get(ctx context.Context, c *s3.Client, bucket, k string, buf []byte) (int64, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	return io.CopyBuffer(io.Discard, struct{ io.Reader }{out.Body}, buf)
}

func put(ctx context.Context, c *s3.Client, bucket, k string, body []byte) (int64, error) {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(body)})
	if err != nil {
		return 0, err
	}
	return int64(len(body)), nil
}

func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

func (r result) print(w io.Writer, cfg config) {
	secs := r.elapsed.Seconds()
	opsPerSec := float64(r.ops) / secs
	mibPerSec := float64(r.bytes) / secs / (1 << 20)
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
	}
	fmt.Fprintf(w, "%s %s x%d for %v on %s: %.0f ops/s, %.1f MiB/s, p50 %s ms, p99 %s ms, %d errors\n",
		cfg.op, strconv.FormatInt(cfg.size, 10)+"B", cfg.concurrency, cfg.duration, cfg.endpoint,
		opsPerSec, mibPerSec, ms(r.percentile(0.50)), ms(r.percentile(0.99)), r.errors)
	fmt.Fprintf(w, "RESULT op=%s size=%d concurrency=%d duration_s=%.0f ops=%d ops_per_s=%.1f mib_per_s=%.1f p50_ms=%s p99_ms=%s errors=%d\n",
		cfg.op, cfg.size, cfg.concurrency, secs, r.ops, opsPerSec, mibPerSec, ms(r.percentile(0.50)), ms(r.percentile(0.99)), r.errors)
}
