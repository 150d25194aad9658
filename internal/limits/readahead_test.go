package limits

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"testing/synctest"

	"github.com/s3limit/s3limit/internal/s3api"
)

// uploadRequest returns a PutObject of key classified with the declared
// size, whose body is body.
func uploadRequest(ctx context.Context, key string, size int64, body io.Reader) *http.Request {
	r := httptest.NewRequestWithContext(ctx, http.MethodPut, "/photos/"+key, body)
	info := &s3api.Info{Operation: s3api.OpPutObject, Action: s3api.ActionWrite, Bucket: "photos", Key: key, Size: size, RequestID: "req-" + key}
	return r.WithContext(s3api.NewContext(r.Context(), info))
}

// patterned returns n bytes that differ from their neighbours, so that
// bytes served out of order or twice are noticed.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// queueBehindHeldUpload starts an upload that holds the only upload place
// of l until release is called, and returns the middleware: the "held"
// upload blocks, every other request is served by serve. release may be
// called more than once; defer it so that a failing test leaves no
// goroutine behind in its bubble.
func queueBehindHeldUpload(t *testing.T, l *Limits, serve http.HandlerFunc) (h http.Handler, release func()) {
	t.Helper()
	ch := make(chan struct{})
	h = l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s3api.FromContext(r.Context()).Key == "held" {
			<-ch
			return
		}
		serve(w, r)
	}))
	go h.ServeHTTP(httptest.NewRecorder(), uploadRequest(context.Background(), "held", 1, strings.NewReader("x")))
	synctest.Wait()
	return h, sync.OnceFunc(func() { close(ch) })
}

func TestReadAheadServesWholeBodyInOrder(t *testing.T) {
	for _, n := range []int{1, 1000, readAheadMax - 1, readAheadMax, readAheadMax + 1, 3*readAheadMax + 7} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimits(t, Options{ConcurrentFileUploadLimit: 1}, "")
				var got []byte
				var readErr error
				h, release := queueBehindHeldUpload(t, l, func(w http.ResponseWriter, r *http.Request) {
					got, readErr = io.ReadAll(r.Body)
				})
				defer release()
				body := patterned(n)
				done := make(chan struct{})
				go func() {
					h.ServeHTTP(httptest.NewRecorder(), uploadRequest(context.Background(), "queued", int64(n), bytes.NewReader(body)))
					close(done)
				}()
				synctest.Wait()
				if held, want := l.readAheadBytes.Load(), int64(min(n, readAheadMax)); held != want {
					t.Fatalf("read-ahead holds %d bytes of budget while queued, want %d", held, want)
				}
				release()
				<-done
				if readErr != nil || !bytes.Equal(got, body) {
					t.Fatalf("handler read %d bytes (err %v), want the %d bytes sent, in order", len(got), readErr, n)
				}
				if held := l.readAheadBytes.Load(); held != 0 {
					t.Fatalf("read-ahead budget %d after the request, want 0", held)
				}
				assertIdle(t, l)
			})
		})
	}
}

// A reverse proxy's transport may read the request body in its own
// goroutine, even after the handler returned; the budget must come back
// exactly once without a data race (run with -race).
func TestReadAheadBodyReadByAnotherGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimits(t, Options{ConcurrentFileUploadLimit: 1}, "")
		body := patterned(1000)
		var got []byte
		read := make(chan struct{})
		h, release := queueBehindHeldUpload(t, l, func(w http.ResponseWriter, r *http.Request) {
			go func() {
				got, _ = io.ReadAll(r.Body)
				close(read)
			}()
		})
		defer release()
		done := make(chan struct{})
		go func() {
			h.ServeHTTP(httptest.NewRecorder(), uploadRequest(context.Background(), "queued", int64(len(body)), bytes.NewReader(body)))
			close(done)
		}()
		synctest.Wait()
		release()
		<-done
		<-read
		if !bytes.Equal(got, body) {
			t.Fatalf("read %d bytes, want the %d sent", len(got), len(body))
		}
		if held := l.readAheadBytes.Load(); held != 0 {
			t.Fatalf("read-ahead budget %d, want 0", held)
		}
		assertIdle(t, l)
	})
}

// stallingBody returns nothing until unblock is closed, then fails as a
// closed connection does. It records a read that ends after the handler
// returned, which net/http forbids.
type stallingBody struct {
	unblock  chan struct{}
	returned *atomic.Bool // set once the handler returned
	late     atomic.Bool
}

func (b *stallingBody) Read(p []byte) (int, error) {
	<-b.unblock
	if b.returned.Load() {
		b.late.Store(true)
	}
	return 0, errors.New("connection closed")
}

func TestReadAheadStopsBeforeAbandonedRequestReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimits(t, Options{ConcurrentFileUploadLimit: 1}, "")
		h, release := queueBehindHeldUpload(t, l, func(http.ResponseWriter, *http.Request) {
			t.Error("an abandoned upload was served")
		})
		defer release()
		var returned atomic.Bool
		body := &stallingBody{unblock: make(chan struct{}), returned: &returned}
		ctx, cancel := context.WithCancel(context.Background())
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			h.ServeHTTP(rec, uploadRequest(ctx, "queued", 100, body))
			returned.Store(true)
			close(done)
		}()
		synctest.Wait()
		cancel() // the wait is abandoned while the read-ahead waits for data
		synctest.Wait()
		close(body.unblock)
		<-done
		synctest.Wait() // let a read-ahead that outlived the handler finish
		if body.late.Load() {
			t.Fatal("the read-ahead read the request body after the handler returned")
		}
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "<Code>RequestTimeout</Code>") {
			t.Fatalf("abandoned upload answered %d %q, want 400 RequestTimeout", rec.Code, rec.Body)
		}
		if held := l.readAheadBytes.Load(); held != 0 {
			t.Fatalf("read-ahead budget %d, want 0", held)
		}
		release()
		synctest.Wait()
		assertIdle(t, l)
	})
}

func TestReadAheadAnswersBodyVerificationError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimits(t, Options{ConcurrentFileUploadLimit: 1}, "")
		h, release := queueBehindHeldUpload(t, l, func(http.ResponseWriter, *http.Request) {
			t.Error("an upload whose body failed verification was served")
		})
		defer release()
		// Some data, then what the aws-chunked decoder returns for a
		// forged chunk.
		body := io.MultiReader(bytes.NewReader(patterned(10)), iotest.ErrReader(s3api.ErrSignatureDoesNotMatch))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, uploadRequest(context.Background(), "queued", 100, body))
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "<Code>SignatureDoesNotMatch</Code>") {
			t.Fatalf("queued upload with a forged body answered %d %q, want 403 SignatureDoesNotMatch", rec.Code, rec.Body)
		}
		if held := l.readAheadBytes.Load(); held != 0 {
			t.Fatalf("read-ahead budget %d, want 0", held)
		}
		release()
		synctest.Wait()
		assertIdle(t, l)
	})
}
