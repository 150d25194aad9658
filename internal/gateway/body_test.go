package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

func TestCallBodyRecordsClientFaults(t *testing.T) {
	boom := errors.New("connection reset by client")
	tests := []struct {
		name    string
		body    io.Reader
		want    int64
		wantErr error
	}{
		{"complete body", strings.NewReader("hello"), 5, nil},
		{"unknown length", strings.NewReader("hello"), -1, nil},
		{"short body is IncompleteBody", strings.NewReader("hel"), 5, s3api.ErrIncompleteBody},
		{"read error is kept", io.MultiReader(strings.NewReader("he"), errReader{boom}), 5, boom},
		{"decoder error is kept", io.MultiReader(strings.NewReader("he"), errReader{s3api.ErrSignatureDoesNotMatch}), 5, s3api.ErrSignatureDoesNotMatch},
		{"failure after the last byte", io.MultiReader(strings.NewReader("hello"), errReader{s3api.ErrBadDigest}), 5, s3api.ErrBadDigest},
		{"longer than declared", strings.NewReader("hello!"), 5, errBodyTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &call{body: io.NopCloser(tc.body), want: tc.want}
			data, err := io.ReadAll(c)
			if got := c.clientBodyErr(); !errors.Is(got, tc.wantErr) || (tc.wantErr == nil) != (got == nil) {
				t.Errorf("clientBodyErr = %v, want %v", got, tc.wantErr)
			}
			if (err == nil) != (tc.wantErr == nil) {
				t.Errorf("read error = %v, want failure %v", err, tc.wantErr != nil)
			}
			// A failed body never hands out its declared length.
			if tc.wantErr != nil && tc.want >= 0 && int64(len(data)) >= tc.want {
				t.Errorf("a failed body delivered %d of %d bytes", len(data), tc.want)
			}
		})
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// failingBody yields data and then err, as the server's aws-chunked
// decoder does when a later chunk fails verification.
type failingBody struct {
	data []byte
	err  error
}

func (b *failingBody) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		return 0, b.err
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *failingBody) Close() error { return nil }

// connTracker follows a server's connections, so a test can wait until
// the server has finished with all of them.
type connTracker struct {
	mu     sync.Mutex
	open   int           // guarded by mu
	closed chan struct{} // receives when open drops to 0
}

func trackConns(s *http.Server) *connTracker {
	ct := &connTracker{closed: make(chan struct{}, 64)}
	s.ConnState = func(_ net.Conn, st http.ConnState) {
		ct.mu.Lock()
		defer ct.mu.Unlock()
		switch st {
		case http.StateNew:
			ct.open++
		case http.StateClosed, http.StateHijacked:
			ct.open--
			if ct.open == 0 {
				ct.closed <- struct{}{}
			}
		}
	}
	return ct
}

func (ct *connTracker) waitAllClosed(t *testing.T) {
	t.Helper()
	for {
		ct.mu.Lock()
		open := ct.open
		ct.mu.Unlock()
		if open == 0 {
			return
		}
		select {
		case <-ct.closed:
		case <-time.After(guard):
			t.Fatalf("%d upstream connections still open", open)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "read tcp: i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClientBodyFaultsAreTheClients(t *testing.T) {
	tests := []struct {
		name       string
		body       io.ReadCloser
		length     int64
		wantStatus int
		wantCode   string
	}{
		{"chunk signature fails mid-body", &failingBody{data: make([]byte, 300<<10), err: s3api.ErrSignatureDoesNotMatch},
			400 << 10, http.StatusForbidden, "SignatureDoesNotMatch"},
		{"trailing checksum fails after the last byte", &failingBody{data: make([]byte, 300<<10), err: s3api.ErrBadDigest},
			300 << 10, http.StatusBadRequest, "BadDigest"},
		{"body shorter than declared", &failingBody{data: make([]byte, 10), err: io.EOF},
			100, http.StatusBadRequest, "IncompleteBody"},
		{"body longer than declared", &failingBody{data: make([]byte, 101), err: io.EOF},
			100, http.StatusBadRequest, "InvalidRequest"},
		{"client stalls", &failingBody{data: make([]byte, 10), err: timeoutErr{}},
			100, http.StatusBadRequest, "RequestTimeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var upstreamErrs []error // guarded by mu: how each upstream body read ended
			up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := io.Copy(io.Discard, r.Body)
				mu.Lock()
				upstreamErrs = append(upstreamErrs, err)
				mu.Unlock()
			}))
			conns := trackConns(up.Config)
			up.Start()
			t.Cleanup(up.Close)
			g := newGateway(t, Config{Upstream: up.URL})
			fr := front(t, g, func(r *http.Request) {
				r.Body, r.ContentLength = tc.body, tc.length
			})
			resp, err := guardedClient().Post(fr.URL+"/b1b/obj", "", strings.NewReader("x"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || !bytes.Contains(body, []byte("<Code>"+tc.wantCode+"</Code>")) {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tc.wantStatus, tc.wantCode)
			}
			conns.waitAllClosed(t) // the upstream is done with every request
			mu.Lock()
			defer mu.Unlock()
			// The upstream never sees a complete body, and a cut one ends
			// with a reset, not a clean close that a lax server could take
			// for the end of the object.
			for _, err := range upstreamErrs {
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("upstream body read ended with %v, want a connection reset", err)
				}
			}
		})
	}
}
