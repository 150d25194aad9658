package server

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// recordingWriter records what its ReadFrom was handed.
type recordingWriter struct {
	*httptest.ResponseRecorder
	sources []io.Reader
}

func (w *recordingWriter) ReadFrom(r io.Reader) (int64, error) {
	w.sources = append(w.sources, r)
	return io.Copy(w.ResponseRecorder, r)
}

// Go's sendfile and splice look through exactly one *io.LimitedReader;
// pieces cut around a LimitedReader the caller passed hid the file or
// socket and made 64 MiB gateway GETs copy through user space.
func TestReadFromKeepsOneLevelOfLimitedReader(t *testing.T) {
	data := strings.Repeat("x", 3*readFromPiece+10)
	src := strings.NewReader(data)
	lr := &io.LimitedReader{R: src, N: int64(2*readFromPiece + 5)}
	rec := &recordingWriter{ResponseRecorder: httptest.NewRecorder()}
	ctl := http.NewResponseController(rec.ResponseRecorder)
	rule := newProgressRule(ctl, time.Minute, 1024, nil)
	defer rule.stop()
	w := &responseWriter{ResponseWriter: rec, ctl: ctl, rule: rule}
	n, err := w.ReadFrom(lr)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if n != int64(2*readFromPiece+5) {
		t.Fatalf("copied %d bytes, want %d", n, 2*readFromPiece+5)
	}
	if lr.N != 0 {
		t.Errorf("caller's LimitedReader has N=%d left, want 0", lr.N)
	}
	if !bytes.Equal(rec.Body.Bytes(), []byte(data[:n])) {
		t.Error("copied bytes differ from the source")
	}
	for i, s := range rec.sources {
		piece, ok := s.(*io.LimitedReader)
		if !ok {
			t.Fatalf("piece %d is %T, want *io.LimitedReader", i, s)
		}
		if piece.R != io.Reader(src) {
			t.Fatalf("piece %d wraps %T, want the caller's source itself", i, piece.R)
		}
	}
}
