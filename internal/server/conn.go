package server

import (
	"context"
	"net"
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
}

func peerOf(ctx context.Context) peer {
	c, _ := ctx.Value(connKey{}).(*net.TCPConn)
	return peer{tcp: c}
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
