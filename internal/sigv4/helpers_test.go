package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The example credentials of the AWS Signature Version 4 documentation.
const (
	exampleAccessKey = "AKIAIOSFODNN7EXAMPLE"
	exampleSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var exampleCreds = aws.Credentials{AccessKeyID: exampleAccessKey, SecretAccessKey: exampleSecretKey}

// signAt is the signing time of the tests that need no particular one.
var signAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// sdkSigner is aws-sdk-go-v2's signer set up as its S3 client uses it.
func sdkSigner() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

func sdkSign(t testing.TB, r *http.Request, creds aws.Credentials, payloadHash, region string, at time.Time) {
	t.Helper()
	if err := sdkSigner().SignHTTP(context.Background(), creds, r, payloadHash, "s3", region, at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

// testKey derives a signing key with crypto/hmac, separately from the
// implementation under test.
func testKey(secret, date, region, service string) []byte {
	k := []byte("AWS4" + secret)
	for _, part := range []string{date, region, service, "aws4_request"} {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(part))
		k = m.Sum(nil)
	}
	return k
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func hexHMAC(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
