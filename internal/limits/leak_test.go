package limits

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

// chaosClassify stands in for the server's classification stage: the test
// client names the operation in a header.
func chaosClassify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.Header.Get("X-Test-Op")
		action := map[string]s3api.Action{
			"GetObject": s3api.ActionRead, "ListObjectsV2": s3api.ActionList,
			"PutObject": s3api.ActionWrite, "CopyObject": s3api.ActionWrite,
			"PutObjectTagging": s3api.ActionTagging,
		}[op]
		bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		info := &s3api.Info{Operation: opNamed(op), Action: action, Bucket: bucket, Size: r.ContentLength, RequestID: r.Header.Get("X-Test-ID")}
		next.ServeHTTP(w, r.WithContext(s3api.NewContext(r.Context(), info)))
	})
}

// chaosBackend fails in the ways a backend can: errors, panics, a body
// read halfway, and stalls that last until the client leaves.
type chaosBackend struct {
	reached sync.Map // request id -> chan struct{}, closed when a stalled request arrives
}

func (b *chaosBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Header.Get("X-Test-Chaos") {
	case "error":
		_, _ = io.CopyN(io.Discard, r.Body, 1000)
		s3api.WriteError(w, r, s3api.ErrInternalError)
	case "panic":
		panic(http.ErrAbortHandler)
	case "stall":
		// Read the body first: net/http notices that the client left only
		// once the request body has been consumed.
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		if ch, ok := b.reached.Load(r.Header.Get("X-Test-ID")); ok {
			close(ch.(chan struct{}))
		}
		<-r.Context().Done()
	default:
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		w.Header().Set("ETag", `"x"`)
		_, _ = w.Write([]byte("ok"))
	}
}

// TestNoLeakUnderChaos sends a few thousand requests with random client
// aborts, slow bodies, backend errors, panics and stalls through a real
// loopback server, with rates and shaping on, then checks that every
// counter and gauge is back to 0.
func TestNoLeakUnderChaos(t *testing.T) { runChaosLeak(t, nil) }

// runChaosLeak is TestNoLeakUnderChaos, with fleet when not nil: the
// limits are then leased, and Run follows the fleet meanwhile.
func runChaosLeak(t *testing.T, fleet Fleet) {
	m := metrics.New("leak")
	l := newLimits(t, Options{ConcurrentUploadLimitBytes: 64 << 10, ConcurrentFileUploadLimit: 4, Metrics: m, Fleet: fleet},
		`{"global":{"enabled":true,"actions":{"Read:count":6,"Write:bytes":98304,"List:count":3,"Read:ops/s":400,"Read:bytes/s":8388608}},
		  "buckets":{"hot":{"enabled":true,"actions":{"Write:count":3,"Read:count":2,"Write:bytes":40000,"Write:bytes/s":4194304,"List:ops/s":50}},
		             "cold":{"enabled":false,"actions":{"Read:count":0}}}}`)
	if fleet != nil {
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan error, 1)
		go func() { runDone <- l.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-runDone; err != nil {
				t.Error(err)
			}
		}()
	}
	backend := &chaosBackend{}
	srv := httptest.NewUnstartedServer(chaosClassify(l.Middleware(backend)))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	tr := srv.Client().Transport.(*http.Transport)
	tr.MaxIdleConnsPerHost = 64

	const workers, perWorker = 16, 120
	var (
		mu       sync.Mutex
		outcomes = map[string]int{}
	)
	record := func(k string) {
		mu.Lock()
		outcomes[k]++
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := range perWorker {
				id := fmt.Sprintf("%d-%d", w, i)
				record(chaosRequest(srv.Client(), srv.URL, backend, rng, id))
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		t.Fatal("clients still waiting after 60s")
	}

	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }() // waits for every handler
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("handlers still running 30s after the last client finished")
	}
	t.Logf("outcomes: %v", outcomes)
	for _, k := range []string{"200", "429", "500", "aborted"} {
		if outcomes[k] == 0 {
			t.Errorf("no %s outcome in %v: the chaos did not exercise that path", k, outcomes)
		}
	}

	assertIdle(t, l)
	for _, g := range []string{"leak_s3_inflight_upload_count", "leak_s3_inflight_upload_bytes", "leak_s3_upload_waiting"} {
		if v := metricValue(t, m, g, nil); v != 0 {
			t.Errorf("%s = %v, want 0", g, v)
		}
	}
	for _, a := range s3api.Actions {
		if v := metricValue(t, m, "leak_s3_inflight_requests", map[string]string{"action": string(a)}); v != 0 {
			t.Errorf("inflight_requests{action=%s} = %v, want 0", a, v)
		}
	}
}

// chaosRequest sends one random request and returns its outcome: the
// status code, or "aborted" when the client gave up or the server cut it.
func chaosRequest(c *http.Client, base string, backend *chaosBackend, rng *rand.Rand, id string) string {
	ops := []string{"GetObject", "GetObject", "ListObjectsV2", "PutObject", "PutObject", "PutObject", "CopyObject", "PutObjectTagging"}
	op := ops[rng.IntN(len(ops))]
	bucket := []string{"hot", "cold", "other"}[rng.IntN(3)]
	chaos := ""
	switch p := rng.IntN(100); {
	case p < 12:
		chaos = "error"
	case p < 20:
		chaos = "panic"
	case p < 30:
		chaos = "stall"
	case p < 40:
		chaos = "early-abort"
	case p < 48:
		chaos = "body-abort"
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var size int64
	method := http.MethodGet
	var body io.ReadCloser
	if op == "PutObject" {
		method = http.MethodPut
		size = rng.Int64N(48 << 10)
		pr, pw := io.Pipe()
		body = pr
		abortAt := int64(-1)
		if chaos == "body-abort" {
			abortAt = size / 2
		}
		go slowBody(pw, size, abortAt)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/"+bucket+"/key", body)
	if err != nil {
		panic(err)
	}
	if body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body, req.GetBody = http.NoBody, nil
		}
	}
	req.Header.Set("X-Test-Op", op)
	req.Header.Set("X-Test-ID", id)
	if chaos != "early-abort" && chaos != "body-abort" {
		req.Header.Set("X-Test-Chaos", chaos)
	}
	reached := make(chan struct{})
	if chaos == "stall" {
		backend.reached.Store(id, reached)
		defer backend.reached.Delete(id)
	}

	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, err}
	}()
	switch chaos {
	case "early-abort":
		for range rng.IntN(20) {
			runtime.Gosched()
		}
		cancel()
	case "stall":
		// Leave once the backend holds the request, or take the refusal.
		select {
		case <-reached:
			cancel()
		case r := <-done:
			done <- r
		}
	}
	r := <-done
	if r.err != nil {
		return "aborted"
	}
	return fmt.Sprint(r.status)
}

// slowBody writes size bytes in small pieces, yielding between them, and
// fails the body at abortAt (when not negative).
func slowBody(pw *io.PipeWriter, size, abortAt int64) {
	chunk := []byte(strings.Repeat("z", 4096))
	var sent int64
	for sent < size {
		if abortAt >= 0 && sent >= abortAt {
			pw.CloseWithError(fmt.Errorf("client gave up after %d bytes", sent))
			return
		}
		n := min(int64(len(chunk)), size-sent)
		if _, err := pw.Write(chunk[:n]); err != nil {
			return
		}
		sent += n
		runtime.Gosched()
	}
	pw.Close()
}
