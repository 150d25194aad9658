package server

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"time"
)

// responseWriter records the status and byte count of a response. It stays
// transparent: Unwrap lets http.ResponseController reach the connection,
// and ReadFrom keeps the sendfile path of the underlying writer.
//
// It also bounds how long a write may wait for a client that stopped
// reading: before each write the connection's write deadline moves to
// idle from now, so a client that reads slowly but steadily is served,
// while one that stops reading (holding a data file and a Read slot of
// the circuit breaker) is cut off. ReadFrom copies in pieces of
// readFromPiece bytes, each with a fresh deadline, without losing the
// sendfile/splice path (io.LimitedReader is understood by both).
type responseWriter struct {
	http.ResponseWriter
	ctl         *http.ResponseController
	idle        time.Duration // 0 = no write deadline
	status      int
	wroteHeader bool
	written     int64
}

// readFromPiece is the most ReadFrom sends under one write deadline: with
// the default 1 minute idle timeout a client must read about 17 KiB/s
// (136 kbit/s). Smaller pieces cost splice/sendfile throughput: 256 KiB
// pieces nearly doubled s3limit's CPU per 64 MiB gateway GET.
const readFromPiece = 1 << 20

// extend moves the write deadline to idle from now.
func (w *responseWriter) extend() {
	if w.idle > 0 {
		_ = w.ctl.SetWriteDeadline(time.Now().Add(w.idle))
	}
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status = code
		w.wroteHeader = code >= 200 // 1xx informational responses are not final
		if code < 200 {
			w.status = 0
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.extend()
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.idle <= 0 {
		n, err := w.copyFrom(r)
		w.written += n
		return n, err
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
		w.extend()
		n, err := w.copyFrom(&io.LimitedReader{R: src, N: piece})
		total += n
		w.written += n
		if remaining > 0 {
			remaining -= n
		}
		if err != nil || n < piece {
			return total, err
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
	w.extend()
	_ = w.ctl.Flush()
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type writerOnly struct{ io.Writer }

// idleBody extends the connection's read deadline before every read of a
// request body, so a client that stops sending is cut off after idle
// while a large upload that keeps moving is never capped.
type idleBody struct {
	rc   io.ReadCloser
	ctl  *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	_ = b.ctl.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.rc.Read(p)
	if err != nil {
		// The body is done: lift the deadline so that the server's
		// background read does not time out while the handler works on.
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (b *idleBody) Close() error { return b.rc.Close() }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
