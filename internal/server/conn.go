package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
)

type connKey struct{}

// connContext is http.Server.ConnContext: it keeps each connection in the
// contexts of its requests, so that the pipeline can ask the kernel about
// the client (see tcpState).
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// peer is what the kernel knows about a request's client connection. Its
// zero value knows nothing (a connection that is not TCP, a platform
// without TCP_INFO, a handler run without NewHTTPServer).
type peer struct {
	tcp *net.TCPConn
	cc  *coalescingConn // the same connection, when it came through Listener
}

func peerOf(ctx context.Context) peer {
	switch c := ctx.Value(connKey{}).(type) {
	case *net.TCPConn:
		return peer{tcp: c}
	case *coalescingConn:
		return peer{tcp: c.TCPConn, cc: c}
	}
	return peer{}
}

// gone reports whether the client has closed or reset its connection,
// even while data it sent is still unread in the socket buffer: the
// kernel has seen its FIN or RST.
func (p peer) gone() bool {
	if p.tcp == nil {
		return false
	}
	st, ok := tcpState(p.tcp)
	return ok && st.closed
}

// acked returns the bytes of the response the client has acknowledged
// so far on this connection, or false when the platform cannot tell.
func (p peer) acked() (int64, bool) {
	if p.tcp == nil {
		return 0, false
	}
	st, ok := tcpState(p.tcp)
	return st.acked, ok
}

// state returns what the kernel knows of the connection, or false when
// it cannot tell.
func (p peer) state() (tcpInfo, bool) {
	if p.tcp == nil {
		return tcpInfo{}, false
	}
	return tcpState(p.tcp)
}

// tcpInfo is the part of the kernel's TCP_INFO the server uses.
type tcpInfo struct {
	closed bool  // FIN or RST received (CLOSE_WAIT, LAST_ACK, CLOSE)
	acked  int64 // bytes acknowledged by the peer
}

// goneCheck returns a check of whether the client of the request in ctx
// has closed or reset its connection, for limits.Options.ClientCheck, or
// nil when the kernel cannot be asked (see closedCheck).
func goneCheck(ctx context.Context) func() bool {
	p := peerOf(ctx)
	if p.tcp == nil {
		return nil
	}
	return closedCheck(p.tcp)
}

// Listener wraps a TCP listener for NewHTTPServer: its connections can
// send a small response in one write (see coalescingConn). Connections of
// other kinds pass through unchanged.
func Listener(ln net.Listener) net.Listener { return coalescingListener{ln} }

type coalescingListener struct{ net.Listener }

func (l coalescingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		return &coalescingConn{TCPConn: tc, loopback: isLoopback(tc.RemoteAddr())}, nil
	}
	return c, err
}

// isLoopback reports whether a is an address of this host's loopback
// interface.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// coalescingConn is a client connection that can hold the writes of one
// small response and send them in one system call. net/http writes
// through a 4 KiB buffer: a 4 KiB object with its headers would leave in
// two writes, two segments and two wake-ups of the client. The request's
// responseWriter holds a response whose Content-Length is at most
// coalesceMax; it is released when the outermost handler has returned
// (releaseAfter), or ServeHTTP when it is served without NewHTTPServer,
// or a flush; ReadFrom releases it before sendfile or splice.
//
// Only the goroutine serving the request writes to the connection, as
// net/http requires of handlers; the background reader only reads. Close,
// which http.Server.Close calls from elsewhere, leaves what is held
// alone: ServeHTTP releases it before it returns.
type coalescingConn struct {
	*net.TCPConn
	held *[]byte // the response so far while holding; nil otherwise
	// outer is set while NewHTTPServer's handler serves a request: it
	// releases a held response once every handler wrapped around the
	// Server has returned, when net/http would have sent the last of it.
	outer bool
	// loopback: the client is on this host, so ReadFrom copies rather
	// than hands the kernel a file or socket (see ReadFrom).
	loopback bool
}

// releaseAfter is the handler NewHTTPServer serves: h, then the release
// of a response held on the connection (also when h panics, as net/http
// sends what it buffered before it closes the connection).
func releaseAfter(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cc := peerOf(r.Context()).cc
		if cc == nil {
			h.ServeHTTP(w, r)
			return
		}
		cc.outer = true
		defer func() {
			cc.outer = false
			if cc.held != nil {
				_ = http.NewResponseController(w).Flush()
				_ = cc.release()
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// coalesceMax is the largest response body held for one write: it covers
// objects kept inline in the store's database and small XML answers.
const coalesceMax = 32 << 10

var heldPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func (c *coalescingConn) Write(p []byte) (int, error) {
	if c.held != nil {
		*c.held = append(*c.held, p...)
		return len(p), nil
	}
	return c.TCPConn.Write(p)
}

// hold keeps what is written until release.
func (c *coalescingConn) hold() {
	if c.held == nil {
		c.held = heldPool.Get().(*[]byte)
	}
}

// release sends what was held, in one write, and stops holding.
func (c *coalescingConn) release() error {
	if c.held == nil {
		return nil
	}
	b := c.held
	c.held = nil
	var err error
	if len(*b) > 0 {
		_, err = c.TCPConn.Write(*b)
	}
	if cap(*b) <= 2*coalesceMax {
		*b = (*b)[:0]
		heldPool.Put(b)
	}
	return err
}

// ReadFrom sends what is held before the sendfile or splice path takes
// over the connection.
//
// To a client on the loopback interface it copies through a buffer
// instead. There is no zero copy on loopback — the receiver copies out
// of the pages sendfile or splice queued either way — and those pages
// are charged to the receiving socket at their full size, so a reader
// such as wrk, with a small receive buffer, keeps its window near 64 KiB
// and stalls: 64 MiB GETs from the embedded store ran at 4–17 a second
// with sendfile and 19–22 with the copy (4 connections, this kernel,
// bench/compare.sh). Over a network interface sendfile and splice stay.
func (c *coalescingConn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.release(); err != nil {
		return 0, err
	}
	if c.loopback {
		bp := copyPool.Get().(*[]byte)
		defer copyPool.Put(bp)
		return io.CopyBuffer(tcpWriter{c.TCPConn}, r, *bp)
	}
	return c.TCPConn.ReadFrom(r)
}

// copyPool holds the buffers ReadFrom copies through to loopback clients.
var copyPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// tcpWriter hides the connection's ReadFrom from io.CopyBuffer.
type tcpWriter struct{ c *net.TCPConn }

func (w tcpWriter) Write(p []byte) (int, error) { return w.c.Write(p) }
