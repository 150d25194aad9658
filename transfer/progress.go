package transfer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RateWindow is how far back Progress.Rate looks.
const RateWindow = 5 * time.Second

// Progress is a snapshot of how far a transfer, a directory transfer or
// all the transfers of a manager have come. WithProgress and
// Manager.WatchProgress deliver one periodically.
type Progress struct {
	// Bytes is the net number of bytes moved: uploaded, downloaded, or
	// copied on the server (a copy counts each part when it completes).
	// Bytes of a failed attempt that is retried are taken back.
	Bytes int64
	// Total is the number of bytes to move: the object size (or range
	// length), the sum of the sizes for a directory transfer (known once
	// its listing is done) or for a manager (since NewManager). -1 while
	// a size is not known yet (an upload from a stream without WithSize,
	// a download before the object's metadata has arrived).
	Total int64
	// Objects is the number of objects in the snapshot (1 for a single
	// transfer); ObjectsDone how many have finished, ObjectsFailed how
	// many of those failed.
	Objects, ObjectsDone, ObjectsFailed int
	// Elapsed is the time since the transfer (or the watch) started.
	Elapsed time.Duration
	// Rate is the throughput in bytes per second over the last
	// RateWindow (over Elapsed before that much time has passed).
	Rate float64
	// ETA is the time left at Rate: -1 when it cannot be told (Total
	// unknown, or nothing has moved yet), 0 when done.
	ETA time.Duration
	// Done is set on the last snapshot of a transfer, delivered once it
	// has finished and before its Future is done.
	Done bool
}

// String formats p for a log line: "12.0 MiB / 62.5 MiB (19%), 8.0 MiB/s,
// ETA 6s".
func (p Progress) String() string {
	var b strings.Builder
	b.WriteString(FormatBytes(p.Bytes))
	if p.Total >= 0 {
		fmt.Fprintf(&b, " / %s", FormatBytes(p.Total))
		if p.Total > 0 {
			fmt.Fprintf(&b, " (%d%%)", min(max(p.Bytes*100/p.Total, 0), 100))
		}
	}
	fmt.Fprintf(&b, ", %s/s", FormatBytes(int64(p.Rate)))
	switch {
	case p.Done:
		fmt.Fprintf(&b, ", done in %s", p.Elapsed.Round(10*time.Millisecond))
	case p.ETA >= 0:
		fmt.Fprintf(&b, ", ETA %s", p.ETA.Round(time.Second))
	}
	if p.Objects > 1 {
		fmt.Fprintf(&b, ", %d of %d objects done", p.ObjectsDone, p.Objects)
		if p.ObjectsFailed > 0 {
			fmt.Fprintf(&b, " (%d failed)", p.ObjectsFailed)
		}
	}
	return b.String()
}

// FormatBytes prints a byte count with a binary unit: "512 B", "1.5 KiB",
// "62.5 MiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= unit
		if (f < unit && f > -unit) || u == "TiB" {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return ""
}

// WithProgress calls fn every interval with a snapshot of the transfer
// (for a directory transfer, of all its objects), and once more with
// Done set when it has finished, before its Future is done (or, for a
// directory transfer, before it returns). Calls are never concurrent; fn
// runs on the manager's goroutines, so it should be quick. An interval
// of zero or less means only the final call.
func WithProgress(interval time.Duration, fn func(Progress)) Option {
	return func(o *options) { o.progressEvery, o.progressFn = interval, fn }
}

// tally counts the bytes and objects of a group of transfers: a single
// transfer, a directory transfer, or a whole manager. Its fields are
// updated by the transfers as they go.
type tally struct {
	bytes   atomic.Int64
	total   atomic.Int64
	unknown atomic.Int64 // objects whose size is not known yet
	objects atomic.Int64
	done    atomic.Int64
	failed  atomic.Int64
	// fixed is set when the objects and their total size are known up
	// front (a directory transfer's listing): the transfers then add
	// only their bytes, and the owner counts them done.
	fixed bool
}

// newFixedTally returns a tally of objects objects and total bytes.
func newFixedTally(objects int, total int64) *tally {
	t := &tally{fixed: true}
	t.objects.Store(int64(objects))
	t.total.Store(total)
	return t
}

func (t *tally) addObject() {
	if t.fixed {
		return
	}
	t.objects.Add(1)
	t.unknown.Add(1)
}

// sized records that an object's size changed from old (-1: unknown) to n.
func (t *tally) sized(old, n int64) {
	if t.fixed {
		return
	}
	if old < 0 {
		t.unknown.Add(-1)
		t.total.Add(n)
		return
	}
	t.total.Add(n - old)
}

// finished counts an object done; a fixed tally counts only what its
// owner reports with force.
func (t *tally) finished(err error, force bool) {
	if t.fixed && !force {
		return
	}
	t.done.Add(1)
	if err != nil {
		t.failed.Add(1)
	}
}

// progressMeter turns a tally into snapshots with a windowed rate. It is
// used by one goroutine at a time.
type progressMeter struct {
	t       *tally
	start   time.Time
	samples []sample // the last RateWindow of snapshots, oldest first
}

type sample struct {
	at    time.Time
	bytes int64
}

func newProgressMeter(t *tally, start time.Time) *progressMeter {
	return &progressMeter{t: t, start: start}
}

// snapshot returns the tally's state at now.
func (pm *progressMeter) snapshot(now time.Time, done bool) Progress {
	t := pm.t
	p := Progress{
		Bytes:         t.bytes.Load(),
		Total:         t.total.Load(),
		Objects:       int(t.objects.Load()),
		ObjectsDone:   int(t.done.Load()),
		ObjectsFailed: int(t.failed.Load()),
		Elapsed:       now.Sub(pm.start),
		ETA:           -1,
		Done:          done,
	}
	if !t.fixed && t.unknown.Load() > 0 {
		p.Total = -1
	}
	pm.samples = append(pm.samples, sample{now, p.Bytes})
	// Keep the samples of the last RateWindow and the one before them.
	for len(pm.samples) > 2 && now.Sub(pm.samples[1].at) >= RateWindow {
		pm.samples = pm.samples[1:]
	}
	if first := pm.samples[0]; len(pm.samples) >= 2 && p.Elapsed > RateWindow {
		p.Rate = rateOf(p.Bytes-first.bytes, now.Sub(first.at))
	} else {
		p.Rate = rateOf(p.Bytes, p.Elapsed)
	}
	switch {
	case done:
		p.ETA = 0
	case p.Total >= 0 && p.Rate > 0:
		p.ETA = time.Duration(float64(max(p.Total-p.Bytes, 0)) / p.Rate * float64(time.Second))
	}
	return p
}

func rateOf(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / d.Seconds()
}

// progressWatch calls fn with snapshots of a tally every interval on the
// manager's clock until stop is called; stop waits for the goroutine and
// then delivers the final snapshot (Done set) itself.
type progressWatch struct {
	pm     *progressMeter
	fn     func(Progress)
	cancel context.CancelFunc
	wg     sync.WaitGroup
	now    func() time.Time
}

func (m *Manager) watch(t *tally, interval time.Duration, fn func(Progress)) *progressWatch {
	clock := m.cfg.Clock
	w := &progressWatch{pm: newProgressMeter(t, clock.Now()), fn: fn, now: clock.Now}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	if interval > 0 {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			tick(ctx, clock, w.pm.start, interval, func(now time.Time) { fn(w.pm.snapshot(now, false)) })
		}()
	}
	return w
}

// tick calls fn at start + k·interval for k = 1, 2, ... until ctx ends;
// a call that overruns skips the ticks it missed, so the schedule does
// not drift by the time fn takes.
func tick(ctx context.Context, clock interface {
	Now() time.Time
	Sleep(context.Context, time.Duration) error
}, start time.Time, interval time.Duration, fn func(now time.Time)) {
	next := start.Add(interval)
	for clock.Sleep(ctx, next.Sub(clock.Now())) == nil {
		now := clock.Now()
		fn(now)
		for !next.After(now) {
			next = next.Add(interval)
		}
	}
}

// stop ends the periodic calls and makes the final one.
func (w *progressWatch) stop() {
	w.cancel()
	w.wg.Wait()
	w.fn(w.pm.snapshot(w.now(), true))
}
