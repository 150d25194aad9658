package server

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// deadlineWriter records the deadlines the rule sets on the connection.
type deadlineWriter struct {
	*httptest.ResponseRecorder
	mu            sync.Mutex
	read, written time.Time
}

func (w *deadlineWriter) SetReadDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.read = t
	return nil
}

func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.written = t
	return nil
}

func (w *deadlineWriter) deadlines() (read, write time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.read, w.written
}

// ruleFixture runs fn with a rule of the default settings on a virtual
// clock (1 minute window, 1 KiB/s).
func ruleFixture(t *testing.T, acked ackCounter, fn func(p *progressRule, w *deadlineWriter)) {
	synctest.Test(t, func(t *testing.T) {
		w := &deadlineWriter{ResponseRecorder: httptest.NewRecorder()}
		p := newProgressRule(http.NewResponseController(w), DefaultIdleTimeout, DefaultMinTransferRate, acked)
		defer p.stop()
		fn(p, w)
	})
}

// transfer simulates a client that moves chunk bytes every interval, each
// I/O call blocked for the whole interval, for total time.
func transfer(p *progressRule, write bool, chunk int64, interval, total time.Duration) {
	for elapsed := time.Duration(0); elapsed < total && !p.wasCut(); elapsed += interval {
		p.begin(write)
		time.Sleep(interval)
		p.end(write, chunk)
	}
}

func TestProgressRule(t *testing.T) {
	t.Run("HonestSlowUploadAt4KiBps", func(t *testing.T) {
		ruleFixture(t, nil, func(p *progressRule, _ *deadlineWriter) {
			transfer(p, false, 4<<10, time.Second, 10*time.Minute)
			if p.wasCut() {
				t.Fatal("a client sending 4 KiB/s was cut off")
			}
		})
	})
	t.Run("HonestSlowDownloadAt4KiBps", func(t *testing.T) {
		ruleFixture(t, nil, func(p *progressRule, _ *deadlineWriter) {
			transfer(p, true, 4<<10, time.Second, 10*time.Minute)
			if p.wasCut() {
				t.Fatal("a client reading 4 KiB/s was cut off")
			}
		})
	})
	t.Run("JustAboveTheMinimumRate", func(t *testing.T) {
		ruleFixture(t, nil, func(p *progressRule, _ *deadlineWriter) {
			transfer(p, false, 1100, time.Second, 5*time.Minute)
			if p.wasCut() {
				t.Fatal("a client at 1100 B/s was cut off with a 1024 B/s minimum")
			}
		})
	})
	t.Run("TrickleOneByteEvery45s", func(t *testing.T) {
		ruleFixture(t, nil, func(p *progressRule, w *deadlineWriter) {
			start := time.Now()
			transfer(p, false, 1, 45*time.Second, 10*time.Minute)
			if !p.wasCut() {
				t.Fatal("a trickling client was not cut off")
			}
			// Cut at the end of the first window; the blocked read sees it
			// at once, here at the end of its simulated 45 s.
			if rd, _ := w.deadlines(); rd.IsZero() || rd.Sub(start) > time.Minute {
				t.Fatalf("read deadline %v after start, want within the first minute", rd.Sub(start))
			}
		})
	})
	t.Run("BelowTheMinimumRate", func(t *testing.T) {
		ruleFixture(t, nil, func(p *progressRule, _ *deadlineWriter) {
			transfer(p, true, 900, time.Second, 5*time.Minute)
			if !p.wasCut() {
				t.Fatal("a client at 900 B/s was not cut off with a 1024 B/s minimum")
			}
		})
	})
	t.Run("NoProgressAtAll", func(t *testing.T) {
		ruleFixture(t, nil, func(p *progressRule, w *deadlineWriter) {
			start := time.Now()
			p.begin(false)
			time.Sleep(59 * time.Second)
			synctest.Wait()
			if p.wasCut() {
				t.Fatal("cut off before the idle timeout")
			}
			time.Sleep(2 * time.Second)
			synctest.Wait()
			if !p.wasCut() {
				t.Fatal("not cut off after the idle timeout")
			}
			rd, wr := w.deadlines()
			if !rd.Before(time.Now()) || rd.Sub(start) > time.Minute {
				t.Fatalf("read deadline %v, want in the past", rd)
			}
			// No write was blocked: the error response gets a fresh deadline.
			if !wr.After(time.Now()) {
				t.Fatalf("write deadline %v, want in the future for the error response", wr)
			}
			p.end(false, 0)
		})
	})
	t.Run("BlockedWriteIsFailed", func(t *testing.T) {
		ruleFixture(t, nil, func(p *progressRule, w *deadlineWriter) {
			p.begin(true)
			time.Sleep(61 * time.Second)
			synctest.Wait()
			if _, wr := w.deadlines(); !p.wasCut() || !wr.Before(time.Now()) {
				t.Fatalf("stalled download: cut %v, write deadline %v", p.wasCut(), wr)
			}
			p.end(true, 0)
		})
	})
	t.Run("TimeNotWaitingOnTheClientIsNotCounted", func(t *testing.T) {
		ruleFixture(t, nil, func(p *progressRule, _ *deadlineWriter) {
			// A few bytes read, then ten minutes queued without reading,
			// then an honest transfer.
			transfer(p, false, 100, time.Second, 30*time.Second)
			time.Sleep(10 * time.Minute)
			synctest.Wait()
			transfer(p, false, 4<<10, time.Second, 2*time.Minute)
			if p.wasCut() {
				t.Fatal("time spent not reading the body was held against the client")
			}
		})
	})
	t.Run("AfterStopNothingHappens", func(t *testing.T) {
		ruleFixture(t, nil, func(p *progressRule, w *deadlineWriter) {
			p.begin(true)
			p.stop()
			time.Sleep(5 * time.Minute)
			synctest.Wait()
			if rd, wr := w.deadlines(); p.wasCut() || !rd.IsZero() || !wr.IsZero() {
				t.Fatal("the rule acted after the request ended")
			}
		})
	})
}

// TestProgressRulePieces: a ReadFrom piece (sendfile, splice) reports its
// bytes only when it ends; in between, the kernel's count of acknowledged
// bytes tells a slow reader from a stalled one.
func TestProgressRulePieces(t *testing.T) {
	piece := func(rate int64) ackCounter {
		start := time.Now()
		return ackFunc(func() (int64, bool) { return 1000 + rate*int64(time.Since(start)/time.Second), true })
	}
	t.Run("SlowReaderWithinOnePiece", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := &deadlineWriter{ResponseRecorder: httptest.NewRecorder()}
			p := newProgressRule(http.NewResponseController(w), DefaultIdleTimeout, DefaultMinTransferRate, piece(4<<10))
			defer p.stop()
			p.beginPiece()
			time.Sleep(256 * time.Second) // 1 MiB at 4 KiB/s
			synctest.Wait()
			if p.wasCut() {
				t.Fatal("a reader at 4 KiB/s was cut off inside a 1 MiB piece")
			}
			p.endPiece(1 << 20)
		})
	})
	t.Run("StalledReaderWithinOnePiece", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := &deadlineWriter{ResponseRecorder: httptest.NewRecorder()}
			p := newProgressRule(http.NewResponseController(w), DefaultIdleTimeout, DefaultMinTransferRate, piece(0))
			defer p.stop()
			p.beginPiece()
			time.Sleep(61 * time.Second)
			synctest.Wait()
			if !p.wasCut() {
				t.Fatal("a stalled reader was not cut off inside a piece")
			}
			p.endPiece(0)
		})
	})
}

func TestProgressRuleQuota(t *testing.T) {
	for _, tc := range []struct {
		idle    time.Duration
		minRate int64
		want    int64
	}{
		{time.Minute, 1024, 61440},
		{time.Minute, 0, 1},
		{500 * time.Millisecond, 1000, 500},
		{time.Millisecond, 1, 1},
	} {
		if got := newProgressRule(nil, tc.idle, tc.minRate, nil).quota; got != tc.want {
			t.Errorf("quota(%v, %d) = %d, want %d", tc.idle, tc.minRate, got, tc.want)
		}
	}
}

// ackFunc is an ackCounter made of a function.
type ackFunc func() (int64, bool)

func (f ackFunc) acked() (int64, bool) { return f() }
