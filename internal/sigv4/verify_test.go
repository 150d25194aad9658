package sigv4

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// paramsOf reads what Verify needs from an Authorization header the SDK
// wrote, and returns the claimed signature.
func paramsOf(t testing.TB, r *http.Request, payloadHash string) (*Params, string) {
	t.Helper()
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), Algorithm+" ")
	if !ok {
		t.Fatalf("Authorization %q", r.Header.Get("Authorization"))
	}
	var cred, signed, sig string
	for part := range strings.SplitSeq(auth, ", ") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sig = v
		}
	}
	_, scope, _ := strings.Cut(cred, "/")
	parts := strings.Split(scope, "/")
	return &Params{
		Key:           DeriveKey(exampleSecretKey, parts[0], parts[1], parts[2]),
		AmzDate:       r.Header.Get("X-Amz-Date"),
		Scope:         scope,
		SignedHeaders: signed,
		PayloadHash:   payloadHash,
	}, sig
}

func TestVerifySDKSigned(t *testing.T) {
	for _, tc := range signCases() {
		if tc.token != "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			r := tc.request(t)
			hash := r.Header.Get("X-Amz-Content-Sha256")
			at := tc.at
			if at.IsZero() {
				at = signAt
			}
			sdkSign(t, r, exampleCreds, hash, "eu-west-1", at)
			p, sig := paramsOf(t, r, hash)
			if CheckSignedHeaders(p.SignedHeaders) != nil {
				return // a verifier refuses the list before it verifies
			}
			asReceived(r)
			ok, err := Verify(r, p, sig)
			if err != nil || !ok {
				t.Fatalf("Verify = %t, %v; want true", ok, err)
			}

			// Anything the signature covers, changed, fails.
			tampered := []func(r *http.Request, p *Params) string{
				func(r *http.Request, p *Params) string { r.Method = "DELETE"; return sig },
				func(r *http.Request, p *Params) string { r.URL.Path += "x"; r.URL.RawPath = ""; return sig },
				func(r *http.Request, p *Params) string { r.URL.RawQuery += "&x=1"; return sig },
				func(r *http.Request, p *Params) string { r.Header.Set("X-Amz-Date", "20000101T000000Z"); return sig },
				func(r *http.Request, p *Params) string { p.PayloadHash = UnsignedPayload + "x"; return sig },
				func(r *http.Request, p *Params) string { p.AmzDate = "20000101T000000Z"; return sig },
				func(r *http.Request, p *Params) string { p.Key[0] ^= 1; return sig },
				func(r *http.Request, p *Params) string { return sig[:63] + string("10"[sig[63]&1]) },
				func(r *http.Request, p *Params) string { return "g" + sig[1:] },
				func(r *http.Request, p *Params) string { return sig[:62] },
				func(r *http.Request, p *Params) string { return "" },
			}
			for i, tamper := range tampered {
				r := tc.request(t)
				sdkSign(t, r, exampleCreds, hash, "eu-west-1", at)
				p, _ := paramsOf(t, r, hash)
				asReceived(r)
				claimed := tamper(r, p)
				if ok, err := Verify(r, p, claimed); ok || err != nil {
					t.Errorf("tampering %d: Verify = %t, %v; want false, nil", i, ok, err)
				}
			}
		})
	}
}

// asReceived makes r's Content-Length header agree with its
// ContentLength, as in a request a server received.
func asReceived(r *http.Request) {
	if _, ok := r.Header["Content-Length"]; ok {
		r.Header.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
}

// A path a client encoded differently from the S3 canonical form (a
// "%2F" inside the key, a lower-case escape) verifies as sent; the S3
// form verifies too.
func TestVerifyPathForms(t *testing.T) {
	for _, target := range []string{"/bucket/a%2fb", "/bucket/a%2Fb", "/bucket/a b", "/bucket/%C3%BC", "/bucket//./../k", ""} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:8333"+strings.ReplaceAll(target, " ", "%20"), nil)
		if target == "" {
			r.URL.Path, r.URL.RawPath = "", ""
		}
		r.Header.Set("X-Amz-Content-Sha256", EmptySHA256)
		sdkSign(t, r, exampleCreds, EmptySHA256, "us-east-1", signAt)
		p, sig := paramsOf(t, r, EmptySHA256)
		if ok, err := Verify(r, p, sig); !ok || err != nil {
			t.Errorf("%q: Verify = %t, %v", target, ok, err)
		}
	}
}

func TestVerifyPresigned(t *testing.T) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:8333/bucket/key?versionId=v%201&X-Amz-Expires=300", nil)
	u, _, err := sdkSigner().PresignHTTP(context.Background(), exampleCreds, r, UnsignedPayload, "s3", "us-east-1", signAt)
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	in := httptest.NewRequest("GET", pu.String(), nil)
	q := in.URL.Query()
	p := &Params{
		Key:           DeriveKey(exampleSecretKey, "20250301", "us-east-1", "s3"),
		AmzDate:       q.Get("X-Amz-Date"),
		Scope:         "20250301/us-east-1/s3/aws4_request",
		SignedHeaders: q.Get("X-Amz-SignedHeaders"),
		PayloadHash:   UnsignedPayload,
		Presigned:     true,
	}
	if ok, err := Verify(in, p, q.Get("X-Amz-Signature")); !ok || err != nil {
		t.Fatalf("Verify = %t, %v", ok, err)
	}
	p.Presigned = false // then the signature is part of what it signs
	if ok, _ := Verify(in, p, q.Get("X-Amz-Signature")); ok {
		t.Fatal("verified with X-Amz-Signature in the canonical query")
	}
}

func TestVerifyHeaderSources(t *testing.T) {
	// A server-side request: Content-Length and Transfer-Encoding live
	// outside the header map, values have tabs botocore collapses.
	r := httptest.NewRequest("PUT", "http://127.0.0.1:8333/bucket/key", strings.NewReader("hello"))
	r.TransferEncoding = []string{"chunked"}
	r.Header.Set("X-Amz-Meta-A", "a\t\tb")
	r.Header.Set("X-Amz-Date", "20250301T120000Z")
	canonical := "PUT\n/bucket/key\n\ncontent-length:5\nhost:127.0.0.1:8333\ntransfer-encoding:chunked\nx-amz-date:20250301T120000Z\nx-amz-meta-a:a b\nx-amz-missing:\n\n" +
		"content-length;host;transfer-encoding;x-amz-date;x-amz-meta-a;x-amz-missing\n" + UnsignedPayload
	scope := "20250301/us-east-1/s3/aws4_request"
	key := testKey(exampleSecretKey, "20250301", "us-east-1", "s3")
	sts := "AWS4-HMAC-SHA256\n20250301T120000Z\n" + scope + "\n" + hexSHA256(canonical)
	p := &Params{
		Key: DeriveKey(exampleSecretKey, "20250301", "us-east-1", "s3"), AmzDate: "20250301T120000Z", Scope: scope,
		SignedHeaders: "content-length;host;transfer-encoding;x-amz-date;x-amz-meta-a;x-amz-missing", PayloadHash: UnsignedPayload,
	}
	if ok, err := Verify(r, p, hexHMAC(key, sts)); !ok || err != nil {
		t.Fatalf("Verify = %t, %v", ok, err)
	}
}

func TestVerifyMalformedQuery(t *testing.T) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:8333/bucket?a=%zz", nil)
	p := &Params{SignedHeaders: "host", AmzDate: "20250301T120000Z", Scope: "20250301/us-east-1/s3/aws4_request", PayloadHash: EmptySHA256}
	for _, sig := range []string{strings.Repeat("0", 64), "not hex"} {
		if ok, err := Verify(r, p, sig); ok || !errors.Is(err, ErrMalformedQuery) {
			t.Errorf("Verify(%q) = %t, %v; want ErrMalformedQuery", sig, ok, err)
		}
	}
}

func TestVerifyAllocations(t *testing.T) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:8333/photos/2024/cat%20picture.jpg?x-id=GetObject", nil)
	r.Header.Set("X-Amz-Content-Sha256", EmptySHA256)
	r.Header.Set("Accept-Encoding", "identity")
	sdkSign(t, r, exampleCreds, EmptySHA256, "us-east-1", signAt)
	p, sig := paramsOf(t, r, EmptySHA256)
	Verify(r, p, sig)
	limit := 0.0
	if raceEnabled {
		limit = 8
	}
	if n := testing.AllocsPerRun(100, func() {
		if ok, _ := Verify(r, p, sig); !ok {
			t.Fatal("not verified")
		}
	}); n > limit {
		t.Errorf("Verify allocates %v times, want at most %v", n, limit)
	}
}

// FuzzVerifyMatchesSDK: whatever aws-sdk-go-v2 signs, Verify accepts,
// except header values with white space other than spaces, where S3 and
// the SDK canonicalise differently.
func FuzzVerifyMatchesSDK(f *testing.F) {
	f.Add("GET", "/b1b/key", "x-id=GetObject", "X-Amz-Meta-A", " a  b ", int64(0))
	f.Add("PUT", "/b1b/a%20b", "prefix=a+b&delimiter=%2F", "Content-Type", "text/plain", int64(5))
	f.Add("POST", "/", "a=1;b&c=%zz", "Range", "bytes=0-1", int64(-1))
	f.Add("GET", "/b1b/%7e/a%2fb", "k=a~&k=a%C3%BF", "X-Amz-Meta-Tab", "a b", int64(3))
	f.Fuzz(func(t *testing.T, method, path, query, key, value string, length int64) {
		u, err := url.Parse("http://s3.test:9000" + path)
		if err != nil || u.Path == "" || strings.Contains(path, "?") || method == "" || strings.ContainsAny(method, " \n\r") {
			return
		}
		if strings.ContainsAny(value, "\t\r\n") || strings.TrimSpace(value) != strings.Trim(value, " ") {
			return // white space the dialects treat differently
		}
		u.RawQuery = query
		key = http.CanonicalHeaderKey(key)
		if !httpguts.ValidHeaderFieldName(key) {
			return // not a header name HTTP can carry (";" would also split SignedHeaders)
		}
		r := &http.Request{Method: method, URL: u, Header: http.Header{key: {value}, "X-Amz-Content-Sha256": {UnsignedPayload}}, ContentLength: length}
		if err := sdkSigner().SignHTTP(context.Background(), exampleCreds, r, UnsignedPayload, "s3", "us-east-1", signAt); err != nil {
			t.Fatal(err)
		}
		p, sig := paramsOf(t, r, UnsignedPayload)
		if CheckSignedHeaders(p.SignedHeaders) != nil {
			return // a verifier refuses the list before it verifies
		}
		if ok, err := Verify(r, p, sig); !ok || err != nil {
			t.Errorf("%s %q query %q header %q: %q: Verify = %t, %v", method, path, query, key, value, ok, err)
		}
	})
}
