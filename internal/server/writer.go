package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"syscall"

	"github.com/s3limit/s3limit/internal/s3api"
)

// responseWriter records the status and byte count of a response. It stays
// transparent: Unwrap lets http.ResponseController reach the connection,
// and ReadFrom keeps the sendfile path of the underlying writer.
//
// Every write counts toward the transfer rule (progress.go), so a client
// that stops reading its download is cut off while one that reads slowly
// but steadily is served. ReadFrom copies in pieces of readFromPiece bytes
// so that progress is seen between pieces, without losing the
// sendfile/splice path (io.LimitedReader is understood by both).
//
// A failed write is recorded for the access log (err, clientGone). When the
// client has gone away, the error returned matches
// s3api.ErrClientClosedRequest (errors.Is), so that a handler copying from
// elsewhere (the gateway splicing an upstream body) does not take the
// client's hang-up for a failure of its source.
type responseWriter struct {
	http.ResponseWriter
	ctl         *http.ResponseController
	rule        *progressRule
	body        *body // the request body; nil when there is none
	peer        peer  // the client's connection, as the kernel sees it
	status      int
	wroteHeader bool
	written     int64
	err         error // the first failed write to the client
	clientGone  bool  // the client had closed or reset its connection when err happened
	mayHold     bool  // the response may be held for one write (coalescingConn): a body follows
	holding     bool  // it is held, until release
}

// readFromPiece is the most ReadFrom sends as one piece. Smaller pieces
// cost splice/sendfile throughput (256 KiB pieces nearly doubled the CPU
// of a 64 MiB gateway GET); within a piece, progress is read from the
// kernel's count of acknowledged bytes where the platform has one.
const readFromPiece = 1 << 20

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status = code
		w.wroteHeader = code >= 200 // 1xx informational responses are not final
		if code < 200 {
			w.status = 0
		} else if w.body != nil && !w.body.eof.Load() {
			// Answering before the body was read to its end (an early
			// error, a refused upload): close the connection rather than
			// let net/http drain a body the client may never send.
			w.Header().Set("Connection", "close")
		}
		if w.wroteHeader && w.mayHold {
			w.startHold()
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// startHold holds a response with a small declared body on the
// connection, so that its headers and body leave in one write when the
// handler is done (ServeHTTP releases it after the response is counted
// and logged, where net/http would have sent its last buffered bytes).
func (w *responseWriter) startHold() {
	cl := w.Header()["Content-Length"]
	if len(cl) != 1 {
		return
	}
	n, err := strconv.ParseInt(cl[0], 10, 64)
	if err != nil || n <= 0 || n > coalesceMax {
		return
	}
	w.holding = true
	w.peer.cc.hold()
}

// release sends a held response: what net/http buffered, then what the
// connection held, in one write.
func (w *responseWriter) release() error {
	if !w.holding {
		return nil
	}
	w.holding = false
	err := w.ctl.Flush()
	if rerr := w.peer.cc.release(); err == nil {
		err = rerr
	}
	return err
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.rule.begin(true)
	n, err := w.ResponseWriter.Write(p)
	w.rule.end(true, int64(n))
	w.written += int64(n)
	if err != nil {
		return n, w.failed(err, true)
	}
	return n, nil
}

func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	// sendfile and splice look through one *io.LimitedReader only: when r
	// is one already, cut the pieces from what it wraps.
	src, remaining := r, int64(-1)
	if lr, ok := r.(*io.LimitedReader); ok {
		src, remaining = lr.R, lr.N
		defer func() { lr.N = remaining }()
	}
	var total int64
	for remaining != 0 {
		piece := int64(readFromPiece)
		if remaining > 0 {
			piece = min(piece, remaining)
		}
		w.rule.beginPiece()
		n, err := w.copyFrom(&io.LimitedReader{R: src, N: piece})
		w.rule.endPiece(n)
		total += n
		w.written += n
		if remaining > 0 {
			remaining -= n
		}
		if err != nil {
			return total, w.failed(err, false)
		}
		if n < piece {
			return total, nil
		}
	}
	return total, nil
}

// copyFrom copies r to the underlying writer, through its ReadFrom when
// it has one (sendfile, splice).
func (w *responseWriter) copyFrom(r io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, r)
}

func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.rule.begin(true)
	if w.holding {
		if err := w.release(); err != nil {
			_ = w.failed(err, true)
		}
	} else {
		_ = w.ctl.Flush()
	}
	w.rule.end(true, 0)
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// failed records a failed write and tells whether the client left. A
// failed ReadFrom may be its source's fault (a spliced upstream socket):
// only the kernel's view of the client's connection decides it then; a
// failed Write is the connection's, and where the kernel cannot be asked,
// a reset or broken pipe says the client left.
func (w *responseWriter) failed(err error, write bool) error {
	if w.err == nil {
		w.err = err
		if st, ok := w.peer.state(); ok {
			w.clientGone = st.closed
		} else {
			w.clientGone = write && (errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET))
		}
	}
	if w.clientGone {
		return &clientGoneError{err: err}
	}
	return err
}

// clientGoneError is a write that failed because the client left. It
// matches both s3api.ErrClientClosedRequest and the write's own error.
type clientGoneError struct{ err error }

func (e *clientGoneError) Error() string   { return "the client closed the connection: " + e.err.Error() }
func (e *clientGoneError) Unwrap() []error { return []error{s3api.ErrClientClosedRequest, e.err} }

// complete reports whether the response was written to its end: a final
// status, no failed write, and the declared Content-Length reached (HEAD
// responses declare the length of a body they do not send).
func (w *responseWriter) complete(method string) bool {
	if !w.wroteHeader || w.err != nil {
		return false
	}
	if method == http.MethodHead {
		return true
	}
	if cl := w.Header().Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		return err != nil || w.written >= n
	}
	return true
}

type writerOnly struct{ io.Writer }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
