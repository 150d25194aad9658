package store

import (
	"errors"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Group commit. Every bbolt commit ends in fsyncs, and bbolt runs one
// writable transaction at a time, so writes that each commit on their
// own queue behind one another's fsyncs. The committer runs the
// metadata changes of concurrent writes in one transaction instead: a
// write queues its change and waits; one goroutine takes everything
// queued, applies it in queue order and commits once. While it commits,
// the next writes queue up for the next transaction. A lone write waits
// for nobody (there is no batching delay), and under load a commit
// carries every write that arrived during the previous one.
//
// The result is the same as committing the changes one by one in queue
// order: a change that fails is taken out, the transaction is rolled
// back and the rest are applied again without it, so a failed change
// leaves no trace. Changes may therefore run more than once and must set
// their outputs afresh each time; none is visible to readers, nor
// acknowledged, before the commit that holds it returned.

// errClosed answers writes queued after Close.
var errClosed = errors.New("store: closed")

// maxBatch bounds the changes in one transaction, so that a failing
// change never makes the rest run more than a bounded number of times.
const maxBatch = 256

type commitReq struct {
	fn   func(*bolt.Tx) error
	done chan error // buffered; receives the outcome once
}

// committer applies queued changes in shared transactions.
type committer struct {
	db   *bolt.DB
	wake chan struct{} // capacity 1: the queue may be non-empty
	done chan struct{} // closed when the loop has ended

	mu     sync.Mutex
	queue  []*commitReq // guarded by mu
	closed bool         // guarded by mu
}

func newCommitter(db *bolt.DB) *committer {
	c := &committer{db: db, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.loop()
	return c
}

// update runs fn in a writable transaction shared with other writes and
// returns once that transaction committed (nil) or fn's error, or the
// commit's.
func (c *committer) update(fn func(*bolt.Tx) error) error {
	req := &commitReq{fn: fn, done: make(chan error, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed
	}
	c.queue = append(c.queue, req)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
	return <-req.done
}

// close commits what is queued, refuses later writes and stops the loop.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	for range c.wake {
		for {
			c.mu.Lock()
			n := min(len(c.queue), maxBatch)
			batch := make([]*commitReq, n)
			copy(batch, c.queue)
			rest := copy(c.queue, c.queue[n:])
			clear(c.queue[rest:]) // let committed requests be collected
			c.queue = c.queue[:rest]
			closed := c.closed
			c.mu.Unlock()
			if n == 0 {
				if closed {
					return
				}
				break
			}
			c.commit(batch)
		}
	}
}

// commit applies batch in one transaction, taking out failing changes.
func (c *committer) commit(batch []*commitReq) {
	for len(batch) > 0 {
		failed := -1
		var fnErr error
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, r := range batch {
				if err := r.fn(tx); err != nil {
					failed, fnErr = i, err
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, r := range batch {
				r.done <- err
			}
			return
		}
		// Everything before the failed change runs again without it;
		// everything after it has not run yet.
		batch[failed].done <- fnErr
		batch = append(batch[:failed], batch[failed+1:]...)
	}
}
