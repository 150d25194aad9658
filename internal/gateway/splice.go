package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/s3limit/s3limit/internal/s3api"
)

// spliceMinSize is the smallest response body that is spliced; smaller
// bodies are copied, which keeps their upstream connection reusable.
const spliceMinSize = 1 << 20

// Large GET responses skip user space. A proxy that copies a body reads
// it from the upstream socket and writes it to the client socket, two
// copies per byte; the kernel can move it from socket to socket instead
// (splice(2), which net.TCPConn.ReadFrom uses on Linux, and which
// net/http's response writer reaches through its ReadFrom).
//
// http.Transport reads response bodies through its own buffered reader,
// so the raw socket is out of reach of the response body. But that
// reader asks the connection for more data only once its buffer is
// empty, on the goroutine that reads the body. So the connections of the
// default transport are spliceConns: while a spliceBody reads, a read
// of the connection hands the rest of the body (the declared length
// minus what the buffer already delivered) straight to the client with
// ReadFrom, and reports errSpliced, which spliceBody turns into the end
// of the body. The transport then sees a failed read and drops the
// connection: only bodies of at least spliceMinSize take this path.

// errSpliced ends a spliced body; it never leaves the package.
var errSpliced = errors.New("gateway: response body spliced to the client")

// spliceConn is an upstream connection of the default transport.
type spliceConn struct {
	*net.TCPConn
	job atomic.Pointer[spliceBody] // set while a spliceBody reads
}

func (c *spliceConn) Read(p []byte) (int, error) {
	if b := c.job.Load(); b != nil {
		return 0, b.splice(c.TCPConn)
	}
	return c.TCPConn.Read(p)
}

// spliceBody is a response body that, past what the transport has
// buffered, moves the rest to dst inside the kernel.
type spliceBody struct {
	call *call
	body io.ReadCloser // the transport's body
	conn *spliceConn
	dst  io.ReaderFrom // the client's response writer
	size int64         // declared length
	read int64         // bytes delivered so far, by either path
	done bool
}

// newSpliceBody returns a body for resp that splices into w, or nil when
// splicing does not apply: not a GET with a large declared body, the
// connection is not a plain spliceConn (TLS, custom transport), or w
// cannot take a reader.
func newSpliceBody(resp *http.Response, c *call) *spliceBody {
	if c == nil || resp.Request == nil || resp.Request.Method != http.MethodGet ||
		(resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent) ||
		resp.ContentLength < spliceMinSize || len(resp.TransferEncoding) > 0 || resp.Trailer != nil {
		return nil
	}
	c.mu.Lock()
	conn, _ := c.conn.(*spliceConn)
	c.mu.Unlock()
	dst, ok := c.w.(io.ReaderFrom)
	if conn == nil || !ok {
		return nil
	}
	return &spliceBody{call: c, body: resp.Body, conn: conn, dst: dst, size: resp.ContentLength}
}

func (b *spliceBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	b.conn.job.Store(b)
	n, err := b.body.Read(p)
	b.conn.job.Store(nil)
	b.read += int64(n)
	if errors.Is(err, errSpliced) {
		b.done = true
		return n, io.EOF
	}
	return n, err
}

func (b *spliceBody) Close() error { return b.body.Close() }

// splice moves the rest of the body from the upstream socket to dst. A
// failure is the upstream's or the client's: the server's writer says
// which (its error matches s3api.ErrClientClosedRequest when the client
// left), and the call remembers it, so that a client's hang-up is not
// reported as an upstream failure.
func (b *spliceBody) splice(src *net.TCPConn) error {
	rest := b.size - b.read
	n, err := b.dst.ReadFrom(&io.LimitedReader{R: src, N: rest})
	b.read += n
	switch {
	case err != nil:
		if errors.Is(err, s3api.ErrClientClosedRequest) {
			b.call.clientLeft.Store(true)
		}
		return err
	case n < rest:
		return io.ErrUnexpectedEOF // the upstream closed early
	}
	return errSpliced
}
