package gateway

// The canonical forms of SigV4: header names and values, host, path and
// query, written the way aws-sdk-go-v2's signer writes them.

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ignoredHeader reports whether SigV4 leaves header k unsigned: it may
// change on the way (proxies, the transport); the set is aws-sdk-go-v2's.
// Keys match exactly, as in the SDK.
func ignoredHeader(k string) bool {
	switch k {
	case "Authorization", "User-Agent", "X-Amzn-Trace-Id", "Expect", "Transfer-Encoding":
		return true
	}
	return false
}

// headerName is a signed header: key is its key in the header map ("" for
// host and content-length, which come from the request), name its name,
// compared and written in ASCII lowercase.
type headerName struct{ key, name string }

// signedHeaderNames returns the signed headers sorted by lowercase name:
// host, content-length when the length is positive, and every header of h
// that is not ignored.
func (ss *signState) signedHeaderNames(h http.Header, contentLength int64) []headerName {
	names := append(ss.names[:0], headerName{name: "host"})
	if contentLength > 0 {
		names = append(names, headerName{name: "content-length"})
	}
	for k := range h {
		if ignoredHeader(k) {
			continue
		}
		name := k
		if !isASCII(k) {
			name = strings.ToLower(k)
		}
		if equalLower(name, "content-length") || equalLower(name, "host") {
			continue // signed from the request, not the header map
		}
		names = append(names, headerName{key: k, name: name})
	}
	slices.SortFunc(names, func(a, b headerName) int {
		if c := compareLower(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	ss.names = names
	return names
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
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
		if ca, cb := lowerByte(a[i]), lowerByte(b[i]); ca != cb {
			return int(ca) - int(cb)
		}
	}
	return len(a) - len(b)
}

func equalLower(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = append(b, lowerByte(s[i]))
	}
	return b
}

// appendStripSpaces appends s without leading and trailing spaces and
// with every run of spaces inside it reduced to one.
func appendStripSpaces(b []byte, s string) []byte {
	s = strings.Trim(s, " ")
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && s[i-1] == ' ' {
			continue
		}
		b = append(b, s[i])
	}
	return b
}

// signingHost returns the host the signature covers: req.Host, else the
// URL's host. A port that is the scheme's default is dropped from it and
// req.Host set to the result, so the wire carries what was signed.
func signingHost(req *http.Request) string {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if port := hostPort(host); port != "" && isDefaultPort(req.URL.Scheme, port) {
		req.Host = hostWithoutPort(host)
		return req.Host
	}
	return host
}

// hostPort returns the port of host ("h:p", "[v6]:p"), "" if none.
func hostPort(host string) string {
	if i := strings.Index(host, "]:"); i >= 0 {
		return host[i+2:]
	}
	if strings.Contains(host, "]") {
		return ""
	}
	if i := strings.IndexByte(host, ':'); i >= 0 {
		return host[i+1:]
	}
	return ""
}

// hostWithoutPort returns host without its port (and an IPv6 literal
// without its brackets).
func hostWithoutPort(host string) string {
	i := strings.IndexByte(host, ':')
	if i < 0 {
		return host
	}
	if j := strings.IndexByte(host, ']'); j >= 0 {
		return strings.TrimPrefix(host[:j], "[")
	}
	return host[:i]
}

func isDefaultPort(scheme, port string) bool {
	return strings.EqualFold(scheme, "http") && port == "80" || strings.EqualFold(scheme, "https") && port == "443"
}

// canonicalURI is the request path as sent (S3 does not escape it again).
func canonicalURI(u *url.URL) string {
	var p string
	if u.Opaque != "" {
		o, _, _ := strings.Cut(u.Opaque, "?")
		o = strings.TrimPrefix(o, "//")
		if i := strings.IndexByte(o, '/'); i >= 0 {
			p = o[i:]
		}
	} else {
		p = u.EscapedPath()
	}
	if p == "" {
		return "/"
	}
	return p
}

// queryParam is one encoded query parameter: qbuf[k0:k1] = qbuf[k1:v1].
type queryParam struct{ k0, k1, v1 int }

// maxQuickParams is the most query parameters parsed here; longer queries
// go through url.ParseQuery (same result, and its limit on parameters).
const maxQuickParams = 64

// canonicalQuery returns the canonical form of a raw query: the
// parameters url.ParseQuery accepts, each name and value percent-encoded
// (everything but unreserved characters, space as %20), sorted by name,
// then value. It returns raw itself when raw is already canonical.
func (ss *signState) canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q := ss.qbuf[:0]
	params := ss.params[:0]
	add := func(k, v string) {
		k0 := len(q)
		q = appendQueryEscape(q, k)
		k1 := len(q)
		q = appendQueryEscape(q, v)
		params = append(params, queryParam{k0, k1, len(q)})
	}
	if strings.Count(raw, "&") >= maxQuickParams {
		values, _ := url.ParseQuery(raw)
		for k, vs := range values {
			for _, v := range vs {
				add(k, v)
			}
		}
	} else {
		for rest := raw; rest != ""; {
			var part string
			part, rest, _ = strings.Cut(rest, "&")
			if part == "" || strings.Contains(part, ";") {
				continue // url.ParseQuery drops these
			}
			k, v, _ := strings.Cut(part, "=")
			k, err1 := url.QueryUnescape(k)
			v, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				continue
			}
			add(k, v)
		}
	}
	slices.SortFunc(params, func(a, b queryParam) int {
		if c := bytes.Compare(q[a.k0:a.k1], q[b.k0:b.k1]); c != 0 {
			return c
		}
		return bytes.Compare(q[a.k1:a.v1], q[b.k1:b.v1])
	})
	out := ss.buf[:0]
	for i, p := range params {
		if i > 0 {
			out = append(out, '&')
		}
		out = append(out, q[p.k0:p.k1]...)
		out = append(out, '=')
		out = append(out, q[p.k1:p.v1]...)
	}
	ss.qbuf, ss.params, ss.buf = q, params, out[:0]
	if string(out) == raw {
		return raw
	}
	return string(out)
}

// appendQueryEscape appends s with every byte but the unreserved
// characters percent-encoded (uppercase hex), as SigV4's canonical query.
func appendQueryEscape(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return b
}

func unreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}
