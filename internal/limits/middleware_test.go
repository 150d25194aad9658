package limits

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

func newLimits(t testing.TB, opts Options, config string) *Limits {
	t.Helper()
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if config != "" {
		cfg, err := ParseConfig([]byte(config))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Apply(cfg, ""); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// s3Request returns a request classified as op on bucket declaring size
// bytes.
func s3Request(ctx context.Context, op string, action s3api.Action, bucket string, size int64) *http.Request {
	method := http.MethodGet
	var body io.Reader
	if action == s3api.ActionWrite {
		method = http.MethodPut
		if size > 0 {
			body = strings.NewReader(strings.Repeat("x", int(size)))
		}
	}
	r := httptest.NewRequestWithContext(ctx, method, "/"+bucket+"/key", body)
	info := &s3api.Info{Operation: opNamed(op), Action: action, Bucket: bucket, Key: "key", Size: size, RequestID: "req-1"}
	return r.WithContext(s3api.NewContext(r.Context(), info))
}

// assertIdle fails unless nothing is counted anywhere in l.
func assertIdle(t *testing.T, l *Limits) {
	t.Helper()
	if err := checkIdle(l.breaker); err != nil {
		t.Fatal(err)
	}
	if st := l.uploads.stats(); st != (metrics.UploadStats{}) {
		t.Fatalf("upload limiter not idle: %+v", st)
	}
}

func TestMiddlewareRefusals(t *testing.T) {
	tests := []struct {
		name        string
		status      int // Options.ThrottleStatus
		config      string
		op          string
		action      s3api.Action
		size        int64
		wantStatus  int
		wantCode    string
		wantRetry   string // Retry-After
		wantRetryMS string // x-amz-retry-after
	}{
		{
			name:   "count limit gives 429 SlowDown",
			config: `{"buckets":{"photos":{"enabled":true,"actions":{"Read:count":0}}}}`,
			op:     "GetObject", action: s3api.ActionRead,
			wantStatus: 429, wantCode: "SlowDown", wantRetry: "1", wantRetryMS: "1000",
		},
		{
			name:   "bytes limit gives 429 RequestBytesExceed",
			config: `{"global":{"enabled":true,"actions":{"Write:bytes":10}}}`,
			op:     "PutObject", action: s3api.ActionWrite, size: 11,
			wantStatus: 429, wantCode: "RequestBytesExceed", wantRetry: "1", wantRetryMS: "1000",
		},
		{
			name:   "throttle status 503",
			status: 503,
			config: `{"global":{"enabled":true,"actions":{"List:count":0}}}`,
			op:     "ListObjectsV2", action: s3api.ActionList,
			wantStatus: 503, wantCode: "SlowDown", wantRetry: "1", wantRetryMS: "1000",
		},
		{
			name:   "upload without a declared length gives 411",
			config: `{}`,
			op:     "PutObject", action: s3api.ActionWrite, size: -1,
			wantStatus: 411, wantCode: "MissingContentLength",
		},
		{
			name:   "POST upload without a declared length gives 411",
			config: `{}`,
			op:     "PostObject", action: s3api.ActionWrite, size: -1,
			wantStatus: 411, wantCode: "MissingContentLength",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimits(t, Options{ThrottleStatus: tc.status}, tc.config)
			called := false
			h := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, s3Request(context.Background(), tc.op, tc.action, "photos", tc.size))
			if called {
				t.Error("next was called for a refused request")
			}
			if rec.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tc.wantStatus)
			}
			if !strings.Contains(rec.Body.String(), "<Code>"+tc.wantCode+"</Code>") {
				t.Errorf("body %q lacks code %s", rec.Body, tc.wantCode)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tc.wantRetry)
			}
			if got := rec.Header().Get("x-amz-retry-after"); got != tc.wantRetryMS {
				t.Errorf("x-amz-retry-after %q, want %q", got, tc.wantRetryMS)
			}
			if got := rec.Header().Get("x-amz-request-id"); got != "req-1" {
				t.Errorf("x-amz-request-id %q, want req-1", got)
			}
			assertIdle(t, l)
		})
	}
}

func TestMiddlewarePassesUnclassifiedRequests(t *testing.T) {
	l := newLimits(t, Options{ConcurrentFileUploadLimit: 1}, `{"global":{"enabled":true,"actions":{"Read:count":0,"Write:count":0}}}`)
	called := false
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		called = true
		w.WriteHeader(http.StatusNoContent)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/bucket/key", nil))
	if !called || rec.Code != http.StatusNoContent {
		t.Fatalf("called=%v status=%d, want the request passed through", called, rec.Code)
	}
}

func TestMiddlewareHoldsCountsUntilResponseIsWritten(t *testing.T) {
	l := newLimits(t, Options{ConcurrentUploadLimitBytes: 1000},
		`{"buckets":{"photos":{"enabled":true,"actions":{"Write:count":5}}}}`)
	var during struct {
		count, bytes, bucket int64
		uploads              metrics.UploadStats
	}
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		during.count, during.bytes = l.breaker.Inflight(s3api.ActionWrite)
		during.bucket, _ = l.breaker.BucketInflight(s3api.ActionWrite, "photos")
		during.uploads = l.uploads.stats()
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, s3Request(context.Background(), "PutObject", s3api.ActionWrite, "photos", 300))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if during.count != 1 || during.bytes != 300 || during.bucket != 1 {
		t.Errorf("inside next: %d requests, %d bytes, bucket %d; want 1, 300, 1", during.count, during.bytes, during.bucket)
	}
	if want := (metrics.UploadStats{Files: 1, Bytes: 300}); during.uploads != want {
		t.Errorf("inside next: uploads %+v, want %+v", during.uploads, want)
	}
	assertIdle(t, l)
}

func TestMiddlewareReleasesAfterPanic(t *testing.T) {
	l := newLimits(t, Options{ConcurrentUploadLimitBytes: 1000},
		`{"buckets":{"photos":{"enabled":true,"actions":{"Write:count":1}}}}`)
	boom := errors.New("boom")
	h := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(boom) }))
	for range 3 { // a leaked count would refuse the second request
		got := func() (p any) {
			defer func() { p = recover() }()
			h.ServeHTTP(httptest.NewRecorder(), s3Request(context.Background(), "PutObject", s3api.ActionWrite, "photos", 10))
			return nil
		}()
		if got != boom {
			t.Fatalf("recovered %v, want the handler's panic to go on", got)
		}
		assertIdle(t, l)
	}
}

func TestMiddlewareClientAbortWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimits(t, Options{ConcurrentFileUploadLimit: 1}, "")
		release := make(chan struct{})
		var served []string
		h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			served = append(served, s3api.FromContext(r.Context()).Operation.String())
			<-release
		}))
		first := httptest.NewRecorder()
		go h.ServeHTTP(first, s3Request(context.Background(), "PutObject", s3api.ActionWrite, "photos", 5))
		synctest.Wait()

		// A copy counts as a file: it queues behind the upload.
		ctx, cancel := context.WithCancel(context.Background())
		queued := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			h.ServeHTTP(queued, s3Request(ctx, "CopyObject", s3api.ActionWrite, "photos", 0))
			close(done)
		}()
		synctest.Wait()
		if st := l.uploads.stats(); st.Waiting != 1 {
			t.Fatalf("uploads %+v, want the copy waiting", st)
		}
		cancel()
		<-done
		if len(served) != 1 {
			t.Errorf("served %v, want only the first upload", served)
		}
		if queued.Code != http.StatusBadRequest || !strings.Contains(queued.Body.String(), "<Code>RequestTimeout</Code>") {
			t.Errorf("aborted request answered %d %q, want 400 RequestTimeout", queued.Code, queued.Body)
		}
		if want := (metrics.UploadStats{Files: 1, Bytes: 5}); l.uploads.stats() != want {
			t.Errorf("uploads %+v, want %+v", l.uploads.stats(), want)
		}
		close(release)
		synctest.Wait()
		assertIdle(t, l)
	})
}

func TestMiddlewareClientAbortWhileServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimits(t, Options{ConcurrentUploadLimitBytes: 100}, `{"global":{"enabled":true,"actions":{"Read:count":10}}}`)
		h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // a backend that stops when the client leaves
		}))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			h.ServeHTTP(httptest.NewRecorder(), s3Request(ctx, "GetObject", s3api.ActionRead, "photos", 0))
			close(done)
		}()
		synctest.Wait()
		if c, _ := l.breaker.Inflight(s3api.ActionRead); c != 1 {
			t.Fatalf("%d reads in flight, want 1", c)
		}
		cancel()
		<-done
		assertIdle(t, l)
	})
}

func TestMiddlewareUploadMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := metrics.New("test")
		l := newLimits(t, Options{ConcurrentFileUploadLimit: 1, UploadMaxWait: 2e9, Metrics: m}, "")
		release := make(chan struct{})
		h := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
		go h.ServeHTTP(httptest.NewRecorder(), s3Request(context.Background(), "PutObject", s3api.ActionWrite, "photos", 5))
		synctest.Wait()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, s3Request(context.Background(), "UploadPart", s3api.ActionWrite, "photos", 5))
		if rec.Code != 429 || !strings.Contains(rec.Body.String(), "<Code>SlowDown</Code>") || rec.Header().Get("Retry-After") != "1" {
			t.Errorf("after max wait: %d %q %v, want 429 SlowDown with Retry-After", rec.Code, rec.Body, rec.Header())
		}
		if got := counterValue(t, m, "test_s3_throttled_total", map[string]string{"action": "Write", "scope": "upload", "type": "wait"}); got != 1 {
			t.Errorf("throttled{scope=upload} = %v, want 1", got)
		}
		close(release)
		synctest.Wait()
		assertIdle(t, l)
	})
}

// BenchmarkMiddleware is the limits stage of one empty PutObject (upload
// limiter and circuit breaker under a global and a bucket limit), with the
// recorder and request prepared outside the loop.
func BenchmarkMiddleware(b *testing.B) {
	l := newLimits(b, Options{}, benchConfig)
	h := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := s3Request(context.Background(), "PutObject", s3api.ActionWrite, "bk1", 0)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// opNamed returns the operation with the AWS name op (OpUnknown for none).
func opNamed(op string) s3api.Op {
	o, _ := s3api.OpByName(op)
	return o
}
