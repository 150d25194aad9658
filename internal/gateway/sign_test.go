package gateway

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
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
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

var signAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func signCases() []signCase {
	manyParams := make([]string, 0, 100)
	for i := range 100 {
		manyParams = append(manyParams, "p"+strconv.Itoa(99-i)+"=v%20"+strconv.Itoa(i))
	}
	return []signCase{
		{name: "GET object", method: "GET", url: "http://127.0.0.1:9000/b1b/key.txt?x-id=GetObject",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}, "Accept-Encoding": {"identity"}, "User-Agent": {"aws-sdk-go-v2/1.0"}}},
		{name: "query canonicalised", method: "GET", url: "http://s3.test/b1b?prefix=a+b%2F%C3%BC&list-type=2&delimiter=%2F&a=1&a=0&~-_.=x&k%20ey=v+al",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
		{name: "unparsable parameters dropped", method: "GET", url: "http://s3.test/b1b?a=1;b=2&c=%zz&d=%41&&e&=f",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
		{name: "already canonical", method: "POST", url: "http://s3.test/b1b/big?uploads=",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
		{name: "many parameters", method: "GET", url: "http://s3.test/b1b?" + strings.Join(manyParams, "&"),
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
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
			header: http.Header{"X-Amz-Content-Sha256": {unsignedPayload}}},
		{name: "default http port dropped", method: "GET", url: "http://s3.test:80/b1b/obj",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
		{name: "default https port dropped", method: "GET", url: "https://s3.test:443/b1b/obj",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
		{name: "https on port 80 kept", method: "GET", url: "https://s3.test:80/b1b/obj",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
		{name: "IPv6 literal", method: "GET", url: "http://[::1]:9000/b1b/obj",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
		{name: "Host set explicitly", method: "GET", url: "http://127.0.0.1:9000/obj", host: "photos.s3.test:80",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
		{name: "service level", method: "GET", url: "http://s3.test",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
		{name: "session token", method: "GET", url: "http://s3.test/b1b/obj", token: "upstream-token",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}, "X-Amz-Security-Token": {"client-token"}}},
		{name: "non-ASCII header key", method: "GET", url: "http://s3.test/b1b/obj",
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}, "X-Ünicode": {"v"}}},
		{name: "another day", method: "GET", url: "http://s3.test/b1b/obj", at: signAt.AddDate(0, 0, 1).Add(-time.Second),
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
		{name: "next day", method: "GET", url: "http://s3.test/b1b/obj", at: signAt.AddDate(0, 0, 1),
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
		{name: "local time zone", method: "GET", url: "http://s3.test/b1b/obj", at: signAt.In(time.FixedZone("X", -11*3600)),
			header: http.Header{"X-Amz-Content-Sha256": {emptySHA256}}},
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

// TestSignerMatchesSDK holds the gateway's signer to aws-sdk-go-v2's: the
// same signature, headers, Host and query for every request, one signer
// reused across cases, seconds and days (its caches must not leak).
func TestSignerMatchesSDK(t *testing.T) {
	for _, token := range []string{"", "upstream-token"} {
		s := newSigner(upAccessKey, upSecretKey, token, "eu-west-1", "s3")
		sdk := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		creds := aws.Credentials{AccessKeyID: upAccessKey, SecretAccessKey: upSecretKey, SessionToken: token}
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
					s.sign(got, hash, at)
					if err := sdk.SignHTTP(context.Background(), creds, want, hash, "s3", "eu-west-1", at); err != nil {
						t.Fatal(err)
					}
					for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
						if g, w := got.Header.Values(k), want.Header.Values(k); strings.Join(g, "|") != strings.Join(w, "|") {
							t.Errorf("%s:\n got  %q\n want %q", k, g, w)
						}
					}
					if got.Host != want.Host || got.URL.RawQuery != want.URL.RawQuery {
						t.Errorf("Host %q query %q, want %q %q", got.Host, got.URL.RawQuery, want.Host, want.URL.RawQuery)
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
	s := newSigner(upAccessKey, upSecretKey, "", DefaultRegion, "s3")
	sdk := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: upAccessKey, SecretAccessKey: upSecretKey}
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
				Header: http.Header{key: {value}, "X-Amz-Content-Sha256": {unsignedPayload}}, ContentLength: length}
		}
		got, want := mk(), mk()
		s.sign(got, unsignedPayload, signAt)
		if err := sdk.SignHTTP(context.Background(), creds, want, unsignedPayload, "s3", DefaultRegion, signAt); err != nil {
			t.Fatal(err)
		}
		if g, w := got.Header.Get("Authorization"), want.Header.Get("Authorization"); g != w || got.URL.RawQuery != want.URL.RawQuery {
			t.Errorf("path %q query %q header %q: %q\n got  %s %q\n want %s %q", path, query, key, value, g, got.URL.RawQuery, w, want.URL.RawQuery)
		}
	})
}

func TestSignAllocations(t *testing.T) {
	g := newGateway(t, Config{Upstream: "http://127.0.0.1:9000", Now: func() time.Time { return signAt }})
	req := &http.Request{Method: http.MethodGet, URL: g.upstreamURL("bucket", "some/key.bin", "x-id=GetObject"), Header: http.Header{
		"X-Amz-Content-Sha256": {emptySHA256},
		"Accept-Encoding":      {"identity"},
		"User-Agent":           {"aws-sdk-go-v2"},
	}}
	g.sign(req) // derives the day's key
	// The header values (one array) and the Authorization string; the
	// scratch space comes from a pool.
	limit := 2.0
	if raceEnabled {
		limit = 12 // the pool drops scratch space at random
	}
	if n := testing.AllocsPerRun(100, func() { g.sign(req) }); n > limit {
		t.Errorf("sign allocates %v times, want at most %v", n, limit)
	}
}
