package gateway

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// Defaults of the upstream transport.
const (
	// DefaultResponseHeaderTimeout is Config.ResponseHeaderTimeout's zero value.
	DefaultResponseHeaderTimeout = 2 * time.Minute
	// MaxIdleConnsPerHost keeps enough warm connections for a busy
	// gateway: every idle slot saves a TCP (and TLS) handshake.
	MaxIdleConnsPerHost = 256

	dialTimeout         = 10 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	idleConnTimeout     = 90 * time.Second
	// ioBufferSize sizes the connection's read and write buffers: fewer
	// system calls per large body than the 4 KiB default.
	ioBufferSize = 64 << 10
	// copyBufferSize is the buffer the proxy copies response bodies with.
	copyBufferSize = 64 << 10
)

// NewTransport returns the transport a Gateway uses when Config.Transport
// is nil: HTTP/1.1 keep-alive with up to MaxIdleConnsPerHost idle
// connections, no transparent compression (bodies pass through as the
// upstream sends them), the proxy from the environment (HTTPS_PROXY,
// NO_PROXY), bounded dial and TLS handshakes, and responseHeaderTimeout
// (0 = DefaultResponseHeaderTimeout, negative = no limit) between the end
// of the request and the upstream's response headers. Large GET response
// bodies on its plain-HTTP connections are spliced from socket to socket
// (see spliceBody), also when it is wrapped in another RoundTripper. Expect:
// 100-continue from clients is honoured for up to one second, so that the
// upstream can refuse a large upload before its body is sent.
func NewTransport(responseHeaderTimeout time.Duration) *http.Transport {
	switch {
	case responseHeaderTimeout == 0:
		responseHeaderTimeout = DefaultResponseHeaderTimeout
	case responseHeaderTimeout < 0:
		responseHeaderTimeout = 0
	}
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if tc, ok := conn.(*net.TCPConn); ok {
			return &spliceConn{TCPConn: tc}, nil
		}
		return conn, err
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dial,
		MaxIdleConns:          4 * MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   MaxIdleConnsPerHost,
		IdleConnTimeout:       idleConnTimeout,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: responseHeaderTimeout,
		DisableCompression:    true,
		WriteBufferSize:       ioBufferSize,
		ReadBufferSize:        ioBufferSize,
	}
}

// sign adds SigV4 headers (Authorization, X-Amz-Date, and
// X-Amz-Security-Token for temporary credentials) to req, the last step
// before it is sent. The payload hash is the X-Amz-Content-Sha256 header
// that outbound set; UNSIGNED-PAYLOAD when there is none.
func (g *Gateway) sign(req *http.Request) {
	hash := req.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		hash = sigv4.UnsignedPayload
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	g.signer.Sign(req, hash, g.now())
}

// bufferPool hands out the copy buffers of response bodies, so that
// responses do not allocate a fresh buffer each. Buffers travel as
// pointers: putting a slice into a sync.Pool would allocate.
type bufferPool struct {
	size int
	pool sync.Pool // of *[]byte
}

func newBufferPool(size int) *bufferPool {
	return &bufferPool{size: size}
}

// Get returns a buffer of the pool's size.
func (p *bufferPool) Get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, p.size)
	return &b
}

// Put returns a buffer from Get; buffers smaller than the pool's size
// are dropped.
func (p *bufferPool) Put(b *[]byte) {
	if cap(*b) < p.size {
		return
	}
	*b = (*b)[:p.size]
	p.pool.Put(b)
}
