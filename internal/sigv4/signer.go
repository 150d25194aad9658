package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Credentials are what a Signer signs with.
type Credentials struct {
	AccessKey, SecretKey string
	// SessionToken is sent as X-Amz-Security-Token; "" for long-term
	// credentials.
	SessionToken string
}

// Signer signs requests with AWS Signature Version 4 in the Authorization
// header. For any request it produces what aws-sdk-go-v2's v4.Signer
// produces with DisableURIPathEscaping (S3 signs the path as sent): the
// same canonical request, the same signed headers, and the query
// rewritten into its canonical form (TestSignerMatchesSDK and
// FuzzSignerMatchesSDK hold the two side by side). It differs in cost
// only: the signing key and the credential scope are derived once per UTC
// day and X-Amz-Date once per second, and the canonical request is built
// in pooled memory, so a signature takes two allocations instead of about
// forty-five.
//
// A Signer is safe for concurrent use.
type Signer struct {
	creds            Credentials
	region, service  string
	keys             *KeyCache
	stamp            atomic.Pointer[signStamp] // the second signed at most recently
	builders         sync.Pool                 // of *builder
	credentialPrefix string                    // "<access key>/"
}

// signStamp is the time-dependent part of the signatures of one second.
type signStamp struct {
	unix    int64  // the second, Unix time
	amzDate string // X-Amz-Date: "20060102T150405Z"
	day     *signDay
}

// signDay is the signing key and credential of one UTC day.
type signDay struct {
	date       string // "20060102"
	key        Key
	credential string // "<access key>/<date>/<region>/<service>/aws4_request"
}

// scope returns the credential scope: the credential without the access key.
func (d *signDay) scope(s *Signer) string { return d.credential[len(s.credentialPrefix):] }

// NewSigner returns a Signer for creds, region and service ("s3").
func NewSigner(creds Credentials, region, service string) *Signer {
	return &Signer{
		creds:            creds,
		region:           region,
		service:          service,
		keys:             NewKeyCache(creds.SecretKey, service),
		credentialPrefix: creds.AccessKey + "/",
	}
}

// stampAt returns the signing stamp of the second t falls in.
func (s *Signer) stampAt(t time.Time) *signStamp {
	t = t.UTC()
	unix := t.Unix()
	st := s.stamp.Load()
	if st != nil && st.unix == unix {
		return st
	}
	amzDate := formatAmzDate(t)
	day := (*signDay)(nil)
	if st != nil && st.day.date == amzDate[:8] {
		day = st.day
	} else {
		date := amzDate[:8]
		day = &signDay{
			date:       date,
			key:        s.keys.Key(date, s.region),
			credential: s.credentialPrefix + Scope(date, s.region, s.service),
		}
	}
	st = &signStamp{unix: unix, amzDate: amzDate, day: day}
	s.stamp.Store(st) // concurrent stores of other seconds are fine: each caller uses its own
	return st
}

// formatAmzDate formats t (UTC) as X-Amz-Date: "20060102T150405Z".
func formatAmzDate(t time.Time) string {
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.Format(TimeFormat)
	}
	hh, mm, ss := t.Clock()
	var b [16]byte
	putDigits(b[0:4], y)
	putDigits(b[4:6], int(mo))
	putDigits(b[6:8], d)
	b[8] = 'T'
	putDigits(b[9:11], hh)
	putDigits(b[11:13], mm)
	putDigits(b[13:15], ss)
	b[15] = 'Z'
	return string(b[:])
}

// putDigits writes n as exactly len(dst) decimal digits.
func putDigits(dst []byte, n int) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + n%10)
		n /= 10
	}
}

// Sign adds X-Amz-Date, X-Amz-Security-Token (temporary credentials
// only) and Authorization to req for payloadHash (the value of
// X-Amz-Content-Sha256, which the caller sets) at now. Like the SDK signer
// it also rewrites req.URL.RawQuery into the canonical query that it
// signs, and drops a default port from the Host it signs (setting
// req.Host). req.Header must not be nil.
func (s *Signer) Sign(req *http.Request, payloadHash string, now time.Time) {
	st := s.stampAt(now)
	h := req.Header
	// One backing array for the values this signature sets; each header
	// gets a full slice expression so appends never overwrite a neighbour.
	vals := make([]string, 3)
	vals[0] = st.amzDate
	h["X-Amz-Date"] = vals[0:1:1]
	if s.creds.SessionToken != "" {
		vals[1] = s.creds.SessionToken
		h["X-Amz-Security-Token"] = vals[1:2:2]
	}
	host := signingHost(req)

	b, _ := s.builders.Get().(*builder)
	if b == nil {
		b = new(builder)
	}
	defer func() {
		if b.reusable() {
			s.builders.Put(b)
		}
	}()

	buf := append(b.buf[:0], req.Method...)
	buf = append(buf, '\n')
	buf = append(buf, canonicalURI(req.URL)...)
	buf = append(buf, '\n')
	queryStart := len(buf)
	buf, _ = b.appendQuery(buf, req.URL.RawQuery, "", dialectSDK)
	if q := buf[queryStart:]; string(q) != req.URL.RawQuery {
		req.URL.RawQuery = string(q)
	}
	buf = append(buf, '\n')
	hs := b.sdkHeaders(h, req.ContentLength)
	buf = appendHeaders(buf, hs, host, req.ContentLength, dialectSDK)
	buf = append(buf, '\n')
	signedStart := len(buf)
	buf = appendSignedHeaders(buf, hs)
	signedEnd := len(buf)
	buf = append(buf, '\n')
	buf = append(buf, payloadHash...)

	// The string to sign follows the canonical request, whose signed
	// header list the Authorization header still needs.
	sts := len(buf)
	buf = appendRequestStringToSign(buf, st.amzDate, st.day.scope(s), buf)
	if b.macKey != &st.day.key {
		b.mac, b.macKey = hmac.New(sha256.New, st.day.key[:]), &st.day.key
	}
	b.mac.Reset()
	b.mac.Write(buf[sts:])
	b.sum = b.mac.Sum(b.sum[:0])
	sig := Signature(b.sum)

	auth := len(buf)
	buf = append(buf, Algorithm+" Credential="...)
	buf = append(buf, st.day.credential...)
	buf = append(buf, ", SignedHeaders="...)
	buf = append(buf, buf[signedStart:signedEnd]...)
	buf = append(buf, ", Signature="...)
	buf = sig.AppendHex(buf)
	vals[2] = string(buf[auth:])
	h["Authorization"] = vals[2:3:3]
	b.buf = buf
}

// ignoredHeader reports whether the SDK leaves header k unsigned: it may
// change on the way (proxies, the transport). Keys match exactly, as in
// the SDK.
func ignoredHeader(k string) bool {
	switch k {
	case "Authorization", "User-Agent", "X-Amzn-Trace-Id", "Expect", "Transfer-Encoding":
		return true
	}
	return false
}

// sdkHeaders returns the headers the SDK signs, sorted by lower-case name:
// host, content-length when the length is positive, and every header of h
// that is not ignored.
func (b *builder) sdkHeaders(h http.Header, contentLength int64) []header {
	hs := append(b.hdrs[:0], header{name: "host", fromRequest: true})
	if contentLength > 0 {
		hs = append(hs, header{name: "content-length", fromRequest: true})
	}
	for k, v := range h {
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
		hs = append(hs, header{name: name, key: k, values: v})
	}
	slices.SortFunc(hs, func(x, y header) int {
		if c := compareLower(x.name, y.name); c != 0 {
			return c
		}
		return strings.Compare(x.key, y.key)
	})
	b.hdrs = hs
	return hs
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// signingHost returns the host the signature covers: req.Host, else the
// URL's host, without a default port (see SigningHost). When that drops a
// port, req.Host is set to the result, so the wire carries what was
// signed.
func signingHost(req *http.Request) string {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if h := SigningHost(req.URL.Scheme, host); h != host {
		req.Host = h
		return h
	}
	return host
}

// SigningHost returns the host a signature covers for a host ("h",
// "h:p", "[v6]:p") reached by scheme: a port that is the scheme's default
// is dropped (and an IPv6 literal then loses its brackets), as
// aws-sdk-go-v2 drops it; any other host is returned as it is.
func SigningHost(scheme, host string) string {
	if port := hostPort(host); port != "" && isDefaultPort(scheme, port) {
		return hostWithoutPort(host)
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

// canonicalURI is the request path as sent: S3 does not encode it again.
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
