package server

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
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
type responseWriter struct {
	http.ResponseWriter
	ctl         *http.ResponseController
	rule        *progressRule
	body        *body // the request body; nil when there is none
	status      int
	wroteHeader bool
	written     int64
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
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.rule.begin(true)
	n, err := w.ResponseWriter.Write(p)
	w.rule.end(true, int64(n))
	w.written += int64(n)
	return n, err
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
	w.rule.begin(true)
	_ = w.ctl.Flush()
	w.rule.end(true, 0)
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type writerOnly struct{ io.Writer }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
