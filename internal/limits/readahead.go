package limits

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Read-ahead of queued uploads the server cannot check on otherwise.
//
// An upload whose client the server can check (Options.ClientCheck, on
// Linux from the kernel's TCP state) is left alone while it waits: the
// check sees the client leave, and its body stays in the socket buffers
// until it is admitted. For the others:
//
// net/http (HTTP/1.1) notices that a client went away only by reading
// from its connection, and it starts reading on its own only after the
// request body has been read to the end. An upload that waits in the
// queue has not read its body, so without help a client that gives up
// keeps its place until admitted, and if its whole body was already in
// the socket buffer the object would even be created. While an upload
// waits, a goroutine therefore reads the start of its body (at most
// readAheadMax bytes, within a server-wide budget): a read error or a body
// shorter than declared means the client is gone, and the wait ends at
// once (a body that fails verification ends it with that S3 error); a
// body that fits is read to its end, which lets net/http watch the
// connection and cancel the request context when the client leaves.
//
// Clients that sent "Expect: 100-continue" are left alone: reading would
// send "100 Continue" and invite the body the queue is holding back. Such
// a client has sent nothing, so if it leaves, the upload fails at its
// first read once admitted and creates nothing.
const (
	readAheadMax    = 64 << 10
	readAheadBudget = 64 << 20
)

// readAhead reads the first bytes of a queued upload's body. Once admitted
// it is the request body: one reader at a time, which may be another
// goroutine than the handler's (a proxy's transport), so the budget it
// holds is returned with an atomic swap, exactly once, by whichever of
// Read and finish comes first.
type readAhead struct {
	body   io.ReadCloser
	budget *atomic.Int64
	held   atomic.Int64 // budget taken, returned when the reading is done

	done chan struct{} // closed when buf and err are final
	buf  []byte
	err  error // read error other than io.EOF
	eof  bool
	off  int // next unread byte of buf (reader side only)
}

// startReadAhead begins reading the body of r (declared size n) unless the
// request expects 100-continue or the budget is spent; gone is called
// when the client turns out to have left. It returns nil when it did not
// start.
func startReadAhead(r *http.Request, n int64, budget *atomic.Int64, gone func(error)) *readAhead {
	if n <= 0 || r.Body == nil || r.Body == http.NoBody || strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		return nil
	}
	size := min(n, readAheadMax)
	if budget.Add(size) > readAheadBudget {
		budget.Add(-size)
		return nil
	}
	ra := &readAhead{body: r.Body, budget: budget, done: make(chan struct{}), buf: make([]byte, size)}
	ra.held.Store(size)
	go ra.run(n, gone)
	return ra
}

func (ra *readAhead) run(declared int64, gone func(error)) {
	defer close(ra.done)
	got, err := io.ReadFull(ra.body, ra.buf)
	ra.buf = ra.buf[:got]
	switch {
	case err == nil:
		if int64(got) == declared {
			// The whole body is here; one more read sees its end and
			// lets net/http watch the connection.
			var one [1]byte
			if _, err := ra.body.Read(one[:]); err == io.EOF {
				ra.eof = true
			}
		}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		ra.err = io.ErrUnexpectedEOF
		gone(errClientGone)
	default:
		ra.err = err
		var refusal *s3api.Error
		if errors.As(err, &refusal) {
			// The body failed verification (a chunk signature, the
			// aws-chunked framing): that is the answer, not a timeout.
			gone(err)
			return
		}
		gone(errClientGone)
	}
}

// errClientGone ends the wait of an upload whose body broke off.
var errClientGone = errors.New("limits: client went away while its upload was queued")

// finish waits for the reading to stop and returns the budget if Read has
// not. Safe to call more than once and concurrently with Read.
func (ra *readAhead) finish() {
	<-ra.done
	ra.release()
}

// release returns the budget, once.
func (ra *readAhead) release() {
	if n := ra.held.Swap(0); n != 0 {
		ra.budget.Add(-n)
	}
}

// Read serves the bytes read ahead, then the rest of the body.
func (ra *readAhead) Read(p []byte) (int, error) {
	<-ra.done
	if ra.off < len(ra.buf) {
		n := copy(p, ra.buf[ra.off:])
		ra.off += n
		if ra.off == len(ra.buf) {
			ra.release()
			ra.buf = nil
			ra.off = 0
		}
		return n, nil
	}
	if ra.err != nil {
		return 0, ra.err
	}
	if ra.eof {
		return 0, io.EOF
	}
	return ra.body.Read(p)
}

// Close closes the body.
func (ra *readAhead) Close() error { return ra.body.Close() }
