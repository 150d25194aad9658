package transfer

import (
	"bytes"
	"context"
	"io"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// progressRecorder keeps the snapshots it receives.
type progressRecorder struct {
	mu    sync.Mutex
	snaps []Progress
	busy  bool
	overl bool // a call came while another was running
}

func (r *progressRecorder) record(p Progress) {
	r.mu.Lock()
	if r.busy {
		r.overl = true
	}
	r.busy = true
	r.snaps = append(r.snaps, p)
	r.mu.Unlock()
	time.Sleep(time.Millisecond) // a slow callback must not be re-entered
	r.mu.Lock()
	r.busy = false
	r.mu.Unlock()
}

func (r *progressRecorder) all() []Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Progress(nil), r.snaps...)
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// A transfer's snapshots come every interval with the bytes moved, the
// total, the rate and the time left, and the last one (Done) arrives
// before Result returns.
func TestWithProgressSnapshots(t *testing.T) {
	for _, src := range []string{"sized", "stream"} {
		t.Run(src, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const rate = 1 * MiB
				fake := newFakeS3()
				m := newTestManager(t, fake.client(), Config{MaxBandwidth: rate, MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
				rec := &progressRecorder{}
				data := pattern(10*MiB, 1)
				var body io.Reader = bytesReader(data)
				if src == "stream" {
					// A stream whose end is not known until it comes:
					// 1 MiB a second, then end of file.
					pr, pw := io.Pipe()
					go func() {
						for off := 0; off < len(data); off += MiB {
							pw.Write(data[off : off+MiB])
							time.Sleep(time.Second)
						}
						pw.Close()
					}()
					body = pr
				}
				f := m.Upload(context.Background(), body, "b", "k", WithProgress(time.Second, rec.record))
				if _, err := f.Result(); err != nil {
					t.Fatal(err)
				}
				snaps := rec.all()
				if rec.overl {
					t.Fatal("the progress function was called concurrently with itself")
				}
				if src == "stream" {
					// Until the stream has ended, neither its total nor the
					// time left is known.
					for i, p := range snaps[:9] {
						if p.Total != -1 || p.ETA != -1 {
							t.Fatalf("snapshot %d of a stream of unknown size: %+v", i, p)
						}
					}
				} else {
					if len(snaps) < 10 || len(snaps) > 11 {
						t.Fatalf("%d snapshots for 10 s at 1 s intervals: %v", len(snaps), snaps)
					}
					for i, p := range snaps[:len(snaps)-1] {
						k := float64(i + 1)
						if p.Done || p.Elapsed != time.Duration(i+1)*time.Second {
							t.Fatalf("snapshot %d: %+v", i, p)
						}
						if !near(float64(p.Bytes), k*rate, 0.06*rate) || !near(p.Rate, rate, 0.06*rate) {
							t.Fatalf("snapshot %d: %d bytes at %.0f B/s after %v", i, p.Bytes, p.Rate, p.Elapsed)
						}
						want := time.Duration(float64(p.Total-p.Bytes) / p.Rate * float64(time.Second))
						if p.Total != 10*MiB || p.ETA != want || !near(p.ETA.Seconds(), 10-k, 0.5) {
							t.Fatalf("snapshot %d: total %d, ETA %v (want %v)", i, p.Total, p.ETA, want)
						}
						if p.Objects != 1 || p.ObjectsDone != 0 {
							t.Fatalf("snapshot %d: objects %d/%d", i, p.ObjectsDone, p.Objects)
						}
					}
				}
				last := snaps[len(snaps)-1]
				if !last.Done || last.Bytes != 10*MiB || last.Total != 10*MiB || last.ETA != 0 || last.ObjectsDone != 1 || last.ObjectsFailed != 0 {
					t.Fatalf("last snapshot %+v", last)
				}
			})
		})
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// The manager's watch sums all its transfers and makes its last call when
// Shutdown has seen them finish.
func TestWatchProgressOfManager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 2 * MiB
		fake := newFakeS3()
		fake.put("b/down", pattern(6*MiB, 1))
		m := newTestManager(t, fake.client(), Config{MaxBandwidth: rate})
		rec := &progressRecorder{}
		if err := m.WatchProgress(context.Background(), 500*time.Millisecond, rec.record); err != nil {
			t.Fatal(err)
		}
		up := m.Upload(context.Background(), bytesReader(pattern(4*MiB, 2)), "b", "up")
		down := m.Download(context.Background(), "b", "down", &bufferAt{})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mid := rec.all()
		if len(mid) != 4 {
			t.Fatalf("%d snapshots in 2 s at 500 ms intervals", len(mid))
		}
		p := mid[3]
		if p.Objects != 2 || p.Total != 10*MiB || !near(float64(p.Bytes), 2*rate, 0.06*rate) || !near(p.Rate, rate, 0.06*rate) {
			t.Fatalf("after 2 s: %+v", p)
		}
		if err := m.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, f := range []*Future{up, down} {
			if _, err := f.Result(); err != nil {
				t.Fatal(err)
			}
		}
		snaps := rec.all()
		last := snaps[len(snaps)-1]
		if !last.Done || last.Bytes != 10*MiB || last.ObjectsDone != 2 || !near(last.Elapsed.Seconds(), 5, 0.1) {
			t.Fatalf("last snapshot %+v", last)
		}
		for _, p := range snaps[:len(snaps)-1] {
			if p.Done {
				t.Fatalf("a snapshot before the last one is Done: %+v", p)
			}
		}
		if err := m.WatchProgress(context.Background(), 0, rec.record); err == nil {
			t.Fatal("WatchProgress accepted a zero interval")
		}
	})
}

func TestProgressString(t *testing.T) {
	for _, tc := range []struct {
		p    Progress
		want string
	}{
		{Progress{Bytes: 12 * MiB, Total: 64 * MiB, Rate: 8 * MiB, ETA: 6500 * time.Millisecond, Objects: 1}, "12.0 MiB / 64.0 MiB (18%), 8.0 MiB/s, ETA 7s"},
		{Progress{Bytes: 512, Total: -1, Rate: 100, ETA: -1, Objects: 1}, "512 B, 100 B/s"},
		{Progress{Bytes: 10 * MiB, Total: 10 * MiB, Rate: MiB, Done: true, Elapsed: 10 * time.Second, Objects: 3, ObjectsDone: 3, ObjectsFailed: 1},
			"10.0 MiB / 10.0 MiB (100%), 1.0 MiB/s, done in 10s, 3 of 3 objects done (1 failed)"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
