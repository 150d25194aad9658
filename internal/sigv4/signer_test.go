package sigv4

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// signCase is one request for TestSignerMatchesSDK.
type signCase struct {
	name          string
	method        string
	url           string // parsed into the request URL
	rawPath       string // when set, replaces URL.RawPath
	host          string // req.Host; "" = from the URL
	contentLength int64
	header        http.Header
	token         string
	at            time.Time
}

func signCases() []signCase {
	manyParams := make([]string, 0, 100)
	for i := range 100 {
		manyParams = append(manyParams, "p"+strconv.Itoa(99-i)+"=v%20"+strconv.Itoa(i))
	}
	tooManyParams := strings.Repeat("a=1&", maxQueryParams) + "b=2"
	return []signCase{
		{name: "GET object", method: "GET", url: "http://127.0.0.1:9000/b1b/key.txt?x-id=GetObject",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}, "Accept-Encoding": {"identity"}, "User-Agent": {"aws-sdk-go-v2/1.0"}}},
		{name: "query canonicalised", method: "GET", url: "http://s3.test/b1b?prefix=a+b%2F%C3%BC&list-type=2&delimiter=%2F&a=1&a=0&~-_.=x&k%20ey=v+al",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "unparsable parameters dropped", method: "GET", url: "http://s3.test/b1b?a=1;b=2&c=%zz&d=%41&&e&=f",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "already canonical", method: "POST", url: "http://s3.test/b1b/big?uploads=",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "many parameters", method: "GET", url: "http://s3.test/b1b?" + strings.Join(manyParams, "&"),
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "more parameters than net/url parses", method: "GET", url: "http://s3.test/b1b?" + tooManyParams,
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "PUT with length and metadata", method: "PUT", url: "http://s3.test:8080/b1b/a%20b/%C3%BC%2B.txt",
			rawPath: "/b1b/a%20b/%C3%BC%2B.txt", contentLength: 11,
			header: http.Header{
				"X-Amz-Content-Sha256": {hexSHA256("hello world")},
				"Content-Type":         {"text/plain"},
				"X-Amz-Meta-Color":     {"  red   and  blue ", "\tgreen\t"},
				"X-Amz-Meta-Empty":     {""},
				"X-Amz-Meta-None":      {},
				"Content-Md5":          {"XrY7u+Ae7tCTyyK7j1rNww=="},
				"Expect":               {"100-continue"},
				"Transfer-Encoding":    {"chunked"},
				"X-Amzn-Trace-Id":      {"Root=1"},
				"Authorization":        {"stale"},
				"X-Amz-Date":           {"20000101T000000Z"},
				"Content-Length":       {"999"},
				"Host":                 {"ignored.test"},
				"Te":                   {"trailers"},
			}},
		{name: "unknown length", method: "PUT", url: "http://s3.test/b1b/obj", contentLength: -1,
			header: http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}}},
		{name: "default http port dropped", method: "GET", url: "http://s3.test:80/b1b/obj",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "default https port dropped", method: "GET", url: "https://s3.test:443/b1b/obj",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "https on port 80 kept", method: "GET", url: "https://s3.test:80/b1b/obj",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "IPv6 literal", method: "GET", url: "http://[::1]:9000/b1b/obj",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "Host set explicitly", method: "GET", url: "http://127.0.0.1:9000/obj", host: "photos.s3.test:80",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "service level", method: "GET", url: "http://s3.test",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "session token", method: "GET", url: "http://s3.test/b1b/obj", token: "upstream-token",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}, "X-Amz-Security-Token": {"client-token"}}},
		{name: "non-ASCII header key", method: "GET", url: "http://s3.test/b1b/obj",
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}, "X-Ünicode": {"v"}}},
		{name: "another day", method: "GET", url: "http://s3.test/b1b/obj", at: signAt.AddDate(0, 0, 1).Add(-time.Second),
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "next day", method: "GET", url: "http://s3.test/b1b/obj", at: signAt.AddDate(0, 0, 1),
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
		{name: "local time zone", method: "GET", url: "http://s3.test/b1b/obj", at: signAt.In(time.FixedZone("X", -11*3600)),
			header: http.Header{"X-Amz-Content-Sha256": {EmptySHA256}}},
	}
}

func (tc signCase) request(t testing.TB) *http.Request {
	t.Helper()
	u, err := url.Parse(tc.url)
	if err != nil {
		t.Fatal(err)
	}
	if tc.rawPath != "" {
		u.RawPath = tc.rawPath
	}
	return &http.Request{Method: tc.method, URL: u, Host: tc.host, Header: tc.header.Clone(), ContentLength: tc.contentLength}
}

// TestSignerMatchesSDK holds the Signer to aws-sdk-go-v2's: the same
// signature, headers, Host and query for every request, one Signer reused
// across cases, seconds and days (its caches must not leak).
func TestSignerMatchesSDK(t *testing.T) {
	for _, token := range []string{"", "upstream-token"} {
		s := NewSigner(Credentials{AccessKey: exampleAccessKey, SecretKey: exampleSecretKey, SessionToken: token}, "eu-west-1", "s3")
		creds := aws.Credentials{AccessKeyID: exampleAccessKey, SecretAccessKey: exampleSecretKey, SessionToken: token}
		for round := range 2 { // the second round signs with warm caches
			for _, tc := range signCases() {
				if tc.token != "" && tc.token != token {
					continue
				}
				at := tc.at
				if at.IsZero() {
					at = signAt.Add(time.Duration(round) * time.Second)
				}
				name := fmt.Sprintf("%s/round %d/token %t", tc.name, round+1, token != "")
				t.Run(name, func(t *testing.T) {
					got, want := tc.request(t), tc.request(t)
					hash := got.Header.Get("X-Amz-Content-Sha256")
					s.Sign(got, hash, at)
					if err := sdkSigner().SignHTTP(context.Background(), creds, want, hash, "s3", "eu-west-1", at); err != nil {
						t.Fatal(err)
					}
					for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
						if g, w := got.Header.Values(k), want.Header.Values(k); strings.Join(g, "|") != strings.Join(w, "|") {
							t.Errorf("%s:\n got  %q\n want %q", k, g, w)
						}
					}
					if got.Host != want.Host || got.URL.RawQuery != want.URL.RawQuery {
						t.Errorf("Host %q query %.200q, want %q %.200q", got.Host, got.URL.RawQuery, want.Host, want.URL.RawQuery)
					}
				})
			}
		}
	}
}

func FuzzSignerMatchesSDK(f *testing.F) {
	f.Add("/b1b/key", "x-id=GetObject", "X-Amz-Meta-A", " a  b ", int64(0))
	f.Add("/b1b/a%20b", "prefix=a+b&delimiter=%2F", "Content-Type", "text/plain", int64(5))
	f.Add("/", "a=1;b&c=%zz", "Range", "bytes=0-1", int64(-1))
	f.Add("/b1b/%7e", "k=a~&k=a%C3%BF", "X-Amz-Meta-Tab", "a\t\tb \u0085", int64(3))
	s := NewSigner(Credentials{AccessKey: exampleAccessKey, SecretKey: exampleSecretKey}, "us-east-1", "s3")
	sdk := sdkSigner()
	f.Fuzz(func(t *testing.T, path, query, key, value string, length int64) {
		u, err := url.Parse("http://s3.test:9000" + path)
		if err != nil || u.Path == "" || strings.Contains(path, "?") {
			return
		}
		u.RawQuery = query
		key = http.CanonicalHeaderKey(key)
		if key == "" {
			return
		}
		mk := func() *http.Request {
			return &http.Request{Method: "PUT", URL: &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery},
				Header: http.Header{key: {value}, "X-Amz-Content-Sha256": {UnsignedPayload}}, ContentLength: length}
		}
		got, want := mk(), mk()
		s.Sign(got, UnsignedPayload, signAt)
		if err := sdk.SignHTTP(context.Background(), exampleCreds, want, UnsignedPayload, "s3", "us-east-1", signAt); err != nil {
			t.Fatal(err)
		}
		if g, w := got.Header.Get("Authorization"), want.Header.Get("Authorization"); g != w || got.URL.RawQuery != want.URL.RawQuery {
			t.Errorf("path %q query %q header %q: %q\n got  %s %q\n want %s %q", path, query, key, value, g, got.URL.RawQuery, w, want.URL.RawQuery)
		}
	})
}

// Signing takes two allocations: the array of the header values it sets
// and the Authorization string; the working memory comes from a pool.
func TestSignAllocations(t *testing.T) {
	s := NewSigner(Credentials{AccessKey: exampleAccessKey, SecretKey: exampleSecretKey}, "us-east-1", "s3")
	u, _ := url.Parse("http://127.0.0.1:9000/bucket/some/key.bin?x-id=GetObject")
	req := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{
		"X-Amz-Content-Sha256": {EmptySHA256},
		"Accept-Encoding":      {"identity"},
		"User-Agent":           {"aws-sdk-go-v2"},
	}}
	s.Sign(req, EmptySHA256, signAt) // derives the day's key
	limit := 2.0
	if raceEnabled {
		limit = 12 // the pool drops working memory at random
	}
	if n := testing.AllocsPerRun(100, func() { s.Sign(req, EmptySHA256, signAt) }); n > limit {
		t.Errorf("Sign allocates %v times, want at most %v", n, limit)
	}
}

func TestSigningHost(t *testing.T) {
	tests := []struct {
		url, host        string
		want, wantHeader string // wantHeader: req.Host afterwards
	}{
		{"http://s3.test:9000/b", "", "s3.test:9000", ""},
		{"http://s3.test:80/b", "", "s3.test", "s3.test"},
		{"https://s3.test:443/b", "", "s3.test", "s3.test"},
		{"HTTPS://s3.test:443/b", "", "s3.test", "s3.test"},
		{"https://s3.test:80/b", "", "s3.test:80", ""},
		{"http://s3.test/b", "", "s3.test", ""},
		{"http://127.0.0.1:9000/b", "photos.s3.test:80", "photos.s3.test", "photos.s3.test"},
		{"http://[::1]:9000/b", "", "[::1]:9000", ""},
	}
	for _, tc := range tests {
		t.Run(tc.url+" "+tc.host, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			req := &http.Request{URL: u, Host: tc.host}
			if got := signingHost(req); got != tc.want || req.Host != tc.wantHeader {
				t.Errorf("signingHost = %q (Host %q), want %q (Host %q)", got, req.Host, tc.want, tc.wantHeader)
			}
		})
	}
}

func TestFormatAmzDate(t *testing.T) {
	for _, at := range []time.Time{
		signAt,
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, want := formatAmzDate(at), at.Format(TimeFormat); got != want {
			t.Errorf("formatAmzDate(%v) = %q, want %q", at, got, want)
		}
	}
}

func BenchmarkSignerSign(b *testing.B) {
	s := NewSigner(Credentials{AccessKey: exampleAccessKey, SecretKey: exampleSecretKey}, "us-east-1", "s3")
	u, _ := url.Parse("http://127.0.0.1:9000/bucket/some/key.bin")
	req := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{
		"X-Amz-Content-Sha256": {EmptySHA256},
		"Accept-Encoding":      {"identity"},
	}}
	b.ReportAllocs()
	for b.Loop() {
		s.Sign(req, EmptySHA256, signAt)
	}
}
