package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"sync/atomic"
)

// Algorithm names and the x-amz-content-sha256 values S3 defines.
const (
	// Algorithm is the signing algorithm of requests, as it appears in the
	// Authorization header and X-Amz-Algorithm.
	Algorithm = "AWS4-HMAC-SHA256"
	// Terminator ends every credential scope.
	Terminator = "aws4_request"

	algorithmChunk   = "AWS4-HMAC-SHA256-PAYLOAD" // string to sign of a chunk
	algorithmTrailer = "AWS4-HMAC-SHA256-TRAILER" // string to sign of trailers

	// UnsignedPayload is the payload hash of a request whose body the
	// signature does not cover.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// StreamingSigned is an aws-chunked body with chunk signatures.
	StreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// StreamingSignedTrailer is an aws-chunked body with chunk signatures
	// and signed trailing headers.
	StreamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	// StreamingUnsignedTrailer is an aws-chunked body without signatures,
	// with trailing headers.
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

	// EmptySHA256 is the hex SHA-256 of zero bytes, the payload hash of a
	// request without a body.
	EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	// TimeFormat is the layout of X-Amz-Date (ISO 8601 basic, UTC).
	TimeFormat = "20060102T150405Z"
)

// Signature is an HMAC-SHA256 signature of a request, a chunk or
// trailing headers; on the wire it is 64 lower-case hexadecimal digits.
type Signature [sha256.Size]byte

// ParseSignature decodes a signature of 64 hexadecimal digits (either
// case). ok is false for anything else. A malformed signature is, to S3,
// one that does not match: callers report it as such.
func ParseSignature(s string) (sig Signature, ok bool) {
	sum, ok := ParseHash(s)
	return Signature(sum), ok
}

// ParseHash decodes a hex SHA-256 (64 digits, either case), such as an
// x-amz-content-sha256 value. ok is false for anything else.
func ParseHash(s string) (sum [sha256.Size]byte, ok bool) {
	if len(s) != 2*len(sum) {
		return sum, false
	}
	for i := range sum {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return [sha256.Size]byte{}, false
		}
		sum[i] = hi<<4 | lo
	}
	return sum, true
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

// AppendHex appends the signature as 64 lower-case hexadecimal digits.
func (s Signature) AppendHex(dst []byte) []byte { return hex.AppendEncode(dst, s[:]) }

// String returns the signature as it is sent: 64 lower-case hexadecimal
// digits.
func (s Signature) String() string { return hex.EncodeToString(s[:]) }

// Equal compares two signatures in constant time.
func (s Signature) Equal(o Signature) bool { return subtle.ConstantTimeCompare(s[:], o[:]) == 1 }

// Key is a SigV4 signing key: the secret access key run through the HMAC
// chain of a date, a region, a service and "aws4_request". It signs for
// that day, region and service only.
type Key [sha256.Size]byte

// DeriveKey derives the signing key of secret for date (YYYYMMDD), region
// and service.
func DeriveKey(secret, date, region, service string) Key {
	var kb [4 + 128]byte
	var key []byte
	if len(secret) <= len(kb)-4 {
		key = append(append(kb[:0], "AWS4"...), secret...)
	} else {
		key = []byte("AWS4" + secret)
	}
	var mb [64]byte
	k := hmacSHA256(key, append(mb[:0], date...))
	k = hmacSHA256(k[:], append(mb[:0], region...))
	k = hmacSHA256(k[:], append(mb[:0], service...))
	k = hmacSHA256(k[:], append(mb[:0], Terminator...))
	clear(kb[:])
	return Key(k)
}

// sign returns the HMAC-SHA256 of a string to sign.
func (k *Key) sign(stringToSign []byte) Signature {
	return Signature(hmacSHA256(k[:], stringToSign))
}

// KeyCache derives the signing keys of one secret and service and keeps
// the one derived last, so that requests of the same day and region skip
// the four HMACs of the derivation. A KeyCache is safe for concurrent use;
// callers that alternate between regions only lose the cache's benefit.
type KeyCache struct {
	secret, service string
	last            atomic.Pointer[cachedKey]
}

type cachedKey struct {
	date, region string
	key          Key
}

// NewKeyCache returns a cache of the signing keys of secret for service.
func NewKeyCache(secret, service string) *KeyCache {
	return &KeyCache{secret: secret, service: service}
}

// Key returns the signing key of date (YYYYMMDD) and region.
func (c *KeyCache) Key(date, region string) Key {
	if k := c.last.Load(); k != nil && k.date == date && k.region == region {
		return k.key
	}
	k := &cachedKey{date: strings.Clone(date), region: strings.Clone(region)}
	k.key = DeriveKey(c.secret, date, region, c.service)
	c.last.Store(k)
	return k.key
}

// Scope returns the credential scope of date (YYYYMMDD), region and
// service: "<date>/<region>/<service>/aws4_request".
func Scope(date, region, service string) string {
	return date + "/" + region + "/" + service + "/" + Terminator
}

// appendStringToSign appends the first lines every SigV4 string to sign
// shares: the algorithm, the request time and the credential scope, each
// followed by a newline.
func appendStringToSign(dst []byte, algorithm, amzDate, scope string) []byte {
	dst = append(dst, algorithm...)
	dst = append(dst, '\n')
	dst = append(dst, amzDate...)
	dst = append(dst, '\n')
	dst = append(dst, scope...)
	return append(dst, '\n')
}

// appendRequestStringToSign appends the string to sign of a canonical
// request.
func appendRequestStringToSign(dst []byte, amzDate, scope string, canonicalRequest []byte) []byte {
	sum := sha256.Sum256(canonicalRequest)
	dst = appendStringToSign(dst, Algorithm, amzDate, scope)
	return hex.AppendEncode(dst, sum[:])
}

// hmacSHA256 returns HMAC-SHA256(key, msg). Messages up to 512 bytes,
// which is every message of the signing process, are hashed from a stack
// buffer without allocating.
func hmacSHA256(key, msg []byte) [sha256.Size]byte {
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

func hmacSHA256Slow(key, msg []byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}
