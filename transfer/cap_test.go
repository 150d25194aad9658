package transfer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// Many objects smaller than one pacing step, uploaded or downloaded
// through one manager, take the time the cap allows: 1,000 objects of
// 64 KiB at 8 MiB/s is 62.5 MiB in 7.8125 s. Small PutObjects used to
// escape the cap: their bytes were charged only when the transport
// closed the body, by which time the answer could have arrived and
// ended the attempt, and the charge was dropped.
func TestCapHoldsForManySmallObjects(t *testing.T) {
	const (
		rate  = 8 * MiB
		n     = 1000
		size  = 64 << 10
		total = n * size
	)
	want := time.Duration(total * int64(time.Second) / rate)
	for _, dir := range []string{"upload", "download"} {
		t.Run(dir, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := newFakeS3()
				data := pattern(size, 3)
				if dir == "download" {
					for i := range n {
						fake.put("b/k"+strconv.Itoa(i), data)
					}
				}
				m := newTestManager(t, fake.client(), Config{MaxBandwidth: rate})
				start := time.Now()
				futures := make([]*Future, n)
				for i := range n {
					key := "k" + strconv.Itoa(i)
					if dir == "upload" {
						futures[i] = m.Upload(context.Background(), bytes.NewReader(data), "b", key)
					} else {
						futures[i] = m.Download(context.Background(), "b", key, &bufferAt{})
					}
				}
				for i, f := range futures {
					if _, err := f.Result(); err != nil {
						t.Fatalf("object %d: %v", i, err)
					}
				}
				el := time.Since(start)
				if el < want*97/100 || el > want*103/100 {
					t.Fatalf("%d x %d bytes at %d B/s took %v, want %v ± 3%%", n, size, rate, el, want)
				}
				t.Logf("%d x %d bytes: %v (cap allows %v)", n, size, el, want)
			})
		})
	}
}

// The cap holds from the first second, however many parts run at once:
// an upload of 8 parts in parallel puts no more than the cap plus the
// manager's documented burst on the wire in its first second.
func TestFirstSecondOfParallelUploadWithinCap(t *testing.T) {
	const rate = 8 * MiB
	for _, parallel := range []int{1, 4, 8} {
		t.Run(strconv.Itoa(parallel), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := newFakeS3()
				m := newTestManager(t, fake.client(), Config{MaxBandwidth: rate, MaxConcurrency: parallel,
					MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
				f := m.Upload(context.Background(), bytes.NewReader(pattern(40*MiB, 1)), "b", "k")
				time.Sleep(time.Second)
				synctest.Wait()
				got := fake.received.Load()
				if got > rate*105/100 || got < rate*95/100 {
					t.Fatalf("first second: %d bytes (%.3f of the cap)", got, float64(got)/rate)
				}
				t.Logf("first second: %d bytes (%.4f of the cap)", got, float64(got)/rate)
				if _, err := f.Result(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// Without a cap, a directory of many small files is limited by the
// request window: MaxConcurrency requests in flight, no more, so 1,000
// uploads of 10 ms each through a window of 10 take 1 s.
func TestRequestWindowLimitsUncappedDirectory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeS3()
		fake.latency = 10 * time.Millisecond
		dir := t.TempDir()
		data := pattern(64<<10, 1)
		for i := range 1000 {
			if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(i)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		m := newTestManager(t, fake.client(), Config{MaxConcurrency: 10})
		start := time.Now()
		res, err := m.UploadDirectory(context.Background(), dir, "b", "p")
		if err != nil || len(res.Objects) != 1000 {
			t.Fatalf("%d objects, %v", len(res.Objects), err)
		}
		el := time.Since(start)
		if got := fake.maxInFlight.Load(); got != 10 {
			t.Fatalf("%d requests in flight at most, want the window of 10", got)
		}
		if el != time.Second {
			t.Fatalf("1,000 requests of 10 ms through a window of 10 took %v, want 1s", el)
		}
	})
}
