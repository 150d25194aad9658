package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

// TestContinueKeepsRequestID is the regression test for a forwarded
// "100 Continue" wiping the headers the pipeline had set for the final
// response: the client lost s3limit's x-amz-request-id on every upload
// that asked for 100-continue (aws-sdk-go-v2 does for bodies over 2 MB).
func TestContinueKeepsRequestID(t *testing.T) {
	rec, up := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("ETag", `"e"`)
	})
	fr := front(t, newGateway(t, Config{Upstream: up.URL}), nil)
	req, _ := http.NewRequest(http.MethodPut, fr.URL+"/b1b/obj", bytes.NewReader(make([]byte, 1000)))
	req.Header.Set("Expect", "100-continue")
	resp, err := guardedClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != `"e"` {
		t.Fatalf("response %d %v", resp.StatusCode, resp.Header)
	}
	if id := resp.Header.Get("X-Amz-Request-Id"); id != "front-req-1" {
		t.Errorf("x-amz-request-id = %q after 100 Continue, want s3limit's", id)
	}
	if s := resp.Header.Get("Server"); s != "s3limit" {
		t.Errorf("Server = %q after 100 Continue", s)
	}
	if reqs := rec.requests(); len(reqs) != 1 || reqs[0].Header.Get("Expect") != "100-continue" || len(reqs[0].Body) != 1000 {
		t.Errorf("upstream requests %+v", reqs)
	}
}

// rawRequest sends one HTTP/1.1 request as written and returns the
// response; it lets a test send headers Go's client would not.
func rawRequest(t *testing.T, addr, request string) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, guard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(guard))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// rawResponseHead sends one HTTP/1.1 request as written and returns the
// status line and header lines of the response as they were on the wire,
// names spelt as sent (http.ReadResponse would canonicalise them).
func rawResponseHead(t *testing.T, addr, request string) []string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, guard)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(guard))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the response head: %v (so far %q)", err, lines)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if line == "" {
			return lines
		}
		lines = append(lines, line)
	}
}

// TestUserMetadataNamesStayLowerCase is the regression test for user
// metadata names reaching clients capitalised: http.Transport reads
// x-amz-meta-color as X-Amz-Meta-Color, and boto3, which keeps a name's
// case, returned {'Color': 'blue'} through the gateway where S3 and the
// embedded store give {'color': 'blue'}.
func TestUserMetadataNamesStayLowerCase(t *testing.T) {
	_, up := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		h := w.Header()
		h["x-amz-meta-color"] = []string{"blue"} // as S3 sends it
		h.Set("X-Amz-Meta-Project", "Apollo")    // canonical on the wire
		h["x-amz-meta-Two-Words"] = []string{"a", "b"}
		h.Set("ETag", `"abc"`)
		h.Set("Content-Length", "2")
		io.WriteString(w, "ok")
	})
	fr := front(t, newGateway(t, Config{Upstream: up.URL}), nil)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		t.Run(method, func(t *testing.T) {
			head := rawResponseHead(t, fr.Listener.Addr().String(), method+" /b1b/obj HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n")
			if len(head) == 0 || head[0] != "HTTP/1.1 200 OK" {
				t.Fatalf("response head %q", head)
			}
			var meta []string
			for _, line := range head[1:] {
				name, _, _ := strings.Cut(line, ":")
				if strings.HasPrefix(strings.ToLower(name), "x-amz-meta-") {
					meta = append(meta, line)
				}
			}
			slices.Sort(meta)
			want := []string{"x-amz-meta-color: blue", "x-amz-meta-project: Apollo", "x-amz-meta-two-words: a", "x-amz-meta-two-words: b"}
			if !slices.Equal(meta, want) {
				t.Errorf("metadata lines %q, want %q", meta, want)
			}
			if !slices.Contains(head, `Etag: "abc"`) {
				t.Errorf("other headers changed: %q", head)
			}
		})
	}
}

func TestHopByHopHeadersStayBehind(t *testing.T) {
	rec, up := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		h := w.Header()
		h.Set("Connection", "X-Resp-Hop")
		h.Set("X-Resp-Hop", "1")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", "Basic")
		h.Set("Upgrade", "h2c")
		h.Set("X-Kept", "yes")
		io.WriteString(w, "ok")
	})
	fr := front(t, newGateway(t, Config{Upstream: up.URL}), nil)
	resp := rawRequest(t, fr.Listener.Addr().String(), "GET /b1b/obj HTTP/1.1\r\n"+
		"Host: front\r\n"+
		"Connection: X-Hop, Keep-Alive\r\n"+
		"X-Hop: 1\r\n"+
		"Keep-Alive: timeout=5\r\n"+
		"Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"+
		"Proxy-Connection: keep-alive\r\n"+
		"Upgrade: websocket\r\n"+
		"Te: trailers, deflate\r\n"+
		"Forwarded: for=1.2.3.4\r\n"+
		"X-Forwarded-For: 1.2.3.4\r\n"+
		"X-Forwarded-Host: evil\r\n"+
		"X-Forwarded-Proto: https\r\n"+
		"X-Amz-Meta-Kept: yes\r\n"+
		"\r\n")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("response %d %q", resp.StatusCode, body)
	}
	for _, k := range []string{"X-Resp-Hop", "Keep-Alive", "Proxy-Authenticate", "Upgrade"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("response header %s = %q passed through", k, v)
		}
	}
	if resp.Header.Get("X-Kept") != "yes" {
		t.Errorf("end-to-end response header lost: %v", resp.Header)
	}
	reqs := rec.requests()
	if len(reqs) != 1 || reqs[0].SigErr != nil {
		t.Fatalf("upstream requests %+v", reqs)
	}
	h := reqs[0].Header
	for _, k := range []string{"X-Hop", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Upgrade",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := h[k]; ok {
			t.Errorf("request header %s = %q reached the upstream", k, v)
		}
	}
	if v := h.Values("Te"); len(v) != 1 || v[0] != "trailers" {
		t.Errorf("Te = %q, want [trailers]", v)
	}
	if h.Get("X-Amz-Meta-Kept") != "yes" {
		t.Errorf("end-to-end request header lost: %v", h)
	}
	if ua, ok := h["User-Agent"]; ok {
		t.Errorf("User-Agent %q sent for a client that sent none", ua)
	}
}

func TestResponseTrailersPassThrough(t *testing.T) {
	_, up := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set(http.TrailerPrefix+"X-Late", "unannounced")
	})
	fr := front(t, newGateway(t, Config{Upstream: up.URL}), nil)
	resp, err := guardedClient().Get(fr.URL + "/b1b/obj")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "body" {
		t.Fatalf("body %q, %v", body, err)
	}
	if got := resp.Trailer.Get("X-Checksum"); got != "abc" {
		t.Errorf("trailer X-Checksum = %q, trailers %v", got, resp.Trailer)
	}
	if got := resp.Trailer.Get("X-Late"); got != "unannounced" {
		t.Errorf("trailer X-Late = %q, trailers %v", got, resp.Trailer)
	}
}

func TestStreamedResponseIsFlushed(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
	}{
		{"unknown length", nil},
		{"event stream with a length", map[string]string{"Content-Type": "Text/Event-Stream; charset=utf-8", "Content-Length": "10"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				io.WriteString(w, "first")
				http.NewResponseController(w).Flush()
				select { // the rest waits until the client has the first part
				case <-release:
				case <-r.Context().Done():
				}
				io.WriteString(w, "-rest")
			}))
			t.Cleanup(up.Close)
			defer close(release)
			fr := front(t, newGateway(t, Config{Upstream: up.URL}), nil)
			resp, err := guardedClient().Get(fr.URL + "/b1b/stream")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			first := make([]byte, len("first"))
			if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first" {
				t.Fatalf("first part %q, %v: it waited in a buffer", first, err)
			}
			release <- struct{}{}
			rest, err := io.ReadAll(resp.Body)
			if err != nil || string(rest) != "-rest" {
				t.Fatalf("rest %q, %v", rest, err)
			}
		})
	}
}

func TestOutboundHeader(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{
			name: "signature and framing replaced",
			in: http.Header{
				"Authorization": {"AWS4-HMAC-SHA256 ..."}, "X-Amz-Date": {"20250301T120000Z"},
				"X-Amz-Content-Sha256": {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}, "X-Amz-Security-Token": {"t"},
				"X-Amz-Decoded-Content-Length": {"10"}, "Content-Length": {"99"},
				"Content-Encoding": {"aws-chunked"}, "Range": {"bytes=0-1"},
			},
			want: http.Header{"Range": {"bytes=0-1"}},
		},
		{
			name: "trailing checksum consumed",
			in: http.Header{"X-Amz-Trailer": {"x-amz-checksum-crc32"}, "X-Amz-Sdk-Checksum-Algorithm": {"CRC32"},
				"Content-Encoding": {"aws-chunked,gzip"}},
			want: http.Header{"Content-Encoding": {"gzip"}},
		},
		{
			name: "checksum algorithm kept without a trailer",
			in:   http.Header{"X-Amz-Sdk-Checksum-Algorithm": {"CRC32"}, "X-Amz-Checksum-Crc32": {"AAAAAA=="}},
			want: http.Header{"X-Amz-Sdk-Checksum-Algorithm": {"CRC32"}, "X-Amz-Checksum-Crc32": {"AAAAAA=="}},
		},
		{
			name: "Connection names more hop-by-hop headers",
			in:   http.Header{"Connection": {"x-one, X-Two", "close"}, "X-One": {"1"}, "X-Two": {"2"}, "X-Three": {"3"}},
			want: http.Header{"X-Three": {"3"}},
		},
		{
			name: "Te without the trailers token",
			in:   http.Header{"Te": {"deflate", " Trailers ;"}},
			want: http.Header{},
		},
		{
			name: "Te trailers among others",
			in:   http.Header{"Te": {"deflate,\tTRAILERS"}},
			want: http.Header{"Te": {"trailers"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := outboundHeader(tc.in)
			if len(got) != len(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if g := got[k]; strings.Join(g, "|") != strings.Join(v, "|") {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
		})
	}
}

func TestCopyResponseHeader(t *testing.T) {
	dst := http.Header{"X-Amz-Request-Id": {"s3limit-id"}, "Server": {"s3limit"}, "Vary": {"Origin"}}
	src := http.Header{
		"X-Amz-Request-Id": {"up-id", "second"}, "X-S3limit-Upstream-Request-Id": {"forged"},
		"Server": {"Upstream"}, "Transfer-Encoding": {"chunked"}, "Trailer": {"X"},
		"Etag": {`"e"`}, "Vary": {"Accept"}, "X-Empty": {},
		"X-Amz-Meta-Color": {"blue"}, "x-amz-meta-Mixed": {"m"}, "X-Amz-Meta-": {"no name"}, "X-Amz-Metadata-Directive": {"COPY"},
	}
	copyResponseHeader(dst, src)
	want := http.Header{
		"X-Amz-Request-Id": {"s3limit-id"}, "Server": {"s3limit"}, "Vary": {"Origin", "Accept"},
		"X-S3limit-Upstream-Request-Id": {"up-id"}, "Etag": {`"e"`},
		"x-amz-meta-color": {"blue"}, "x-amz-meta-mixed": {"m"}, "X-Amz-Meta-": {"no name"}, "X-Amz-Metadata-Directive": {"COPY"},
	}
	if len(dst) != len(want) {
		t.Errorf("got %v, want %v", dst, want)
	}
	for k, v := range want {
		if g := dst[k]; strings.Join(g, "|") != strings.Join(v, "|") {
			t.Errorf("%s = %q, want %q", k, g, v)
		}
	}
}

// writeCounter counts the writes of the connections it dials.
type writeCounter struct {
	mu     sync.Mutex
	writes int // guarded by mu
}

func (wc *writeCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: conn, wc: wc}, nil
}

func (wc *writeCounter) count() int {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return wc.writes
}

type countedConn struct {
	net.Conn
	wc *writeCounter
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.wc.mu.Lock()
	c.wc.writes++
	c.wc.mu.Unlock()
	return c.Conn.Write(p)
}

func TestSmallBodyLeavesInOneWrite(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		expect    bool
		maxWrites int // writes to the upstream connection
	}{
		{"small body", 4 << 10, false, 1},
		{"largest small body", smallBodyMax, false, 1},
		{"larger body streams", smallBodyMax + 1, false, 10},
		{"100-continue streams", 1000, true, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, up := newRecorder(t, nil)
			var wc writeCounter
			tr := NewTransport(0)
			tr.DialContext = wc.dial
			fr := front(t, newGateway(t, Config{Upstream: up.URL, Transport: tr}), nil)
			body := bytes.Repeat([]byte{'x'}, tc.size)
			req, _ := http.NewRequest(http.MethodPut, fr.URL+"/b1b/obj", bytes.NewReader(body))
			if tc.expect {
				req.Header.Set("Expect", "100-continue")
			}
			resp, err := guardedClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			reqs := rec.requests()
			if resp.StatusCode != http.StatusOK || len(reqs) != 1 || !bytes.Equal(reqs[0].Body, body) || reqs[0].SigErr != nil {
				t.Fatalf("status %d, upstream requests %d", resp.StatusCode, len(reqs))
			}
			n := wc.count()
			if n < 1 || n > tc.maxWrites {
				t.Errorf("the request took %d writes, want 1 to %d", n, tc.maxWrites)
			}
			if tc.maxWrites == 1 {
				return
			}
			if n == 1 {
				t.Errorf("a streamed body went out in one write: was it read whole?")
			}
		})
	}
}

func TestFailedSmallBodyNeverReachesTheUpstream(t *testing.T) {
	var arrived atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(up.Close)
	fr := front(t, newGateway(t, Config{Upstream: up.URL}), func(r *http.Request) {
		r.Body = &failingBody{data: make([]byte, 100), err: s3api.ErrSignatureDoesNotMatch}
	})
	resp, err := guardedClient().Post(fr.URL+"/b1b/obj", "", bytes.NewReader(make([]byte, 200)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("<Code>SignatureDoesNotMatch</Code>")) {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
	if n := arrived.Load(); n != 0 {
		t.Errorf("the upstream got %d requests", n)
	}
}

// BenchmarkCopyResponseHeader copies the headers of a typical S3 GET
// answer with two user metadata entries.
func BenchmarkCopyResponseHeader(b *testing.B) {
	src := http.Header{
		"Accept-Ranges": {"bytes"}, "Content-Length": {"4096"}, "Content-Type": {"binary/octet-stream"},
		"Date": {"Sat, 01 Mar 2025 12:00:00 GMT"}, "Etag": {`"abc"`}, "Last-Modified": {"Sat, 01 Mar 2025 12:00:00 GMT"},
		"Server": {"AmazonS3"}, "X-Amz-Id-2": {"id2"}, "X-Amz-Request-Id": {"REQ"}, "X-Amz-Server-Side-Encryption": {"AES256"},
		"X-Amz-Meta-Color": {"blue"}, "X-Amz-Meta-Owner-Team": {"ops"},
	}
	b.ReportAllocs()
	for b.Loop() {
		dst := make(http.Header, 16)
		copyResponseHeader(dst, src)
	}
}
