package limits

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/s3limit/s3limit/internal/metrics"
)

var errTestThrottle = errors.New("throttled")

type uploadResult struct {
	t   uploadTicket
	err error
}

// startUpload runs acquire in a goroutine and lets it reach its wait
// (synctest.Wait), so uploads started one after another queue in order.
func startUpload(ctx context.Context, u *uploadLimiter, n int64) <-chan uploadResult {
	ch := make(chan uploadResult, 1)
	go func() {
		t, err := u.acquire(ctx, n, nil)
		ch <- uploadResult{t, err}
	}()
	synctest.Wait()
	return ch
}

// admitted returns the result if the upload has finished waiting.
func admitted(ch <-chan uploadResult) (uploadResult, bool) {
	select {
	case r := <-ch:
		return r, true
	default:
		return uploadResult{}, false
	}
}

func mustAdmitted(t *testing.T, name string, ch <-chan uploadResult) uploadTicket {
	t.Helper()
	synctest.Wait()
	r, ok := admitted(ch)
	if !ok {
		t.Fatalf("%s still waits, want admitted", name)
	}
	if r.err != nil {
		t.Fatalf("%s: %v", name, r.err)
	}
	return r.t
}

func mustWait(t *testing.T, name string, ch <-chan uploadResult) {
	t.Helper()
	synctest.Wait()
	if r, ok := admitted(ch); ok {
		t.Fatalf("%s finished (%+v), want it waiting", name, r)
	}
}

func wantStats(t *testing.T, u *uploadLimiter, want metrics.UploadStats) {
	t.Helper()
	if got := u.stats(); got != want {
		t.Fatalf("stats = %+v, want %+v", got, want)
	}
}

func TestUploadLimiterWaitsForBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &uploadLimiter{maxBytes: 100}
		ctx := context.Background()
		a := mustAdmitted(t, "A", startUpload(ctx, u, 60))
		b := startUpload(ctx, u, 60)
		mustWait(t, "B", b)
		wantStats(t, u, metrics.UploadStats{Files: 1, Bytes: 60, Waiting: 1})
		u.release(a)
		bt := mustAdmitted(t, "B", b)
		wantStats(t, u, metrics.UploadStats{Files: 1, Bytes: 60})
		u.release(bt)
		wantStats(t, u, metrics.UploadStats{})
	})
}

func TestUploadLimiterIsFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &uploadLimiter{maxBytes: 100}
		ctx := context.Background()
		a := mustAdmitted(t, "A", startUpload(ctx, u, 100))
		b := startUpload(ctx, u, 80)
		c := startUpload(ctx, u, 30)
		d := startUpload(ctx, u, 10)
		mustWait(t, "B", b)
		u.release(a)
		bt := mustAdmitted(t, "B", b)
		// C does not fit next to B; D would, but it came after C.
		mustWait(t, "C", c)
		mustWait(t, "D", d)
		// A newcomer that would fit queues behind them too.
		e := startUpload(ctx, u, 10)
		mustWait(t, "E", e)
		wantStats(t, u, metrics.UploadStats{Files: 1, Bytes: 80, Waiting: 3})
		u.release(bt)
		ct := mustAdmitted(t, "C", c)
		dt := mustAdmitted(t, "D", d)
		et := mustAdmitted(t, "E", e)
		wantStats(t, u, metrics.UploadStats{Files: 3, Bytes: 50})
		u.release(ct)
		u.release(dt)
		u.release(et)
		wantStats(t, u, metrics.UploadStats{})
	})
}

func TestUploadLimiterFileLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &uploadLimiter{maxFiles: 2, maxBytes: 1000}
		ctx := context.Background()
		a := mustAdmitted(t, "copy A", startUpload(ctx, u, 0))
		b := mustAdmitted(t, "copy B", startUpload(ctx, u, 0))
		c := startUpload(ctx, u, 0)
		mustWait(t, "copy C", c)
		wantStats(t, u, metrics.UploadStats{Files: 2, Waiting: 1})
		u.release(b)
		ct := mustAdmitted(t, "copy C", c)
		u.release(a)
		u.release(ct)
		wantStats(t, u, metrics.UploadStats{})
	})
}

func TestUploadLimiterOversizeUpload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &uploadLimiter{maxBytes: 100}
		ctx := context.Background()
		// Alone, an upload larger than the limit starts at once.
		big := mustAdmitted(t, "big alone", startUpload(ctx, u, 500))
		small := startUpload(ctx, u, 10)
		mustWait(t, "small behind big", small)
		u.release(big)
		st := mustAdmitted(t, "small", small)

		// With something in flight, it waits until nothing is.
		big2 := startUpload(ctx, u, 500)
		mustWait(t, "big behind small", big2)
		after := startUpload(ctx, u, 10)
		mustWait(t, "small behind waiting big", after)
		u.release(st)
		bt := mustAdmitted(t, "big", big2)
		mustWait(t, "small behind big", after)
		u.release(bt)
		u.release(mustAdmitted(t, "small", after))
		wantStats(t, u, metrics.UploadStats{})
	})
}

func TestUploadLimiterCancelLeavesQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &uploadLimiter{maxBytes: 100}
		a := mustAdmitted(t, "A", startUpload(context.Background(), u, 60))
		ctx, cancel := context.WithCancel(context.Background())
		b := startUpload(ctx, u, 80) // head of the queue; does not fit
		c := startUpload(context.Background(), u, 40)
		mustWait(t, "C", c)
		cancel()
		synctest.Wait()
		r, ok := admitted(b)
		if !ok || !errors.Is(r.err, context.Canceled) || r.t.held {
			t.Fatalf("canceled waiter: finished=%v result=%+v, want context.Canceled and nothing held", ok, r)
		}
		// C was behind B and fits next to A: B leaving lets it in.
		ct := mustAdmitted(t, "C", c)
		wantStats(t, u, metrics.UploadStats{Files: 2, Bytes: 100})
		u.release(a)
		u.release(ct)
		u.release(r.t) // releasing a refused ticket does nothing
		wantStats(t, u, metrics.UploadStats{})
	})
}

func TestUploadLimiterMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &uploadLimiter{maxBytes: 100, maxWait: 5 * time.Second, throttle: errTestThrottle}
		a := mustAdmitted(t, "A", startUpload(context.Background(), u, 100))
		start := time.Now()
		b := startUpload(context.Background(), u, 1)
		time.Sleep(5*time.Second - time.Millisecond)
		mustWait(t, "B before max wait", b)
		r := <-b
		if !errors.Is(r.err, errTestThrottle) || r.t.held {
			t.Fatalf("after max wait: %+v, want the throttle error", r)
		}
		if waited := time.Since(start); waited != 5*time.Second {
			t.Errorf("waited %v, want 5s", waited)
		}
		wantStats(t, u, metrics.UploadStats{Files: 1, Bytes: 100})
		u.release(a)
		wantStats(t, u, metrics.UploadStats{})
	})
}

func TestUploadLimiterUnlimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &uploadLimiter{}
		var ts []uploadTicket
		for i := range 50 {
			ts = append(ts, mustAdmitted(t, "upload", startUpload(context.Background(), u, int64(i)<<30)))
		}
		wantStats(t, u, metrics.UploadStats{Files: 50, Bytes: 1225 << 30})
		for _, tk := range ts {
			u.release(tk)
		}
		wantStats(t, u, metrics.UploadStats{})
	})
}

func TestUploadLimiterReleaseAndCancelRace(t *testing.T) {
	// Many waiters canceled while capacity is released: whatever wins each
	// race, nothing may stay counted and no waiter may stay queued.
	synctest.Test(t, func(t *testing.T) {
		u := &uploadLimiter{maxBytes: 100, maxFiles: 3}
		var holders []uploadTicket
		for range 3 {
			holders = append(holders, mustAdmitted(t, "holder", startUpload(context.Background(), u, 30)))
		}
		type waiter struct {
			ch     <-chan uploadResult
			cancel context.CancelFunc
		}
		var ws []waiter
		for i := range 20 {
			ctx, cancel := context.WithCancel(context.Background())
			ws = append(ws, waiter{startUpload(ctx, u, int64(10+i)), cancel})
		}
		for i, w := range ws {
			if i%2 == 0 {
				w.cancel()
			}
		}
		for _, h := range holders {
			u.release(h)
		}
		for i := 0; i < len(ws); {
			synctest.Wait()
			progressed := false
			for j, w := range ws {
				if w.ch == nil {
					continue
				}
				if r, ok := admitted(w.ch); ok {
					ws[j].ch = nil
					i++
					progressed = true
					u.release(r.t)
				}
			}
			if !progressed {
				t.Fatalf("waiters stuck; stats %+v", u.stats())
			}
		}
		for _, w := range ws {
			w.cancel()
		}
		wantStats(t, u, metrics.UploadStats{})
	})
}
