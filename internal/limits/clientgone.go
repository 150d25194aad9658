package limits

import (
	"sync"
	"time"
)

// A queued upload whose client leaves must leave the queue at once, or
// its object could be written after the client gave up (and after a
// DELETE of the same key). net/http notices a client that leaves only by
// reading from its connection, which it does not do while the upload's
// body waits unread. So while uploads wait, one goroutine asks the kernel,
// every clientGonePoll, whether each one's client is still connected,
// through the check Options.ClientCheck gives for it. An upload with no
// check (a platform or connection the server cannot ask about) reads
// ahead the start of its body instead (readahead.go).
//
// One goroutine for all the waiters, rather than one each, because a
// queue can hold many thousands of uploads: each would otherwise keep a
// goroutine, a ticker and a context, and wake up on its own.

// clientGonePoll is how often a queued upload's client is checked: a
// client that leaves is out of the queue within this long (plus the time
// to check the others).
const clientGonePoll = 200 * time.Millisecond

// clientWatch checks the clients of an upload limiter's queued uploads.
// Its goroutine starts with the first watched upload and ends at the
// first poll that finds none. The zero value is ready to use.
type clientWatch struct {
	mu sync.Mutex
	// Guarded by mu:
	watched []watchedUpload // in no particular order
	running bool            // the goroutine is running
}

type watchedUpload struct {
	w     *uploadWaiter
	check func() bool
}

// add watches w's client with check (which reports the client gone)
// until remove: once check reports it gone, w is sent away.
func (c *clientWatch) add(w *uploadWaiter, check func() bool) {
	c.mu.Lock()
	c.watched = append(c.watched, watchedUpload{w: w, check: check})
	w.watched = len(c.watched)
	start := !c.running
	c.running = true
	c.mu.Unlock()
	if start {
		go c.run()
	}
}

// remove stops watching w; it does nothing when w is not watched.
func (c *clientWatch) remove(w *uploadWaiter) {
	c.mu.Lock()
	if i := w.watched - 1; i >= 0 {
		last := len(c.watched) - 1
		if i != last {
			c.watched[i] = c.watched[last]
			c.watched[i].w.watched = i + 1
		}
		c.watched[last] = watchedUpload{}
		c.watched = c.watched[:last]
		w.watched = 0
		if cap(c.watched) > 64 && len(c.watched) < cap(c.watched)/4 {
			// Give back the memory of a queue that was long.
			c.watched = append([]watchedUpload(nil), c.watched...)
		}
	}
	c.mu.Unlock()
}

// run polls the watched clients until there are none. The checks run
// outside the lock on a copy of the list, so adding and removing never
// wait for a poll; an upload removed meanwhile may be checked once more,
// which is harmless (leave does nothing once it was admitted or left).
func (c *clientWatch) run() {
	t := time.NewTicker(clientGonePoll)
	defer t.Stop()
	var batch []watchedUpload
	more := true
	for more {
		<-t.C
		batch, more = c.poll(batch)
	}
}

// poll checks every watched client once, using batch (returned for the
// next poll) as scratch space. It reports false, and marks the goroutine
// stopped, when nothing was watched.
func (c *clientWatch) poll(batch []watchedUpload) ([]watchedUpload, bool) {
	c.mu.Lock()
	if len(c.watched) == 0 {
		c.running = false
		c.watched = nil
		c.mu.Unlock()
		return nil, false
	}
	batch = append(batch[:0], c.watched...)
	c.mu.Unlock()
	for _, wu := range batch {
		if wu.check() {
			wu.w.leave(errClientGone)
		}
	}
	clear(batch) // keep no finished upload alive until the next poll
	if cap(batch) > 64 && len(batch) < cap(batch)/4 {
		batch = nil
	}
	return batch, true
}
