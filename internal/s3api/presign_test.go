package s3api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func presignedRequest(t *testing.T, method, target string, expires time.Duration, headers map[string]string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, "http://127.0.0.1:8333"+target, nil)
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	u := sdkPresign(t, r, exampleAccessKey, exampleSecretKey, expires, testTime)
	out := httptest.NewRequest(method, u, nil)
	for k, v := range headers {
		out.Header.Set(k, v)
	}
	return out
}

func TestAuthenticatePresigned(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		target  string
		headers map[string]string
		expires time.Duration
		now     time.Time
		edit    func(*http.Request)
		code    string
		msg     string
	}{
		{name: "get", method: "GET", target: "/bucket/photo%20one.jpg", expires: time.Hour, now: testTime.Add(30 * time.Minute)},
		{name: "put", method: "PUT", target: "/bucket/upload.bin", expires: time.Hour, now: testTime},
		{name: "get with query", method: "GET", target: "/bucket/k?response-content-type=text%2Fplain&versionId=3", expires: time.Hour, now: testTime},
		{name: "signed header present", method: "PUT", target: "/bucket/k", headers: map[string]string{"Content-Type": "image/png"},
			expires: time.Hour, now: testTime},
		{name: "signed header changed", method: "PUT", target: "/bucket/k", headers: map[string]string{"Content-Type": "image/png"},
			expires: time.Hour, now: testTime, edit: func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }, code: "SignatureDoesNotMatch"},
		{name: "week-long expiry", method: "GET", target: "/bucket/k", expires: MaxPresignExpiry, now: testTime.Add(MaxPresignExpiry - time.Second)},
		{name: "expired", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime.Add(time.Hour + time.Second),
			code: "AccessDenied", msg: "Request has expired"},
		{name: "not valid yet", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime.Add(-20 * time.Minute),
			code: "AccessDenied", msg: "not valid yet"},
		{name: "expiry over a week", method: "GET", target: "/bucket/k", expires: MaxPresignExpiry + time.Second, now: testTime,
			code: "AuthorizationQueryParametersError"},
		{name: "tampered key", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/bucket/other", "" }, code: "SignatureDoesNotMatch"},
		{name: "tampered expiry", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) { setQuery(r, "X-Amz-Expires", "7200") }, code: "SignatureDoesNotMatch"},
		{name: "added parameter", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) { setQuery(r, "versionId", "1") }, code: "SignatureDoesNotMatch"},
		{name: "unsigned x-amz header added", method: "PUT", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) { r.Header.Set("X-Amz-Copy-Source", "/secret/k") }, code: "AccessDenied", msg: "not signed"},
		{name: "missing parameter", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) { delQuery(r, "X-Amz-SignedHeaders") }, code: "AuthorizationQueryParametersError"},
		{name: "bad algorithm", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) { setQuery(r, "X-Amz-Algorithm", "AWS4-HMAC-SHA1") }, code: "AuthorizationQueryParametersError"},
		{name: "bad date", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) { setQuery(r, "X-Amz-Date", "2013-05-24") }, code: "AuthorizationQueryParametersError"},
		{name: "unknown key", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) {
				setQuery(r, "X-Amz-Credential", "NOPE/20130524/us-east-1/s3/aws4_request")
			}, code: "InvalidAccessKeyId"},
		// A malformed signature is a wrong one: 403, as S3 answers.
		{name: "signature not hex", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) { setQuery(r, "X-Amz-Signature", strings.Repeat("z", 64)) }, code: "SignatureDoesNotMatch"},
		{name: "signature short", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) { setQuery(r, "X-Amz-Signature", r.URL.Query().Get("X-Amz-Signature")[1:]) }, code: "SignatureDoesNotMatch"},
		{name: "signature upper-case hex", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) {
				setQuery(r, "X-Amz-Signature", strings.ToUpper(r.URL.Query().Get("X-Amz-Signature")))
			}},
		{name: "duplicate signature", method: "GET", target: "/bucket/k", expires: time.Hour, now: testTime,
			edit: func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Signature=" + strings.Repeat("0", 64) }, code: "AuthorizationQueryParametersError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := presignedRequest(t, tc.method, tc.target, tc.expires, tc.headers)
			if tc.edit != nil {
				tc.edit(r)
			}
			a := newTestAuthenticator(t, nil, tc.now)
			id, err := a.Authenticate(r)
			wantCode(t, err, tc.code)
			if tc.code == "" && id.Name != "admin" {
				t.Fatalf("identity %q", id.Name)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not mention %q", err.Error(), tc.msg)
			}
		})
	}
}

func setQuery(r *http.Request, k, v string) {
	q := r.URL.Query()
	q.Set(k, v)
	r.URL.RawQuery = q.Encode()
}

func delQuery(r *http.Request, k string) {
	q := r.URL.Query()
	q.Del(k)
	r.URL.RawQuery = q.Encode()
}
