package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
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
)

// reloadWithin bounds how long a circuit-breaker file edit may take to
// apply (the server promises "within a second").
const reloadWithin = 3 * time.Second

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
	if info != nil && g.ops[info.Operation] && strings.HasPrefix(info.Key, "hold/") {
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
	eventually(t, 5*time.Second, func() string {
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
	if got := getObject(t, c, "open", "k"); string(got) != "x" {
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
		eventually(t, 5*time.Second, func() string {
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
				Bucket: aws.String("bkt"), Key: aws.String("piped"), Body: pr, ContentLength: aws.Int64(10),
			})
			done <- err
		}()
		if _, err := pw.Write([]byte("01234")); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, func() string {
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
		if got := getObject(t, c, "bkt", "piped"); string(got) != "0123456789" {
			t.Fatalf("piped object = %q", got)
		}
		putObject(t, c, "bkt", "second", []byte("x"))
	})
	wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
}

func TestUploadBackpressure(t *testing.T) {
	t.Parallel()
	t.Run("Bytes", func(t *testing.T) {
		t.Parallel()
		s, g := startGated(t, servertest.Options{Limits: limits.Options{ConcurrentUploadLimitBytes: 1000}})
		c := s.Client()
		ctx := context.Background()
		createBucket(t, c, "uploads")
		// A single upload larger than the limit runs when nothing else does.
		putObject(t, c, "uploads", "oversize", make([]byte, 5000))

		body := func(i int) []byte { return bytes.Repeat([]byte{byte('0' + i)}, 600) }
		var done []<-chan error
		done = append(done, goPut(ctx, c, "uploads", "hold/1", body(1)))
		if k := g.await(t); k != "hold/1" {
			t.Fatalf("first admitted %s", k)
		}
		wantGauges(t, s, "files=1 bytes=600 waiting=0 requests=1")
		// Each further upload would exceed 1000 bytes: they queue, in order.
		for i := 2; i <= 4; i++ {
			done = append(done, goPut(ctx, c, "uploads", "hold/"+strconv.Itoa(i), body(i)))
			wantGauges(t, s, "files=1 bytes=600 waiting="+strconv.Itoa(i-1)+" requests=1")
		}
		for i := 2; i <= 4; i++ {
			g.releaseOne(t)
			if err := result(t, done[i-2]); err != nil {
				t.Fatalf("upload %d: %v", i-1, err)
			}
			if k := g.await(t); k != "hold/"+strconv.Itoa(i) {
				t.Fatalf("admitted %s, want hold/%d (first come, first served)", k, i)
			}
			wantGauges(t, s, "files=1 bytes=600 waiting="+strconv.Itoa(4-i)+" requests=1")
		}
		g.releaseOne(t)
		if err := result(t, done[3]); err != nil {
			t.Fatalf("upload 4: %v", err)
		}
		for i := 1; i <= 4; i++ {
			if got := getObject(t, c, "uploads", "hold/"+strconv.Itoa(i)); !bytes.Equal(got, body(i)) {
				t.Fatalf("hold/%d stored wrong content", i)
			}
		}
		wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
		ms := scrape(t, s)
		if got := ms.value("s3limit_s3_upload_wait_seconds_count"); got != 5 {
			t.Errorf("s3_upload_wait_seconds_count = %v, want 5 (every admitted upload)", got)
		}
		if got := ms.sum("s3limit_s3_throttled_total"); got != 0 {
			t.Errorf("uploads were throttled %v times; they must wait instead", got)
		}
	})
	t.Run("Files", func(t *testing.T) {
		t.Parallel()
		s, g := startGated(t, servertest.Options{Limits: limits.Options{ConcurrentFileUploadLimit: 1}})
		c := s.Client()
		ctx := context.Background()
		createBucket(t, c, "uploads")
		putObject(t, c, "uploads", "src", []byte("copy me"))
		held := goPut(ctx, c, "uploads", "hold/1", []byte("0123456789"))
		g.await(t)
		wantGauges(t, s, "files=1 bytes=10 waiting=0 requests=1")
		// A copy is an upload of one file and no bytes.
		copied := make(chan error, 1)
		go func() {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("uploads"), Key: aws.String("dst"), CopySource: aws.String("uploads/src")})
			copied <- err
		}()
		second := goPut(ctx, c, "uploads", "second", []byte("abc"))
		wantGauges(t, s, "files=1 bytes=10 waiting=2 requests=1")
		g.releaseOne(t)
		for _, ch := range []<-chan error{held, copied, second} {
			if err := result(t, ch); err != nil {
				t.Fatal(err)
			}
		}
		if got := getObject(t, c, "uploads", "dst"); string(got) != "copy me" {
			t.Fatalf("copy = %q", got)
		}
		wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
	})
	t.Run("ClientGivesUp", func(t *testing.T) {
		t.Parallel()
		s, g := startGated(t, servertest.Options{Limits: limits.Options{ConcurrentUploadLimitBytes: 1000}})
		c := s.Client()
		ctx := context.Background()
		createBucket(t, c, "uploads")
		held := goPut(ctx, c, "uploads", "hold/1", make([]byte, 600))
		g.await(t)
		qctx, cancel := context.WithCancel(ctx)
		queued := goPut(qctx, c, "uploads", "gone", make([]byte, 600))
		wantGauges(t, s, "files=1 bytes=600 waiting=1 requests=1")
		cancel()
		if err := result(t, queued); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled upload returned %v", err)
		}
		// The server notices the closed connection and frees the place.
		wantGauges(t, s, "files=1 bytes=600 waiting=0 requests=1")
		g.releaseOne(t)
		if err := result(t, held); err != nil {
			t.Fatal(err)
		}
		wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("uploads"), Key: aws.String("gone")})
		wantError(t, err, http.StatusNotFound, "")
		if got := listKeys(t, c, "uploads", ""); !slices.Equal(got, []string{"hold/1"}) {
			t.Fatalf("bucket holds %v, want [hold/1]", got)
		}
	})
	t.Run("MaxWait", func(t *testing.T) {
		t.Parallel()
		s, g := startGated(t, servertest.Options{Limits: limits.Options{ConcurrentUploadLimitBytes: 1000, UploadMaxWait: 50 * time.Millisecond}})
		c := s.Client()
		ctx := context.Background()
		createBucket(t, c, "uploads")
		held := goPut(ctx, c, "uploads", "hold/1", make([]byte, 600))
		g.await(t)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String("late"), Body: bytes.NewReader(make([]byte, 600))})
		wantThrottled(t, err, http.StatusTooManyRequests, "SlowDown")
		g.releaseOne(t)
		if err := result(t, held); err != nil {
			t.Fatal(err)
		}
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("uploads"), Key: aws.String("late")})
		wantError(t, err, http.StatusNotFound, "")
		if got := scrape(t, s).value("s3limit_s3_throttled_total", "action", "Write", "scope", "upload", "type", "wait"); got != 1 {
			t.Errorf(`s3_throttled_total{action="Write",scope="upload",type="wait"} = %v, want 1`, got)
		}
		wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
	})
}

// writeRaw replaces path atomically with data, as an operator's editor
// that writes a temporary file and renames it would.
func writeRaw(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".edit.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestCircuitBreakerReload(t *testing.T) {
	t.Parallel()
	s, g := startGated(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "live")
	putObject(t, c, "live", "before", []byte("x"))
	reloads := func(result string) float64 {
		return scrape(t, s).value("s3limit_s3_config_reloads_total", "result", result)
	}
	putErr := func() error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("live"), Key: aws.String("probe"), Body: strings.NewReader("x")})
		return err
	}
	wantPutThrottled := func(why string) {
		t.Helper()
		eventually(t, reloadWithin, func() string {
			if err := putErr(); errorCode(err) != "SlowDown" {
				return why + ": PutObject returned " + errString(err) + ", want SlowDown"
			}
			return ""
		})
	}
	wantPutOK := func(why string) {
		t.Helper()
		eventually(t, reloadWithin, func() string {
			if err := putErr(); err != nil {
				return why + ": PutObject returned " + err.Error()
			}
			return ""
		})
	}

	if err := limits.WriteConfigFile(s.ConfigPath, &limits.Config{Buckets: map[string]*limits.Section{"live": section(map[string]int64{"Write:count": 0})}}); err != nil {
		t.Fatal(err)
	}
	wantPutThrottled("after setting Write:count 0")
	okBefore, failBefore := reloads("success"), reloads("failure")
	if okBefore < 1 {
		t.Errorf("config_reloads_total{result=success} = %v after a reload", okBefore)
	}

	// An invalid edit is rejected and the last good limits stay.
	writeRaw(t, s.ConfigPath, []byte(`{"buckets": {"live": {"enabled": true, "actions": {"Write:cnt": 5}}}}`))
	eventually(t, reloadWithin, func() string {
		if got := reloads("failure"); got <= failBefore {
			return "no failed reload counted after an invalid edit"
		}
		return ""
	})
	if err := putErr(); errorCode(err) != "SlowDown" {
		t.Fatalf("after an invalid edit PutObject returned %v; the old limit (Write:count 0) must stay", err)
	}
	writeRaw(t, s.ConfigPath, []byte(`{"buckets": {"live": {"enabled": tru`))
	eventually(t, reloadWithin, func() string {
		if got := reloads("failure"); got <= failBefore+1 {
			return "no failed reload counted after a truncated file"
		}
		return ""
	})
	if err := putErr(); errorCode(err) != "SlowDown" {
		t.Fatalf("after a truncated file PutObject returned %v; the old limit must stay", err)
	}

	// The form SeaweedFS writes is accepted too.
	writeRaw(t, s.ConfigPath, []byte(`{"buckets": {"live": {"enabled": true, "actions": {"Write:Count": "1"}}}}`))
	wantPutOK("after Write:Count \"1\"")

	// Counters survive a reload: one request in flight, limit 1, reload.
	held := goPut(ctx, c, "live", "hold/1", []byte("held"))
	g.await(t)
	if err := putErr(); errorCode(err) != "SlowDown" {
		t.Fatalf("second write with Write:count 1: %v, want SlowDown", err)
	}
	okBefore = reloads("success")
	if err := limits.WriteConfigFile(s.ConfigPath, &limits.Config{Buckets: map[string]*limits.Section{"live": section(map[string]int64{"Write:count": 1, "Read:count": 7})}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, reloadWithin, func() string {
		if reloads("success") <= okBefore {
			return "reload not applied"
		}
		return ""
	})
	if err := putErr(); errorCode(err) != "SlowDown" {
		t.Fatalf("after a reload the held write no longer counts: %v", err)
	}
	g.releaseOne(t)
	if err := result(t, held); err != nil {
		t.Fatal(err)
	}
	wantPutOK("after the held write finished")

	// Deleting the file removes every limit.
	if err := limits.WriteConfigFile(s.ConfigPath, &limits.Config{Global: section(map[string]int64{"Write:count": 0})}); err != nil {
		t.Fatal(err)
	}
	wantPutThrottled("after global Write:count 0")
	if err := os.Remove(s.ConfigPath); err != nil {
		t.Fatal(err)
	}
	wantPutOK("after deleting the file")
	wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
}

func errString(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}

func TestMetricsSeaweedFSNames(t *testing.T) {
	t.Parallel()
	s, g := startGated(t, servertest.Options{
		MetricsNamespace: "seaweedfs",
		Limits:           limits.Options{ConcurrentUploadLimitBytes: 1 << 20},
		CircuitBreaker:   &limits.Config{Buckets: map[string]*limits.Section{"bkt": section(map[string]int64{"Write:count": 1})}},
	})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "bkt")
	held := goPut(ctx, c, "bkt", "hold/1", make([]byte, 700))
	g.await(t)

	ms := scrape(t, s)
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"seaweedfs_s3_inflight_upload_count", nil, 1},
		{"seaweedfs_s3_inflight_upload_bytes", nil, 700},
		{"seaweedfs_s3_inflight_requests", []string{"action", "Write"}, 1},
		{"seaweedfs_s3_circuit_breaker_limit", []string{"scope", "bucket", "bucket", "bkt", "action", "Write", "type", "count"}, 1},
	} {
		if got, ok := ms.get(m.name, m.labels...); !ok || got != m.want {
			t.Errorf("%s%v = %v (present %v), want %v", m.name, m.labels, got, ok, m.want)
		}
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("x"), Body: strings.NewReader("x")})
	wantThrottled(t, err, http.StatusTooManyRequests, "SlowDown")
	g.releaseOne(t)
	if err := result(t, held); err != nil {
		t.Fatal(err)
	}
	wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")

	ms = scrape(t, s)
	for _, m := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"action", "Write", "bucket", "bkt", "status", "429"}, 1},
		{[]string{"action", "Write", "bucket", "bkt", "status", "200"}, 1},
		{[]string{"action", "Admin", "bucket", "bkt", "status", "200"}, 1},
	} {
		if got, ok := ms.get("seaweedfs_s3_request_total", m.labels...); !ok || got != m.want {
			t.Errorf("seaweedfs_s3_request_total%v = %v (present %v), want %v", m.labels, got, ok, m.want)
		}
	}
	for _, smp := range ms {
		if strings.HasPrefix(smp.name, "s3limit_") {
			t.Fatalf("namespace seaweedfs still exports %s", smp.name)
		}
	}
	if _, ok := ms.get("go_goroutines"); !ok {
		t.Errorf("Go runtime metrics missing")
	}
}
