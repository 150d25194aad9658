package gateway

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/sigv4"
)

func TestUpstreamURL(t *testing.T) {
	tests := []struct {
		name        string
		upstream    string
		virtual     bool
		bucket, key string
		query       string
		want        string // u.String(): the escaped form sent on the wire
		wantHost    string
	}{
		{name: "service", upstream: "http://s3.local:9000", want: "http://s3.local:9000/", wantHost: "s3.local:9000"},
		{name: "bucket", upstream: "http://s3.local:9000", bucket: "photos", query: "list-type=2&prefix=a%2Fb",
			want: "http://s3.local:9000/photos?list-type=2&prefix=a%2Fb", wantHost: "s3.local:9000"},
		{name: "object", upstream: "http://s3.local", bucket: "photos", key: "2024/cat.jpg",
			want: "http://s3.local/photos/2024/cat.jpg", wantHost: "s3.local"},
		{name: "key escaping as S3 canonical URI", upstream: "http://s3.local", bucket: "b1b", key: "a b+c=d&e!(f)*'g~h_i-j.k",
			want: "http://s3.local/b1b/a%20b%2Bc%3Dd%26e%21%28f%29%2A%27g~h_i-j.k"},
		{name: "utf-8 and percent in key", upstream: "http://s3.local", bucket: "b1b", key: "été/100%",
			want: "http://s3.local/b1b/%C3%A9t%C3%A9/100%25"},
		{name: "empty segments and dots kept", upstream: "http://s3.local", bucket: "b1b", key: "a//b/../c/",
			want: "http://s3.local/b1b/a//b/../c/"},
		{name: "base path", upstream: "https://gw.example.com/s3/", bucket: "photos", key: "k",
			want: "https://gw.example.com/s3/photos/k"},
		{name: "base path service", upstream: "https://gw.example.com/s3", want: "https://gw.example.com/s3/"},
		{name: "virtual host object", upstream: "http://s3.local:9000", virtual: true, bucket: "photos", key: "a/b",
			want: "http://photos.s3.local:9000/a/b", wantHost: "photos.s3.local:9000"},
		{name: "virtual host bucket", upstream: "http://s3.local:9000", virtual: true, bucket: "photos", query: "uploads=",
			want: "http://photos.s3.local:9000/?uploads=", wantHost: "photos.s3.local:9000"},
		{name: "virtual host falls back for legacy bucket names", upstream: "http://s3.local", virtual: true, bucket: "Legacy_Bucket", key: "k",
			want: "http://s3.local/Legacy_Bucket/k", wantHost: "s3.local"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(Config{Upstream: tc.upstream, AccessKey: "a", SecretKey: "s", VirtualHost: tc.virtual})
			if err != nil {
				t.Fatal(err)
			}
			u := g.upstreamURL(tc.bucket, tc.key, tc.query)
			if got := u.String(); got != tc.want {
				t.Errorf("URL = %s, want %s", got, tc.want)
			}
			if tc.wantHost != "" && u.Host != tc.wantHost {
				t.Errorf("Host = %s, want %s", u.Host, tc.wantHost)
			}
			// The escaped path must decode to the path, or the wire and
			// the signature would disagree.
			if p, err := url.PathUnescape(u.EscapedPath()); err != nil || p != u.Path {
				t.Errorf("EscapedPath %q does not decode to Path %q", u.EscapedPath(), u.Path)
			}
		})
	}
}

func TestStripPresignQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"uploads", "uploads"},
		{"list-type=2&prefix=x-amz-y", "list-type=2&prefix=x-amz-y"},
		{"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&x-id=GetObject&X-Amz-Signature=abc", "x-id=GetObject"},
		{"partNumber=2&uploadId=u1&X-Amz-Signature=abc&X-Amz-Security-Token=t", "partNumber=2&uploadId=u1"},
		{"x-amz-signature=abc&versionId=v", "versionId=v"},
		// Request parameters that happen to start with X-Amz- stay.
		{"X-Amz-Expected-Bucket-Owner=123&X-Amz-Signature=abc", "X-Amz-Expected-Bucket-Owner=123"},
		{"X%2DAmz%2DSignature=abc&tagging", "tagging"},
		{"x-AMZ-date=1&X-Amz-Dat=2&X-Amz=3&X-Amz-Date-Extra=4", "X-Amz-Dat=2&X-Amz=3&X-Amz-Date-Extra=4"},
		{"X-Amz-%ZZ=1&X-Amz-Expires=9", "X-Amz-%ZZ=1"}, // a bad escape stays, as the client sent it
	}
	for _, tc := range tests {
		if got := stripPresignQuery(tc.in); got != tc.want {
			t.Errorf("stripPresignQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestStripPresignQueryAllocations: a presigned URL's query costs one
// allocation, the query that is kept.
func TestStripPresignQueryAllocations(t *testing.T) {
	const q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&x-id=GetObject&X-Amz-Signature=abc"
	if n := testing.AllocsPerRun(100, func() { stripPresignQuery(q) }); n > 1 {
		t.Errorf("%v allocations, want at most 1", n)
	}
}

func TestPayloadHash(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		client  string
		length  int64
		hasBody bool
		want    string
	}{
		{"client hex hash is reused", hex, 10, true, hex},
		{"client hex hash of empty body", sigv4.EmptySHA256, 0, false, sigv4.EmptySHA256},
		{"streaming body", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 10, true, sigv4.UnsignedPayload},
		{"streaming unsigned trailer", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", 10, true, sigv4.UnsignedPayload},
		{"unsigned body", sigv4.UnsignedPayload, 10, true, sigv4.UnsignedPayload},
		{"presigned PUT (no header)", "", 10, true, sigv4.UnsignedPayload},
		{"presigned GET (no header, no body)", "", 0, false, sigv4.EmptySHA256},
		{"unknown length", "", -1, true, sigv4.UnsignedPayload},
		{"uppercase hex is not a client hash", strings.ToUpper(hex), 10, true, sigv4.UnsignedPayload},
		{"short hex", hex[:62], 10, true, sigv4.UnsignedPayload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := payloadHash(tc.client, tc.length, tc.hasBody); got != tc.want {
				t.Errorf("payloadHash = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithoutAWSChunked(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"aws-chunked"}, nil},
		{[]string{"AWS-Chunked"}, nil},
		{[]string{"aws-chunked,gzip"}, []string{"gzip"}},
		{[]string{"gzip, aws-chunked"}, []string{"gzip"}},
		{[]string{"gzip"}, []string{"gzip"}},
		{[]string{"aws-chunked", "br"}, []string{"br"}},
	}
	for _, tc := range tests {
		if got := withoutAWSChunked(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("withoutAWSChunked(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestVirtualHostable(t *testing.T) {
	for name, want := range map[string]bool{
		"photos": true, "my.bucket-1": true, "ab": false, "Photos": false, "a_b": false,
		"-ab": false, "ab-": false, ".ab": false, strings.Repeat("a", 64): false,
	} {
		if got := virtualHostable(name); got != want {
			t.Errorf("virtualHostable(%q) = %v, want %v", name, got, want)
		}
	}
}
