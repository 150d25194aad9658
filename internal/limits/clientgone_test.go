package limits

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

// countingBody records whether anything read it.
type countingBody struct {
	r    io.Reader
	read atomic.Bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

// A queued upload whose client the check finds gone leaves the queue
// within clientGonePoll, unserved, while the others keep their order; an
// upload with a check is not read ahead; the watching goroutine ends with
// the queue.
func TestClientWatchSendsAwayGoneClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys := []string{"a", "b", "c"}
		gone := map[string]*atomic.Bool{}
		for _, k := range keys {
			gone[k] = new(atomic.Bool)
		}
		var checks atomic.Int32
		opts := Options{
			ConcurrentFileUploadLimit: 1,
			ClientCheck: func(r *http.Request) func() bool {
				g, ok := gone[s3api.FromContext(r.Context()).Key]
				if !ok {
					return nil
				}
				checks.Add(1)
				return g.Load
			},
		}
		l := newLimits(t, opts, "")
		var served []string
		h, release := queueBehindHeldUpload(t, l, func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(r.Body); err != nil {
				t.Errorf("reading the body of %s: %v", s3api.FromContext(r.Context()).Key, err)
			}
			served = append(served, s3api.FromContext(r.Context()).Key)
		})
		defer release()

		recs := map[string]*httptest.ResponseRecorder{}
		bodies := map[string]*countingBody{}
		done := make(chan struct{}, len(keys))
		for _, k := range keys {
			recs[k] = httptest.NewRecorder()
			bodies[k] = &countingBody{r: bytes.NewReader(patterned(100))}
			req := uploadRequest(context.Background(), k, 100, bodies[k])
			go func() {
				h.ServeHTTP(recs[k], req)
				done <- struct{}{}
			}()
			synctest.Wait() // queue them in this order
		}
		if st := l.uploads.stats(); st.Waiting != 3 {
			t.Fatalf("uploads %+v, want 3 waiting", st)
		}
		if n := checks.Load(); n != 3 {
			t.Fatalf("ClientCheck called %d times, want once per queued upload", n)
		}
		for _, k := range keys {
			if bodies[k].read.Load() {
				t.Errorf("the body of watched upload %s was read while it waited", k)
			}
		}
		if held := l.readAheadBytes.Load(); held != 0 {
			t.Errorf("read-ahead holds %d bytes for watched uploads, want 0", held)
		}

		gone["b"].Store(true)
		time.Sleep(clientGonePoll)
		synctest.Wait()
		<-done
		if st := l.uploads.stats(); st.Waiting != 2 {
			t.Fatalf("uploads %+v, want 2 waiting once b's client left", st)
		}
		if rec := recs["b"]; rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "<Code>RequestTimeout</Code>") {
			t.Errorf("upload whose client left answered %d %q, want 400 RequestTimeout", rec.Code, rec.Body)
		}

		release()
		<-done
		<-done
		if want := []string{"a", "c"}; !slices.Equal(served, want) {
			t.Errorf("served %v, want %v", served, want)
		}
		time.Sleep(clientGonePoll)
		synctest.Wait()
		l.uploads.clients.mu.Lock()
		running, watched := l.uploads.clients.running, len(l.uploads.clients.watched)
		l.uploads.clients.mu.Unlock()
		if running || watched != 0 {
			t.Errorf("client watch running=%v with %d uploads after the queue emptied, want stopped with none", running, watched)
		}
		assertIdle(t, l)
	})
}

// An upload admitted in the same poll that finds its client gone is
// served (leave does nothing once admitted), and one sent away is never
// admitted afterwards.
func TestClientWatchLeaveAfterAdmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &uploadLimiter{maxFiles: 1}
		first, err := u.acquire(context.Background(), 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		waiters := make(chan *uploadWaiter, 1)
		queued := func(w *uploadWaiter) { waiters <- w }
		got := make(chan error, 1)
		go func() {
			tk, err := u.acquire(context.Background(), 1, queued)
			got <- err
			u.release(tk)
		}()
		w := <-waiters
		u.release(first)
		if err := <-got; err != nil {
			t.Fatalf("admitted upload: %v", err)
		}
		w.leave(errClientGone) // too late: it was admitted
		synctest.Wait()
		if st := u.stats(); st.Files != 0 || st.Waiting != 0 {
			t.Fatalf("uploads %+v after release, want idle", st)
		}

		first, _ = u.acquire(context.Background(), 1, nil)
		go func() {
			_, err := u.acquire(context.Background(), 1, queued)
			got <- err
		}()
		w = <-waiters
		w.leave(errClientGone)
		w.leave(errClientGone) // twice is harmless
		if err := <-got; err != errClientGone {
			t.Fatalf("upload sent away returned %v, want errClientGone", err)
		}
		u.release(first)
		if st := u.stats(); st.Files != 0 || st.Waiting != 0 || st.Bytes != 0 {
			t.Fatalf("uploads %+v, want idle", st)
		}
	})
}

// One poll of many queued uploads allocates nothing (with checks that do
// not).
func BenchmarkClientWatchPoll(b *testing.B) {
	u := &uploadLimiter{}
	never := func() bool { return false }
	for range 10000 {
		w := &uploadWaiter{u: u, ready: make(chan struct{})}
		u.clients.watched = append(u.clients.watched, watchedUpload{w: w, check: never})
	}
	var batch []watchedUpload
	b.ReportAllocs()
	for b.Loop() {
		batch, _ = u.clients.poll(batch)
	}
}
