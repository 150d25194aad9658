package s3api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Header names and constant values of AWS Signature Version 4 for S3.
const (
	headerContentSHA256        = "X-Amz-Content-Sha256"
	headerDecodedContentLength = "X-Amz-Decoded-Content-Length"
	headerAmzDate              = "X-Amz-Date"
	headerAmzTrailer           = "X-Amz-Trailer"

	algorithmHMAC    = "AWS4-HMAC-SHA256"
	algorithmPayload = "AWS4-HMAC-SHA256-PAYLOAD"
	algorithmTrailer = "AWS4-HMAC-SHA256-TRAILER"
	scopeTerminator  = "aws4_request"
	serviceS3        = "s3"

	payloadUnsignedValue        = "UNSIGNED-PAYLOAD"
	payloadStreamingSigned      = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	payloadStreamingSignedTrail = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	payloadStreamingUnsignTrail = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

	// emptySHA256Hex is the hex SHA-256 of zero bytes.
	emptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	amzDateLayout = "20060102T150405Z"
)

// payloadMode is how the request body is protected, from the
// x-amz-content-sha256 value.
type payloadMode uint8

const (
	payloadUnsigned               payloadMode = iota // UNSIGNED-PAYLOAD or no body check
	payloadSHA256                                    // hex SHA-256 of the whole body
	payloadChunkedSigned                             // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
	payloadChunkedSignedTrailer                      // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
	payloadChunkedUnsignedTrailer                    // STREAMING-UNSIGNED-PAYLOAD-TRAILER
)

// parsePayloadHash classifies an x-amz-content-sha256 value. For
// payloadSHA256 it also returns the decoded digest.
func parsePayloadHash(v string) (payloadMode, [32]byte, error) {
	var sum [32]byte
	switch v {
	case payloadUnsignedValue:
		return payloadUnsigned, sum, nil
	case payloadStreamingSigned:
		return payloadChunkedSigned, sum, nil
	case payloadStreamingSignedTrail:
		return payloadChunkedSignedTrailer, sum, nil
	case payloadStreamingUnsignTrail:
		return payloadChunkedUnsignedTrailer, sum, nil
	}
	if strings.HasPrefix(v, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD") {
		return 0, sum, ErrNotImplemented.WithMessage("AWS Signature Version 4A (ECDSA) is not supported; sign with AWS4-HMAC-SHA256.")
	}
	if len(v) != 64 || !decodeHex32(&sum, v) {
		return 0, sum, ErrInvalidArgument.WithMessage("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value or the hex SHA-256 of the payload.")
	}
	return payloadSHA256, sum, nil
}

// decodeHex32 decodes 64 hex digits (either case) into dst.
func decodeHex32(dst *[32]byte, s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < 32; i++ {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// hmacSHA256 returns HMAC-SHA256(key, msg). Messages up to 512 bytes,
// which is every message of the signing process, are hashed from a stack
// buffer without allocating.
func hmacSHA256(key, msg []byte) [32]byte {
	const block = 64
	var buf [block + 512]byte
	if len(key) > block || len(msg) > len(buf)-block {
		// Copies keep key and msg from escaping on the fast path.
		return hmacSHA256Slow(bytes.Clone(key), bytes.Clone(msg))
	}
	var k [block]byte
	copy(k[:], key)
	for i := range k {
		buf[i] = k[i] ^ 0x36
	}
	n := copy(buf[block:], msg)
	inner := sha256.Sum256(buf[:block+n])
	for i := range k {
		buf[i] = k[i] ^ 0x5c
	}
	copy(buf[block:], inner[:])
	return sha256.Sum256(buf[:block+len(inner)])
}

func hmacSHA256Slow(key, msg []byte) [32]byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// deriveSigningKey computes the SigV4 signing key for a secret, a date
// (YYYYMMDD), a region and a service.
func deriveSigningKey(secret, date, region, service string) [32]byte {
	var kb [4 + 128]byte
	var k [32]byte
	var key []byte
	if len(secret) <= len(kb)-4 {
		key = append(append(kb[:0], "AWS4"...), secret...)
	} else {
		key = []byte("AWS4" + secret)
	}
	var mb [64]byte
	k = hmacSHA256(key, append(mb[:0], date...))
	k = hmacSHA256(k[:], append(mb[:0], region...))
	k = hmacSHA256(k[:], append(mb[:0], service...))
	k = hmacSHA256(k[:], append(mb[:0], scopeTerminator...))
	clear(kb[:])
	return k
}

// appendStringToSign appends the SigV4 string to sign of a canonical
// request hash.
func appendStringToSign(dst []byte, amzDate, scope string, canonicalHash [32]byte) []byte {
	dst = append(dst, algorithmHMAC...)
	dst = append(dst, '\n')
	dst = append(dst, amzDate...)
	dst = append(dst, '\n')
	dst = append(dst, scope...)
	dst = append(dst, '\n')
	return hex.AppendEncode(dst, canonicalHash[:])
}

// isUnreserved reports whether c is in the RFC 3986 unreserved set that
// SigV4 leaves unencoded.
func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

const upperHex = "0123456789ABCDEF"

func appendEncodedByte(dst []byte, c byte, keepSlash bool) []byte {
	if isUnreserved(c) || keepSlash && c == '/' {
		return append(dst, c)
	}
	return append(dst, '%', upperHex[c>>4], upperHex[c&15])
}

// appendCanonical decodes raw (percent-encoding, and '+' as a space when
// plusIsSpace) and appends it encoded the SigV4 way: every byte outside the
// unreserved set as %XX with upper-case hex, '/' kept when keepSlash. It
// reports false when raw has a malformed escape.
func appendCanonical(dst []byte, raw string, plusIsSpace, keepSlash bool) ([]byte, bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%':
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
		case c == '+' && plusIsSpace:
			c = ' '
		}
		dst = appendEncodedByte(dst, c, keepSlash)
	}
	return dst, true
}

// appendCanonicalPath appends the S3 canonical URI of a decoded path:
// every byte outside the unreserved set except '/' percent-encoded, once.
// S3 neither double-encodes nor normalises the path ("//", "." and ".."
// stay as they are).
func appendCanonicalPath(dst []byte, path string) []byte {
	for i := 0; i < len(path); i++ {
		dst = appendEncodedByte(dst, path[i], true)
	}
	return dst
}

// canonicalHeaderKey writes the net/http canonical form of the lower-case
// header name into buf and returns it. Names with bytes that are not HTTP
// token characters are returned unchanged, as net/http keeps them.
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

func isTokenChar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// appendHeaderValue appends a header value with leading and trailing
// spaces removed and runs of spaces collapsed to one, as SigV4 requires.
func appendHeaderValue(dst []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '\t' {
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

// canonicalRequest holds what the canonical request needs beyond the
// http.Request.
type canonicalRequest struct {
	signedHeaders string // as the client listed them, ';'-separated
	payloadHash   string // last line of the canonical request
	presigned     bool   // leave X-Amz-Signature out of the query
}

// appendCanonicalRequest appends the rest of the SigV4 canonical request
// for r to dst, which already holds the method and the canonical URI.
// scratch is reused for the query parameters.
func appendCanonicalRequest(dst []byte, r *http.Request, c *canonicalRequest, scratch *authScratch) ([]byte, error) {
	dst = append(dst, '\n')
	var err error
	if dst, err = appendCanonicalQuery(dst, r.URL.RawQuery, c.presigned, scratch); err != nil {
		return dst, err
	}
	dst = append(dst, '\n')
	var keyBuf [64]byte
	for rest := c.signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		dst = append(dst, name...)
		dst = append(dst, ':')
		switch name {
		case "host":
			host := r.Host
			if host == "" && r.URL != nil {
				host = r.URL.Host
			}
			dst = appendHeaderValue(dst, host)
		default:
			values := r.Header[string(canonicalHeaderKey(keyBuf[:0], name))]
			if len(values) == 0 {
				values = synthesizedHeader(r, name)
			}
			for i, v := range values {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = appendHeaderValue(dst, v)
			}
			if len(values) == 0 && name == "content-length" && r.ContentLength >= 0 {
				dst = strconv.AppendInt(dst, r.ContentLength, 10)
			}
		}
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	dst = append(dst, c.signedHeaders...)
	dst = append(dst, '\n')
	dst = append(dst, c.payloadHash...)
	return dst, nil
}

// synthesizedHeader returns the values of a header that net/http removes
// from Request.Header and keeps elsewhere.
func synthesizedHeader(r *http.Request, name string) []string {
	if name == "transfer-encoding" {
		return r.TransferEncoding
	}
	return nil
}

// queryPair locates one encoded query parameter in authScratch.enc.
type queryPair struct{ kStart, kEnd, vEnd int }

// authScratch is per-request working memory, reused through a pool.
type authScratch struct {
	uri   []byte      // canonical URI
	canon []byte      // canonical request
	sts   []byte      // string to sign
	enc   []byte      // encoded query names and values
	pairs []queryPair // their positions in enc
}

// appendCanonicalQuery appends the canonical query string: every
// parameter's name and value decoded and re-encoded, sorted by encoded
// name, then by encoded value.
func appendCanonicalQuery(dst []byte, raw string, presigned bool, s *authScratch) ([]byte, error) {
	if raw == "" {
		return dst, nil
	}
	s.enc, s.pairs = s.enc[:0], s.pairs[:0]
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		if presigned && name == "X-Amz-Signature" {
			continue
		}
		p := queryPair{kStart: len(s.enc)}
		var ok1, ok2 bool
		s.enc, ok1 = appendCanonical(s.enc, name, true, false)
		p.kEnd = len(s.enc)
		s.enc, ok2 = appendCanonical(s.enc, value, true, false)
		p.vEnd = len(s.enc)
		if !ok1 || !ok2 {
			return dst, ErrInvalidArgument.WithMessage("The query string is not validly percent-encoded.")
		}
		s.pairs = append(s.pairs, p)
	}
	enc := s.enc
	slices.SortFunc(s.pairs, func(a, b queryPair) int {
		if c := bytes.Compare(enc[a.kStart:a.kEnd], enc[b.kStart:b.kEnd]); c != 0 {
			return c
		}
		return bytes.Compare(enc[a.kEnd:a.vEnd], enc[b.kEnd:b.vEnd])
	})
	for i, p := range s.pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, enc[p.kStart:p.kEnd]...)
		dst = append(dst, '=')
		dst = append(dst, enc[p.kEnd:p.vEnd]...)
	}
	return dst, nil
}
