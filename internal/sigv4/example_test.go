package sigv4_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// A request signed by a Signer verifies with the same key.
func Example() {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := sigv4.NewSigner(sigv4.Credentials{AccessKey: "AKIAIOSFODNN7EXAMPLE", SecretKey: secret}, "us-east-1", "s3")
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:9000/bucket/photo.jpg?versionId=3", nil)
	req.Header.Set("X-Amz-Content-Sha256", sigv4.EmptySHA256)
	s.Sign(req, sigv4.EmptySHA256, at)
	auth := req.Header.Get("Authorization")
	fmt.Println(strings.ReplaceAll(auth, ", ", "\n"))

	// The verifier reads the same values from the Authorization header.
	claimed := auth[strings.Index(auth, "Signature=")+len("Signature="):]
	ok, err := sigv4.Verify(req, &sigv4.Params{
		Key:           sigv4.DeriveKey(secret, "20250301", "us-east-1", "s3"),
		AmzDate:       req.Header.Get("X-Amz-Date"),
		Scope:         sigv4.Scope("20250301", "us-east-1", "s3"),
		SignedHeaders: "host;x-amz-content-sha256;x-amz-date",
		PayloadHash:   sigv4.EmptySHA256,
	}, claimed)
	fmt.Println(ok, err)
	// Output:
	// AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250301/us-east-1/s3/aws4_request
	// SignedHeaders=host;x-amz-content-sha256;x-amz-date
	// Signature=5092fac7419492fb1d252caf79b3aa92f66b16b8278cb63d3d8425af46989c59
	// true <nil>
}
