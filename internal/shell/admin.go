package shell

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
)

// maxAdminResponse bounds what the shell reads of an admin API response.
const maxAdminResponse = 8 << 20

// AdminBackend talks to a running server's admin API: GET returns the
// configuration and its ETag, PUT with If-Match replaces it (412 when the
// ETag is stale). Requests are signed with AWS Signature Version 4 for
// service "s3"; the credentials must belong to an identity holding the
// Admin action. Use NewAdminBackend to check the endpoint.
type AdminBackend struct {
	// Endpoint is the server's base URL, e.g. "http://127.0.0.1:8333".
	Endpoint string
	// Credentials sign every request.
	Credentials aws.Credentials
	// Region is the signing region; "" means "us-east-1".
	Region string
	// Client sends the requests; nil means a client with a 30 s timeout.
	Client *http.Client
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time

	// warning is what the last Load learnt about the server's file
	// (FileWarning); nil when it is in force.
	warning atomic.Pointer[string]
}

// FileWarner is a Backend that can tell, after Load, that the
// configuration in force is not what the file on the server holds.
type FileWarner interface {
	// FileWarning describes the difference found by the last Load, or
	// returns "" when there is none.
	FileWarning() string
}

var _ FileWarner = (*AdminBackend)(nil)

// FileWarning reports a circuit-breaker file the server rejected, as the
// last Load found it: the configuration shown is then the last good one,
// which the server keeps in force, not the file on its disk.
func (a *AdminBackend) FileWarning() string {
	if p := a.warning.Load(); p != nil {
		return *p
	}
	return ""
}

var _ Backend = (*AdminBackend)(nil)

// NewAdminBackend returns a backend for the server at endpoint (an http
// or https URL, optionally with a path prefix) signing with the given
// credentials.
func NewAdminBackend(endpoint string, creds aws.Credentials) (*AdminBackend, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, &UsageError{Msg: "server " + quote(endpoint) + " is not a URL like http://127.0.0.1:8333"}
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return nil, &UsageError{Msg: "the admin API needs credentials: pass -accessKey and -secretKey or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"}
	}
	return &AdminBackend{Endpoint: strings.TrimRight(endpoint, "/"), Credentials: creds}, nil
}

// AdminError is an error answer of the admin API.
type AdminError struct {
	StatusCode int
	Code       string // S3 error code, e.g. "AccessDenied"; "" when the body was not an S3 error
	Message    string
}

func (e *AdminError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return oneLine(b.String())
}

// Load GETs the configuration.
func (a *AdminBackend) Load(ctx context.Context) (*limits.Config, string, error) {
	return a.do(ctx, http.MethodGet, nil, "")
}

// Save PUTs cfg with If-Match: version.
func (a *AdminBackend) Save(ctx context.Context, cfg *limits.Config, version string) (*limits.Config, string, error) {
	body, err := cfg.Marshal()
	if err != nil {
		return nil, "", err
	}
	return a.do(ctx, http.MethodPut, body, version)
}

func (a *AdminBackend) String() string { return a.Endpoint }

// send signs req, whose body is body, and sends it.
func (a *AdminBackend) send(ctx context.Context, req *http.Request, body []byte) (*http.Response, error) {
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	region := a.Region
	if region == "" {
		region = "us-east-1"
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	if err := v4.NewSigner().SignHTTP(ctx, a.Credentials, req, payloadHash, "s3", region, now().UTC()); err != nil {
		return nil, fmt.Errorf("shell: signing the request: %w", err)
	}
	client := a.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return client.Do(req)
}

// BucketExists asks the server whether bucket exists (a signed HEAD).
func (a *AdminBackend) BucketExists(ctx context.Context, bucket string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, a.Endpoint+"/"+url.PathEscape(bucket), nil)
	if err != nil {
		return false, err
	}
	resp, err := a.send(ctx, req, nil)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, &AdminError{StatusCode: resp.StatusCode}
}

func (a *AdminBackend) do(ctx context.Context, method string, body []byte, ifMatch string) (*limits.Config, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.Endpoint+s3api.AdminCircuitBreakerPath, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := a.send(ctx, req, body)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminResponse+1))
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: reading the answer: %w", method, req.URL, err)
	}
	if len(data) > maxAdminResponse {
		return nil, "", fmt.Errorf("%s %s: answer larger than %d bytes", method, req.URL, maxAdminResponse)
	}
	if resp.StatusCode != http.StatusOK {
		aerr := parseAdminError(resp.StatusCode, data)
		if aerr.Code == "" && !fromS3limit(resp) {
			return nil, "", a.notS3limit(req, resp, data)
		}
		if resp.StatusCode == http.StatusPreconditionFailed {
			return nil, "", fmt.Errorf("%w (%v)", ErrConflict, aerr)
		}
		return nil, "", aerr
	}
	cfg, err := limits.ParseConfig(data)
	if err != nil {
		if !fromS3limit(resp) {
			return nil, "", a.notS3limit(req, resp, data)
		}
		return nil, "", fmt.Errorf("%s %s: the server sent an unusable configuration: %w", method, req.URL, err)
	}
	if resp.Header.Get(limits.HeaderFileStatus) == limits.FileRejected {
		w := "the server rejected its circuit breaker file; the configuration in force is the last good one, not the file: " +
			oneLine(resp.Header.Get(limits.HeaderFileError))
		a.warning.Store(&w)
	} else {
		a.warning.Store(nil)
	}
	return cfg, resp.Header.Get("ETag"), nil
}

// fromS3limit reports whether a response comes from an s3limit server:
// every response of one names it in Server and carries a request id (a
// proxy in front may drop the first).
func fromS3limit(resp *http.Response) bool {
	return resp.Header.Get("Server") == "s3limit" || resp.Header.Get("X-Amz-Request-Id") != ""
}

// notS3limit is the error for an endpoint that answered, but not as
// s3limit's admin API: another service, or another port of s3limit (the
// metrics port).
func (a *AdminBackend) notS3limit(req *http.Request, resp *http.Response, body []byte) error {
	what := resp.Header.Get("Content-Type")
	if what == "" {
		what = "no Content-Type"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if len(first) > 60 {
		first = first[:60] + "…"
	}
	return fmt.Errorf("server %s does not look like s3limit: %s %s answered %s with %s %s; point -server at the S3 port of s3limit serve (its -port, 8333 by default)",
		a.Endpoint, req.Method, req.URL.Path, resp.Status, what, quote(oneLine(strings.ToValidUTF8(first, "?"))))
}

// parseAdminError reads an S3 XML error document; other bodies are
// summarised by their first line.
func parseAdminError(status int, body []byte) *AdminError {
	e := &AdminError{StatusCode: status}
	var doc struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}
	if xml.Unmarshal(body, &doc) == nil {
		e.Code, e.Message = strings.TrimSpace(doc.Code), strings.TrimSpace(doc.Message)
		return e
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if len(first) > 200 {
		first = first[:200] + "…"
	}
	e.Message = strings.ToValidUTF8(first, "?")
	return e
}
