package sigv4

// The canonical forms of SigV4: URI encoding, query, header names and
// values, in the two dialects the package doc describes.

import (
	"bytes"
	"errors"
	"hash"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ErrMalformedQuery is a query string whose percent-encoding is malformed,
// which Verify cannot canonicalise.
var ErrMalformedQuery = errors.New("sigv4: the query string is not validly percent-encoded")

// dialect is where signers disagree; see the package doc.
type dialect uint8

const (
	dialectS3  dialect = iota // strict, as S3 verifies
	dialectSDK                // as aws-sdk-go-v2 signs
)

// builder is the working memory of one canonical request: reused through
// a pool, never shared.
type builder struct {
	buf   []byte      // the canonical request, then the string to sign
	uri   []byte      // the canonical URI the verifier tries
	enc   []byte      // encoded query names and values
	pairs []queryPair // their positions in enc
	hdrs  []header    // the signed headers

	// mac is HMAC-SHA256 keyed with macKey, kept for the Signer, which
	// signs with the same key all day: its Reset skips hashing the key.
	mac    hash.Hash
	macKey *Key
	sum    []byte // mac's output
}

// maxPooled keeps the working memory of one huge request out of the pool.
const maxPooled = 64 << 10

// reusable reports whether b is small enough to go back into a pool, and
// drops its references to request data.
func (b *builder) reusable() bool {
	if cap(b.buf) > maxPooled || cap(b.uri) > maxPooled || cap(b.enc) > maxPooled || cap(b.pairs) > 1024 || cap(b.hdrs) > 1024 {
		return false
	}
	clear(b.hdrs[:cap(b.hdrs)])
	b.hdrs = b.hdrs[:0]
	return true
}

// isUnreserved reports whether c is in the RFC 3986 unreserved set, which
// SigV4 leaves unencoded.
func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

const upperHex = "0123456789ABCDEF"

// appendEscaped appends s with every byte outside the unreserved set
// percent-encoded with upper-case hex, '/' kept when keepSlash: the SigV4
// URI encoding.
func appendEscaped(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || keepSlash && c == '/' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// appendReescaped decodes a query component (percent-escapes, '+' as a
// space) and appends it URI-encoded. It reports false, having appended
// part of it, when raw has a malformed escape.
func appendReescaped(dst []byte, raw string) ([]byte, bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '%':
			if i+2 >= len(raw) {
				return dst, false
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 {
				return dst, false
			}
			c = hi<<4 | lo
			i += 2
		case '+':
			c = ' '
		}
		if isUnreserved(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst, true
}

// queryPair locates one encoded query parameter in builder.enc:
// enc[k0:k1] is the name, enc[k1:v1] the value.
type queryPair struct{ k0, k1, v1 int }

// maxQueryParams is net/url's limit on query parameters: url.ParseQuery
// returns none beyond it, so aws-sdk-go-v2 signs such a query as empty.
const maxQueryParams = 10000

// appendQuery appends the canonical query of raw: every parameter's name
// and value decoded and URI-encoded, sorted by encoded name, then by
// encoded value. A parameter named omit (as sent) is left out. In
// dialectS3 a malformed escape is ErrMalformedQuery; in dialectSDK the
// parameters url.ParseQuery rejects (malformed escapes, ';') are dropped.
func (b *builder) appendQuery(dst []byte, raw, omit string, d dialect) ([]byte, error) {
	if raw == "" || d == dialectSDK && strings.Count(raw, "&") >= maxQueryParams {
		return dst, nil
	}
	enc, pairs := b.enc[:0], b.pairs[:0]
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" || d == dialectSDK && strings.IndexByte(part, ';') >= 0 {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		if omit != "" && name == omit {
			continue
		}
		p := queryPair{k0: len(enc)}
		var ok1, ok2 bool
		enc, ok1 = appendReescaped(enc, name)
		p.k1 = len(enc)
		enc, ok2 = appendReescaped(enc, value)
		p.v1 = len(enc)
		if !ok1 || !ok2 {
			if d == dialectS3 {
				b.enc, b.pairs = enc, pairs
				return dst, ErrMalformedQuery
			}
			enc = enc[:p.k0]
			continue
		}
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(x, y queryPair) int {
		if c := bytes.Compare(enc[x.k0:x.k1], enc[y.k0:y.k1]); c != 0 {
			return c
		}
		return bytes.Compare(enc[x.k1:x.v1], enc[y.k1:y.v1])
	})
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, enc[p.k0:p.k1]...)
		dst = append(dst, '=')
		dst = append(dst, enc[p.k1:p.v1]...)
	}
	b.enc, b.pairs = enc, pairs
	return dst, nil
}

// header is one signed header. name is compared and written in ASCII
// lower case. A header that fromRequest takes its value from the request
// rather than the header map: host, and content-length when the map has
// none.
type header struct {
	name        string
	key         string // its key in the header map, to order equal names
	values      []string
	fromRequest bool
}

// appendHeaders appends the canonical header lines of hs, which are
// sorted by name. Consecutive entries with the same name are one header
// whose values are joined with commas (header map keys that differ only
// in case).
func appendHeaders(dst []byte, hs []header, host string, contentLength int64, d dialect) []byte {
	for i := 0; i < len(hs); {
		name := hs[i].name
		dst = appendLower(dst, name)
		dst = append(dst, ':')
		switch {
		case hs[i].fromRequest && name == "host":
			dst = appendValue(dst, host, d)
			i++
		case hs[i].fromRequest:
			dst = strconv.AppendInt(dst, contentLength, 10)
			i++
		default:
			first := true
			for ; i < len(hs) && !hs[i].fromRequest && equalLower(hs[i].name, name); i++ {
				for _, v := range hs[i].values {
					if !first {
						dst = append(dst, ',')
					}
					first = false
					dst = appendValue(dst, v, d)
				}
			}
		}
		dst = append(dst, '\n')
	}
	return dst
}

// appendSignedHeaders appends the signed header list of hs: the names in
// lower case, once each, separated by ';'.
func appendSignedHeaders(dst []byte, hs []header) []byte {
	for i, h := range hs {
		if i > 0 && equalLower(hs[i-1].name, h.name) {
			continue
		}
		if i > 0 {
			dst = append(dst, ';')
		}
		dst = appendLower(dst, h.name)
	}
	return dst
}

// appendValue appends a header value trimmed, with every run of spaces
// inside it reduced to one. In dialectSDK it is first trimmed of all
// white space (strings.TrimSpace) and only spaces count; in dialectS3
// tabs count as spaces.
func appendValue(dst []byte, v string, d dialect) []byte {
	if d == dialectSDK {
		v = strings.TrimSpace(v)
	} else {
		v = trimSpaceTab(v)
	}
	if !strings.Contains(v, "  ") && (d == dialectSDK || strings.IndexByte(v, '\t') < 0) {
		return append(dst, v...) // nothing to collapse: the common case
	}
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '\t' && d == dialectS3 {
			space = true
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}

// trimSpaceTab returns v without leading and trailing spaces and tabs.
func trimSpaceTab(v string) string {
	for v != "" && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for v != "" && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// compareLower compares the ASCII-lowercase forms of a and b bytewise.
func compareLower(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		if ca, cb := lowerByte(a[i]), lowerByte(b[i]); ca != cb {
			return int(ca) - int(cb)
		}
	}
	return len(a) - len(b)
}

func equalLower(a, b string) bool {
	return len(a) == len(b) && compareLower(a, b) == 0
}

func appendLower(dst []byte, s string) []byte {
	n := len(dst)
	dst = append(dst, s...)
	for i := n; i < len(dst); i++ {
		dst[i] = lowerByte(dst[i])
	}
	return dst
}

// listedHeaders returns the headers a SignedHeaders list names, with the
// values r carries for them: host from the request, content-length from
// the request when the header map lacks it (net/http may keep it only in
// ContentLength), transfer-encoding from r.TransferEncoding (net/http
// removes it from the map).
func (b *builder) listedHeaders(r *http.Request, signedHeaders string) []header {
	hs := b.hdrs[:0]
	var keyBuf [64]byte
	for rest := signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		h := header{name: name}
		switch name {
		case "host":
			h.fromRequest = true
		default:
			h.values = r.Header[string(canonicalHeaderKey(keyBuf[:0], name))]
			switch {
			case len(h.values) > 0:
			case name == "transfer-encoding":
				h.values = r.TransferEncoding
			case name == "content-length":
				h.fromRequest = r.ContentLength >= 0
			}
		}
		hs = append(hs, h)
	}
	b.hdrs = hs
	return hs
}

// canonicalHeaderKey writes the net/http canonical form of a lower-case
// header name into buf and returns it. A name with bytes that are not HTTP
// token characters is returned unchanged, as net/http keeps such keys.
func canonicalHeaderKey(buf []byte, name string) []byte {
	buf = append(buf[:0], name...)
	upper := true
	for i, c := range buf {
		if !isTokenChar(c) {
			return append(buf[:0], name...)
		}
		if upper && 'a' <= c && c <= 'z' {
			buf[i] = c - ('a' - 'A')
		} else if !upper && 'A' <= c && c <= 'Z' {
			buf[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
	return buf
}

// isTokenChar reports whether c may appear in an HTTP header name
// (RFC 9110 token).
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// CheckSignedHeaders validates a SignedHeaders list as a verifier needs
// it: lower-case header names separated by ';', strictly ascending (so
// without duplicates), and including host. The error says what is wrong,
// for the caller to wrap.
func CheckSignedHeaders(v string) error {
	if v == "" {
		return errors.New("SignedHeaders is empty")
	}
	prev := ""
	host := false
	for rest := v; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		if name == "" {
			return errors.New("SignedHeaders has an empty name")
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if 'A' <= c && c <= 'Z' || !isTokenChar(c) {
				return errors.New("SignedHeaders must be lower-case header names")
			}
		}
		if prev != "" && name <= prev {
			return errors.New("SignedHeaders must be sorted and without duplicates")
		}
		prev = name
		host = host || name == "host"
	}
	if strings.HasSuffix(v, ";") {
		return errors.New("SignedHeaders has an empty name")
	}
	if !host {
		return errors.New("SignedHeaders must include host")
	}
	return nil
}

// SignedHeadersInclude reports whether a header key appears,
// case-insensitively, in a SignedHeaders list.
func SignedHeadersInclude(signedHeaders, key string) bool {
	for rest := signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		if strings.EqualFold(name, key) {
			return true
		}
	}
	return false
}
