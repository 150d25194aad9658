package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

// abortingReader sends the first half of data, then cancels the request.
type abortingReader struct {
	data   []byte
	off    int
	cancel context.CancelFunc
}

func (r *abortingReader) Read(p []byte) (int, error) {
	half := len(r.data) / 2
	if r.off >= half {
		r.cancel()
		return 0, context.Canceled
	}
	n := copy(p, r.data[r.off:half])
	r.off += n
	return n, nil
}

// slowReader hands out data in small pieces with pauses, like a client
// on a slow link. Nothing waits on it; it only shapes the load.
type slowReader struct {
	data  []byte
	off   int
	piece int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	if r.off > 0 {
		time.Sleep(200 * time.Microsecond)
	}
	n := copy(p[:min(len(p), r.piece)], r.data[r.off:])
	r.off += n
	return n, nil
}

// leakContent is the body of upload id in the leak test.
func leakContent(id int) []byte {
	return randomBytes(uint64(id)+1<<32, 1024+id%16*1024)
}

// TestNoLeaksUnderChaos sends a few thousand requests with client aborts
// mid-body and mid-response, slow bodies, throttling, wrong buckets and
// bad signatures, then checks that every in-flight gauge returns to 0,
// that the counters are exactly free (a limit of N admits N again) and
// that no aborted upload left an object.
func TestNoLeaksUnderChaos(t *testing.T) {
	t.Parallel()
	const (
		requests    = 2000
		concurrency = 32
		writeLimit  = 6
	)
	s := servertest.Start(t, servertest.Options{
		Limits: limits.Options{ConcurrentUploadLimitBytes: 64 << 10},
		CircuitBreaker: &limits.Config{Global: section(map[string]int64{
			"Write:count": writeLimit, "Read:count": 8, "List:count": 4,
		})},
	})
	c := s.Client()
	createBucket(t, c, "chaos")
	big := randomBytes(5, 512<<10)
	putObject(t, c, "chaos", "seed/big", big)
	for i := range 4 {
		putObject(t, c, "chaos", "seed/"+strconv.Itoa(i), []byte("seed"+strconv.Itoa(i)))
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	defer hc.CloseIdleConnections()

	type tally struct {
		mu       sync.Mutex
		outcomes map[string]int
		problems []string
	}
	res := tally{outcomes: map[string]int{}}
	record := func(kind, outcome string) {
		res.mu.Lock()
		res.outcomes[kind+" "+outcome]++
		res.mu.Unlock()
	}
	problem := func(format string, args ...any) {
		res.mu.Lock()
		if len(res.problems) < 20 {
			res.problems = append(res.problems, fmt.Sprintf(format, args...))
		}
		res.mu.Unlock()
	}
	// send runs one request; it never calls t.Fatal (it runs on worker
	// goroutines) and reports through record and problem.
	send := func(kind string, r *http.Request, want ...int) (int, []byte) {
		resp, err := hc.Do(r)
		if err != nil {
			record(kind, "client error")
			return 0, nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			record(kind, "body error")
			return 0, nil
		}
		record(kind, strconv.Itoa(resp.StatusCode))
		ok := false
		for _, w := range want {
			ok = ok || w == resp.StatusCode
		}
		if !ok {
			problem("%s %s %s: %d %s", kind, r.Method, r.URL.Path, resp.StatusCode, body)
		}
		return resp.StatusCode, body
	}
	sign := func(r *http.Request, secret string) *http.Request {
		if err := signV4(r, s.AccessKey, secret, unsignedPayload, time.Now()); err != nil {
			problem("signing: %v", err)
		}
		return r
	}
	newReq := func(ctx context.Context, method, path string, body io.Reader, size int64) *http.Request {
		r, err := http.NewRequestWithContext(ctx, method, s.URL+path, body)
		if err != nil {
			panic(err) // the URL is built here; a failure is a test bug
		}
		if body != nil {
			r.ContentLength = size
		}
		return r
	}
	const throttled = http.StatusTooManyRequests

	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := w; i < requests; i += concurrency {
				ctx, cancel := context.WithCancel(context.Background())
				switch k := rng.IntN(100); {
				case k < 22: // a normal upload
					data := leakContent(i)
					send("put", sign(newReq(ctx, http.MethodPut, "/chaos/ok/"+strconv.Itoa(i), bytes.NewReader(data), int64(len(data))), s.SecretKey), 200, throttled)
				case k < 36: // the client aborts mid-body
					data := leakContent(i)
					r := newReq(ctx, http.MethodPut, "/chaos/abort/"+strconv.Itoa(i), &abortingReader{data: data, cancel: cancel}, int64(len(data)))
					if resp, err := hc.Do(sign(r, s.SecretKey)); err == nil {
						if resp.StatusCode == http.StatusOK {
							problem("aborted upload %d succeeded", i)
						}
						resp.Body.Close()
					}
					record("abort-put", "done")
				case k < 44: // a slow body
					data := leakContent(i)
					send("slow-put", sign(newReq(ctx, http.MethodPut, "/chaos/slow/"+strconv.Itoa(i), &slowReader{data: data, piece: 512}, int64(len(data))), s.SecretKey), 200, throttled)
				case k < 58: // a read
					key := "seed/" + strconv.Itoa(rng.IntN(5))
					if strings.HasSuffix(key, "4") {
						key = "seed/missing"
					}
					want := 200
					if key == "seed/missing" {
						want = 404
					}
					send("get", sign(newReq(ctx, http.MethodGet, "/chaos/"+key, nil, 0), s.SecretKey), want, throttled)
				case k < 66: // the client leaves in the middle of a large response
					resp, err := hc.Do(sign(newReq(ctx, http.MethodGet, "/chaos/seed/big", nil, 0), s.SecretKey))
					if err == nil {
						_, _ = io.ReadFull(resp.Body, make([]byte, 4096))
						cancel()
						resp.Body.Close()
					}
					record("abort-get", "done")
				case k < 72: // the client leaves before the response
					trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { cancel() }}
					r := newReq(httptrace.WithClientTrace(ctx, trace), http.MethodGet, "/chaos/seed/big", nil, 0)
					if resp, err := hc.Do(sign(r, s.SecretKey)); err == nil {
						resp.Body.Close()
					}
					record("cancel-get", "done")
				case k < 80: // a bucket that does not exist
					data := []byte("x")
					send("nobucket", sign(newReq(ctx, http.MethodPut, "/nobucket-"+strconv.Itoa(i%7)+"/k", bytes.NewReader(data), 1), s.SecretKey), 404, throttled)
				case k < 90: // a bad signature
					data := leakContent(i)
					_, body := send("badsig", sign(newReq(ctx, http.MethodPut, "/chaos/forged/"+strconv.Itoa(i), bytes.NewReader(data), int64(len(data))), "wrong-secret"), 403)
					if body != nil && s3ErrorCode(body) != "SignatureDoesNotMatch" {
						problem("bad signature answered %s", body)
					}
				default: // a listing
					send("list", sign(newReq(ctx, http.MethodGet, "/chaos?list-type=2&prefix=ok/&max-keys=20", nil, 0), s.SecretKey), 200, throttled)
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	t.Logf("outcomes: %v", res.outcomes)
	for _, p := range res.problems {
		t.Errorf("unexpected answer: %s", p)
	}
	for _, want := range []string{"put 200", "put 429", "badsig 403", "nobucket 404", "get 200", "list 200"} {
		if res.outcomes[want] == 0 {
			t.Errorf("no %q outcome: the mix did not exercise that path (%v)", want, res.outcomes)
		}
	}

	wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")

	// No aborted or forged upload left an object; every stored one is whole.
	if keys := listKeys(t, c, "chaos", "abort/"); len(keys) != 0 {
		t.Errorf("aborted uploads left objects: %v", keys)
	}
	if keys := listKeys(t, c, "chaos", "forged/"); len(keys) != 0 {
		t.Errorf("forged uploads left objects: %v", keys)
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String("chaos")}
	for {
		out, err := c.ListObjectsV2(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if strings.HasPrefix(key, "seed/") {
				continue
			}
			id, err := strconv.Atoi(key[strings.LastIndexByte(key, '/')+1:])
			if err != nil {
				t.Fatalf("unexpected key %q", key)
			}
			if want := leakContent(id); aws.ToString(o.ETag) != quoted(md5Hex(want)) || aws.ToInt64(o.Size) != int64(len(want)) {
				t.Errorf("%s stored with ETag %s size %d, want %s %d", key, aws.ToString(o.ETag), aws.ToInt64(o.Size), quoted(md5Hex(want)), len(want))
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}

	// The counters are exactly free: the limit admits writeLimit writes
	// again, and not one more.
	type heldPut struct {
		pw   *io.PipeWriter
		done chan int
	}
	var held []heldPut
	for i := range writeLimit {
		pr, pw := io.Pipe()
		r := newReq(context.Background(), http.MethodPut, "/chaos/probe/"+strconv.Itoa(i), struct{ io.Reader }{pr}, 4)
		sign(r, s.SecretKey)
		h := heldPut{pw: pw, done: make(chan int, 1)}
		go func() {
			resp, err := hc.Do(r)
			if err != nil {
				h.done <- 0
				return
			}
			resp.Body.Close()
			h.done <- resp.StatusCode
		}()
		held = append(held, h)
	}
	testkit.Eventually(t, 5*time.Second, func() string {
		if got := scrape(t, s).value("s3limit_s3_inflight_requests", "action", "Write"); got != writeLimit {
			return fmt.Sprintf("inflight_requests{action=Write} = %v, want %d", got, writeLimit)
		}
		return ""
	})
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("chaos"), Key: aws.String("probe/over"), Body: strings.NewReader("x")})
	wantThrottled(t, err, http.StatusTooManyRequests, "SlowDown")
	for _, h := range held {
		if _, err := h.pw.Write([]byte("done")); err != nil {
			t.Fatal(err)
		}
		h.pw.Close()
	}
	for i, h := range held {
		select {
		case code := <-h.done:
			if code != http.StatusOK {
				t.Errorf("probe %d: status %d", i, code)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("probe %d did not finish", i)
		}
	}
	wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
}
