package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Payload hashes the upstream request may be signed with.
const (
	unsignedPayload = "UNSIGNED-PAYLOAD"
	emptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// clientAuthHeaders are the client's authentication and aws-chunked framing
// headers: they describe the client's request to s3limit, not s3limit's
// request to the upstream, and a fresh signature replaces them.
var clientAuthHeaders = [...]string{
	"Authorization",
	"X-Amz-Date",
	"X-Amz-Content-Sha256",
	"X-Amz-Security-Token",
	"X-Amz-Decoded-Content-Length",
	"Content-Length", // Out.ContentLength is what is sent
}

// presignParams are the query parameters of a presigned client URL
// (lowercase). Other X-Amz-* parameters are request parameters and stay.
var presignParams = map[string]bool{
	"x-amz-algorithm":      true,
	"x-amz-credential":     true,
	"x-amz-date":           true,
	"x-amz-expires":        true,
	"x-amz-signedheaders":  true,
	"x-amz-signature":      true,
	"x-amz-security-token": true,
}

// callKey carries the *call of a request through the proxy.
type callKey struct{}

// call is the gateway's state for one request: the inbound request (for
// error responses) and, when there is a body, the outbound body wrapper.
// The wrapper remembers why reading the client's body failed, so that a
// client fault is not reported as an upstream failure, and makes sure an
// upstream never mistakes a failed body for a complete one.
type call struct {
	in   *http.Request
	w    http.ResponseWriter // the client's response
	info *s3api.Info

	body io.ReadCloser // the proxy's outbound body; nil when there is none
	want int64         // declared length; -1 = unknown
	got  int64         // bytes read so far; only the transport's writer touches it

	mu      sync.Mutex
	bodyErr error    // guarded by mu: why reading the client's body failed
	conn    net.Conn // guarded by mu: the upstream connection of the request
}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

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
	n, err := c.body.Read(p)
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

// maxEmptyReads bounds the (0, nil) reads confirmEnd tolerates.
const maxEmptyReads = 100

// confirmEnd reads past the declared length and expects io.EOF.
func (c *call) confirmEnd() error {
	if c.got > c.want {
		return errBodyTooLong
	}
	var one [1]byte
	for range maxEmptyReads {
		n, err := c.body.Read(one[:])
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

// errBodyTooLong is a body that goes on past its declared length.
var errBodyTooLong = s3api.ErrInvalidRequest.WithMessage("The request body is longer than its declared length.")

// Close closes the proxy's body (which does not close the client's).
func (c *call) Close() error { return c.body.Close() }

// gotConn is the client trace hook that learns the upstream connection.
func (c *call) gotConn(info httptrace.GotConnInfo) {
	c.mu.Lock()
	c.conn = info.Conn
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

// rewrite turns the client's request into the upstream request: the URL
// from the classified bucket and key, the client's headers without its
// authentication, and X-Amz-Content-Sha256 set to the payload hash that
// signingTransport signs. The proxy has already removed hop-by-hop and
// X-Forwarded-* headers.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	c := callFrom(pr.In.Context())
	out := pr.Out
	out.URL = g.upstreamURL(c.info.Bucket, c.info.Key, stripPresignQuery(pr.In.URL.RawQuery))
	out.Host = ""

	h := out.Header
	hash := payloadHash(pr.In.Header.Get("X-Amz-Content-Sha256"), out.ContentLength, out.Body != nil)
	for _, k := range clientAuthHeaders {
		delete(h, k)
	}
	if _, ok := h["X-Amz-Trailer"]; ok {
		// The trailing checksum of an aws-chunked body was verified
		// and consumed by s3limit; without it the upstream would reject
		// the algorithm header (S3 requires one or the other).
		delete(h, "X-Amz-Trailer")
		delete(h, "X-Amz-Sdk-Checksum-Algorithm")
	}
	if ce, ok := h["Content-Encoding"]; ok {
		if v := withoutAWSChunked(ce); len(v) == 0 {
			delete(h, "Content-Encoding")
		} else {
			h["Content-Encoding"] = v
		}
	}
	h["X-Amz-Content-Sha256"] = []string{hash}

	if out.Body != nil {
		c.body = out.Body
		c.want = out.ContentLength
		out.Body = c
	}
	// The connection is needed to reset it when the client's body fails
	// and to splice large responses.
	pr.Out = out.WithContext(httptrace.WithClientTrace(out.Context(), &httptrace.ClientTrace{GotConn: c.gotConn}))
}

// payloadHash chooses the payload hash of the upstream signature. The
// client's hex SHA-256 still describes the body, which is forwarded
// unchanged, so the upstream verifies it again; anything else (streaming
// aws-chunked, UNSIGNED-PAYLOAD, a presigned URL) is sent as
// UNSIGNED-PAYLOAD: s3limit has already verified what the client signed.
func payloadHash(client string, contentLength int64, hasBody bool) string {
	switch {
	case isHexSHA256(client):
		return client
	case !hasBody && contentLength <= 0:
		return emptySHA256
	default:
		return unsignedPayload
	}
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// withoutAWSChunked removes the aws-chunked coding from Content-Encoding
// values ("aws-chunked", "aws-chunked,gzip").
func withoutAWSChunked(values []string) []string {
	var out []string
	for _, v := range values {
		if !strings.Contains(strings.ToLower(v), "aws-chunked") {
			out = append(out, v)
			continue
		}
		var keep []string
		for _, tok := range strings.Split(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok != "" && !strings.EqualFold(tok, "aws-chunked") {
				keep = append(keep, tok)
			}
		}
		if len(keep) > 0 {
			out = append(out, strings.Join(keep, ","))
		}
	}
	return out
}

// stripPresignQuery removes the presigned-URL authentication parameters
// from a raw query and keeps every other parameter as the client sent it.
func stripPresignQuery(raw string) string {
	if !containsFold(raw, "amz") { // also catches X%2DAmz%2D
		return raw
	}
	var b strings.Builder
	for rest := raw; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, "&")
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil && presignParams[strings.ToLower(n)] {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	return b.String()
}

// containsFold reports whether s contains the lowercase ASCII substr,
// ignoring ASCII case.
func containsFold(s, substr string) bool {
	for i := 0; i+len(substr) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(substr)], substr) {
			return true
		}
	}
	return false
}

// upstreamURL builds the upstream URL of a bucket and key (both decoded):
// path style <base>/<bucket>/<key>, or virtual-hosted <bucket>.<host>/<key>.
// The escaped path is set explicitly with S3's escaping (everything but
// unreserved characters and '/'), so the path on the wire is the one
// signed.
func (g *Gateway) upstreamURL(bucket, key, rawQuery string) *url.URL {
	u := &url.URL{Scheme: g.base.Scheme, Host: g.base.Host, RawQuery: rawQuery}
	var path string
	switch {
	case bucket == "":
		path = g.basePath + "/"
	case g.virtual && virtualHostable(bucket):
		u.Host = bucket + "." + g.base.Host
		path = g.basePath + "/" + key
	case key == "":
		path = g.basePath + "/" + bucket
	default:
		path = g.basePath + "/" + bucket + "/" + key
	}
	u.Path = path
	if esc := escapePath(path); esc != path {
		u.RawPath = esc
	}
	return u
}

// virtualHostable reports whether a bucket name can be a host label
// prefix: lowercase letters, digits, '-' and '.', 3 to 63 characters.
func virtualHostable(bucket string) bool {
	if len(bucket) < 3 || len(bucket) > 63 {
		return false
	}
	for i := 0; i < len(bucket); i++ {
		c := bucket[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return bucket[0] != '-' && bucket[0] != '.' && bucket[len(bucket)-1] != '-' && bucket[len(bucket)-1] != '.'
}

// escapePath percent-encodes every byte of p except the unreserved
// characters of RFC 3986 and '/', as S3's canonical URI does.
func escapePath(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if !pathSafe(p[i]) {
			n++
		}
	}
	if n == 0 {
		return p
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(p)+2*n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if pathSafe(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func pathSafe(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '/'
}
