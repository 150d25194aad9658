package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

// guard bounds how long a test client waits, so that a regression (a
// proxy that buffers, a lost wake-up) fails instead of hanging.
const guard = 10 * time.Second

func guardedClient() *http.Client {
	return &http.Client{Timeout: guard, Transport: &http.Transport{ExpectContinueTimeout: guard}}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUpstreamFailuresBecomeS3Errors(t *testing.T) {
	tests := []struct {
		name       string
		upstream   func(t *testing.T) string // returns the upstream URL
		timeout    time.Duration
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{
			name:       "upstream down",
			upstream:   func(t *testing.T) string { return "http://" + deadAddr(t) },
			wantStatus: http.StatusBadGateway, wantCode: "BadGateway", wantMsg: "refused the connection",
		},
		{
			name: "upstream slow to answer",
			upstream: func(t *testing.T) string {
				release := make(chan struct{})
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}))
				t.Cleanup(srv.Close)
				t.Cleanup(func() { close(release) })
				return srv.URL
			},
			timeout:    50 * time.Millisecond,
			wantStatus: http.StatusGatewayTimeout, wantCode: "GatewayTimeout", wantMsg: "did not answer in time",
		},
		{
			name: "upstream drops the connection",
			upstream: func(t *testing.T) string {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						conn.Close()
					}
				}))
				t.Cleanup(srv.Close)
				return srv.URL
			},
			wantStatus: http.StatusBadGateway, wantCode: "BadGateway", wantMsg: "closed the connection",
		},
		{
			name:       "upstream name does not resolve",
			upstream:   func(t *testing.T) string { return "http://upstream.invalid:9000" },
			wantStatus: http.StatusBadGateway, wantCode: "BadGateway", wantMsg: "cannot be resolved",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			upURL := tc.upstream(t)
			g := newGateway(t, Config{Upstream: upURL, ResponseHeaderTimeout: tc.timeout})
			fr := front(t, g, nil)
			for _, method := range []string{http.MethodGet, http.MethodPut} {
				req, _ := http.NewRequest(method, fr.URL+"/b1b/obj", strings.NewReader("body"))
				resp, err := guardedClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.wantStatus || !bytes.Contains(body, []byte("<Code>"+tc.wantCode+"</Code>")) {
					t.Fatalf("%s: got %d %s, want %d %s", method, resp.StatusCode, body, tc.wantStatus, tc.wantCode)
				}
				if !bytes.Contains(body, []byte(tc.wantMsg)) || !bytes.Contains(body, []byte(upURL)) {
					t.Errorf("%s: message should say %q and name %s: %s", method, tc.wantMsg, upURL, body)
				}
				if !bytes.Contains(body, []byte("<RequestId>front-req-1</RequestId>")) || !bytes.Contains(body, []byte("<Resource>/b1b/obj</Resource>")) {
					t.Errorf("%s: error lacks the client's request id or resource: %s", method, body)
				}
			}
		})
	}
}

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

func TestClientGoneIsRecordedNotReported(t *testing.T) {
	arrived := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // the gateway must cancel the upstream request
	}))
	t.Cleanup(up.Close)
	var logs bytes.Buffer
	g := newGateway(t, Config{Upstream: up.URL, Logger: newTestLogger(&logs)})
	status := make(chan int, 1)
	fr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &s3api.Info{Bucket: "b1b", Key: "obj", RequestID: "r1"}
		sw := &statusWriter{ResponseWriter: w}
		g.ServeHTTP(sw, r.WithContext(s3api.NewContext(r.Context(), info)))
		status <- sw.status
	}))
	t.Cleanup(fr.Close)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fr.URL+"/b1b/obj", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := guardedClient().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error = %v", err)
	}
	if got := <-status; got != ErrClientClosedRequest.StatusCode {
		t.Errorf("recorded status %d, want %d", got, ErrClientClosedRequest.StatusCode)
	}
	if strings.Contains(logs.String(), "upstream request failed") {
		t.Errorf("a client that left was logged as an upstream failure: %s", logs.String())
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestUpstreamCutMidBodyAbortsTheResponse(t *testing.T) {
	const declared = 1 << 20
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1048576")
		w.Write(make([]byte, 64<<10))
		rc := http.NewResponseController(w)
		rc.Flush()
		if conn, _, err := rc.Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(up.Close)
	fr := front(t, newGateway(t, Config{Upstream: up.URL, Logger: newTestLogger(io.Discard)}), nil)
	resp, err := guardedClient().Get(fr.URL + "/b1b/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err == nil || n >= declared {
		t.Fatalf("status %d, read %d bytes, err %v: a cut upstream must cut the client's response", resp.StatusCode, n, err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("client error = %v, want unexpected EOF", err)
	}
}

func TestLargeBodiesStream(t *testing.T) {
	const part = 256 << 10
	t.Run("download", func(t *testing.T) {
		release := make(chan struct{})
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "524288")
			w.Write(bytes.Repeat([]byte{'a'}, part))
			http.NewResponseController(w).Flush()
			<-release // the second half waits until the client has the first
			w.Write(bytes.Repeat([]byte{'b'}, part))
		}))
		t.Cleanup(up.Close)
		fr := front(t, newGateway(t, Config{Upstream: up.URL}), nil)
		resp, err := guardedClient().Get(fr.URL + "/b1b/big")
		if err != nil {
			close(release)
			t.Fatal(err)
		}
		defer resp.Body.Close()
		first := make([]byte, part)
		_, err = io.ReadFull(resp.Body, first)
		close(release)
		if err != nil || first[part-1] != 'a' {
			t.Fatalf("first half not streamed before the upstream finished: %v", err)
		}
		rest, err := io.ReadAll(resp.Body)
		if err != nil || len(rest) != part || rest[0] != 'b' {
			t.Fatalf("second half: %d bytes, %v", len(rest), err)
		}
	})
	t.Run("upload", func(t *testing.T) {
		gotFirst := make(chan struct{})
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, part)
			if _, err := io.ReadFull(r.Body, buf); err != nil {
				return
			}
			close(gotFirst)
			n, _ := io.Copy(io.Discard, r.Body)
			if r.ContentLength != 2*part || n != part || len(r.TransferEncoding) != 0 {
				w.WriteHeader(http.StatusBadRequest)
			}
		}))
		t.Cleanup(up.Close)
		fr := front(t, newGateway(t, Config{Upstream: up.URL}), nil)
		pr, pw := io.Pipe()
		go func() {
			pw.Write(bytes.Repeat([]byte{'a'}, part))
			select { // the upstream has the first half before the client sends the second
			case <-gotFirst:
				pw.Write(bytes.Repeat([]byte{'b'}, part))
				pw.Close()
			case <-time.After(guard):
				pw.CloseWithError(errors.New("upload was not streamed"))
			}
		}()
		req, _ := http.NewRequest(http.MethodPut, fr.URL+"/b1b/big", pr)
		req.ContentLength = 2 * part
		resp, err := guardedClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestExpectContinueLetsTheUpstreamRefuseEarly(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound) // without reading the body
		io.WriteString(w, "<Error><Code>NoSuchBucket</Code></Error>")
	}))
	t.Cleanup(up.Close)
	fr := front(t, newGateway(t, Config{Upstream: up.URL}), nil)
	var sent atomic.Int64
	body := &countingReader{r: bytes.NewReader(make([]byte, 8<<20)), n: &sent}
	req, _ := http.NewRequest(http.MethodPut, fr.URL+"/nobucket/big", body)
	req.ContentLength = 8 << 20
	req.Header.Set("Expect", "100-continue")
	resp, err := guardedClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("the client sent %d body bytes to a refused upload", n)
	}
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestClassifyWordsErrors(t *testing.T) {
	g := newGateway(t, Config{Upstream: "http://up:1"})
	in := httptest.NewRequest(http.MethodGet, "/b/k", nil)
	tests := []struct {
		err      error
		wantCode string
		wantMsg  string
	}{
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "BadGateway", "refused the connection"},
		{context.DeadlineExceeded, "GatewayTimeout", "did not answer in time"},
		{io.ErrUnexpectedEOF, "BadGateway", "closed the connection"},
		{errors.New("tls: first record does not look like a TLS handshake"), "BadGateway", "failed: tls"},
	}
	for _, tc := range tests {
		e := g.classify(nil, in, tc.err)
		if e.Code != tc.wantCode || !strings.Contains(e.Message, tc.wantMsg) || !strings.Contains(e.Message, "http://up:1") {
			t.Errorf("classify(%v) = %s %q, want %s containing %q", tc.err, e.Code, e.Message, tc.wantCode, tc.wantMsg)
		}
	}
}
