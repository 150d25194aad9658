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
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "up", IsNotFound: true}}, "BadGateway", "cannot be resolved"},
		// A resolver that does not answer is still a name problem, not a slow upstream.
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "i/o timeout", Name: "up", IsTimeout: true}}, "BadGateway", "cannot be resolved"},
	}
	for _, tc := range tests {
		e := g.classify(nil, in, tc.err)
		if e.Code != tc.wantCode || !strings.Contains(e.Message, tc.wantMsg) || !strings.Contains(e.Message, "http://up:1") {
			t.Errorf("classify(%v) = %s %q, want %s containing %q", tc.err, e.Code, e.Message, tc.wantCode, tc.wantMsg)
		}
	}
}
