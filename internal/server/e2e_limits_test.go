package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/store"
	"github.com/s3limit/s3limit/internal/testkit"
)

// gate is a backend in front of the embedded store that holds requests
// for keys under "hold/" until the test releases them. A request that
// reaches it has passed every limit, so the gate shows admission exactly,
// without timing assumptions.
type gate struct {
	next    http.Handler
	ops     map[string]bool
	entered chan string   // the key of each request the gate holds, in arrival order
	release chan struct{} // one token lets one held request go on
}

// startGated starts a server whose embedded store sits behind a gate for
// the given operations (none = PutObject).
func startGated(t *testing.T, opts servertest.Options, ops ...string) (*servertest.Server, *gate) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if len(ops) == 0 {
		ops = []string{"PutObject"}
	}
	g := &gate{next: st, ops: map[string]bool{}, entered: make(chan string, 256), release: make(chan struct{})}
	for _, op := range ops {
		g.ops[op] = true
	}
	opts.Dir = dir
	opts.Backend = g
	return servertest.Start(t, opts), g
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := s3api.FromContext(r.Context())
	if info != nil && g.ops[info.Operation.String()] && strings.HasPrefix(info.Key, "hold/") {
		g.entered <- info.Key
		select {
		case <-g.release:
		case <-r.Context().Done():
		}
	}
	g.next.ServeHTTP(w, r)
}

// await returns the key of the next request the gate holds.
func (g *gate) await(t testing.TB) string {
	t.Helper()
	select {
	case k := <-g.entered:
		return k
	case <-time.After(10 * time.Second):
		t.Fatalf("no request reached the backend within 10s")
		return ""
	}
}

// releaseOne lets one held request continue.
func (g *gate) releaseOne(t testing.TB) {
	t.Helper()
	select {
	case g.release <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatalf("no held request to release within 10s")
	}
}

// goPut starts a PutObject and returns a channel with its result.
func goPut(ctx context.Context, c *s3.Client, bucket, key string, body []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
		done <- err
	}()
	return done
}

// result waits for a started request.
func result(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("request did not finish within 10s")
		return nil
	}
}

// wantThrottled checks a circuit-breaker rejection: status, code and the
// retry headers.
func wantThrottled(t testing.TB, err error, status int, code string) {
	t.Helper()
	wantError(t, err, status, code)
	ra, err1 := strconv.Atoi(errorHeader(err, "Retry-After"))
	ms, err2 := strconv.Atoi(errorHeader(err, "x-amz-retry-after"))
	if err1 != nil || err2 != nil || ra < 1 || ms < 1 || int64(ra)*1000 < int64(ms) {
		t.Fatalf("throttle headers Retry-After %q x-amz-retry-after %q: want whole seconds >= 1 and milliseconds >= 1 that round up to them",
			errorHeader(err, "Retry-After"), errorHeader(err, "x-amz-retry-after"))
	}
}

func section(actions map[string]int64) *limits.Section {
	return &limits.Section{Enabled: true, Actions: actions}
}

// gauges returns the in-flight state of the limits as a string, for
// comparisons in eventually.
func gauges(t testing.TB, s *servertest.Server) string {
	ms := scrape(t, s)
	ns := s.Metrics().Namespace()
	return "files=" + strconv.FormatFloat(ms.value(ns+"_s3_inflight_upload_count"), 'f', -1, 64) +
		" bytes=" + strconv.FormatFloat(ms.value(ns+"_s3_inflight_upload_bytes"), 'f', -1, 64) +
		" waiting=" + strconv.FormatFloat(ms.value(ns+"_s3_upload_waiting"), 'f', -1, 64) +
		" requests=" + strconv.FormatFloat(ms.sum(ns+"_s3_inflight_requests"), 'f', -1, 64)
}

// wantGauges polls until the in-flight gauges read want.
func wantGauges(t testing.TB, s *servertest.Server, want string) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, func() string {
		if got := gauges(t, s); got != want {
			return "gauges " + got + ", want " + want
		}
		return ""
	})
}

func TestCircuitBreakerCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		cfg         limits.Config
		scope       string
		otherBucket bool // whether the limit also covers other buckets
	}{
		{"Bucket", limits.Config{Buckets: map[string]*limits.Section{"limited": section(map[string]int64{"Write:count": 2})}}, "bucket", false},
		{"Global", limits.Config{Global: section(map[string]int64{"Write:count": 2})}, "global", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, g := startGated(t, servertest.Options{CircuitBreaker: &tc.cfg})
			c := s.Client()
			ctx := context.Background()
			createBucket(t, c, "limited")
			createBucket(t, c, "other")

			held := []<-chan error{
				goPut(ctx, c, "limited", "hold/1", []byte("one")),
				goPut(ctx, c, "limited", "hold/2", []byte("two")),
			}
			g.await(t)
			g.await(t)
			if got := scrape(t, s).value("s3limit_s3_inflight_requests", "action", "Write"); got != 2 {
				t.Errorf("inflight_requests{action=Write} = %v with 2 held writes", got)
			}

			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("limited"), Key: aws.String("over"), Body: strings.NewReader("x")})
			wantThrottled(t, err, http.StatusTooManyRequests, "SlowDown")
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("other"), Key: aws.String("elsewhere"), Body: strings.NewReader("x")})
			if tc.otherBucket {
				wantThrottled(t, err, http.StatusTooManyRequests, "SlowDown")
			} else if err != nil {
				t.Fatalf("a bucket limit throttled another bucket: %v", err)
			}
			// Other actions are not limited.
			if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("limited")}); err != nil {
				t.Fatalf("List while Write is at its limit: %v", err)
			}

			g.releaseOne(t)
			g.releaseOne(t)
			for i, done := range held {
				if err := result(t, done); err != nil {
					t.Fatalf("held put %d: %v", i+1, err)
				}
			}
			// The slots are free again.
			putObject(t, c, "limited", "after", []byte("x"))
			wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")

			ms := scrape(t, s)
			if got := ms.value("s3limit_s3_request_total", "action", "Write", "bucket", "limited", "status", "429"); got != 1 {
				t.Errorf(`s3_request_total{action="Write",bucket="limited",status="429"} = %v, want 1`, got)
			}
			if got := ms.value("s3limit_s3_request_total", "action", "Write", "bucket", "limited", "status", "200"); got != 3 {
				t.Errorf(`s3_request_total{action="Write",bucket="limited",status="200"} = %v, want 3`, got)
			}
			wantThrottledTotal := 1.0
			if tc.otherBucket {
				wantThrottledTotal = 2
			}
			if got := ms.value("s3limit_s3_throttled_total", "action", "Write", "scope", tc.scope, "type", "count"); got != wantThrottledTotal {
				t.Errorf(`s3_throttled_total{action="Write",scope=%q,type="count"} = %v, want %v`, tc.scope, got, wantThrottledTotal)
			}
			if got := ms.value("s3limit_s3_circuit_breaker_limit", "scope", tc.scope, "bucket", map[bool]string{true: "", false: "limited"}[tc.scope == "global"], "action", "Write", "type", "count"); got != 2 {
				t.Errorf("s3_circuit_breaker_limit for the configured limit = %v, want 2", got)
			}
		})
	}
}

func TestCircuitBreakerBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  limits.Config
	}{
		{"Bucket", limits.Config{Buckets: map[string]*limits.Section{"limited": section(map[string]int64{"Write:bytes": 1000})}}},
		{"Global", limits.Config{Global: section(map[string]int64{"Write:bytes": 1000})}},
		// Both apply: the tighter one decides.
		{"BucketAndGlobal", limits.Config{
			Global:  section(map[string]int64{"Write:bytes": 1020}),
			Buckets: map[string]*limits.Section{"limited": section(map[string]int64{"Write:bytes": 1000})},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, g := startGated(t, servertest.Options{CircuitBreaker: &tc.cfg})
			c := s.Client()
			ctx := context.Background()
			createBucket(t, c, "limited")

			held := goPut(ctx, c, "limited", "hold/600", bytes.Repeat([]byte("a"), 600))
			g.await(t)
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("limited"), Key: aws.String("401"), Body: bytes.NewReader(make([]byte, 401))})
			wantThrottled(t, err, http.StatusTooManyRequests, "RequestBytesExceed")
			// Limits are inclusive: 600 + 400 = 1000 fits.
			putObject(t, c, "limited", "400", make([]byte, 400))
			g.releaseOne(t)
			if err := result(t, held); err != nil {
				t.Fatalf("held put: %v", err)
			}
			putObject(t, c, "limited", "1000", make([]byte, 1000))
			// A request larger than the limit can never fit.
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("limited"), Key: aws.String("1001"), Body: bytes.NewReader(make([]byte, 1001))})
			wantThrottled(t, err, http.StatusTooManyRequests, "RequestBytesExceed")
			if got := listKeys(t, c, "limited", ""); !slices.Equal(got, []string{"1000", "400", "hold/600"}) {
				t.Fatalf("bucket holds %v, want [1000 400 hold/600]", got)
			}
			wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
		})
	}
}

func TestCircuitBreakerZeroBlocks(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{
		Limits: limits.Options{ThrottleStatus: http.StatusServiceUnavailable},
		CircuitBreaker: &limits.Config{
			// A disabled section keeps its limits but does not apply them.
			Global:  &limits.Section{Enabled: false, Actions: map[string]int64{"Read:count": 0, "Write:count": 0}},
			Buckets: map[string]*limits.Section{"frozen": section(map[string]int64{"Write:count": 0})},
		},
	})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "frozen")
	createBucket(t, c, "open")
	putObject(t, c, "open", "k", []byte("x"))
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("frozen"), Key: aws.String("k"), Body: strings.NewReader("x")})
	// -throttleStatus 503 changes the status, not the code.
	wantThrottled(t, err, http.StatusServiceUnavailable, "SlowDown")
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("frozen"), Key: aws.String("k")})
	wantThrottled(t, err, http.StatusServiceUnavailable, "SlowDown")
	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("frozen")}); err != nil {
		t.Fatalf("List on a bucket with Write:count 0: %v", err)
	}
	if got := servertest.GetObject(t, c, "open", "k"); string(got) != "x" {
		t.Fatalf("read = %q", got)
	}
	if got := scrape(t, s).value("s3limit_s3_request_total", "action", "Write", "bucket", "frozen", "status", "503"); got != 2 {
		t.Errorf(`s3_request_total{action="Write",bucket="frozen",status="503"} = %v, want 2`, got)
	}
}

// TestCircuitBreakerHoldsUntilResponseWritten runs on the embedded store
// with no test backend: a GET whose body the client does not read keeps
// its Read slot, and a PUT whose body is still arriving keeps its Write
// slot.
func TestCircuitBreakerHoldsUntilResponseWritten(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{CircuitBreaker: &limits.Config{
		Buckets: map[string]*limits.Section{"bkt": section(map[string]int64{"Read:count": 1, "Write:count": 1})},
	}})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "bkt")
	// Larger than every socket buffer on the path, so the server cannot
	// finish writing it while the client does not read.
	const big = 24 << 20
	putObject(t, c, "bkt", "big", bytes.Repeat([]byte("0123456789abcdef"), big/16))

	t.Run("Read", func(t *testing.T) {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")})
		wantError(t, err, http.StatusTooManyRequests, "")
		if errorHeader(err, "Retry-After") == "" {
			t.Errorf("HEAD 429 without Retry-After")
		}
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), Range: aws.String("bytes=0-0")})
		wantThrottled(t, err, http.StatusTooManyRequests, "SlowDown")
		n, err := io.Copy(io.Discard, out.Body)
		out.Body.Close()
		if err != nil || n != big {
			t.Fatalf("reading the held GET: %d bytes, %v", n, err)
		}
		testkit.Eventually(t, 5*time.Second, func() string {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), Range: aws.String("bytes=0-0")})
			if err != nil {
				return "GET after the first finished: " + err.Error()
			}
			out.Body.Close()
			return ""
		})
	})
	t.Run("Write", func(t *testing.T) {
		// An unsigned payload lets the SDK stream a body it cannot rewind.
		sc := s.ClientFor(s.AccessKey, s.SecretKey, func(o *s3.Options) {
			o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := sc.PutObject(ctx, &s3.PutObjectInput{
				// The SDK sends an *io.PipeReader without a length; hide its type.
				Bucket: aws.String("bkt"), Key: aws.String("piped"), Body: struct{ io.Reader }{pr}, ContentLength: aws.Int64(10),
			})
			done <- err
		}()
		if _, err := pw.Write([]byte("01234")); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 5*time.Second, func() string {
			if v := scrape(t, s).value("s3limit_s3_inflight_requests", "action", "Write"); v != 1 {
				return "inflight_requests{action=Write} = " + strconv.FormatFloat(v, 'f', -1, 64)
			}
			return ""
		})
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("second"), Body: strings.NewReader("x")})
		wantThrottled(t, err, http.StatusTooManyRequests, "SlowDown")
		if _, err := pw.Write([]byte("56789")); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		if err := result(t, done); err != nil {
			t.Fatalf("piped PutObject: %v", err)
		}
		if got := servertest.GetObject(t, c, "bkt", "piped"); string(got) != "0123456789" {
			t.Fatalf("piped object = %q", got)
		}
		putObject(t, c, "bkt", "second", []byte("x"))
	})
	wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
}

// TestCopyIsChargedItsSourceBytes: a copy moves its source's bytes, so
// the byte limits charge them. Before, CopyObject and UploadPartCopy were
// charged nothing and a 2 MiB copy passed "Write:bytes 1000".
func TestCopyIsChargedItsSourceBytes(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "copies")
	putObject(t, c, "copies", "big", randomBytes(3, 2<<20))
	putObject(t, c, "copies", "small", []byte("five hundred bytes or fewer"))
	if _, err := s.Limits().Apply(&limits.Config{Global: section(map[string]int64{"Write:bytes": 1000})}, ""); err != nil {
		t.Fatal(err)
	}

	_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("copies"), Key: aws.String("big-copy"), CopySource: aws.String("copies/big")})
	wantThrottled(t, err, http.StatusTooManyRequests, "RequestBytesExceed")
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("copies"), Key: aws.String("small-copy"), CopySource: aws.String("copies/small")}); err != nil {
		t.Fatalf("copy of a small object under the byte limit: %v", err)
	}

	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("copies"), Key: aws.String("parts")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("copies"), Key: aws.String("parts"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("copies/big"), CopySourceRange: aws.String("bytes=0-1999")})
	wantThrottled(t, err, http.StatusTooManyRequests, "RequestBytesExceed")
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("copies"), Key: aws.String("parts"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("copies/big")})
	wantThrottled(t, err, http.StatusTooManyRequests, "RequestBytesExceed")
	if _, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("copies"), Key: aws.String("parts"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("copies/big"), CopySourceRange: aws.String("bytes=0-999")}); err != nil {
		t.Fatalf("part copy of 1000 bytes under a 1000-byte limit: %v", err)
	}
}
