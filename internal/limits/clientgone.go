package limits

import (
	"context"
	"net/http"
	"time"
)

// A queued upload whose client leaves must leave the queue at once, or
// its object could be written after the client gave up (and after a
// DELETE of the same key). The read-ahead notices a client that leaves
// only by reading, which it stops doing after readAheadMax bytes, and a
// client that sent "Expect: 100-continue" is not read at all. So while an
// upload waits, the middleware also asks the kernel whether the client's
// connection is still open, every clientGonePoll, through
// Options.ClientGone.

// clientGonePoll is how often a queued upload checks on its client: a
// client that leaves is out of the queue within this long.
const clientGonePoll = 200 * time.Millisecond

// watchClient calls leave when gone reports r's client gone, until stop
// is called or ctx ends. It does nothing when gone is nil.
func watchClient(ctx context.Context, r *http.Request, gone func(*http.Request) bool, leave func(error)) (stop func()) {
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
				if gone(r) {
					leave(errClientGone)
					return
				}
			}
		}
	}()
	return func() { close(done) }
}
