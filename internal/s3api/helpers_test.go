package s3api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// The example credentials of the AWS Signature Version 4 documentation.
const (
	exampleAccessKey = "AKIAIOSFODNN7EXAMPLE"
	exampleSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	readerAccessKey  = "READERKEY"
	readerSecretKey  = "reader-secret-key"
)

// Names of the SigV4 values the tests use.
const (
	emptySHA256Hex              = sigv4.EmptySHA256
	payloadStreamingSigned      = sigv4.StreamingSigned
	payloadStreamingSignedTrail = sigv4.StreamingSignedTrailer
	payloadStreamingUnsignTrail = sigv4.StreamingUnsignedTrailer
)

// testTime is the signing time of every test request.
var testTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func testIdentityConfig() *IdentityConfig {
	return &IdentityConfig{Identities: []Identity{
		{Name: "admin", Credentials: []Credential{{AccessKey: exampleAccessKey, SecretKey: exampleSecretKey}},
			Actions: []string{"Admin", "Read", "Write", "List", "Tagging"}},
		{Name: "reader", Credentials: []Credential{{AccessKey: readerAccessKey, SecretKey: readerSecretKey}},
			Actions: []string{"Read:photos", "List:photos"}},
	}}
}

// newTestAuthenticator returns an Authenticator whose clock reads now.
func newTestAuthenticator(t testing.TB, cfg *IdentityConfig, now time.Time) *Authenticator {
	t.Helper()
	if cfg == nil {
		cfg = testIdentityConfig()
	}
	a, err := NewAuthenticator(cfg, AuthOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("NewAuthenticator: %v", err)
	}
	return a
}

// sdkSign signs r with the aws-sdk-go-v2 signer the way the S3 client
// does (no double path escaping).
func sdkSign(t testing.TB, r *http.Request, accessKey, secretKey, payloadHash, region string, at time.Time) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payloadHash, "s3", region, at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

// sdkPresign returns r's URL presigned by the aws-sdk-go-v2 signer.
func sdkPresign(t testing.TB, r *http.Request, accessKey, secretKey string, expires time.Duration, at time.Time) string {
	t.Helper()
	q := r.URL.Query()
	q.Set("X-Amz-Expires", fmt.Sprint(int(expires/time.Second)))
	r.URL.RawQuery = q.Encode()
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatalf("PresignHTTP: %v", err)
	}
	return u
}

// wantCode fails the test unless err is an *Error with the S3 code want
// ("" means no error).
func wantCode(t testing.TB, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want S3 error %s", err, want)
	}
	if e.Code != want {
		t.Fatalf("error code = %s (%s), want %s", e.Code, e.Message, want)
	}
}

// testSigningKey derives a SigV4 signing key with crypto/hmac, separately
// from the implementation under test.
func testSigningKey(secret, date, region string) []byte {
	k := []byte("AWS4" + secret)
	for _, part := range []string{date, region, "s3", "aws4_request"} {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(part))
		k = m.Sum(nil)
	}
	return k
}

func hexHMAC(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// chunkEncoder writes aws-chunked bodies following the S3 specification,
// signing chunks when key is set.
type chunkEncoder struct {
	key     []byte // nil for unsigned chunks
	amzDate string
	scope   string
	prev    string // previous signature, hex; the seed at first
	// trailerEOL ends each trailer line; "" = CRLF, as the S3
	// documentation shows. minio-go writes "\n\r\n".
	trailerEOL string
	// end ends the body after the trailers; "" = CRLF.
	end string
}

func (e *chunkEncoder) sign(data []byte) string {
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + e.amzDate + "\n" + e.scope + "\n" + e.prev + "\n" +
		emptySHA256Hex + "\n" + hexSHA256(data)
	e.prev = hexHMAC(e.key, sts)
	return e.prev
}

func (e *chunkEncoder) chunk(b *bytes.Buffer, data []byte) {
	if e.key != nil {
		fmt.Fprintf(b, "%x;chunk-signature=%s\r\n", len(data), e.sign(data))
	} else {
		fmt.Fprintf(b, "%x\r\n", len(data))
	}
	b.Write(data)
	if len(data) > 0 {
		b.WriteString("\r\n")
	}
}

// encode returns the aws-chunked form of data in chunks of chunkSize
// bytes, the final chunk and, when trailers is not nil, the trailers
// (signed when the chunks are).
func (e *chunkEncoder) encode(data []byte, chunkSize int, trailers [][2]string) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		n := min(chunkSize, len(data))
		e.chunk(&b, data[:n])
		data = data[n:]
	}
	e.chunk(&b, nil)
	if trailers != nil {
		var canonical strings.Builder
		eol := cmp.Or(e.trailerEOL, "\r\n")
		for _, kv := range trailers {
			b.WriteString(kv[0] + ":" + kv[1] + eol)
			canonical.WriteString(kv[0] + ":" + kv[1] + "\n")
		}
		if e.key != nil {
			sts := "AWS4-HMAC-SHA256-TRAILER\n" + e.amzDate + "\n" + e.scope + "\n" + e.prev + "\n" +
				hexSHA256([]byte(canonical.String()))
			b.WriteString("x-amz-trailer-signature:" + hexHMAC(e.key, sts) + "\r\n")
		}
	}
	b.WriteString(cmp.Or(e.end, "\r\n"))
	return b.Bytes()
}

// checksumOf returns the base64 checksum S3 expects for data.
func checksumOf(alg ChecksumAlgorithm, data []byte) string {
	h := alg.NewHash()
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// readAll reads r's body to the end.
func readAll(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(r.Body)
}
