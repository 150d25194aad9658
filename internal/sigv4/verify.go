package sigv4

import (
	"net/http"
	"sync"
)

// Params is what a request signature covers beyond the request itself, as
// the verifier read it from the Authorization header or a presigned URL.
type Params struct {
	Key     Key    // the signing key of the credential's date and region
	AmzDate string // the signing time, as TimeFormat
	Scope   string // "<date>/<region>/<service>/aws4_request"
	// SignedHeaders is the client's list, which CheckSignedHeaders
	// accepted.
	SignedHeaders string
	// PayloadHash is the last line of the canonical request: the
	// x-amz-content-sha256 value, or UnsignedPayload.
	PayloadHash string
	// Presigned leaves X-Amz-Signature out of the canonical query.
	Presigned bool
}

// builders is the working memory of Verify.
var builders = sync.Pool{New: func() any { return new(builder) }}

// Verify reports whether claimed, as the client sent it (64 hex digits),
// is the signature of r. A malformed claim is one that does not match.
// The error is ErrMalformedQuery when r's query cannot be canonicalised.
//
// The canonical URI is the S3 form of the path: decoded once, every byte
// outside the unreserved set but '/' percent-encoded, no double encoding,
// no normalisation ("//", "." and ".." stay). When the path as sent
// differs from that form, the path as sent is tried too: both name the
// same resource, and some clients sign their own encoding.
func Verify(r *http.Request, p *Params, claimed string) (bool, error) {
	want, wellFormed := ParseSignature(claimed)
	b := builders.Get().(*builder)
	defer func() {
		if b.reusable() {
			builders.Put(b)
		}
	}()
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	b.uri = appendEscaped(b.uri[:0], path, true)
	got, err := b.requestSignature(r, p)
	if err != nil || !wellFormed {
		return false, err
	}
	if got.Equal(want) {
		return true, nil
	}
	// EscapedPath may allocate, but only on this failure path.
	sent := r.URL.EscapedPath()
	if sent == "" {
		sent = "/"
	}
	if sent == string(b.uri) {
		return false, nil
	}
	b.uri = append(b.uri[:0], sent...)
	if got, err = b.requestSignature(r, p); err != nil {
		return false, err
	}
	return got.Equal(want), nil
}

// requestSignature computes the signature of r with the canonical URI in
// b.uri.
func (b *builder) requestSignature(r *http.Request, p *Params) (Signature, error) {
	buf := append(b.buf[:0], r.Method...)
	buf = append(buf, '\n')
	buf = append(buf, b.uri...)
	buf = append(buf, '\n')
	omit := ""
	if p.Presigned {
		omit = "X-Amz-Signature"
	}
	var err error
	if buf, err = b.appendQuery(buf, r.URL.RawQuery, omit, dialectS3); err != nil {
		b.buf = buf
		return Signature{}, err
	}
	buf = append(buf, '\n')
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	buf = appendHeaders(buf, b.listedHeaders(r, p.SignedHeaders), host, r.ContentLength, dialectS3)
	buf = append(buf, '\n')
	buf = append(buf, p.SignedHeaders...)
	buf = append(buf, '\n')
	buf = append(buf, p.PayloadHash...)
	sts := len(buf)
	buf = appendRequestStringToSign(buf, p.AmzDate, p.Scope, buf)
	b.buf = buf
	return p.Key.sign(buf[sts:]), nil
}
