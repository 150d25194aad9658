package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
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
	amzDate := formatAmzDate(t)
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

// formatAmzDate formats t (UTC) as X-Amz-Date: "20060102T150405Z".
func formatAmzDate(t time.Time) string {
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.Format("20060102T150405Z")
	}
	hh, mm, ss := t.Clock()
	var b [16]byte
	appendDigits(b[0:], y, 4)
	appendDigits(b[4:], int(mo), 2)
	appendDigits(b[6:], d, 2)
	b[8] = 'T'
	appendDigits(b[9:], hh, 2)
	appendDigits(b[11:], mm, 2)
	appendDigits(b[13:], ss, 2)
	b[15] = 'Z'
	return string(b[:])
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
