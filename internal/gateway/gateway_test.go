package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/sigv4"
)

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no upstream", Config{AccessKey: "a", SecretKey: "s"}, "no upstream URL"},
		{"bad scheme", Config{Upstream: "ftp://host", AccessKey: "a", SecretKey: "s"}, "http or https"},
		{"no scheme", Config{Upstream: "127.0.0.1:9000", AccessKey: "a", SecretKey: "s"}, `"127.0.0.1:9000" has no scheme: write it as a URL, e.g. http://127.0.0.1:9000`},
		{"host name without scheme", Config{Upstream: "minio:9000", AccessKey: "a", SecretKey: "s"}, "e.g. http://minio:9000"},
		{"credentials without scheme", Config{Upstream: "k:secret@minio:9000", AccessKey: "a", SecretKey: "s"}, "has no scheme"},
		{"no host", Config{Upstream: "http://", AccessKey: "a", SecretKey: "s"}, "no host"},
		{"credentials in URL", Config{Upstream: "http://k:secret@host", AccessKey: "a", SecretKey: "s"}, "not in the URL"},
		{"credentials in a bad URL", Config{Upstream: "ftp://k:secret@host", AccessKey: "a", SecretKey: "s"}, "http or https"},
		{"unparsable", Config{Upstream: "http://k:secret@host:port/", AccessKey: "a", SecretKey: "s"}, "not a URL"},
		{"query", Config{Upstream: "http://host/?a=b", AccessKey: "a", SecretKey: "s"}, "query"},
		{"port out of range", Config{Upstream: "http://host:70000", AccessKey: "a", SecretKey: "s"}, "out of range"},
		{"no access key", Config{Upstream: "http://host", SecretKey: "s"}, "access key and secret key"},
		{"no secret key", Config{Upstream: "http://host", AccessKey: "a"}, "access key and secret key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "gateway: ") {
				t.Fatalf("New error = %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secret@") {
				t.Errorf("error leaks the URL password: %v", err)
			}
		})
	}
	g, err := New(Config{Upstream: "https://s3.example.com/prefix/", AccessKey: "a", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Upstream() != "https://s3.example.com/prefix" || g.region != DefaultRegion {
		t.Errorf("Upstream() = %q, region %q", g.Upstream(), g.region)
	}
}

// front stands in for the server pipeline: it classifies path-style
// requests, puts the Info in the context as the server does, and hands
// them to the gateway. decode, when set, replaces the body the way the
// server's aws-chunked decoder does.
func front(t *testing.T, g *Gateway, decode func(r *http.Request)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		info := &s3api.Info{Operation: s3api.OpGetObject, Bucket: bucket, Key: key, Size: r.ContentLength, RequestID: "front-req-1"}
		w.Header().Set("x-amz-request-id", info.RequestID)
		w.Header().Set("Server", "s3limit")
		if decode != nil {
			decode(r)
		}
		g.ServeHTTP(w, r.WithContext(s3api.NewContext(r.Context(), info)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newGateway(t *testing.T, cfg Config) *Gateway {
	t.Helper()
	if cfg.AccessKey == "" {
		cfg.AccessKey, cfg.SecretKey = upAccessKey, upSecretKey
	}
	if cfg.Logger == nil {
		cfg.Logger = newTestLogger(io.Discard)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// clientAuth is what a SigV4 client sends to s3limit; none of it may
// reach the upstream.
func clientAuth(h http.Header, payload string) {
	h.Set("Authorization", "AWS4-HMAC-SHA256 Credential=CLIENTKEY/20250301/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000")
	h.Set("X-Amz-Date", "20250301T120000Z")
	h.Set("X-Amz-Content-Sha256", payload)
	h.Set("X-Amz-Security-Token", "client-session-token")
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestForwardResignsRequests(t *testing.T) {
	type want struct {
		requestURI      string
		contentLength   int64
		payloadHash     string
		headers         map[string]string // must arrive with these values
		absent          []string          // must not arrive
		chunkedUpstream bool
	}
	clientOnly := []string{"X-Amz-Security-Token", "X-Amz-Decoded-Content-Length", "X-Amz-Trailer"}
	tests := []struct {
		name    string
		method  string
		target  string // path and query as the client sends them
		body    string
		unknown bool // send the body without a length
		headers func(h http.Header)
		decode  func(r *http.Request)
		want    want
	}{
		{
			name: "GET object with escaped key and range", method: http.MethodGet,
			target: "/b1b/dir/a%20b%2Bc%C3%BC.txt",
			headers: func(h http.Header) {
				clientAuth(h, sigv4.EmptySHA256)
				h.Set("Range", "bytes=0-3")
				h.Set("If-None-Match", `"abc"`)
			},
			want: want{requestURI: "/b1b/dir/a%20b%2Bc%C3%BC.txt", payloadHash: sigv4.EmptySHA256,
				headers: map[string]string{"Range": "bytes=0-3", "If-None-Match": `"abc"`}, absent: clientOnly},
		},
		{
			name: "PUT with the client's payload hash reused", method: http.MethodPut,
			target: "/b1b/obj", body: "hello world",
			headers: func(h http.Header) {
				clientAuth(h, hexSHA256("hello world"))
				h.Set("Content-Type", "text/plain")
				h.Set("X-Amz-Meta-Color", "red")
				h.Set("X-Amz-Tagging", "a=b")
				h.Set("Content-Md5", "XrY7u+Ae7tCTyyK7j1rNww==")
			},
			want: want{requestURI: "/b1b/obj", contentLength: 11, payloadHash: hexSHA256("hello world"),
				headers: map[string]string{"Content-Type": "text/plain", "X-Amz-Meta-Color": "red", "X-Amz-Tagging": "a=b"},
				absent:  clientOnly},
		},
		{
			name: "PUT unsigned payload", method: http.MethodPut,
			target: "/b1b/obj", body: "data",
			headers: func(h http.Header) { clientAuth(h, sigv4.UnsignedPayload) },
			want:    want{requestURI: "/b1b/obj", contentLength: 4, payloadHash: sigv4.UnsignedPayload, absent: clientOnly},
		},
		{
			name: "aws-chunked upload forwarded decoded with its length", method: http.MethodPut,
			target: "/b1b/chunked", body: "0123456789abcdef",
			headers: func(h http.Header) {
				clientAuth(h, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
				h.Set("Content-Encoding", "aws-chunked,gzip")
				h.Set("X-Amz-Decoded-Content-Length", "16")
				h.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
				h.Set("X-Amz-Sdk-Checksum-Algorithm", "CRC32")
			},
			want: want{requestURI: "/b1b/chunked", contentLength: 16, payloadHash: sigv4.UnsignedPayload,
				headers: map[string]string{"Content-Encoding": "gzip"},
				absent:  append(slices.Clone(clientOnly), "X-Amz-Sdk-Checksum-Algorithm")},
		},
		{
			name: "aws-chunked already stripped by the server", method: http.MethodPut,
			target: "/b1b/chunked", body: "0123456789",
			headers: func(h http.Header) {
				clientAuth(h, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
				h.Set("Content-Encoding", "aws-chunked")
				h.Set("X-Amz-Decoded-Content-Length", "10")
			},
			decode: func(r *http.Request) { r.Header.Del("Content-Encoding") },
			want: want{requestURI: "/b1b/chunked", contentLength: 10, payloadHash: sigv4.UnsignedPayload,
				absent: append(slices.Clone(clientOnly), "Content-Encoding")},
		},
		{
			name: "presigned GET loses its query signature", method: http.MethodGet,
			target: "/b1b/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=CLIENTKEY%2F20250301%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250301T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&x-id=GetObject&X-Amz-Signature=00ff",
			want:   want{requestURI: "/b1b/obj?x-id=GetObject", payloadHash: sigv4.EmptySHA256, absent: clientOnly},
		},
		{
			name: "presigned PUT is signed unsigned-payload", method: http.MethodPut,
			target: "/b1b/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00ff&X-Amz-SignedHeaders=host", body: "abc",
			want: want{requestURI: "/b1b/obj", contentLength: 3, payloadHash: sigv4.UnsignedPayload},
		},
		{
			name: "list query kept and canonicalised", method: http.MethodGet,
			target:  "/b1b?prefix=a+b%2F%C3%BC&list-type=2&delimiter=%2F",
			headers: func(h http.Header) { clientAuth(h, sigv4.EmptySHA256) },
			want:    want{requestURI: "/b1b?delimiter=%2F&list-type=2&prefix=a%20b%2F%C3%BC", payloadHash: sigv4.EmptySHA256},
		},
		{
			name: "create multipart upload", method: http.MethodPost,
			target:  "/b1b/big?uploads",
			headers: func(h http.Header) { clientAuth(h, sigv4.EmptySHA256) },
			want:    want{requestURI: "/b1b/big?uploads=", payloadHash: sigv4.EmptySHA256},
		},
		{
			name: "service level", method: http.MethodGet, target: "/",
			headers: func(h http.Header) { clientAuth(h, sigv4.EmptySHA256) },
			want:    want{requestURI: "/", payloadHash: sigv4.EmptySHA256},
		},
		{
			name: "body of unknown length streams chunked", method: http.MethodPut,
			target: "/b1b/obj", body: "stream", unknown: true,
			headers: func(h http.Header) { clientAuth(h, sigv4.UnsignedPayload) },
			want:    want{requestURI: "/b1b/obj", contentLength: -1, payloadHash: sigv4.UnsignedPayload, chunkedUpstream: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, up := newRecorder(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				w.Header().Set("ETag", `"e1"`)
				w.Write([]byte("upstream says hi"))
			})
			fr := front(t, newGateway(t, Config{Upstream: up.URL}), tc.decode)
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
				if tc.unknown {
					body = io.MultiReader(body) // hides the length
				}
			}
			req, err := http.NewRequest(tc.method, fr.URL+tc.target, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.headers != nil {
				tc.headers(req.Header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			respBody, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(respBody) != "upstream says hi" || resp.Header.Get("ETag") != `"e1"` {
				t.Fatalf("response %d %q %v", resp.StatusCode, respBody, resp.Header)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests", len(reqs))
			}
			got := reqs[0]
			if got.SigErr != nil {
				t.Fatalf("upstream signature: %v", got.SigErr)
			}
			if got.Method != tc.method || got.RequestURI != tc.want.requestURI {
				t.Errorf("upstream request %s %s, want %s %s", got.Method, got.RequestURI, tc.method, tc.want.requestURI)
			}
			if got.ContentLength != tc.want.contentLength || string(got.Body) != tc.body {
				t.Errorf("upstream body %q (Content-Length %d), want %q (%d)", got.Body, got.ContentLength, tc.body, tc.want.contentLength)
			}
			if chunked := slices.Contains(got.TransferEncoding, "chunked"); chunked != tc.want.chunkedUpstream {
				t.Errorf("upstream Transfer-Encoding %v", got.TransferEncoding)
			}
			if h := got.Header.Get("X-Amz-Content-Sha256"); h != tc.want.payloadHash {
				t.Errorf("payload hash %q, want %q", h, tc.want.payloadHash)
			}
			if a := got.Header.Get("Authorization"); !strings.Contains(a, "Credential="+upAccessKey+"/") {
				t.Errorf("Authorization %q is not the gateway's", a)
			}
			for k, v := range tc.want.headers {
				if g := got.Header.Get(k); g != v {
					t.Errorf("header %s = %q, want %q", k, g, v)
				}
			}
			for _, k := range tc.want.absent {
				if vs, ok := got.Header[http.CanonicalHeaderKey(k)]; ok {
					t.Errorf("client header %s reached the upstream: %q", k, vs)
				}
			}
			if vs, ok := got.Header["X-Forwarded-For"]; ok {
				t.Errorf("X-Forwarded-For added: %q", vs)
			}
		})
	}
}

func TestForwardVirtualHostedWithSessionToken(t *testing.T) {
	rec, up := newRecorder(t, nil)
	// Resolve every upstream name to the test upstream.
	tr := NewTransport(0)
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, up.Listener.Addr().String())
	}
	g := newGateway(t, Config{
		Upstream: "http://s3.test:9000", Region: "eu-west-1", VirtualHost: true,
		AccessKey: upAccessKey, SecretKey: upSecretKey, SessionToken: "upstream-token", Transport: tr,
	})
	rec.region = "eu-west-1"
	rec.creds.SessionToken = "upstream-token"
	fr := front(t, g, nil)
	resp, err := http.Get(fr.URL + "/photos/cats/tom.jpg?versionId=3")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	reqs := rec.requests()
	if len(reqs) != 1 || reqs[0].SigErr != nil {
		t.Fatalf("upstream requests %+v", reqs)
	}
	got := reqs[0]
	if got.Host != "photos.s3.test:9000" || got.RequestURI != "/cats/tom.jpg?versionId=3" {
		t.Errorf("upstream got Host %s URI %s", got.Host, got.RequestURI)
	}
	if tok := got.Header.Get("X-Amz-Security-Token"); tok != "upstream-token" {
		t.Errorf("X-Amz-Security-Token = %q", tok)
	}
}

func TestResponsePassesThrough(t *testing.T) {
	const object = "0123456789"
	tests := []struct {
		name       string
		method     string
		respond    func(w http.ResponseWriter)
		wantStatus int
		wantBody   string
		wantHeader map[string]string
		noHeader   []string
	}{
		{
			name: "partial content with metadata", method: http.MethodGet,
			respond: func(w http.ResponseWriter) {
				h := w.Header()
				h.Set("Content-Range", "bytes 2-5/10")
				h.Set("ETag", `"abc"`)
				h.Set("X-Amz-Meta-Color", "red")
				h.Set("X-Amz-Request-Id", "UPSTREAM-ID")
				h.Set("Server", "UpstreamStore")
				h.Set("Connection", "X-Hop")
				h.Set("X-Hop", "1")
				w.WriteHeader(http.StatusPartialContent)
				io.WriteString(w, object[2:6])
			},
			wantStatus: http.StatusPartialContent, wantBody: "2345",
			wantHeader: map[string]string{
				"Content-Range": "bytes 2-5/10", "ETag": `"abc"`, "X-Amz-Meta-Color": "red", "Content-Length": "4",
				"X-Amz-Request-Id": "front-req-1", "X-S3limit-Upstream-Request-Id": "UPSTREAM-ID", "Server": "s3limit",
			},
			noHeader: []string{"X-Hop"},
		},
		{
			name: "upstream XML error", method: http.MethodGet,
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
			},
			wantStatus: http.StatusNotFound,
			wantBody:   `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`,
		},
		{
			name: "upstream access denied is the upstream's answer", method: http.MethodGet,
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
			},
			wantStatus: http.StatusForbidden,
			wantBody:   `<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`,
		},
		{
			name: "HEAD keeps the length without a body", method: http.MethodHead,
			respond: func(w http.ResponseWriter) {
				w.Header().Set("Content-Length", "10")
				w.Header().Set("Last-Modified", "Sat, 01 Mar 2025 12:00:00 GMT")
			},
			wantStatus: http.StatusOK,
			wantHeader: map[string]string{"Content-Length": "10", "Last-Modified": "Sat, 01 Mar 2025 12:00:00 GMT"},
		},
		{
			name: "not modified", method: http.MethodGet,
			respond: func(w http.ResponseWriter) {
				w.Header().Set("ETag", `"abc"`)
				w.WriteHeader(http.StatusNotModified)
			},
			wantStatus: http.StatusNotModified, wantHeader: map[string]string{"ETag": `"abc"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, up := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { tc.respond(w) })
			fr := front(t, newGateway(t, Config{Upstream: up.URL}), nil)
			req, _ := http.NewRequest(tc.method, fr.URL+"/b1b/obj", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || string(body) != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("header %s = %q, want [%q]", k, got, v)
				}
			}
			for _, k := range tc.noHeader {
				if v := resp.Header.Get(k); v != "" {
					t.Errorf("hop-by-hop header %s = %q passed through", k, v)
				}
			}
		})
	}
}

func TestUpstreamCredentialErrorsAreExplained(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		code     string
		method   string
		wantCode string
		wantMsg  string
		status2  int
	}{
		{"unknown access key", 403, "InvalidAccessKeyId", http.MethodGet, "BadGateway", "upstream access key", 502},
		{"wrong secret", 403, "SignatureDoesNotMatch", http.MethodGet, "BadGateway", "upstream secret key", 502},
		{"wrong region", 400, "AuthorizationHeaderMalformed", http.MethodPut, "BadGateway", "upstream region", 502},
		{"clock skew", 403, "RequestTimeTooSkewed", http.MethodGet, "BadGateway", "clocks", 502},
		{"other 400 passes", 400, "InvalidArgument", http.MethodGet, "InvalidArgument", "upstream message", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, up := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tc.status)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+tc.code+`</Code><Message>upstream message</Message></Error>`)
			})
			g := newGateway(t, Config{Upstream: up.URL})
			fr := front(t, g, nil)
			req, _ := http.NewRequest(tc.method, fr.URL+"/b1b/obj", strings.NewReader("x"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status2 || !bytes.Contains(body, []byte("<Code>"+tc.wantCode+"</Code>")) ||
				!bytes.Contains(body, []byte(tc.wantMsg)) {
				t.Fatalf("got %d %s, want %d %s mentioning %q", resp.StatusCode, body, tc.status2, tc.wantCode, tc.wantMsg)
			}
			if tc.status2 == 502 && !bytes.Contains(body, []byte(up.URL)) {
				t.Errorf("message does not name the upstream %s: %s", up.URL, body)
			}
		})
	}
}

// TestRequestWithoutInfoIsInternalError guards against wiring the gateway
// without the server's classification in front.
func TestRequestWithoutInfoIsInternalError(t *testing.T) {
	g := newGateway(t, Config{Upstream: "http://127.0.0.1:1"})
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/b/k", nil))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
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

// BenchmarkProxyGet measures a small GET through the gateway on loopback,
// the client, the front and the upstream included; compare with
// BenchmarkDirectGet for the gateway's share.
func BenchmarkProxyGet(b *testing.B) {
	benchmarkProxy(b, http.MethodGet, true, false)
}

// BenchmarkProxyGetMetadata is BenchmarkProxyGet for an object with four
// user metadata entries, whose names the gateway passes on in lower case.
func BenchmarkProxyGetMetadata(b *testing.B) {
	benchmarkProxy(b, http.MethodGet, true, true)
}

// BenchmarkDirectGet is BenchmarkProxyGet without the gateway.
func BenchmarkDirectGet(b *testing.B) {
	benchmarkProxy(b, http.MethodGet, false, false)
}

// BenchmarkProxyPut is BenchmarkProxyGet for a 4 KiB PUT.
func BenchmarkProxyPut(b *testing.B) {
	benchmarkProxy(b, http.MethodPut, true, false)
}

// BenchmarkDirectPut is BenchmarkProxyPut without the gateway.
func BenchmarkDirectPut(b *testing.B) {
	benchmarkProxy(b, http.MethodPut, false, false)
}

func benchmarkProxy(b *testing.B, method string, proxied, withMetadata bool) {
	object := bytes.Repeat([]byte{'x'}, 4096)
	payload := hexSHA256(string(object))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("ETag", `"abc"`)
			return
		}
		h := w.Header()
		h.Set("Content-Length", "4096")
		h.Set("ETag", `"abc"`)
		if withMetadata {
			for _, k := range []string{"color", "owner", "project", "sha256"} {
				h["x-amz-meta-"+k] = []string{"value-of-" + k}
			}
		}
		w.Write(object)
	}))
	defer up.Close()
	target := up.URL
	if proxied {
		g, err := New(Config{Upstream: up.URL, AccessKey: upAccessKey, SecretKey: upSecretKey, Logger: newTestLogger(io.Discard)})
		if err != nil {
			b.Fatal(err)
		}
		fr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := &s3api.Info{Operation: s3api.OpGetObject, Bucket: "bucket", Key: "key", RequestID: "r"}
			g.ServeHTTP(w, r.WithContext(s3api.NewContext(r.Context(), info)))
		}))
		defer fr.Close()
		target = fr.URL
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 8192)
		for pb.Next() {
			var body io.Reader
			hash := sigv4.EmptySHA256
			if method == http.MethodPut {
				body, hash = bytes.NewReader(object), payload
			}
			req, _ := http.NewRequest(method, target+"/bucket/key?x-id=GetObject", body)
			clientAuth(req.Header, hash)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.CopyBuffer(io.Discard, resp.Body, buf)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
