package gateway

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const signAlgorithm = "AWS4-HMAC-SHA256"

// signer signs upstream requests with AWS Signature Version 4 in the
// Authorization header. For any request it produces what aws-sdk-go-v2's
// v4.Signer produces with DisableURIPathEscaping (S3 signs the path as
// sent): the same canonical request, the same signed headers, and the
// query rewritten into its canonical form (TestSignerMatchesSDK holds the
// two side by side). It differs in cost only: the signing key and the
// credential scope are derived once per UTC day and X-Amz-Date once per
// second, and the canonical request is built in a pooled buffer, so a
// signature takes two allocations instead of about forty-five.
//
// A signer is safe for concurrent use.
type signer struct {
	accessKey, secretKey, sessionToken string
	region, service                    string

	stamp atomic.Pointer[signStamp] // the second signed at most recently
	state sync.Pool                 // of *signState
}

// signStamp is the time-dependent part of the signatures of one second.
type signStamp struct {
	unix    int64  // the second, Unix time
	amzDate string // X-Amz-Date: "20060102T150405Z"
	day     *signDay
}

// signDay is the signing key and credential scope of one UTC day.
type signDay struct {
	date       string // "20060102"
	key        [sha256.Size]byte
	credential string // "<access key>/<date>/<region>/<service>/aws4_request"
}

// signState is the scratch space of one signature.
type signState struct {
	buf    []byte
	qbuf   []byte       // encoded query keys and values
	params []queryParam // offsets into qbuf
	names  []headerName // the signed headers
	mac    hash.Hash    // HMAC-SHA256 keyed with macDay's key
	macDay *signDay
	sum    [sha256.Size]byte
}

// maxPooledBuf keeps one huge request's scratch space out of the pool.
const maxPooledBuf = 64 << 10

func newSigner(accessKey, secretKey, sessionToken, region, service string) *signer {
	return &signer{accessKey: accessKey, secretKey: secretKey, sessionToken: sessionToken, region: region, service: service}
}

// stampAt returns the signing stamp of the second t falls in.
func (s *signer) stampAt(t time.Time) *signStamp {
	t = t.UTC()
	unix := t.Unix()
	st := s.stamp.Load()
	if st != nil && st.unix == unix {
		return st
	}
	var b [16]byte
	y, mo, d := t.Date()
	hh, mm, ss := t.Clock()
	appendDigits(b[:0], y, 4)
	appendDigits(b[4:4], int(mo), 2)
	appendDigits(b[6:6], d, 2)
	b[8] = 'T'
	appendDigits(b[9:9], hh, 2)
	appendDigits(b[11:11], mm, 2)
	appendDigits(b[13:13], ss, 2)
	b[15] = 'Z'
	amzDate := string(b[:])
	var day *signDay
	if st != nil && st.day.date == amzDate[:8] {
		day = st.day
	} else {
		day = s.deriveDay(amzDate[:8])
	}
	st = &signStamp{unix: unix, amzDate: amzDate, day: day}
	s.stamp.Store(st) // concurrent stores of other seconds are fine: each caller uses its own
	return st
}

// appendDigits writes n as exactly width decimal digits into dst[:width].
func appendDigits(dst []byte, n, width int) {
	dst = dst[:width]
	for i := width - 1; i >= 0; i-- {
		dst[i] = byte('0' + n%10)
		n /= 10
	}
}

// deriveDay derives the signing key of date ("20060102"): HMAC chain of
// "AWS4"+secret, date, region, service and "aws4_request".
func (s *signer) deriveDay(date string) *signDay {
	mac := func(key []byte, data string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(data))
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+s.secretKey), date)
	k = mac(k, s.region)
	k = mac(k, s.service)
	k = mac(k, "aws4_request")
	day := &signDay{
		date:       date,
		credential: s.accessKey + "/" + date + "/" + s.region + "/" + s.service + "/aws4_request",
	}
	copy(day.key[:], k)
	return day
}

// sign adds X-Amz-Date, X-Amz-Security-Token (temporary credentials
// only) and Authorization to req for payloadHash at now. Like the SDK
// signer it also rewrites req.URL.RawQuery into the canonical query that
// it signs, and drops a default port from the Host it signs (setting
// req.Host). req.Header must not be nil.
func (s *signer) sign(req *http.Request, payloadHash string, now time.Time) {
	st := s.stampAt(now)
	h := req.Header
	// One backing array for the values this signature sets; each header
	// gets a full slice expression so appends never overwrite a neighbour.
	vals := make([]string, 3)
	vals[0] = st.amzDate
	h["X-Amz-Date"] = vals[0:1:1]
	if s.sessionToken != "" {
		vals[1] = s.sessionToken
		h["X-Amz-Security-Token"] = vals[1:2:2]
	}

	host := signingHost(req)

	ss, _ := s.state.Get().(*signState)
	if ss == nil {
		ss = &signState{}
	}
	defer s.putState(ss)

	query := ss.canonicalQuery(req.URL.RawQuery)
	req.URL.RawQuery = query

	// Canonical request.
	b := ss.buf[:0]
	b = append(b, req.Method...)
	b = append(b, '\n')
	b = append(b, canonicalURI(req.URL)...)
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	names := ss.signedHeaderNames(h, req.ContentLength)
	for i := 0; i < len(names); {
		name := names[i].name
		b = appendLower(b, name)
		b = append(b, ':')
		switch {
		case names[i].key == "" && name == "host":
			b = appendStripSpaces(b, host)
			i++
		case names[i].key == "" && name == "content-length":
			b = strconv.AppendInt(b, req.ContentLength, 10)
			i++
		default:
			// Keys that differ only in case are one header (values joined).
			first := true
			for ; i < len(names) && equalLower(names[i].name, name); i++ {
				for _, v := range h[names[i].key] {
					if !first {
						b = append(b, ',')
					}
					first = false
					b = appendStripSpaces(b, strings.TrimSpace(v))
				}
			}
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	signedStart := len(b)
	for i, n := range names {
		if i > 0 && equalLower(names[i-1].name, n.name) {
			continue
		}
		if i > 0 {
			b = append(b, ';')
		}
		b = appendLower(b, n.name)
	}
	signedEnd := len(b)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	ss.sum = sha256.Sum256(b)

	// String to sign, after the canonical request (whose signed header
	// list is still needed).
	sts := len(b)
	b = append(b, signAlgorithm+"\n"...)
	b = append(b, st.amzDate...)
	b = append(b, '\n')
	b = append(b, st.day.credential[len(s.accessKey)+1:]...) // the scope
	b = append(b, '\n')
	b = hex.AppendEncode(b, ss.sum[:])
	if ss.macDay != st.day {
		ss.mac = hmac.New(sha256.New, st.day.key[:])
		ss.macDay = st.day
	}
	ss.mac.Reset()
	ss.mac.Write(b[sts:])
	sig := ss.mac.Sum(ss.sum[:0])

	auth := len(b)
	b = append(b, signAlgorithm+" Credential="...)
	b = append(b, st.day.credential...)
	b = append(b, ", SignedHeaders="...)
	b = append(b, b[signedStart:signedEnd]...)
	b = append(b, ", Signature="...)
	b = hex.AppendEncode(b, sig)
	vals[2] = string(b[auth:])
	h["Authorization"] = vals[2:3:3]
	ss.buf = b[:0]
}

func (s *signer) putState(ss *signState) {
	if cap(ss.buf) > maxPooledBuf || cap(ss.qbuf) > maxPooledBuf || cap(ss.names) > 1024 || cap(ss.params) > 1024 {
		return
	}
	clear(ss.names[:cap(ss.names)]) // keep no references to request data
	ss.names = ss.names[:0]
	ss.params = ss.params[:0]
	s.state.Put(ss)
}

// ignoredHeaders are the headers SigV4 does not sign: they may change on
// the way (proxies, the transport), as aws-sdk-go-v2 defines them. Keys
// match exactly, as in the SDK.
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
