package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/gateway"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testpeer"
)

func wantBadGateway(t *testing.T, what string, err error, upstreamURL, wantMsg string) {
	t.Helper()
	code, msg, status := apiError(err)
	if status != http.StatusBadGateway || code != "BadGateway" || !strings.Contains(msg, upstreamURL) || !strings.Contains(msg, wantMsg) {
		t.Errorf("%s: %d %s %q, want 502 BadGateway naming %s and saying %q", what, status, code, msg, upstreamURL, wantMsg)
	}
}

func TestGatewayUpstreamDownAtStart(t *testing.T) {
	bin := testpeer.Versitygw(t) // the upstream that comes up later
	addr := freeAddr(t)
	down := &upstream{URL: "http://" + addr}
	fs := gatewayFront(t, down, nil)
	c := fs.Client()
	_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantBadGateway(t, "ListBuckets", err, down.URL, "refused the connection")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b1b"), Key: aws.String("k")})
	wantBadGateway(t, "GetObject", err, down.URL, "refused the connection")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b1b"), Key: aws.String("k"), Body: bytes.NewReader(make([]byte, 1<<20))})
	wantBadGateway(t, "PutObject", err, down.URL, "refused the connection")
	waitIdle(t, fs)

	// Once the upstream is up, the same gateway serves without a restart.
	startVersitygwAt(t, bin, addr)
	mustCreateBucket(t, c, "late")
	mustPut(t, c, "late", "k", []byte("now it works"))
	if got := servertest.GetObject(t, c, "late", "k"); string(got) != "now it works" {
		t.Errorf("GetObject after the upstream came up: %q", got)
	}
	waitIdle(t, fs)
}

func TestGatewayUpstreamKilledMidTransfer(t *testing.T) {
	const size = 64 << 20 // far more than the socket buffers between the processes hold
	for _, u := range upstreams {
		t.Run(u.name+"/Download", func(t *testing.T) {
			up := u.start(t)
			fs := gatewayFront(t, up, nil)
			c := fs.Client()
			mustCreateBucket(t, c, "killed")
			mustPut(t, c, "killed", "big", randomBytes(1, size))

			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("killed"), Key: aws.String("big")})
			if err != nil {
				t.Fatal(err)
			}
			defer out.Body.Close()
			if _, err := io.CopyN(io.Discard, out.Body, 1<<20); err != nil {
				t.Fatalf("first MiB: %v", err)
			}
			up.Kill()
			n, err := io.Copy(io.Discard, out.Body)
			if err == nil || n+1<<20 >= size {
				t.Fatalf("read %d more bytes and %v after the upstream died; want a cut response", n, err)
			}
			waitIdle(t, fs)
			_, err = c.ListBuckets(ctx, &s3.ListBucketsInput{})
			wantBadGateway(t, "ListBuckets after the kill", err, up.URL, "")
			waitIdle(t, fs)
		})
		t.Run(u.name+"/Upload", func(t *testing.T) {
			up := u.start(t)
			probe := &progressTransport{next: gateway.NewTransport(0), after: 1 << 20, reached: make(chan struct{})}
			fs := gatewayFront(t, up, func(g *gateway.Config, _ *servertest.Options) { g.Transport = probe })
			c := fs.Client()
			mustCreateBucket(t, c, "killed")

			pr, pw := io.Pipe()
			go feed(pw, size)
			// Kill the upstream while it receives the body.
			resp, err := presignedPut(t, ctx, c, "killed", "big", pr, size, probe.reached, up.Kill)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadGateway {
					t.Errorf("upload cut by the upstream: %d %s, want 502 or a cut connection", resp.StatusCode, body)
				}
			}
			pr.CloseWithError(errors.New("test over"))
			waitIdle(t, fs)
		})
	}
}

func TestGatewayClientGoneMidTransfer(t *testing.T) {
	const size = 16 << 20
	for _, u := range upstreams {
		t.Run(u.name, func(t *testing.T) {
			up := u.start(t)
			probe := &progressTransport{next: gateway.NewTransport(0), after: 1 << 20, reached: make(chan struct{})}
			fs := gatewayFront(t, up, func(g *gateway.Config, _ *servertest.Options) { g.Transport = probe })
			c := fs.Client()
			mustCreateBucket(t, c, "gone")

			// A download abandoned after its first MiB.
			mustPut(t, c, "gone", "big", randomBytes(2, 64<<20))
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("gone"), Key: aws.String("big")})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.CopyN(io.Discard, out.Body, 1<<20); err != nil {
				t.Fatal(err)
			}
			out.Body.Close()
			waitIdle(t, fs)

			// An upload abandoned while the upstream receives it leaves
			// no object behind, not even a truncated one.
			pr, pw := io.Pipe()
			go feed(pw, size)
			reqCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			resp, err := presignedPut(t, reqCtx, c, "gone", "partial", pr, size, probe.reached, cancel)
			if err == nil {
				resp.Body.Close()
				t.Errorf("abandoned upload answered %d", resp.StatusCode)
			}
			pr.CloseWithError(errors.New("test over"))
			waitIdle(t, fs)
			_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("gone"), Key: aws.String("partial")})
			if _, _, status := apiError(err); status != http.StatusNotFound {
				t.Errorf("an abandoned upload was stored upstream (HeadObject: %v)", err)
			}
		})
	}
}

func TestGatewayUpstreamSlow(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		io.Copy(io.Discard, r.Body)
		select { // answers only when the test ends
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	fs := gatewayFront(t, &upstream{URL: slow.URL}, func(g *gateway.Config, _ *servertest.Options) {
		g.ResponseHeaderTimeout = 200 * time.Millisecond
	})
	c := fs.Client()
	checks := []struct {
		name string
		call func() error
	}{
		{"GetObject", func() error {
			_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b1b"), Key: aws.String("k")})
			return err
		}},
		{"PutObject", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b1b"), Key: aws.String("k"), Body: bytes.NewReader(make([]byte, 256<<10))})
			return err
		}},
		{"ListObjectsV2", func() error {
			_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("b1b")})
			return err
		}},
	}
	for _, ch := range checks {
		code, msg, status := apiError(ch.call())
		if status != http.StatusGatewayTimeout || code != "GatewayTimeout" || !strings.Contains(msg, slow.URL) {
			t.Errorf("%s: %d %s %q, want 504 GatewayTimeout naming %s", ch.name, status, code, msg, slow.URL)
		}
	}
	if n := arrived.Load(); n != int64(len(checks)) {
		t.Errorf("%d requests reached the slow upstream, want %d", n, len(checks))
	}
	waitIdle(t, fs)
}

// progressTransport signals once an upload's body has been read past
// after bytes, that is, while the upstream is receiving it.
type progressTransport struct {
	next    http.RoundTripper
	after   int64
	reached chan struct{}
	once    atomic.Bool
}

func (p *progressTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Method == http.MethodPut {
		r.Body = &progressBody{ReadCloser: r.Body, p: p}
	}
	return p.next.RoundTrip(r)
}

type progressBody struct {
	io.ReadCloser
	p *progressTransport
	n int64
}

func (b *progressBody) Read(q []byte) (int, error) {
	n, err := b.ReadCloser.Read(q)
	b.n += int64(n)
	if b.n >= b.p.after && b.p.once.CompareAndSwap(false, true) {
		close(b.p.reached)
	}
	return n, err
}

// feed writes size bytes into pw in 64 KiB pieces until the reader goes.
func feed(pw *io.PipeWriter, size int) {
	buf := make([]byte, 64<<10)
	for sent := 0; sent < size; sent += len(buf) {
		if _, err := pw.Write(buf); err != nil {
			return
		}
	}
	pw.Close()
}

// presignedPut sends body to a presigned PUT URL; if trigger fires while
// the request is in progress, it runs action.
func presignedPut(t *testing.T, reqCtx context.Context, c *s3.Client, bucket, key string, body io.Reader, size int64,
	trigger <-chan struct{}, action func()) (*http.Response, error) {
	t.Helper()
	ps, err := s3.NewPresignClient(c).PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPut, ps.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		done <- result{resp, err}
	}()
	select {
	case <-trigger:
		action()
		r := <-done
		return r.resp, r.err
	case r := <-done:
		t.Errorf("the upload ended before the upstream received its first MiB: %v", r.err)
		return r.resp, r.err
	}
}

// syncLog collects log output written from several goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer // guarded by mu
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestClientHangupIsNotAnUpstreamFailure: a client that hangs up while
// its download is spliced to it is a 499 in the access log, and no
// upstream failure is logged (it was, as a failed read of the upstream
// response: "splice: connection reset by peer", with status 200).
func TestClientHangupIsNotAnUpstreamFailure(t *testing.T) {
	up := startEmbeddedUpstream(t)
	var gatewayLog, accessLog syncLog
	fs := gatewayFront(t, up, func(g *gateway.Config, o *servertest.Options) {
		g.Logger = slog.New(slog.NewTextHandler(&gatewayLog, nil))
		o.AccessLog = &accessLog
	})
	c := fs.Client()
	mustCreateBucket(t, c, "gone")
	mustPut(t, c, "gone", "big", randomBytes(3, 32<<20))

	for i := range 3 {
		ps, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("gone"), Key: aws.String("big")})
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(ps.URL)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", u.RequestURI(), u.Host)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %v %v", resp, err)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, 2<<20); err != nil { // past the copied start, into the splice
			t.Fatal(err)
		}
		_ = conn.(*net.TCPConn).SetLinger(0) // hang up with RST
		conn.Close()
		waitFor(t, "the access log line of the abandoned download", func() string {
			if n := strings.Count(accessLog.String(), "op=GetObject"); n != i+1 {
				return fmt.Sprintf("%d GetObject lines", n)
			}
			return ""
		})
	}
	waitIdle(t, fs)
	for _, line := range strings.Split(strings.TrimSpace(accessLog.String()), "\n") {
		if strings.Contains(line, "op=GetObject") && !strings.Contains(line, " status=499 ") {
			t.Errorf("an abandoned download is not logged as 499:\n%s", line)
		}
	}
	if log := gatewayLog.String(); log != "" {
		t.Errorf("a client's hang-up was logged as an upstream failure:\n%s", log)
	}
}
