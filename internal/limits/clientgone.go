package limits

import (
	"context"
	"time"
)

// A queued upload whose client leaves must leave the queue at once, or
// its object could be written after the client gave up (and after a
// DELETE of the same key). The read-ahead notices a client that leaves
// only by reading, which it stops doing after readAheadMax bytes, and a
// client that sent "Expect: 100-continue" is not read at all. So while an
// upload waits, the middleware also asks the kernel whether the client's
// connection is still open, every clientGonePoll, through the function the
// server puts in the request context.

// clientGonePoll is how often a queued upload checks on its client: a
// client that leaves is out of the queue within this long.
const clientGonePoll = 200 * time.Millisecond

type clientGoneKey struct{}

// WithClientGone returns a context carrying gone, which reports whether
// the request's client has closed its connection (the server answers it
// from the kernel's TCP state, even while sent data is unread).
func WithClientGone(ctx context.Context, gone func() bool) context.Context {
	return context.WithValue(ctx, clientGoneKey{}, gone)
}

// watchClient calls leave when the client of ctx is found gone, until
// stop is called. It does nothing when ctx carries no gone function.
func watchClient(ctx context.Context, leave func(error)) (stop func()) {
	gone, _ := ctx.Value(clientGoneKey{}).(func() bool)
	if gone == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(clientGonePoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if gone() {
					leave(errClientGone)
					return
				}
			}
		}
	}()
	return func() { close(done) }
}
