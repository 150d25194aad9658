package gateway

import (
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"strings"
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
