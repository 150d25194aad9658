package limits

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/s3limit/s3limit/internal/metrics"
)

// uploadLimiter is the upload backpressure: an upload waits while
// admitting it would put more than maxBytes declared bytes or more than
// maxFiles uploads in flight. It never refuses for that reason (only after
// maxWait, when set). Waiters are admitted first come, first served: a
// waiter that does not fit holds back those behind it, so a large upload
// is not starved by a stream of small ones. An upload larger than maxBytes
// on its own is admitted when nothing else is in flight.
type uploadLimiter struct {
	maxBytes  int64         // 0 = unlimited
	maxFiles  int64         // 0 = unlimited
	maxWait   time.Duration // 0 = wait as long as the client does
	throttle  error         // returned when maxWait passes
	metrics   *metrics.Metrics
	throttled prometheus.Counter // nil without metrics

	mu sync.Mutex
	// Guarded by mu:
	bytes int64     // declared bytes of admitted uploads
	files int64     // admitted uploads
	queue list.List // of *uploadWaiter, in arrival order

	// clients checks the clients of queued uploads (clientgone.go).
	clients clientWatch
}

// uploadWaiter is an upload in the queue.
type uploadWaiter struct {
	u     *uploadLimiter
	n     int64
	ready chan struct{} // closed when admitted or sent away
	elem  *list.Element
	// Guarded by uploadLimiter.mu, final once ready is closed:
	admitted bool
	left     error // why it was sent away (its client left)
	// watched is its index in clients.watched plus one; 0 = not watched.
	// Guarded by clients.mu.
	watched int
}

// uploadTicket is an admitted upload; release it exactly once.
type uploadTicket struct {
	bytes int64
	held  bool
}

// acquire admits an upload of n declared bytes (0 for a copy), waiting
// for capacity. It returns ctx's error when ctx ends first, the throttle
// error when maxWait passes and the error given to the waiter's leave
// when it was sent away; then nothing is counted. queued, when not nil,
// is called (without the lock) if the upload has to wait, with its place
// in the queue: it may start watching the client (watch, leave).
func (u *uploadLimiter) acquire(ctx context.Context, n int64, queued func(*uploadWaiter)) (uploadTicket, error) {
	if n < 0 {
		n = 0
	}
	u.mu.Lock()
	if u.queue.Len() == 0 && u.fitsLocked(n) {
		u.files++
		u.bytes += n
		u.mu.Unlock()
		u.metrics.ObserveUploadWait(0)
		return uploadTicket{bytes: n, held: true}, nil
	}
	w := &uploadWaiter{u: u, n: n, ready: make(chan struct{})}
	w.elem = u.queue.PushBack(w)
	u.mu.Unlock()
	if queued != nil {
		queued(w)
	}
	defer u.clients.remove(w)

	start := time.Now()
	var timeout <-chan time.Time
	if u.maxWait > 0 {
		t := time.NewTimer(u.maxWait)
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case <-w.ready:
		if w.left != nil {
			return uploadTicket{}, w.left
		}
		u.metrics.ObserveUploadWait(time.Since(start))
		return uploadTicket{bytes: n, held: true}, nil
	case <-ctx.Done():
		err = context.Cause(ctx)
	case <-timeout:
		err = u.throttle
		if u.throttled != nil {
			u.throttled.Inc()
		}
	}
	u.mu.Lock()
	switch {
	case w.admitted:
		// Admitted in the instant we gave up: hand the capacity on.
		u.files--
		u.bytes -= n
	case w.left == nil:
		u.queue.Remove(w.elem)
	}
	// Either way the head of the queue may fit now.
	u.grantLocked()
	u.mu.Unlock()
	return uploadTicket{}, err
}

// leave sends w away from the queue with err, unless it was admitted
// or sent away before: its acquire returns err. Safe to call from any
// goroutine, more than once, and after acquire returned.
func (w *uploadWaiter) leave(err error) {
	u := w.u
	u.mu.Lock()
	if !w.admitted && w.left == nil {
		w.left = err
		u.queue.Remove(w.elem)
		close(w.ready)
		// The waiters behind it may fit now.
		u.grantLocked()
	}
	u.mu.Unlock()
}

// release gives an admitted upload's capacity back and admits waiters
// that now fit.
func (u *uploadLimiter) release(t uploadTicket) {
	if !t.held {
		return
	}
	u.mu.Lock()
	u.files--
	u.bytes -= t.bytes
	u.grantLocked()
	u.mu.Unlock()
}

// fitsLocked reports whether an upload of n bytes may start now.
func (u *uploadLimiter) fitsLocked(n int64) bool {
	if u.maxFiles > 0 && u.files >= u.maxFiles {
		return false
	}
	if u.maxBytes > 0 && u.bytes > u.maxBytes-n {
		// Over the byte limit; alone it may go, or it could never start.
		return u.files == 0
	}
	return true
}

// grantLocked admits waiters from the head of the queue while they fit.
func (u *uploadLimiter) grantLocked() {
	for e := u.queue.Front(); e != nil; e = u.queue.Front() {
		w := e.Value.(*uploadWaiter)
		if !u.fitsLocked(w.n) {
			return
		}
		u.queue.Remove(e)
		w.admitted = true
		u.files++
		u.bytes += w.n
		close(w.ready)
	}
}

// stats returns the uploads in flight and waiting.
func (u *uploadLimiter) stats() metrics.UploadStats {
	u.mu.Lock()
	defer u.mu.Unlock()
	return metrics.UploadStats{Files: u.files, Bytes: u.bytes, Waiting: int64(u.queue.Len())}
}
