package server

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

// The transfer rule, one for request bodies and response bodies:
//
// A request is "waiting on its client" while at least one read of its body
// or one write of its response is blocked. Over every IdleTimeout of
// waiting, the client must move at least MinTransferRate × IdleTimeout
// bytes, and at least one byte (body bytes read plus response bytes
// written). A client that does not is cut off: the connection's deadlines
// are set to now, the blocked call fails, the request is answered
// 400 RequestTimeout where a response is still possible, and every slot it
// held is released as the handler returns.
//
// Only time spent waiting on the client counts: an upload queued by the
// upload limiter (not read), a handler busy with the disk, a client that
// sent "Expect: 100-continue" and waits to be asked for its body, are never
// held against the client. A transfer that makes steady progress is never
// capped in length.

// progressRule enforces the transfer rule for one request. Its methods are
// safe for concurrent use (the limits middleware reads ahead bodies in a
// goroutine of its own).
type progressRule struct {
	idle  time.Duration
	quota int64 // bytes per window of waiting, at least 1
	ctl   *http.ResponseController
	// sent, when set, tells the bytes the peer has acknowledged on the
	// connection (Linux TCP_INFO): a ReadFrom piece (sendfile, splice)
	// shows its progress only when it ends, so a slow but steady reader
	// is judged by what reached it.
	sent ackCounter

	mu sync.Mutex
	// Guarded by mu:
	timer      *time.Timer // nil until the first wait on the client
	done       bool        // the request ended; the timer must not act
	cut        bool        // the client was cut off
	busy       int         // client I/O calls in flight
	writing    int         // of which response writes
	busySince  time.Time   // when busy last became > 0
	waited     time.Duration
	moved      int64 // bytes moved in the current window
	piece      bool  // a ReadFrom piece is in flight
	pieceStart int64 // sent() when the piece began
}

// ackCounter reports the bytes of the response the client has
// acknowledged so far, or false when that cannot be known (peer.acked).
type ackCounter interface {
	acked() (int64, bool)
}

func newProgressRule(ctl *http.ResponseController, idle time.Duration, minRate int64, sent ackCounter) *progressRule {
	p := new(progressRule)
	p.init(ctl, idle, minRate, sent)
	return p
}

// init sets up a zero progressRule.
func (p *progressRule) init(ctl *http.ResponseController, idle time.Duration, minRate int64, sent ackCounter) {
	quota := int64(1)
	if minRate > 0 {
		quota = max(1, int64(float64(minRate)*idle.Seconds()))
	}
	p.idle, p.quota, p.ctl, p.sent = idle, quota, ctl, sent
}

// begin marks the start of a client I/O call: a body read, or a response
// write when write is set.
func (p *progressRule) begin(write bool) {
	p.mu.Lock()
	if write {
		p.writing++
	}
	if p.busy == 0 {
		p.busySince = time.Now()
		if p.timer == nil && !p.done {
			p.timer = time.AfterFunc(p.idle-p.waited, p.check)
		}
	}
	p.busy++
	p.mu.Unlock()
}

// end marks the end of a client I/O call that moved n bytes.
func (p *progressRule) end(write bool, n int64) {
	p.mu.Lock()
	if write {
		p.writing--
	}
	p.busy--
	p.moved += n
	if p.busy == 0 {
		p.waited += time.Since(p.busySince)
	}
	p.mu.Unlock()
}

// beginPiece is begin for a ReadFrom piece, whose bytes show up only at
// its end.
func (p *progressRule) beginPiece() {
	start, ok := int64(0), false
	if p.sent != nil {
		start, ok = p.sent.acked()
	}
	p.begin(true)
	p.mu.Lock()
	p.piece, p.pieceStart = ok, start
	p.mu.Unlock()
}

func (p *progressRule) endPiece(n int64) {
	p.mu.Lock()
	p.piece = false
	p.mu.Unlock()
	p.end(true, n)
}

// check runs when a window of waiting may be complete.
func (p *progressRule) check() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done || p.cut {
		return
	}
	now := time.Now()
	waited := p.waited
	if p.busy > 0 {
		waited += now.Sub(p.busySince)
	}
	if waited < p.idle {
		// Not waiting long enough yet: check again when the window could
		// be full at the earliest.
		p.timer.Reset(p.idle - waited)
		return
	}
	moved := p.moved
	if p.piece {
		if s, ok := p.sent.acked(); ok && s > p.pieceStart {
			moved += s - p.pieceStart
			p.pieceStart = s
		}
	}
	if moved < p.quota {
		// Fail the blocked calls. A client cut off while sending its body
		// still gets its 400, written under a fresh deadline, and the
		// connection is closed after it (the body was not read to its end).
		p.cut = true
		past := now.Add(-time.Second)
		_ = p.ctl.SetReadDeadline(past)
		if p.writing > 0 {
			_ = p.ctl.SetWriteDeadline(past)
		} else {
			_ = p.ctl.SetWriteDeadline(now.Add(p.idle))
		}
		return
	}
	p.moved, p.waited = 0, 0
	if p.busy > 0 {
		p.busySince = now
	}
	p.timer.Reset(p.idle)
}

// wasCut reports whether the client was cut off.
func (p *progressRule) wasCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// stop ends the rule when the request is done. It sets deadlines only
// when it cuts a client off, and that connection is then closed, so there
// is nothing to lift.
func (p *progressRule) stop() {
	p.mu.Lock()
	p.done = true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
}

// body is the request body as handlers see it. It applies the transfer
// rule, turns the client's failures into S3 errors (400, never 500: a
// client cannot set off a server's 5xx alerts), and at the end makes sure
// the client is still there, so that an upload whose client left is never
// committed (see clientGone).
type body struct {
	rc   io.ReadCloser
	rule *progressRule
	peer *peer       // the client's connection; nil = cannot tell whether it left
	eof  atomic.Bool // the body was read to its end
	err  error       // sticky failure
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	b.rule.begin(false)
	n, err := b.rc.Read(p)
	b.rule.end(false, int64(n))
	switch {
	case err == nil:
	case err == io.EOF:
		if b.peer != nil && b.peer.gone() {
			b.err = errClientGone
			return n, b.err
		}
		b.eof.Store(true)
	default:
		b.err = b.clientError(err)
		return n, b.err
	}
	return n, err
}

// clientError maps a failed body read to the S3 error S3 gives.
func (b *body) clientError(err error) error {
	var se *s3api.Error
	if errors.As(err, &se) {
		return err
	}
	var ne net.Error
	if b.rule.wasCut() || errors.As(err, &ne) && ne.Timeout() {
		return errTooSlow
	}
	return s3api.ErrIncompleteBody.WithMessage("The request body ended early: %v.", err)
}

func (b *body) Close() error { return b.rc.Close() }

var (
	errTooSlow    = s3api.ErrRequestTimeout.WithMessage("Your socket connection to the server was not read from or written to within the timeout period: the transfer made too little progress.")
	errClientGone = s3api.ErrIncompleteBody.WithMessage("The client closed the connection before the request was answered.")
)
