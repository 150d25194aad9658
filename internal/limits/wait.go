package limits

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Waiting instead of refusing: a section with a wait ("wait": "5s") lets a
// request over one of its count or bytes limits wait up to that long for
// room instead of being refused at once. Waiters queue per slot (scope,
// name, action), first come first served: a request that finds others
// waiting queues behind them, and each release wakes the head of the
// queue. A waiter whose client goes away leaves the queue at once (its
// request context ends); one that waited the whole time is refused with
// the limit's usual answer.

// waitQueue is the FIFO of requests waiting for room in one slot.
type waitQueue struct {
	mu      sync.Mutex
	waiters list.List // of *waiter; guarded by mu
}

type waiter struct {
	ch   chan struct{} // closed when the waiter is woken (and removed)
	elem *list.Element // nil once removed
}

// queue returns the slot's wait queue, creating it on first use.
func (sl *slot) queue() *waitQueue {
	if q := sl.waitq.Load(); q != nil {
		return q
	}
	sl.waitq.CompareAndSwap(nil, new(waitQueue))
	return sl.waitq.Load()
}

// push adds a waiter at the back, or at the front for one that was woken
// and found no room after all.
func (sl *slot) push(front bool) *waiter {
	q := sl.queue()
	w := &waiter{ch: make(chan struct{})}
	q.mu.Lock()
	if front {
		w.elem = q.waiters.PushFront(w)
	} else {
		w.elem = q.waiters.PushBack(w)
	}
	sl.waiting.Add(1)
	q.mu.Unlock()
	return w
}

// remove takes w out of the queue; it reports false when w was already
// woken (and so removed) by wake.
func (sl *slot) remove(w *waiter) bool {
	q := sl.queue()
	q.mu.Lock()
	defer q.mu.Unlock()
	if w.elem == nil {
		return false
	}
	q.waiters.Remove(w.elem)
	w.elem = nil
	sl.waiting.Add(-1)
	return true
}

// wake wakes the head of the queue, if any.
func (sl *slot) wake() {
	q := sl.waitq.Load()
	if q == nil {
		return
	}
	q.mu.Lock()
	if e := q.waiters.Front(); e != nil {
		w := e.Value.(*waiter)
		q.waiters.Remove(e)
		w.elem = nil
		sl.waiting.Add(-1)
		close(w.ch)
	}
	q.mu.Unlock()
}

// blocked describes the limit that refused a request, when its section
// lets requests wait.
type blocked struct {
	sl          *slot
	wait        time.Duration
	sc, ai, typ int
	// woken: the request was woken from sl's queue, so it does not queue
	// behind the waiters that are still there.
	woken *slot
}

// errWaitCanceled answers a request whose client went away while it
// waited for room (for the access log: the client is gone).
var errWaitCanceled = s3api.ErrRequestTimeout.WithMessage("The request was canceled while it waited for room under a limit.")

// AdmitWait is AdmitUser for a request that may wait: over a count or
// bytes limit of a section with a wait, it waits for room up to that
// section's wait, or until ctx ends, and is then refused as AdmitUser
// would refuse it (a 400 RequestTimeout when ctx ended).
func (b *Breaker) AdmitWait(ctx context.Context, action s3api.Action, bucket, user string, size int64) (Ticket, error) {
	var bl blocked
	t, err := b.admit(action, bucket, user, size, &bl)
	if err == nil || bl.sl == nil {
		return t, err
	}
	refusal := err
	refused := func() error {
		if c := b.throttled[bl.ai][bl.sc][bl.typ]; c != nil {
			c.Inc()
		}
		return refusal
	}
	first := bl
	start := time.Now()
	deadline := start.Add(bl.wait)
	sc := bl.sc
	b.waiting[sc].Add(1)
	defer func() {
		b.waiting[sc].Add(-1)
		b.metrics.ObserveLimitWait(scopeNames[sc], time.Since(start))
	}()
	timer := time.NewTimer(bl.wait)
	defer timer.Stop()
	front := false
	for {
		sl := bl.sl
		w := sl.push(front)
		// A release between the refusal and the push woke nobody: try
		// once more now that this request is in the queue.
		bl = blocked{woken: sl}
		if t, err = b.admit(action, bucket, user, size, &bl); err == nil {
			if !sl.remove(w) {
				sl.wake() // pass on the wake-up meant for this request
			}
			return t, nil
		}
		if bl.sl == nil { // refused by a limit that cannot be waited for
			if !sl.remove(w) {
				sl.wake()
			}
			return t, err
		}
		if bl.sl != sl {
			// Another limit is full now: wait in its queue instead.
			if !sl.remove(w) {
				sl.wake()
			}
			front = false
			if time.Now().After(deadline) {
				bl = first
				return Ticket{}, refused()
			}
			continue
		}
		select {
		case <-w.ch:
			front = true // woken: retry at the head of the queue
			bl.sl = sl
		case <-ctx.Done():
			if !sl.remove(w) {
				sl.wake()
			}
			return Ticket{}, errWaitCanceled
		case <-timer.C:
			if !sl.remove(w) {
				sl.wake()
			}
			bl = first
			return Ticket{}, refused()
		}
	}
}
