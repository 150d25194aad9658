package s3api

import (
	"net/http/httptest"
	"testing"
)

// BenchmarkClassifyAuthenticate measures the request pipeline minus the
// backend: classification and verification of a header-signed GET as the
// aws-sdk-go-v2 S3 client sends it.
func BenchmarkClassifyAuthenticate(b *testing.B) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:8333/photos/2024/07/cat%20picture.jpg?x-id=GetObject", nil)
	r.Header.Set("X-Amz-Content-Sha256", emptySHA256Hex)
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.47.7 os/linux lang/go#1.26 md/GOOS#linux md/GOARCH#amd64 api/s3#1.114.8")
	r.Header.Set("Amz-Sdk-Invocation-Id", "4c6ee4ca-9c5e-4b5f-9e3b-0b0d4f0f2b8e")
	r.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	r.Header.Set("Accept-Encoding", "identity")
	sdkSign(b, r, exampleAccessKey, exampleSecretKey, emptySHA256Hex, "us-east-1", testTime)
	a := newTestAuthenticator(b, nil, testTime)

	b.ReportAllocs()
	for b.Loop() {
		info, err := Classify(r, "")
		if err != nil {
			b.Fatal(err)
		}
		id, err := a.Authenticate(r)
		if err != nil {
			b.Fatal(err)
		}
		if !id.Allowed(info.Action, info.Bucket) {
			b.Fatal("not allowed")
		}
	}
}
