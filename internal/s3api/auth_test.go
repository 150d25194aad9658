package s3api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// signedRequest describes a request to sign with the aws-sdk-go-v2 signer.
type signedRequest struct {
	method  string
	target  string // path and query as sent, e.g. "/bucket/a%20b?list-type=2"
	host    string // default 127.0.0.1:8333
	body    string
	payload string // x-amz-content-sha256; default the body's hex SHA-256
	headers map[string]string
	region  string
}

func (s signedRequest) build(t *testing.T, accessKey, secretKey string, at time.Time) *http.Request {
	t.Helper()
	host := s.host
	if host == "" {
		host = "127.0.0.1:8333"
	}
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	r := httptest.NewRequest(s.method, "http://"+host+s.target, body)
	for k, v := range s.headers {
		r.Header.Set(k, v)
	}
	payload := s.payload
	if payload == "" {
		payload = hexSHA256([]byte(s.body))
	}
	r.Header.Set("X-Amz-Content-Sha256", payload)
	region := s.region
	if region == "" {
		region = "us-east-1"
	}
	sdkSign(t, r, accessKey, secretKey, payload, region, at)
	return r
}

func TestAuthenticateSDKSigned(t *testing.T) {
	tests := []struct {
		name string
		req  signedRequest
	}{
		{"get object", signedRequest{method: "GET", target: "/bucket/key.txt"}},
		{"head bucket", signedRequest{method: "HEAD", target: "/bucket"}},
		{"list buckets", signedRequest{method: "GET", target: "/"}},
		{"key with spaces and unicode", signedRequest{method: "GET", target: "/bucket/dir%20one/caf%C3%A9%20%E2%82%AC.txt"}},
		{"key with double slash", signedRequest{method: "GET", target: "/bucket/a//b///c"}},
		{"key with reserved characters", signedRequest{method: "GET", target: "/bucket/a%2Bb%3Dc%26d%3F%23%25%40%21%24%27%28%29%2A%2C%3B%3A"}},
		{"key with tilde and unreserved", signedRequest{method: "GET", target: "/bucket/a~b-c_d.e"}},
		{"list with query", signedRequest{method: "GET", target: "/bucket?list-type=2&prefix=a%20b%2Fc&delimiter=%2F&max-keys=10&continuation-token=AbC%2B%2F%3D%3D&start-after="}},
		{"repeated query names", signedRequest{method: "GET", target: "/bucket?b=2&a=2&a=1&a-b=0"}},
		{"sub-resource without value", signedRequest{method: "GET", target: "/bucket?uploads"}},
		{"put with signed body", signedRequest{method: "PUT", target: "/bucket/obj", body: "hello world",
			headers: map[string]string{"Content-Type": "text/plain", "X-Amz-Meta-Color": "  dark   blue  "}}},
		{"put with unsigned payload", signedRequest{method: "PUT", target: "/bucket/obj", body: "hello", payload: "UNSIGNED-PAYLOAD"}},
		{"copy object", signedRequest{method: "PUT", target: "/bucket/dst", headers: map[string]string{"X-Amz-Copy-Source": "/src/a%20b"}}},
		{"other region", signedRequest{method: "GET", target: "/bucket/k", region: "eu-west-3"}},
		{"custom region name", signedRequest{method: "GET", target: "/bucket/k", region: "garage"}},
		{"virtual host", signedRequest{method: "GET", target: "/key", host: "bucket.s3.example.com"}},
		{"multi-value header", signedRequest{method: "GET", target: "/bucket/k", headers: map[string]string{"X-Amz-Meta-List": "a,  b,c"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req.build(t, exampleAccessKey, exampleSecretKey, testTime)
			a := newTestAuthenticator(t, nil, testTime.Add(10*time.Minute))
			id, err := a.Authenticate(r)
			wantCode(t, err, "")
			if id.Name != "admin" {
				t.Fatalf("identity %q", id.Name)
			}
			body, err := readAll(r)
			wantCode(t, err, "")
			if string(body) != tc.req.body {
				t.Fatalf("body %q, want %q", body, tc.req.body)
			}
		})
	}
}

// A request whose path a client encoded differently from the S3 canonical
// form (here: "%2F" inside the key and a lower-case escape) still verifies
// when the client signed the path as sent.
func TestAuthenticatePathAsSent(t *testing.T) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:8333/bucket/a%2fb", nil)
	r.Header.Set("X-Amz-Content-Sha256", emptySHA256Hex)
	sdkSign(t, r, exampleAccessKey, exampleSecretKey, emptySHA256Hex, "us-east-1", testTime)
	a := newTestAuthenticator(t, nil, testTime)
	_, err := a.Authenticate(r)
	wantCode(t, err, "")
}

// signManually signs r with an independent implementation of SigV4, for
// cases the SDK signer cannot produce (Date instead of x-amz-date, chosen
// signed headers).
func signManually(r *http.Request, accessKey, secretKey, amzDate, payload string, signed []string) {
	var canon strings.Builder
	canon.WriteString(r.Method + "\n" + r.URL.EscapedPath() + "\n" + r.URL.RawQuery + "\n")
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		canon.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	canon.WriteString("\n" + strings.Join(signed, ";") + "\n" + payload)
	scope := amzDate[:8] + "/us-east-1/s3/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hexSHA256([]byte(canon.String()))
	sig := hexHMAC(testSigningKey(secretKey, amzDate[:8], "us-east-1"), sts)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+accessKey+"/"+scope+", SignedHeaders="+strings.Join(signed, ";")+", Signature="+sig)
}

func TestAuthenticateDateHeader(t *testing.T) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:8333/bucket/key", nil)
	r.Header.Set("Date", testTime.Format(http.TimeFormat))
	r.Header.Set("X-Amz-Content-Sha256", emptySHA256Hex)
	signManually(r, exampleAccessKey, exampleSecretKey, "20130524T000000Z", emptySHA256Hex, []string{"date", "host", "x-amz-content-sha256"})
	a := newTestAuthenticator(t, nil, testTime.Add(-5*time.Minute))
	_, err := a.Authenticate(r)
	wantCode(t, err, "")
}

// withSignature replaces the signature of an Authorization header.
func withSignature(auth, sig string) string {
	return auth[:strings.Index(auth, "Signature=")+len("Signature=")] + sig
}

func TestAuthenticateFailures(t *testing.T) {
	get := signedRequest{method: "GET", target: "/bucket/key"}
	tests := []struct {
		name   string
		req    signedRequest
		ak, sk string
		signAt time.Time
		now    time.Time
		edit   func(*http.Request)
		code   string
		msg    string // substring of the message, when set
	}{
		{name: "wrong secret", req: get, sk: "not-the-secret", code: "SignatureDoesNotMatch"},
		{name: "unknown access key", req: get, ak: "AKIDUNKNOWN", code: "InvalidAccessKeyId"},
		{name: "clock skew ahead", req: get, now: testTime.Add(16 * time.Minute), code: "RequestTimeTooSkewed"},
		{name: "clock skew behind", req: get, now: testTime.Add(-16 * time.Minute), code: "RequestTimeTooSkewed"},
		{name: "skew within limit", req: get, now: testTime.Add(14 * time.Minute), code: ""},
		{name: "bad x-amz-date", req: get, edit: func(r *http.Request) { r.Header.Set("X-Amz-Date", "2013-05-24T00:00:00Z") },
			code: "AccessDenied", msg: "valid Date or x-amz-date"},
		{name: "no date", req: get, edit: func(r *http.Request) { r.Header.Del("X-Amz-Date") },
			code: "AccessDenied", msg: "valid Date or x-amz-date"},
		{name: "credential date differs from x-amz-date", req: get,
			edit: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20130525T000000Z") }, now: testTime.Add(24 * time.Hour),
			code: "AuthorizationHeaderMalformed"},
		{name: "tampered path", req: get, edit: func(r *http.Request) { r.URL.Path = "/bucket/other"; r.URL.RawPath = "" },
			code: "SignatureDoesNotMatch"},
		{name: "tampered query", req: signedRequest{method: "GET", target: "/bucket?prefix=a"},
			edit: func(r *http.Request) { r.URL.RawQuery = "prefix=b" }, code: "SignatureDoesNotMatch"},
		{name: "added query parameter", req: get,
			edit: func(r *http.Request) { r.URL.RawQuery = "versionId=1" }, code: "SignatureDoesNotMatch"},
		{name: "tampered signed header", req: signedRequest{method: "GET", target: "/bucket/k", headers: map[string]string{"Range": "bytes=0-1"}},
			edit: func(r *http.Request) { r.Header.Set("Range", "bytes=0-100") }, code: "SignatureDoesNotMatch"},
		{name: "tampered host", req: get, edit: func(r *http.Request) { r.Host = "evil:8333" }, code: "SignatureDoesNotMatch"},
		{name: "tampered method", req: get, edit: func(r *http.Request) { r.Method = "DELETE" }, code: "SignatureDoesNotMatch"},
		{name: "unsigned x-amz header added", req: get,
			edit: func(r *http.Request) { r.Header.Set("X-Amz-Copy-Source", "/secret/key") }, code: "AccessDenied", msg: "not signed"},
		{name: "payload hash header changed", req: get,
			edit: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") }, code: "SignatureDoesNotMatch"},
		{name: "payload hash missing", req: get,
			edit: func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, code: "InvalidRequest"},
		{name: "payload hash malformed", req: get,
			edit: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "abc") }, code: "InvalidArgument"},
		{name: "aws-chunked encoding without streaming payload", req: signedRequest{method: "PUT", target: "/bucket/k", body: "3\r\nabc\r\n0\r\n\r\n",
			headers: map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "3"}}, code: "InvalidArgument"},
		{name: "sigv4a payload", req: get,
			edit: func(r *http.Request) {
				r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
			}, code: "NotImplemented"},
		// A malformed signature is a wrong one: 403, as S3 answers.
		{name: "signature not hex", req: get,
			edit: func(r *http.Request) {
				r.Header.Set("Authorization", withSignature(r.Header.Get("Authorization"), strings.Repeat("g", 64)))
			},
			code: "SignatureDoesNotMatch"},
		{name: "signature short", req: get,
			edit: func(r *http.Request) {
				a := r.Header.Get("Authorization")
				r.Header.Set("Authorization", a[:len(a)-1])
			},
			code: "SignatureDoesNotMatch"},
		{name: "signature long", req: get,
			edit: func(r *http.Request) { r.Header.Set("Authorization", r.Header.Get("Authorization")+"0") },
			code: "SignatureDoesNotMatch"},
		{name: "signature in upper-case hex", req: get,
			edit: func(r *http.Request) {
				a := r.Header.Get("Authorization")
				i := strings.Index(a, "Signature=") + len("Signature=")
				r.Header.Set("Authorization", a[:i]+strings.ToUpper(a[i:]))
			}},
		{name: "malformed authorization", req: get,
			edit: func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x") }, code: "AuthorizationHeaderMalformed"},
		{name: "wrong service", req: get,
			edit: func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/s3/", "/ec2/", 1))
			}, code: "AuthorizationHeaderMalformed", msg: "service must be s3"},
		{name: "signature v2", req: get,
			edit: func(r *http.Request) { r.Header.Set("Authorization", "AWS AKID:c2lnbmF0dXJl") }, code: "NotImplemented"},
		{name: "two authorization headers", req: get,
			edit: func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, code: "AuthorizationHeaderMalformed"},
		{name: "header and query auth", req: get,
			edit: func(r *http.Request) { r.URL.RawQuery = "X-Amz-Signature=abc" }, code: "InvalidArgument"},
		{name: "unsigned request without anonymous identity", req: get,
			edit: func(r *http.Request) { r.Header.Del("Authorization") }, code: "AccessDenied"},
		{name: "presigned v2", req: get,
			edit: func(r *http.Request) {
				r.Header.Del("Authorization")
				r.URL.RawQuery = "AWSAccessKeyId=a&Signature=b&Expires=1"
			},
			code: "NotImplemented"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ak, sk := exampleAccessKey, exampleSecretKey
			if tc.ak != "" {
				ak = tc.ak
			}
			if tc.sk != "" {
				sk = tc.sk
			}
			signAt := testTime
			if !tc.signAt.IsZero() {
				signAt = tc.signAt
			}
			now := testTime
			if !tc.now.IsZero() {
				now = tc.now
			}
			r := tc.req.build(t, ak, sk, signAt)
			if tc.edit != nil {
				tc.edit(r)
			}
			a := newTestAuthenticator(t, nil, now)
			id, err := a.Authenticate(r)
			wantCode(t, err, tc.code)
			if tc.code != "" && id != nil {
				t.Errorf("identity %q returned with an error", id.Name)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not mention %q", err.Error(), tc.msg)
			}
			if err != nil && strings.Contains(err.Error(), exampleSecretKey) {
				t.Errorf("error reveals the secret: %v", err)
			}
		})
	}
}

func TestAuthenticatePayloadHash(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		payload string
		code    string
	}{
		{"matching", "the body", hexSHA256([]byte("the body")), ""},
		{"matching upper-case hex", "the body", strings.ToUpper(hexSHA256([]byte("the body"))), ""},
		{"different body", "the body", hexSHA256([]byte("another body")), "XAmzContentSHA256Mismatch"},
		{"empty hash with body", "the body", emptySHA256Hex, "XAmzContentSHA256Mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := signedRequest{method: "PUT", target: "/bucket/k", body: tc.body, payload: tc.payload}.build(t, exampleAccessKey, exampleSecretKey, testTime)
			a := newTestAuthenticator(t, nil, testTime)
			_, err := a.Authenticate(r)
			wantCode(t, err, "")
			got, err := readAll(r)
			wantCode(t, err, tc.code)
			if err == nil && string(got) != tc.body {
				t.Fatalf("body %q", got)
			}
		})
	}

	// A body-less request whose signed hash is not the empty hash fails at
	// once.
	r := signedRequest{method: "PUT", target: "/bucket/k", payload: hexSHA256([]byte("x"))}.build(t, exampleAccessKey, exampleSecretKey, testTime)
	r.Body = http.NoBody
	_, err := newTestAuthenticator(t, nil, testTime).Authenticate(r)
	wantCode(t, err, "XAmzContentSHA256Mismatch")
}

func TestAuthenticateAnonymous(t *testing.T) {
	cfg := withAnonymous(testIdentityConfig())
	a := newTestAuthenticator(t, cfg, testTime)

	r := httptest.NewRequest("GET", "http://127.0.0.1:8333/bucket/key", nil)
	id, err := a.Authenticate(r)
	wantCode(t, err, "")
	if id == nil || id.Name != AnonymousIdentity {
		t.Fatalf("identity = %v, want anonymous", id)
	}

	// An unsigned body with a payload hash is still checked.
	r = httptest.NewRequest("PUT", "http://127.0.0.1:8333/bucket/key", strings.NewReader("abc"))
	r.Header.Set("X-Amz-Content-Sha256", hexSHA256([]byte("abd")))
	_, err = a.Authenticate(r)
	wantCode(t, err, "")
	_, err = readAll(r)
	wantCode(t, err, "XAmzContentSHA256Mismatch")

	// A signed streaming body cannot be anonymous.
	r = httptest.NewRequest("PUT", "http://127.0.0.1:8333/bucket/key", strings.NewReader("abc"))
	r.Header.Set("X-Amz-Content-Sha256", payloadStreamingSigned)
	r.Header.Set("X-Amz-Decoded-Content-Length", "3")
	_, err = a.Authenticate(r)
	wantCode(t, err, "AccessDenied")

	// A signed request with a bad signature is not downgraded to anonymous.
	r = signedRequest{method: "GET", target: "/bucket/k"}.build(t, exampleAccessKey, "wrong", testTime)
	_, err = a.Authenticate(r)
	wantCode(t, err, "SignatureDoesNotMatch")
}

// The Authenticator copies the configuration: later edits of the caller's
// value change nothing.
func TestNewAuthenticatorCopiesConfig(t *testing.T) {
	cfg := testIdentityConfig()
	a := newTestAuthenticator(t, cfg, testTime)
	cfg.Identities[0].Credentials[0].SecretKey = "changed"
	cfg.Identities[0].Actions[0] = "Read"
	r := signedRequest{method: "GET", target: "/bucket/k"}.build(t, exampleAccessKey, exampleSecretKey, testTime)
	id, err := a.Authenticate(r)
	wantCode(t, err, "")
	if !id.Allowed(ActionAdmin, "x") {
		t.Fatal("the identity's actions changed with the caller's configuration")
	}
}

func TestNewAuthenticatorRejectsInvalidConfig(t *testing.T) {
	if _, err := NewAuthenticator(nil, AuthOptions{}); err == nil {
		t.Error("nil config accepted")
	}
	bad := &IdentityConfig{Identities: []Identity{{Name: "x", Credentials: []Credential{{AccessKey: "a", SecretKey: ""}}}}}
	if _, err := NewAuthenticator(bad, AuthOptions{}); err == nil || !strings.Contains(err.Error(), "secretKey") {
		t.Errorf("empty secret: err = %v", err)
	}
	if _, err := NewAuthenticator(testIdentityConfig(), AuthOptions{MaxSkew: -time.Second}); err == nil {
		t.Error("negative MaxSkew accepted")
	}
}

// The signing-key cache must not confuse regions or days.
func TestSigningKeyCachePerRegionAndDay(t *testing.T) {
	a := newTestAuthenticator(t, nil, testTime)
	for i, tc := range []struct {
		region string
		at     time.Time
	}{
		{"us-east-1", testTime}, {"eu-west-1", testTime}, {"us-east-1", testTime},
		{"us-east-1", testTime.Add(-time.Minute)}, // the previous day
	} {
		a.now = func() time.Time { return tc.at }
		r := signedRequest{method: "GET", target: "/b/k", region: tc.region}.build(t, exampleAccessKey, exampleSecretKey, tc.at)
		if _, err := a.Authenticate(r); err != nil {
			t.Fatalf("request %d (%s, %s): %v", i, tc.region, tc.at, err)
		}
	}
}

// A request whose body is read through the verifying reader sees every
// byte, in order, whatever the read sizes.
func TestSHA256ReaderSmallReads(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 1000)
	r := signedRequest{method: "PUT", target: "/bucket/k", body: string(body)}.build(t, exampleAccessKey, exampleSecretKey, testTime)
	if _, err := newTestAuthenticator(t, nil, testTime).Authenticate(r); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	buf := make([]byte, 7)
	for {
		n, err := r.Body.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		wantCode(t, err, "")
	}
	if !bytes.Equal(got.Bytes(), body) {
		t.Fatal("body changed")
	}
}
