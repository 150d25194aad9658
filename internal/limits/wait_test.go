package limits

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

func waitConfig(wait time.Duration) *Config {
	return &Config{Buckets: map[string]*Section{
		"backups": {Enabled: true, Wait: Duration(wait), Actions: map[string]int64{"Write:count": 1}},
	}}
}

// TestWaitForRoom: a request over a count limit of a section with a wait
// is admitted when room frees, in arrival order, and refused only once
// the wait is over.
func TestWaitForRoom(t *testing.T) {
	t.Run("AdmittedWhenRoomFrees", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := rateBreaker(t, nil, waitConfig(5*time.Second))
			held, err := b.AdmitWait(t.Context(), s3api.ActionWrite, "backups", "", 0)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			go func() {
				time.Sleep(time.Second)
				held.Release()
			}()
			tk, err := b.AdmitWait(t.Context(), s3api.ActionWrite, "backups", "", 0)
			if err != nil {
				t.Fatalf("refused although room freed within the wait: %v", err)
			}
			if d := time.Since(start); d != time.Second {
				t.Fatalf("admitted after %v, want 1s (when the slot was released)", d)
			}
			tk.Release()
		})
	})
	t.Run("FirstComeFirstServed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := rateBreaker(t, nil, waitConfig(time.Minute))
			held, _ := b.AdmitWait(t.Context(), s3api.ActionWrite, "backups", "", 0)
			var mu sync.Mutex
			var order []int
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					tk, err := b.AdmitWait(t.Context(), s3api.ActionWrite, "backups", "", 0)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
					time.Sleep(time.Second)
					tk.Release()
				})
				synctest.Wait() // queued before the next arrives
			}
			held.Release()
			wg.Wait()
			for i, v := range order {
				if v != i {
					t.Fatalf("admitted in order %v, want arrival order", order)
				}
			}
		})
	})
	t.Run("RefusedAfterTheWait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := metrics.New("t")
			b := rateBreaker(t, m, waitConfig(2*time.Second))
			held, _ := b.AdmitWait(t.Context(), s3api.ActionWrite, "backups", "", 0)
			defer held.Release()
			start := time.Now()
			_, err := b.AdmitWait(t.Context(), s3api.ActionWrite, "backups", "", 0)
			wantRefusal(t, err, "SlowDown")
			if d := time.Since(start); d != 2*time.Second {
				t.Fatalf("refused after %v, want 2s", d)
			}
			if got := testutil.ToFloat64(m.Throttled("Write", "bucket", "count")); got != 1 {
				t.Fatalf("throttled %v, want 1", got)
			}
		})
	})
	t.Run("ClientGoneLeavesAtOnce", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := rateBreaker(t, nil, waitConfig(time.Minute))
			held, _ := b.AdmitWait(t.Context(), s3api.ActionWrite, "backups", "", 0)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				_, err := b.AdmitWait(ctx, s3api.ActionWrite, "backups", "", 0)
				done <- err
			}()
			synctest.Wait()
			if n := b.waiting[scopeBucket].Load(); n != 1 {
				t.Fatalf("%d waiting, want 1", n)
			}
			cancel()
			err := <-done
			wantRefusal(t, err, "RequestTimeout")
			if n := b.waiting[scopeBucket].Load(); n != 0 {
				t.Fatalf("%d still waiting after the client left", n)
			}
			// The slot it would have had goes to the next request.
			held.Release()
			tk, err := b.AdmitWait(t.Context(), s3api.ActionWrite, "backups", "", 0)
			if err != nil {
				t.Fatal(err)
			}
			tk.Release()
			if err := checkIdle(b); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("WithoutAWaitRefusedAtOnce", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := rateBreaker(t, nil, waitConfig(0))
			held, _ := b.AdmitWait(t.Context(), s3api.ActionWrite, "backups", "", 0)
			defer held.Release()
			start := time.Now()
			_, err := b.AdmitWait(t.Context(), s3api.ActionWrite, "backups", "", 0)
			wantRefusal(t, err, "SlowDown")
			if time.Since(start) != 0 {
				t.Fatal("waited without a wait configured")
			}
		})
	})
}

func TestParseWait(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"buckets":{"backups":{"enabled":true,"wait":"1m30s","actions":{"Write:count":2}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(cfg.Buckets["backups"].Wait); got != 90*time.Second {
		t.Fatalf("wait %v, want 1m30s", got)
	}
	out, _ := cfg.Marshal()
	back, err := ParseConfig(out)
	if err != nil || back.Buckets["backups"].Wait != cfg.Buckets["backups"].Wait {
		t.Fatalf("round trip: %s -> %+v, %v", out, back, err)
	}
	for in, want := range map[string]string{
		`{"global":{"wait":"soon"}}`: `global.wait`,
		`{"global":{"wait":"-1s"}}`:  `non-negative duration`,
		`{"global":{"wait":5}}`:      `expected a duration`,
		`{"global":{"wait":"1h"}}`:   `longer than the longest wait`,
	} {
		if _, err := ParseConfig([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConfig(%s) = %v, want an error containing %q", in, err, want)
		}
	}
}
