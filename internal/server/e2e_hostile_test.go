package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

// rawClient is a client that writes requests byte by byte as a hostile or
// broken client would.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, s *servertest.Server) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// head sends the request line and headers of r, and none of its body.
func (c *rawClient) head(r *http.Request) {
	c.t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, r.URL.RequestURI(), r.Host)
	if r.ContentLength >= 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", r.ContentLength)
	}
	if err := r.Header.WriteSubset(&b, map[string]bool{"Host": true, "Content-Length": true}); err != nil {
		c.t.Fatal(err)
	}
	b.WriteString("\r\n")
	if _, err := c.conn.Write(b.Bytes()); err != nil {
		c.t.Fatal(err)
	}
}

// response reads one response within d.
func (c *rawClient) response(r *http.Request, d time.Duration) (*http.Response, []byte) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(c.br, r)
	if err != nil {
		c.t.Fatalf("no response within %v: %v", d, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body
}

// closed reports whether the server closes the connection within d.
func (c *rawClient) closed(d time.Duration) bool {
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	_, err := c.br.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// unsignedPut is a signed PutObject of size bytes whose body is not
// signed, so that a test can send it piece by piece.
func unsignedPut(t *testing.T, s *servertest.Server, bucket, key string, size int64) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPut, s.URL+"/"+bucket+"/"+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.ContentLength = size
	signRequest(t, r, s.AccessKey, s.SecretKey, "UNSIGNED-PAYLOAD", time.Now())
	return r
}

// TestUnsentBodyIsAnsweredAndClosed: a request that declares a body and
// never sends it must not hold its connection. Before, an early error
// (here 403 for a request without credentials) waited for net/http to
// drain a body that never came, with no deadline: 130 such sockets took a
// server with 128 descriptors down.
func TestUnsentBodyIsAnsweredAndClosed(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	createBucket(t, s.Client(), "bkt")
	c := dialRaw(t, s)
	r, _ := http.NewRequest(http.MethodPut, s.URL+"/bkt/k", nil)
	r.ContentLength = 1000
	c.head(r)
	resp, body := c.response(r, 5*time.Second)
	if resp.StatusCode != http.StatusForbidden || s3ErrorCode(body) != "AccessDenied" {
		t.Fatalf("unsigned PUT with an unsent body: %d %s", resp.StatusCode, body)
	}
	if !c.closed(5 * time.Second) {
		t.Fatal("the connection stayed open after answering a request whose body was not read")
	}
}

// TestUnsentBodyOfSignedUploadTimesOut: an authorized upload whose body
// never comes is cut off after the idle timeout, answered 400
// RequestTimeout, and frees its slots.
func TestUnsentBodyOfSignedUploadTimesOut(t *testing.T) {
	s := servertest.Start(t, servertest.Options{IdleTimeout: 300 * time.Millisecond})
	createBucket(t, s.Client(), "bkt")
	c := dialRaw(t, s)
	r := unsignedPut(t, s, "bkt", "k", 1000)
	c.head(r)
	resp, body := c.response(r, 5*time.Second)
	if resp.StatusCode != http.StatusBadRequest || s3ErrorCode(body) != "RequestTimeout" {
		t.Fatalf("upload without its body: %d %s", resp.StatusCode, body)
	}
	if !c.closed(5 * time.Second) {
		t.Fatal("the connection stayed open")
	}
	if n, _ := s.Limits().Breaker().Inflight(s3api.ActionWrite); n != 0 {
		t.Fatalf("%d writes still in flight", n)
	}
	ms := scrape(t, s)
	if n := ms.value("s3limit_s3_request_total", "action", "Write", "bucket", "bkt", "status", "500"); n != 0 {
		t.Fatalf("a client's timeout was counted as %v server errors", n)
	}
}

// trickle sends body a few bytes at a time, every interval, until it is
// sent or the server stops taking it.
func trickle(c *rawClient, body []byte, chunk int, interval time.Duration) {
	for len(body) > 0 {
		n := min(chunk, len(body))
		if _, err := c.conn.Write(body[:n]); err != nil {
			return
		}
		body = body[n:]
		time.Sleep(interval)
	}
}

// TestTrickledUploadIsCutOff: a client that keeps its upload alive with a
// byte now and then, never idle for a whole timeout, must still be cut off
// by the minimum transfer rate, and give back the only upload slot. One
// that sends steadily above the minimum rate is served.
func TestTrickledUploadIsCutOff(t *testing.T) {
	s := servertest.Start(t, servertest.Options{
		IdleTimeout:     500 * time.Millisecond,
		MinTransferRate: 1000, // 500 bytes per window
		Limits:          limits.Options{ConcurrentFileUploadLimit: 1},
	})
	createBucket(t, s.Client(), "bkt")

	c := dialRaw(t, s)
	r := unsignedPut(t, s, "bkt", "slow", 5000)
	c.head(r)
	start := time.Now()
	go trickle(c, bytes.Repeat([]byte("x"), 5000), 2, 100*time.Millisecond) // 20 B/s
	resp, body := c.response(r, 10*time.Second)
	if resp.StatusCode != http.StatusBadRequest || s3ErrorCode(body) != "RequestTimeout" {
		t.Fatalf("trickled upload: %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cut off after %v, want about one 500 ms window", d)
	}
	if st := s.Limits().Uploads(); st.Files != 0 {
		t.Fatalf("the cut-off upload still holds %d upload slots", st.Files)
	}

	// 4 KiB/s, four times the minimum: served in full.
	c2 := dialRaw(t, s)
	data := bytes.Repeat([]byte("steady"), 1400) // 8400 bytes, about 2 s
	r2 := unsignedPut(t, s, "bkt", "steady", int64(len(data)))
	c2.head(r2)
	go trickle(c2, data, 512, 125*time.Millisecond)
	if resp, body := c2.response(r2, 20*time.Second); resp.StatusCode != http.StatusOK {
		t.Fatalf("steady upload at 4 KiB/s: %d %s", resp.StatusCode, body)
	}
	if got := servertest.GetObject(t, s.Client(), "bkt", "steady"); !bytes.Equal(got, data) {
		t.Fatal("steady upload stored wrong content")
	}
	if _, err := s.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("slow")}); err == nil {
		t.Fatal("the cut-off upload created an object")
	}
}

// TestClientResetMidBodyIsAClientError: a client that resets its
// connection in the middle of an upload is a 400 IncompleteBody in the
// metrics, as in S3, never a 500 that would page the server's operators.
func TestClientResetMidBodyIsAClientError(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	createBucket(t, s.Client(), "bkt")
	c := dialRaw(t, s)
	r := unsignedPut(t, s, "bkt", "k", 100000)
	c.head(r)
	if _, err := c.conn.Write(make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	if tc, ok := c.conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with RST
	}
	c.conn.Close()
	testkit.Eventually(t, 5*time.Second, func() string {
		ms := scrape(t, s)
		if n := ms.value("s3limit_s3_request_total", "action", "Write", "bucket", "bkt", "status", "400"); n != 1 {
			return "the reset upload is not counted as one 400 (500s: " +
				strconv.FormatFloat(ms.value("s3limit_s3_request_total", "action", "Write", "bucket", "bkt", "status", "500"), 'f', -1, 64) + ")"
		}
		return ""
	})
}

// TestAbandonedQueuedUploadLeavesTheQueue: a queued upload whose client
// goes away leaves the queue within a second and is never committed, even
// after a DELETE of its key.
//
// The server learns that a client left from the kernel (its FIN or RST),
// which it can do while the data the client sent waits unread in the
// socket buffers. A client that closes with more data unsent than the
// buffers hold (here 1 MiB) has its FIN queued behind that data in its own
// kernel: until the server reads, it cannot be told from a live client
// that the server's flow control holds back. Such an upload leaves when
// admitted: its body is read, the client is found gone at its end, and
// nothing is committed.
func TestAbandonedQueuedUploadLeavesTheQueue(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int64
		send   bool // send the whole body before leaving
		expect bool
		// stuck: the FIN cannot reach the server before its body is read
		stuck bool
	}{
		{"BodyLargerThanTheReadAhead", 120 << 10, true, false, false},
		{"Expect100Continue", 1 << 20, false, true, false},
		{"SmallBodySent", 1000, true, false, false},
		{"BodyLargerThanTheSocketBuffers", 1 << 20, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, g := startGated(t, servertest.Options{Limits: limits.Options{ConcurrentFileUploadLimit: 1}})
			c := s.Client()
			ctx := context.Background()
			createBucket(t, c, "bkt")
			held := goPut(ctx, c, "bkt", "hold/1", []byte("holding the only slot"))
			g.await(t)

			rc := dialRaw(t, s)
			r := unsignedPut(t, s, "bkt", "zombie", tc.size)
			if tc.expect {
				r.Header.Set("Expect", "100-continue")
			}
			rc.head(r)
			if tc.send {
				go func() { _, _ = rc.conn.Write(bytes.Repeat([]byte("z"), int(tc.size))) }()
			}
			wantGauges(t, s, "files=1 bytes=21 waiting=1 requests=1")
			time.Sleep(100 * time.Millisecond) // the body is in the socket buffers
			rc.conn.Close()
			left := time.Now()
			if !tc.stuck {
				testkit.Eventually(t, 5*time.Second, func() string {
					if st := s.Limits().Uploads(); st.Waiting != 0 {
						return "the abandoned upload is still queued"
					}
					return ""
				})
				if d := time.Since(left); d > time.Second+200*time.Millisecond {
					t.Errorf("the abandoned upload left the queue after %v, want within 1 s", d)
				}
			}
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("zombie")}); err != nil {
				t.Fatal(err)
			}
			g.releaseOne(t)
			if err := result(t, held); err != nil {
				t.Fatal(err)
			}
			wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
			if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("zombie")}); err == nil {
				t.Fatal("the abandoned upload was committed after its client left")
			}
		})
	}
}
