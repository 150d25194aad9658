package transfer

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/s3limit/s3limit/bandwidth"
)

// pipeOf returns a reader that only has Read, so the manager must buffer.
func pipeOf(data []byte) io.Reader { return io.MultiReader(bytes.NewReader(data)) }

func TestCancelMidTransferAbortsPromptly(t *testing.T) {
	for _, src := range []string{"stream", "readerAt"} {
		t.Run(src, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := newFakeS3()
				m := newTestManager(t, fake.client(), Config{MaxBandwidth: 1 * MiB, MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
				data := pattern(40*MiB, 1)
				var body io.Reader = bytes.NewReader(data)
				if src == "stream" {
					body = pipeOf(data)
				}
				log := &progressLog{}
				f := m.Upload(context.Background(), body, "b", "k", WithSubscribers(log))
				time.Sleep(3 * time.Second)
				if tr := f.Transferred(); tr < 2*MiB || tr > 4*MiB {
					t.Fatalf("after 3 s at 1 MiB/s, %d bytes moved", tr)
				}
				start := time.Now()
				f.Cancel()
				_, err := f.Result()
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("error = %v, want context.Canceled", err)
				}
				if el := time.Since(start); el > 100*time.Millisecond {
					t.Fatalf("Result took %v after Cancel", el)
				}
				if fake.openUploads() != 0 || fake.count("AbortMultipartUpload") != 1 {
					t.Fatalf("open uploads %d, aborts %d", fake.openUploads(), fake.count("AbortMultipartUpload"))
				}
				if _, ok := fake.get("b/k"); ok {
					t.Fatal("a cancelled upload created the object")
				}
				if log.done != 1 || log.afterEnd || log.net != f.Transferred() {
					t.Fatalf("events %+v", log)
				}
				if st := m.Stats(); st.InFlight != 0 || st.Transfers != 0 {
					t.Fatalf("stats after cancel: %+v", st)
				}
			})
		})
	}
}

func TestCancelDownloadPromptly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeS3()
		fake.put("b/k", pattern(30*MiB, 1))
		m := newTestManager(t, fake.client(), Config{MaxBandwidth: 1 * MiB})
		ctx, cancel := context.WithCancel(context.Background())
		var w bufferAt
		f := m.Download(ctx, "b", "k", &w)
		time.Sleep(2 * time.Second)
		start := time.Now()
		cancel()
		if _, err := f.Result(); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v", err)
		}
		if el := time.Since(start); el > 100*time.Millisecond {
			t.Fatalf("Result took %v after cancel", el)
		}
	})
}

func TestCloseCancelsInFlightTransfers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeS3()
		fake.put("b/big", pattern(30*MiB, 1))
		m := newTestManager(t, fake.client(), Config{MaxBandwidth: 2 * MiB, MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
		var futures []*Future
		for i := range 4 {
			futures = append(futures, m.Upload(context.Background(), pipeOf(pattern(20*MiB, byte(i))), "b", "up"+strconv.Itoa(i)))
		}
		var w bufferAt
		futures = append(futures, m.Download(context.Background(), "b", "big", &w))
		time.Sleep(time.Second)
		if err := m.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for i, f := range futures {
			select {
			case <-f.Done():
			default:
				t.Fatalf("transfer %d still running after Close returned", i)
			}
			if _, err := f.Result(); !errors.Is(err, ErrClosed) {
				t.Fatalf("transfer %d: error = %v, want ErrClosed", i, err)
			}
		}
		if fake.openUploads() != 0 {
			t.Fatalf("%d multipart uploads left open", fake.openUploads())
		}
		// Nothing new is accepted.
		log := &progressLog{}
		if _, err := m.Upload(context.Background(), pipeOf([]byte("x")), "b", "late", WithSubscribers(log)).Result(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Upload after Close: %v", err)
		}
		if log.queued != 1 || log.done != 1 {
			t.Fatalf("late transfer events %+v", log)
		}
	})
}

func TestShutdownWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeS3()
		m := newTestManager(t, fake.client(), Config{MaxBandwidth: 1 * MiB, MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
		data := pattern(6*MiB, 3)
		f := m.Upload(context.Background(), bytes.NewReader(data), "b", "k")
		// A deadline shorter than the transfer: Shutdown gives up, the
		// transfer goes on.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown with short deadline: %v", err)
		}
		if err := m.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Result(); err != nil {
			t.Fatalf("transfer failed: %v", err)
		}
		if got, _ := fake.get("b/k"); !bytes.Equal(got, data) {
			t.Fatal("content differs")
		}
	})
}

// A server that admits one write at a time (a circuit breaker with
// Write:count 1): concurrent multipart uploads still complete through
// retries, the request window shrinks while the server throttles, and it
// grows back when the throttling stops.
func TestThrottlingShrinksWindowAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeS3()
		fake.writeLimit = 1
		fake.retryAfter = 50 * time.Millisecond
		m := newTestManager(t, fake.client(), Config{MaxBandwidth: 20 * MiB, MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB, MaxConcurrency: 8})

		var mu sync.Mutex
		var maxLimitWhileThrottled, samples int
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				st := m.Stats()
				if st.Throttled > 0 {
					mu.Lock()
					samples++
					maxLimitWhileThrottled = max(maxLimitWhileThrottled, st.ConcurrencyLimit)
					mu.Unlock()
				}
			}
		}()

		datas := make([][]byte, 6)
		var futures []*Future
		for i := range datas {
			datas[i] = pattern(15*MiB+i, byte(i))
			futures = append(futures, m.Upload(context.Background(), pipeOf(datas[i]), "b", "k"+strconv.Itoa(i)))
		}
		for i, f := range futures {
			if _, err := f.Result(); err != nil {
				t.Fatalf("upload %d: %v", i, err)
			}
			if got, _ := fake.get("b/k" + strconv.Itoa(i)); !bytes.Equal(got, datas[i]) {
				t.Fatalf("upload %d: content differs", i)
			}
		}
		close(stop)
		<-sampled
		st := m.Stats()
		if st.Throttled == 0 || st.Retries < st.Throttled {
			t.Fatalf("expected throttling and retries: %+v", st)
		}
		if st.MinConcurrencyLimit > 1 {
			t.Fatalf("window never shrank below %d: %+v", st.MinConcurrencyLimit, st)
		}
		// The manager backs off instead of hammering: most requests it
		// sends are admitted.
		if st.Throttled*2 > st.Requests {
			t.Fatalf("%d of %d requests throttled", st.Throttled, st.Requests)
		}
		mu.Lock()
		if samples == 0 || maxLimitWhileThrottled > 4 {
			t.Fatalf("window while throttled reached %d (of 8) over %d samples", maxLimitWhileThrottled, samples)
		}
		mu.Unlock()

		// The throttling stops: the window grows back to the maximum.
		fake.mu.Lock()
		fake.writeLimit = 0
		fake.mu.Unlock()
		for i := 0; m.Stats().ConcurrencyLimit < 8; i++ {
			if i > 40 {
				t.Fatalf("window did not recover: %+v", m.Stats())
			}
			var fs []*Future
			for j := range 8 {
				fs = append(fs, m.Upload(context.Background(), bytes.NewReader([]byte("x")), "b", "small"+strconv.Itoa(j)))
			}
			for _, f := range fs {
				if _, err := f.Result(); err != nil {
					t.Fatal(err)
				}
			}
		}
		m.Shutdown(context.Background())
	})
}

// Accuracy of the bandwidth cap on a virtual clock: the manager moves R
// bytes per second within 1%, for one transfer and for ten at once, for
// uploads (including the SHA-256 pass the SDK makes over plain HTTP,
// which must not be charged) and downloads.
func TestBandwidthAccuracy(t *testing.T) {
	const rate = 1 * MiB
	tests := []struct {
		name      string
		uploads   []int // sizes
		downloads []int
		threshold int64 // 0 = 5 MiB
	}{
		{name: "one multipart upload", uploads: []int{30 * MiB}},
		{name: "one single-request upload", uploads: []int{12 * MiB}, threshold: 16 * MiB},
		{name: "one ranged download", downloads: []int{30 * MiB}},
		{name: "ten mixed transfers", uploads: []int{6 * MiB, 6 * MiB, 4 * MiB, 7 * MiB, 5 * MiB}, downloads: []int{6 * MiB, 4 * MiB, 8 * MiB, 6 * MiB, 8 * MiB}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := newFakeS3()
				for i, n := range tc.downloads {
					fake.put("b/d"+strconv.Itoa(i), pattern(n, byte(i)))
				}
				threshold := cmp.Or(tc.threshold, 5*MiB)
				m := newTestManager(t, fake.client(), Config{MaxBandwidth: rate, MultipartThreshold: threshold, MultipartChunkSize: 5 * MiB})
				var total int64
				var futures []*Future
				start := time.Now()
				for i, n := range tc.uploads {
					total += int64(n)
					futures = append(futures, m.Upload(context.Background(), bytes.NewReader(pattern(n, byte(i))), "b", "u"+strconv.Itoa(i)))
				}
				for i, n := range tc.downloads {
					total += int64(n)
					futures = append(futures, m.Download(context.Background(), "b", "d"+strconv.Itoa(i), &bufferAt{}))
				}
				for _, f := range futures {
					if _, err := f.Result(); err != nil {
						t.Fatal(err)
					}
				}
				elapsed := time.Since(start).Seconds()
				got := float64(total) / elapsed
				dev := math.Abs(got-rate) / rate
				if dev > 0.01 {
					t.Fatalf("%d bytes in %.3f s = %.0f B/s, %.2f%% off %d B/s", total, elapsed, got, dev*100, rate)
				}
				t.Logf("%d bytes in %.3f s: %.3f%% off the cap", total, elapsed, dev*100)
			})
		})
	}
}

// Managers given one Bucket share its budget.
func TestSharedBucketAcrossManagers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 2 * MiB
		shared := bandwidth.NewPacingBucket(rate, 0, nil)
		fake := newFakeS3()
		m1 := newTestManager(t, fake.client(), Config{BandwidthLimiter: shared})
		m2 := newTestManager(t, fake.client(), Config{BandwidthLimiter: shared})
		start := time.Now()
		f1 := m1.Upload(context.Background(), bytes.NewReader(pattern(20*MiB, 1)), "b", "one")
		f2 := m2.Upload(context.Background(), bytes.NewReader(pattern(20*MiB, 2)), "b", "two")
		for _, f := range []*Future{f1, f2} {
			if _, err := f.Result(); err != nil {
				t.Fatal(err)
			}
		}
		if el := time.Since(start).Seconds(); math.Abs(el-20) > 0.2 {
			t.Fatalf("40 MiB at a shared 2 MiB/s took %.2f s, want 20 s", el)
		}
	})
}

// Downloads streamed through pipes into uploads of the same manager (how
// `s3limit cp` copies between buckets) complete even with a window of one
// request and many copies at once: no request waits on a pipe while it
// holds its place in the window.
func TestRelaysThroughPipesDoNotDeadlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeS3()
		m := newTestManager(t, fake.client(), Config{MaxConcurrency: 1, MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
		sizes := []int{1 * MiB, 12 * MiB, 100, 2 * MiB, 11 * MiB, 3 * MiB, 1, 4 * MiB}
		var wg sync.WaitGroup
		errs := make([]error, len(sizes))
		for i, n := range sizes {
			src, dst := "b/src"+strconv.Itoa(i), "dst"+strconv.Itoa(i)
			fake.put(src, pattern(n, byte(i)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				pr, pw := io.Pipe()
				down := m.DownloadStream(context.Background(), "b", "src"+strconv.Itoa(i), pw)
				go func() {
					_, err := down.Result()
					pw.CloseWithError(err)
				}()
				_, errs[i] = m.Upload(context.Background(), pr, "b", dst, WithSize(int64(n))).Result()
			}()
		}
		wg.Wait()
		for i, n := range sizes {
			if errs[i] != nil {
				t.Fatalf("copy %d: %v", i, errs[i])
			}
			if got, _ := fake.get("b/dst" + strconv.Itoa(i)); !bytes.Equal(got, pattern(n, byte(i))) {
				t.Fatalf("copy %d differs", i)
			}
		}
	})
}

// Any Bucket can carry the budget, such as the reference LeakyBucket
// (which is not a Pacer): the cap holds, within the looseness of that
// algorithm (each stream reads 256 KiB before it first pays).
func TestLeakyBucketAsBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 1 * MiB
		fake := newFakeS3()
		m := newTestManager(t, fake.client(), Config{BandwidthLimiter: bandwidth.NewLeakyBucket(rate, nil), MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
		start := time.Now()
		if _, err := m.Upload(context.Background(), bytes.NewReader(pattern(10*MiB, 1)), "b", "k").Result(); err != nil {
			t.Fatal(err)
		}
		got := 10 * MiB / time.Since(start).Seconds()
		if got > rate*1.05 || got < rate/4 {
			t.Fatalf("%.0f B/s through a %d B/s leaky bucket", got, rate)
		}
	})
}
