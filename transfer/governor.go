package transfer

import (
	"context"
	"sync"
)

// outcome is how a request ended, as far as the concurrency window cares.
type outcome int

const (
	outcomeOK        outcome = iota // the server answered normally
	outcomeThrottled                // SlowDown, RequestBytesExceed, 429, 503
	outcomeFailed                   // any other failure; the window is left alone
)

// governor is the manager's adaptive request window: at most limit
// requests are in flight. limit follows AIMD: it halves on a throttling
// answer (at most once per round, see epoch) and grows by 1/limit on each
// success, so by about one per round of requests, up to max. Waiters are
// admitted in FIFO order. It is safe for concurrent use.
type governor struct {
	max int

	mu sync.Mutex // guards the fields below
	// limit is the window, 1 <= limit <= max. Requests may start while
	// inFlight < int(limit).
	limit    float64
	inFlight int
	// epoch advances on every decrease. A throttle from a request admitted
	// before the last decrease does not decrease again: one burst of
	// simultaneous refusals halves the window once, not once per request.
	epoch   uint64
	waiters []*waiter
	// Counters reported by Stats.
	requests, throttles, minLimit int64
}

type waiter struct {
	ready chan struct{} // closed when admitted
	epoch uint64        // set when admitted
}

// slot is one admitted request; pass it back to release.
type slot struct{ epoch uint64 }

func newGovernor(max int) *governor {
	return &governor{max: max, limit: float64(max), minLimit: int64(max)}
}

// acquire waits for a place in the window. It returns ctx's cause if ctx
// ends first; a place granted at the same moment is given back.
func (g *governor) acquire(ctx context.Context) (slot, error) {
	g.mu.Lock()
	if len(g.waiters) == 0 && g.inFlight < int(g.limit) {
		g.inFlight++
		g.requests++
		s := slot{g.epoch}
		g.mu.Unlock()
		return s, nil
	}
	w := &waiter{ready: make(chan struct{})}
	g.waiters = append(g.waiters, w)
	g.mu.Unlock()

	select {
	case <-w.ready:
		return slot{w.epoch}, nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	select {
	case <-w.ready:
		// Admitted while we were giving up: hand the place on.
		g.inFlight--
		g.requests--
		g.admitLocked()
	default:
		for i, x := range g.waiters {
			if x == w {
				g.waiters = append(g.waiters[:i], g.waiters[i+1:]...)
				break
			}
		}
		// Removing the head may let the next waiter in.
		g.admitLocked()
	}
	g.mu.Unlock()
	return slot{}, context.Cause(ctx)
}

// release ends a request admitted by acquire and adapts the window.
func (g *governor) release(s slot, o outcome) {
	g.mu.Lock()
	g.inFlight--
	switch o {
	case outcomeOK:
		g.limit += 1 / g.limit
		if g.limit > float64(g.max) {
			g.limit = float64(g.max)
		}
	case outcomeThrottled:
		g.throttles++
		if s.epoch == g.epoch {
			g.limit /= 2
			if g.limit < 1 {
				g.limit = 1
			}
			g.epoch++
			if int64(g.limit) < g.minLimit {
				g.minLimit = int64(g.limit)
			}
		}
	}
	g.admitLocked()
	g.mu.Unlock()
}

// admitLocked admits waiters in order while the window has room.
func (g *governor) admitLocked() {
	for len(g.waiters) > 0 && g.inFlight < int(g.limit) {
		w := g.waiters[0]
		g.waiters[0] = nil
		g.waiters = g.waiters[1:]
		g.inFlight++
		g.requests++
		w.epoch = g.epoch
		close(w.ready)
	}
}

// govStats is a snapshot of the governor's state.
type govStats struct {
	limit     int
	inFlight  int
	waiting   int
	requests  int64
	throttles int64
	minLimit  int
}

func (g *governor) stats() govStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return govStats{
		limit:     int(g.limit),
		inFlight:  g.inFlight,
		waiting:   len(g.waiters),
		requests:  g.requests,
		throttles: g.throttles,
		minLimit:  int(g.minLimit),
	}
}
