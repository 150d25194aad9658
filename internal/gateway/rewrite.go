package gateway

import (
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// presignParams are the query parameters of a presigned client URL.
// Other X-Amz-* parameters are request parameters and stay.
var presignParams = [...]string{
	"X-Amz-Algorithm",
	"X-Amz-Credential",
	"X-Amz-Date",
	"X-Amz-Expires",
	"X-Amz-SignedHeaders",
	"X-Amz-Signature",
	"X-Amz-Security-Token",
}

// isPresignParam reports whether a raw (escaped) query parameter name is
// one of presignParams, in any case. Only a name with escapes is
// unescaped (X%2DAmz%2DDate), so that the usual query costs no
// allocation.
func isPresignParam(name string) bool {
	if strings.IndexByte(name, '%') >= 0 {
		n, err := url.QueryUnescape(name)
		if err != nil {
			return false
		}
		name = n
	}
	if len(name) < len("X-Amz-Date") || !strings.EqualFold(name[:6], "x-amz-") {
		return false
	}
	for _, p := range presignParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// outbound builds the upstream request of c: the URL from the classified
// bucket and key, the client's headers without hop-by-hop, forwarding
// and authentication headers, and X-Amz-Content-Sha256 set to the payload
// hash that sign signs. The request carries a client trace that tells c
// the upstream connection and forwards 1xx responses.
// hostOf returns the Host header of an upstream request to u, the one the
// signature covers: without a default port (as the signer would set it).
func (g *Gateway) hostOf(u *url.URL) string {
	switch {
	case u.Host == g.base.Host: // path style
		return g.host
	case g.host == g.base.Host: // virtual-hosted, no default port to drop
		return u.Host
	default: // virtual-hosted: <bucket>.<host without the port>
		return u.Host[:len(u.Host)-len(g.base.Host)] + g.host
	}
}

func (g *Gateway) outbound(c *call) *http.Request {
	in := c.in
	g.fillUpstreamURL(&c.url, c.info.Bucket, c.info.Key, stripPresignQuery(in.URL.RawQuery), in.URL.Path)
	host := g.hostOf(&c.url)
	hasBody := in.ContentLength != 0 && in.Body != nil
	h := outboundHeader(in.Header)
	c.vals[0] = payloadHash(in.Header.Get("X-Amz-Content-Sha256"), in.ContentLength, hasBody)
	h["X-Amz-Content-Sha256"] = c.vals[0:1:1]
	if _, ok := h["User-Agent"]; !ok {
		// Not Go's default User-Agent: the client sent none.
		h["User-Agent"] = c.vals[1:2:2] // ""
	}
	// The connection is needed to reset it when the client's body fails
	// and to splice large responses.
	c.trace = httptrace.ClientTrace{GotConn: c.gotConn, Got1xxResponse: c.got1xx}
	out := http.Request{
		Method:           in.Method,
		URL:              &c.url,
		Proto:            "HTTP/1.1",
		ProtoMajor:       1,
		ProtoMinor:       1,
		Header:           h,
		ContentLength:    in.ContentLength,
		TransferEncoding: in.TransferEncoding,
		Host:             host,
		Trailer:          in.Trailer.Clone(),
	}
	if hasBody {
		c.body = in.Body
		c.want = in.ContentLength
		out.Body = c
		if fwd, ok := forwardedTrailer(in.Header); ok && in.Trailer != nil && in.ContentLength > 0 {
			c.trailer = fwd
			fwd.setHeaders(h, in.ContentLength)
			out.ContentLength = fwd.encodedLength(in.ContentLength)
		}
	}
	return out.WithContext(httptrace.WithClientTrace(in.Context(), &c.trace))
}

// outboundHeader returns the client's headers for the upstream: without
// the hop-by-hop headers (those RFC 9110 section 7.6.1 names, the older
// ones RFC 2616 section 13.5.1 lists, and any the Connection header
// names), the forwarding headers (a client could forge them), and the
// client's authentication and aws-chunked framing headers, which
// describe the client's request to s3limit, not s3limit's request to the
// upstream. The values are shared with in, not copied: neither side
// changes them.
func outboundHeader(in http.Header) http.Header {
	// Sized for what is kept plus what the gateway adds: the client's
	// signature headers are replaced one for one. A map of up to 8
	// entries is one allocation less than a bigger one.
	h := make(http.Header, len(in))
	conn := in["Connection"]
	// The trailing checksum of an aws-chunked body was verified and
	// consumed by s3limit; without it the upstream would reject the
	// algorithm header (S3 requires one or the other).
	_, trailer := in["X-Amz-Trailer"]
	trailer = trailer && !tokenListed(conn, "X-Amz-Trailer")
	for k, vv := range in {
		switch k {
		case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
			"Te", "Trailer", "Transfer-Encoding", "Upgrade",
			"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
			"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token",
			"X-Amz-Decoded-Content-Length",
			"Content-Length": // the request's ContentLength is what is sent
			continue
		case "X-Amz-Trailer", "X-Amz-Sdk-Checksum-Algorithm":
			if trailer {
				continue
			}
		case "Content-Encoding":
			if vv = withoutAWSChunked(vv); len(vv) == 0 {
				continue
			}
		}
		h[k] = vv
	}
	for _, v := range conn {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = textproto.TrimString(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
	// Tell the upstream that trailers are understood if the client said so.
	if containsToken(in["Te"], "trailers") {
		h["Te"] = []string{"trailers"}
	}
	return h
}

// tokenListed reports whether a Connection header lists the header name.
func tokenListed(conn []string, name string) bool {
	for _, v := range conn {
		for tok := range strings.SplitSeq(v, ",") {
			if textproto.CanonicalMIMEHeaderKey(textproto.TrimString(tok)) == name {
				return true
			}
		}
	}
	return false
}

// containsToken reports whether comma-separated header values contain
// the lowercase token, ignoring ASCII case and optional whitespace.
func containsToken(values []string, token string) bool {
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.Trim(elem, " \t"), token) {
				return true
			}
		}
	}
	return false
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
		return sigv4.EmptySHA256
	default:
		return sigv4.UnsignedPayload
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
	b.Grow(len(raw))
	for rest := raw; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, "&")
		name, _, _ := strings.Cut(part, "=")
		if isPresignParam(name) {
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
	u := new(url.URL)
	g.fillUpstreamURL(u, bucket, key, rawQuery, "")
	return u
}

// fillUpstreamURL sets u to upstreamURL(bucket, key, rawQuery). inPath is
// the client's decoded path; it is reused when it is the upstream path.
func (g *Gateway) fillUpstreamURL(u *url.URL, bucket, key, rawQuery, inPath string) {
	*u = url.URL{Scheme: g.base.Scheme, Host: g.base.Host, RawQuery: rawQuery}
	var path string
	switch {
	case bucket == "":
		path = g.basePath + "/"
	case g.virtual && virtualHostable(bucket):
		u.Host = bucket + "." + g.base.Host
		path = g.basePath + "/" + key
	case key == "":
		path = g.basePath + "/" + bucket
	case g.basePath == "" && isBucketKeyPath(inPath, bucket, key):
		path = inPath
	default:
		path = g.basePath + "/" + bucket + "/" + key
	}
	u.Path = path
	if esc := escapePath(path); esc != path {
		u.RawPath = esc
	}
}

// isBucketKeyPath reports whether p is "/<bucket>/<key>".
func isBucketKeyPath(p, bucket, key string) bool {
	return len(p) == 2+len(bucket)+len(key) && p[0] == '/' && p[1+len(bucket)] == '/' &&
		p[1:1+len(bucket)] == bucket && p[2+len(bucket):] == key
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
