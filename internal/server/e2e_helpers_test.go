package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

// unsignedPayload is the x-amz-content-sha256 value of a request whose
// body is not part of the signature.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// emptySHA256 is the hex SHA-256 of the empty string.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// errorStatus returns the HTTP status of an SDK error, or 0.
func errorStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// errorHeader returns a header of the HTTP response behind an SDK error.
func errorHeader(err error, name string) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get(name)
	}
	return ""
}

// errorCode returns the S3 error code of an SDK error, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wantError fails unless err is an S3 error with the given status and
// code; code "" checks the status only (HEAD and 304 responses have no
// body, so the SDK makes up a code from the status text).
func wantError(t testing.TB, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %d %s", status, code)
	}
	if got := errorStatus(err); got != status {
		t.Fatalf("got status %d (%v), want %d %s", got, err, status, code)
	}
	if code != "" {
		if got := errorCode(err); got != code {
			t.Fatalf("got code %q (%v), want %q", got, err, code)
		}
	}
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// quoted returns the ETag form of a hex digest.
func quoted(s string) string { return `"` + s + `"` }

// multipartETag is S3's ETag of a multipart object: the MD5 of the
// concatenated binary part MD5s, a dash and the number of parts.
func multipartETag(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		s := md5.Sum(p)
		h.Write(s[:])
	}
	return quoted(hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)))
}

// randomBytes returns n bytes from a PRNG seeded with seed.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = newPRNGReader(seed).Read(b)
	return b
}

// prngReader is an endless reader of pseudo-random bytes; the same seed
// gives the same stream, so content can be generated twice instead of
// being held in memory.
type prngReader struct{ r *rand.ChaCha8 }

func newPRNGReader(seed uint64) *prngReader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &prngReader{r: rand.NewChaCha8(s)}
}

func (p *prngReader) Read(b []byte) (int, error) { return p.r.Read(b) }

func createBucket(t testing.TB, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

// putObject stores body and returns the ETag the server answered.
func putObject(t testing.TB, c *s3.Client, bucket, key string, body []byte) string {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	})
	if err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.ETag)
}

// listKeys returns every key of a bucket under prefix, following
// continuation tokens.
func listKeys(t testing.TB, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	for {
		out, err := c.ListObjectsV2(context.Background(), in)
		if err != nil {
			t.Fatalf("ListObjectsV2 %s: %v", bucket, err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			return keys
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// signRequest signs r with SigV4 for S3 in us-east-1, declaring
// payloadHash as x-amz-content-sha256, at time now (zero = time.Now).
func signRequest(t testing.TB, r *http.Request, accessKey, secretKey, payloadHash string, now time.Time) {
	t.Helper()
	if now.IsZero() {
		now = time.Now()
	}
	if err := signV4(r, accessKey, secretKey, payloadHash, now); err != nil {
		t.Fatalf("signing: %v", err)
	}
}

// signV4 is signRequest for goroutines that must not call t.Fatal.
func signV4(r *http.Request, accessKey, secretKey, payloadHash string, now time.Time) error {
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	return signer.SignHTTP(context.Background(), creds, r, payloadHash, "s3", "us-east-1", now)
}

// newSignedRequest builds a request with a signed payload hash of body.
func newSignedRequest(t testing.TB, ctx context.Context, method, url string, body []byte, accessKey, secretKey string) *http.Request {
	t.Helper()
	r, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	signRequest(t, r, accessKey, secretKey, sha256Hex(body), time.Time{})
	return r
}

// s3ErrorCode extracts <Code> from an S3 XML error body.
func s3ErrorCode(body []byte) string {
	s := string(body)
	i := strings.Index(s, "<Code>")
	j := strings.Index(s, "</Code>")
	if i < 0 || j < i {
		return ""
	}
	return s[i+len("<Code>") : j]
}

// do sends r with client and returns the status, headers and body.
func do(t testing.TB, client *http.Client, r *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := client.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", r.Method, r.URL, err)
	}
	return resp.StatusCode, resp.Header, body
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// metricSet is a parsed /metrics scrape.
type metricSet []sample

// scrape reads the server's metrics through its /metrics handler.
func scrape(t testing.TB, s *servertest.Server) metricSet {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: status %d: %s", rec.Code, rec.Body)
	}
	return parseMetrics(t, rec.Body.String())
}

// parseMetrics parses the sample lines of the Prometheus text format
// (label values without escaped quotes are enough for our metrics).
func parseMetrics(t testing.TB, text string) metricSet {
	t.Helper()
	var ms metricSet
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				t.Fatalf("metrics: bad line %q", line)
			}
			s.name = line[:i]
			for _, kv := range splitLabels(line[i+1 : j]) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("metrics: bad label %q in %q", kv, line)
				}
				s.labels[k] = strings.Trim(v, `"`)
			}
			rest = strings.TrimSpace(line[j+1:])
		} else {
			name, v, ok := strings.Cut(line, " ")
			if !ok {
				t.Fatalf("metrics: bad line %q", line)
			}
			s.name, rest = name, v
		}
		if f := strings.Fields(rest); len(f) > 0 {
			rest = f[0]
		}
		v, err := strconv.ParseFloat(rest, 64)
		if err != nil {
			t.Fatalf("metrics: bad value in %q: %v", line, err)
		}
		s.value = v
		ms = append(ms, s)
	}
	return ms
}

func splitLabels(s string) []string {
	var out []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// get returns the value of the sample with exactly these labels (given
// as name, value pairs; labels not named must be absent) and whether it
// exists.
func (ms metricSet) get(name string, labels ...string) (float64, bool) {
	for _, s := range ms {
		if s.name != name || len(s.labels) != len(labels)/2 {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				match = false
				break
			}
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

// value is get that reads a missing sample as 0.
func (ms metricSet) value(name string, labels ...string) float64 {
	v, _ := ms.get(name, labels...)
	return v
}

// sum adds every sample of a metric.
func (ms metricSet) sum(name string) float64 {
	var total float64
	for _, s := range ms {
		if s.name == name {
			total += s.value
		}
	}
	return total
}
