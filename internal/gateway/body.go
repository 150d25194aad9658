package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/s3limit/s3limit/internal/s3api"
)

// call is the gateway's state for one request: the inbound request and
// response writer (for error responses and splicing), the upstream
// connection, and, when there is a body, the outbound body wrapper. The
// wrapper remembers why reading the client's body failed, so that a
// client fault is not reported as an upstream failure, and makes sure an
// upstream never mistakes a failed body for a complete one. The upstream
// URL, the client trace and the values of the headers the gateway sets
// live here too, so that one allocation holds them.
type call struct {
	in   *http.Request
	w    http.ResponseWriter // the client's response
	info *s3api.Info

	body io.ReadCloser // the client's body as forwarded; nil when there is none
	want int64         // declared length; -1 = unknown
	got  int64         // bytes read so far; only the transport's writer touches it
	// trailer is set when the client's verified trailing checksum goes
	// upstream after the body (see trailerBody).
	trailer trailerForward
	// closed is set when the handler returns: the transport's writer may
	// outlive it, but the client's body must not be read after that.
	closed atomic.Bool
	// clientLeft is set when writing the response failed because the
	// client went away (spliceBody.splice).
	clientLeft atomic.Bool

	url   url.URL // the upstream URL
	trace httptrace.ClientTrace
	vals  [2]string // values of X-Amz-Content-Sha256 and User-Agent

	mu       sync.Mutex
	bodyErr  error    // guarded by mu: why reading the client's body failed
	conn     net.Conn // guarded by mu: the upstream connection of the request
	answered bool     // guarded by mu: the upstream exchange is over; no more 1xx
}

// errBodyClosed is a read of the client's body after the handler returned.
var errBodyClosed = errors.New("gateway: read of the client's body after the request ended")

// Read passes the client's body through. Two rules keep a failed body
// from being stored upstream:
//
//   - The last declared byte is handed out only once the body has
//     confirmed its end: the aws-chunked decoder verifies the final chunk
//     signature and the trailing checksum at EOF, after the data.
//   - On any failure the upstream connection is reset (RST) rather than
//     closed: some S3 servers store what arrived before a clean close as
//     if it were the whole object.
//
// A body that ends before its declared length is IncompleteBody.
func (c *call) Read(p []byte) (int, error) {
	n, err := c.readBody(p)
	c.got += int64(n)
	switch {
	case err == nil && n > 0 && c.want >= 0 && c.got >= c.want:
		if err = c.confirmEnd(); err != nil {
			c.fail(err)
			return n - int(c.got-c.want) - 1, err
		}
		return n, io.EOF
	case err == nil:
	case err == io.EOF:
		if c.want >= 0 && c.got < c.want {
			err = s3api.ErrIncompleteBody
			c.fail(err)
		}
	default:
		c.fail(err)
	}
	return n, err
}

// readWhole reads the client's body, of known length, into memory and
// returns it as the upstream request's body. A failure is recorded as the
// client's (see Read).
func (c *call) readWhole() (io.ReadCloser, error) {
	buf := make([]byte, c.want)
	for n, empty := 0, 0; n < len(buf); {
		m, err := c.Read(buf[n:])
		n += m
		switch {
		case err == io.EOF && n == len(buf):
		case err != nil:
			return nil, err // recorded by Read
		case m == 0:
			if empty++; empty >= maxEmptyReads {
				c.fail(io.ErrNoProgress)
				return nil, io.ErrNoProgress
			}
		}
	}
	// An in-memory reader that http.Transport recognises: it then
	// writes the headers and the body with one system call.
	return io.NopCloser(bytes.NewReader(buf)), nil
}

// maxEmptyReads bounds the (0, nil) reads confirmEnd tolerates.
const maxEmptyReads = 100

// confirmEnd reads past the declared length and expects io.EOF.
func (c *call) confirmEnd() error {
	if c.got > c.want {
		return errBodyTooLong
	}
	var one [1]byte
	for range maxEmptyReads {
		n, err := c.readBody(one[:])
		switch {
		case n > 0:
			return errBodyTooLong
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

func (c *call) readBody(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, errBodyClosed
	}
	return c.body.Read(p)
}

// errBodyTooLong is a body that goes on past its declared length.
var errBodyTooLong = s3api.ErrInvalidRequest.WithMessage("The request body is longer than its declared length.")

// Close ends reading of the client's body without closing it: the
// server closes it once the handler has returned.
func (c *call) Close() error {
	c.closed.Store(true)
	return nil
}

// gotConn is the client trace hook that learns the upstream connection.
func (c *call) gotConn(info httptrace.GotConnInfo) {
	c.mu.Lock()
	c.conn = info.Conn
	c.mu.Unlock()
}

// got1xx forwards an informational response (100 Continue, 103 Early
// Hints) of the upstream to the client while the exchange lasts. The
// headers the pipeline has set for the final response (the request id)
// are kept for it.
func (c *call) got1xx(code int, header textproto.MIMEHeader) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answered {
		return nil // the response writer belongs to the final response now
	}
	h := c.w.Header()
	final := h.Clone()
	for k, vv := range header {
		for _, v := range vv {
			h.Add(k, v)
		}
	}
	c.w.WriteHeader(code)
	clear(h)
	for k, vv := range final {
		h[k] = vv
	}
	return nil
}

// finish ends the exchange for got1xx.
func (c *call) finish() {
	c.mu.Lock()
	c.answered = true
	c.mu.Unlock()
}

// fail records the first body failure and arms the upstream connection
// to be reset when the transport closes it.
func (c *call) fail(err error) {
	c.mu.Lock()
	first := c.bodyErr == nil
	if first {
		c.bodyErr = err
	}
	conn := c.conn
	c.mu.Unlock()
	if first {
		resetOnClose(conn)
	}
}

func (c *call) clientBodyErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bodyErr
}

// resetOnClose makes closing conn send a TCP RST instead of a FIN.
func resetOnClose(conn net.Conn) {
	for conn != nil {
		switch cc := conn.(type) {
		case interface{ SetLinger(int) error }: // *net.TCPConn, *spliceConn
			_ = cc.SetLinger(0)
			return
		case interface{ NetConn() net.Conn }: // *tls.Conn
			conn = cc.NetConn()
		default:
			return
		}
	}
}
