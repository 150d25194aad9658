package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// Upstream credentials of the unit tests.
const (
	upAccessKey = "UPSTREAMACCESSKEY000"
	upSecretKey = "upstreamSecretKey0000000000000000000000"
)

// verifySigV4 checks a received request the way an S3 server does: it
// rebuilds the request from what arrived on the wire (only the headers
// the signature names), signs it again with the SDK signer at the time
// the request states, and compares signatures. It also checks that every
// x-amz-* header that arrived is signed, and a hex payload hash against
// the body.
func verifySigV4(r *http.Request, body []byte, creds aws.Credentials, region string) error {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return fmt.Errorf("no SigV4 Authorization header: %q", auth)
	}
	var credential, signed string
	for _, f := range strings.Split(auth[len(algo):], ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signed = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[0] != creds.AccessKeyID || scope[2] != region || scope[3] != "s3" || scope[4] != "aws4_request" {
		return fmt.Errorf("credential scope %q is not for %s in %s", credential, creds.AccessKeyID, region)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %v", err)
	}
	u, err := url.Parse("http://" + r.Host + r.RequestURI)
	if err != nil {
		return err
	}
	if canon := u.Query(); r.URL.RawQuery != "" && strings.ReplaceAll(canon.Encode(), "+", "%20") != r.URL.RawQuery {
		return fmt.Errorf("query %q is not in canonical order and encoding", r.URL.RawQuery)
	}
	re := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: http.Header{}, ContentLength: r.ContentLength}
	signedSet := map[string]bool{}
	for _, h := range strings.Split(signed, ";") {
		signedSet[h] = true
		switch h {
		case "host":
		case "content-length":
			if r.ContentLength <= 0 {
				return fmt.Errorf("content-length signed but the request has length %d", r.ContentLength)
			}
		default:
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				return fmt.Errorf("signed header %q did not arrive", h)
			}
			re.Header[textproto.CanonicalMIMEHeaderKey(h)] = vals
		}
	}
	for k := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") && !signedSet[lk] {
			return fmt.Errorf("header %s arrived unsigned", k)
		}
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if hash != sigv4.UnsignedPayload {
		sum := sha256.Sum256(body)
		if got := hex.EncodeToString(sum[:]); got != hash {
			return fmt.Errorf("payload hash %s, body hashes to %s", hash, got)
		}
	}
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := s.SignHTTP(context.Background(), creds, re, hash, "s3", region, at); err != nil {
		return err
	}
	if want := re.Header.Get("Authorization"); want != auth {
		return fmt.Errorf("signature mismatch:\n got  %s\n want %s", auth, want)
	}
	return nil
}

// received is what a test upstream saw of one request.
type received struct {
	Method, RequestURI, Host string
	Header                   http.Header
	Body                     []byte
	ContentLength            int64
	TransferEncoding         []string
	SigErr                   error
}

// recorder is a test upstream that verifies signatures, records every
// request and answers with respond (nil = 200 and an empty body). A bad
// signature gets the S3 answer, 403 SignatureDoesNotMatch.
type recorder struct {
	creds   aws.Credentials
	region  string
	respond func(w http.ResponseWriter, r *http.Request, body []byte)

	mu   sync.Mutex
	reqs []received // guarded by mu
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	got := received{
		Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Header: r.Header.Clone(),
		Body: body, ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding,
		SigErr: verifySigV4(r, body, rec.creds, rec.region),
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, got)
	rec.mu.Unlock()
	if got.SigErr != nil {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<Error><Code>SignatureDoesNotMatch</Code><Message>%s</Message></Error>", got.SigErr)
		return
	}
	if rec.respond != nil {
		rec.respond(w, r, body)
	}
}

func (rec *recorder) requests() []received {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]received(nil), rec.reqs...)
}

func newRecorder(t *testing.T, respond func(http.ResponseWriter, *http.Request, []byte)) (*recorder, *httptest.Server) {
	t.Helper()
	rec := &recorder{
		creds:   aws.Credentials{AccessKeyID: upAccessKey, SecretAccessKey: upSecretKey},
		region:  DefaultRegion,
		respond: respond,
	}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv
}

func TestVerifySigV4RejectsTampering(t *testing.T) {
	// The verifier must fail on what a broken gateway would send, or the
	// forwarding tests prove nothing.
	tests := []struct {
		name   string
		tamper func(r *http.Request)
	}{
		{"changed signed header", func(r *http.Request) { r.Header.Set("X-Amz-Meta-Color", "blue") }},
		{"changed path", func(r *http.Request) { r.URL.RawPath = ""; r.URL.Path = "/b1b/other" }},
		{"changed query", func(r *http.Request) { r.URL.RawQuery = "prefix=b" }},
		{"unsigned x-amz header added", func(r *http.Request) { r.Header.Set("X-Amz-Tagging", "a=b") }},
		{"wrong secret", func(r *http.Request) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, srv := newRecorder(t, nil)
			secret := upSecretKey
			if tc.name == "wrong secret" {
				secret = "wrong"
			}
			g, err := New(Config{Upstream: srv.URL, AccessKey: upAccessKey, SecretKey: secret})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/b1b/key?prefix=a", nil)
			req.URL = g.upstreamURL("b1b", "key", "prefix=a")
			req.Header.Set("X-Amz-Meta-Color", "red")
			req.Header.Set("X-Amz-Content-Sha256", sigv4.EmptySHA256)
			g.sign(req)
			tc.tamper(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			reqs := rec.requests()
			if len(reqs) != 1 || reqs[0].SigErr == nil {
				t.Fatalf("tampered request verified: %+v", reqs)
			}
		})
	}
}

func TestSignIsVerifiable(t *testing.T) {
	rec, srv := newRecorder(t, nil)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	g, err := New(Config{Upstream: srv.URL, AccessKey: upAccessKey, SecretKey: upSecretKey, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	body := "hello"
	sum := sha256.Sum256([]byte(body))
	req, _ := http.NewRequest(http.MethodPut, "", strings.NewReader(body))
	req.URL = g.upstreamURL("b1b", "a b/ü+.txt", "tagging=&versionId=v%201")
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	req.Header.Set("X-Amz-Meta-Color", "  red   and  blue ")
	req.Header.Add("X-Amz-Meta-Multi", "1")
	req.Header.Add("X-Amz-Meta-Multi", "2")
	g.sign(req)
	if d := req.Header.Get("X-Amz-Date"); d != "20250301T120000Z" {
		t.Errorf("X-Amz-Date = %q, want the injected clock", d)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	reqs := rec.requests()
	if len(reqs) != 1 || reqs[0].SigErr != nil {
		t.Fatalf("signature not verified: %+v", reqs)
	}
	if want := "/b1b/a%20b/%C3%BC%2B.txt?tagging=&versionId=v%201"; reqs[0].RequestURI != want {
		t.Errorf("RequestURI = %s, want %s", reqs[0].RequestURI, want)
	}
	if got := reqs[0].ContentLength; got != int64(len(body)) {
		t.Errorf("Content-Length = %d, want %d", got, len(body))
	}
}

func TestNewTransportDefaults(t *testing.T) {
	tests := []struct {
		in, want time.Duration
	}{
		{0, DefaultResponseHeaderTimeout},
		{-1, 0},
		{time.Second, time.Second},
	}
	for _, tc := range tests {
		tr := NewTransport(tc.in)
		if tr.ResponseHeaderTimeout != tc.want {
			t.Errorf("NewTransport(%v).ResponseHeaderTimeout = %v, want %v", tc.in, tr.ResponseHeaderTimeout, tc.want)
		}
		if tr.MaxIdleConnsPerHost < 256 || !tr.DisableCompression || tr.DisableKeepAlives {
			t.Errorf("transport not tuned: idle/host %d, compression off %v, keep-alive off %v",
				tr.MaxIdleConnsPerHost, tr.DisableCompression, tr.DisableKeepAlives)
		}
	}
}

func TestBufferPoolReuses(t *testing.T) {
	p := newBufferPool(1024)
	b := p.Get()
	if len(*b) != 1024 {
		t.Fatalf("len = %d", len(*b))
	}
	*b = (*b)[:10]
	p.Put(b)
	if got := p.Get(); len(*got) != 1024 {
		t.Fatalf("reused buffer has len %d", len(*got))
	}
	small := make([]byte, 10)
	p.Put(&small) // too small: dropped
	if got := p.Get(); len(*got) != 1024 {
		t.Fatalf("pool handed out a %d-byte buffer", len(*got))
	}
}

// Signing an upstream request takes two allocations: the array of the
// header values it sets and the Authorization string.
func TestSignAllocations(t *testing.T) {
	g := newGateway(t, Config{Upstream: "http://127.0.0.1:9000", Now: func() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }})
	req := &http.Request{Method: http.MethodGet, URL: g.upstreamURL("bucket", "some/key.bin", "x-id=GetObject"), Header: http.Header{
		"X-Amz-Content-Sha256": {sigv4.EmptySHA256},
		"Accept-Encoding":      {"identity"},
		"User-Agent":           {"aws-sdk-go-v2"},
	}}
	g.sign(req) // derives the day's key
	limit := 2.0
	if raceEnabled {
		limit = 12 // the pool drops working memory at random
	}
	if n := testing.AllocsPerRun(100, func() { g.sign(req) }); n > limit {
		t.Errorf("sign allocates %v times, want at most %v", n, limit)
	}
}

func BenchmarkSign(b *testing.B) {
	g, err := New(Config{Upstream: "http://127.0.0.1:9000", AccessKey: upAccessKey, SecretKey: upSecretKey})
	if err != nil {
		b.Fatal(err)
	}
	u := g.upstreamURL("bucket", "some/key.bin", "")
	b.ReportAllocs()
	for b.Loop() {
		req := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{
			"X-Amz-Content-Sha256": {sigv4.EmptySHA256},
			"Accept-Encoding":      {"identity"},
		}}
		g.sign(req)
	}
}
