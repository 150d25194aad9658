package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The examples of "Signature Calculations for the Authorization Header:
// Transferring Payload in Multiple Chunks" in the S3 API reference: 66560
// bytes of 'a' as a 65536-byte chunk, a 1024-byte chunk and the final
// chunk, without and with a signed x-amz-checksum-crc32c trailer.
func TestChainAWSDocumentationExamples(t *testing.T) {
	key := DeriveKey(exampleSecretKey, "20130524", "us-east-1", "s3")
	chunks := [][]byte{bytes.Repeat([]byte("a"), 65536), bytes.Repeat([]byte("a"), 1024), nil}
	for _, tc := range []struct {
		name    string
		seed    string
		chunks  [3]string
		trailer string // canonical trailer; "" = none
		sig     string // its signature
	}{
		{name: "chunks", seed: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
			chunks: [3]string{
				"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
				"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
				"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
			}},
		{name: "trailer", seed: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
			chunks: [3]string{
				"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
				"1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
				"2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
			},
			trailer: "x-amz-checksum-crc32c:sOO8/Q==\n", sig: "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed, _ := ParseSignature(tc.seed)
			c := NewChain(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", seed)
			for i, data := range chunks {
				if got := c.Chunk(sha256.Sum256(data)); got.String() != tc.chunks[i] {
					t.Fatalf("chunk %d: %s, want %s", i+1, got, tc.chunks[i])
				}
			}
			if tc.trailer != "" {
				if got := c.Trailer(sha256.Sum256([]byte(tc.trailer))); got.String() != tc.sig {
					t.Fatalf("trailer: %s, want %s", got, tc.sig)
				}
			}
		})
	}
}

// A chunk signature is an event-stream signature with no headers, which
// aws-sdk-go-v2's StreamSigner computes.
func TestChainMatchesSDKStreamSigner(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 34, 56, 0, time.UTC)
	seed := sha256.Sum256([]byte("seed"))
	sdk := v4.NewStreamSigner(exampleCreds, "s3", "eu-west-1", seed[:])
	c := NewChain(DeriveKey(exampleSecretKey, "20250301", "eu-west-1", "s3"), at.Format(TimeFormat), "20250301/eu-west-1/s3/aws4_request", seed)
	for i, data := range [][]byte{[]byte("hello"), bytes.Repeat([]byte{0}, 100000), nil} {
		want, err := sdk.GetSignature(context.Background(), nil, data, at)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Chunk(sha256.Sum256(data)); hex.EncodeToString(want) != got.String() {
			t.Fatalf("chunk %d: %s, want %x", i, got, want)
		}
	}
}

func TestChainDoesNotAllocate(t *testing.T) {
	c := NewChain(DeriveKey(exampleSecretKey, "20250301", "eu-west-1", "s3"), "20250301T000000Z", "20250301/eu-west-1/s3/aws4_request", Signature{})
	sum := sha256.Sum256([]byte("x"))
	if n := testing.AllocsPerRun(100, func() { c.Chunk(sum); c.Trailer(sum) }); n != 0 {
		t.Errorf("Chain allocates %v times", n)
	}
}
