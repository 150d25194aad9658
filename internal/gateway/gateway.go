// Package gateway is the upstream backend of s3limit serve -upstream: a
// reverse proxy that forwards every classified, authenticated and admitted
// S3 request to another S3-compatible store, re-signed with s3limit's own
// upstream credentials (AWS Signature Version 4).
//
// The server pipeline has already verified the client's signature (and
// decoded aws-chunked bodies) before a request reaches the Gateway, so the
// Gateway only rebuilds the request for the upstream: the URL from the
// classified bucket and key, the client's headers without its
// authentication, and a fresh signature. Bodies stream in both directions
// (request bodies of up to 32 KiB are read whole first, see smallBodyMax);
// responses come back unchanged apart from hop-by-hop headers. Failures to
// reach the upstream become S3 XML errors (502, 504).
//
// The forwarding follows net/http/httputil.ReverseProxy: the same
// hop-by-hop and forwarding-header rules, 1xx and trailer handling,
// flushing of streamed responses and aborts once the headers are sent. It
// is written out here because a small request is CPU-bound: the upstream
// request is built once from the classified request instead of cloned and
// rewritten, response headers are handed over without copying, and the
// signer derives its key once a day. Protocol upgrades, which S3 does not
// use, are not forwarded.
package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// DefaultRegion is the signing region when Config.Region is empty.
const DefaultRegion = "us-east-1"

// Config configures a Gateway. Zero values are the defaults noted per field.
type Config struct {
	// Upstream is the base URL of the S3 store, e.g. "http://127.0.0.1:9000"
	// or "https://s3.eu-west-1.amazonaws.com". The scheme is http or https;
	// a path, if any, prefixes every request path. Required.
	Upstream string
	// Region is the region requests are signed for; "" = DefaultRegion.
	Region string
	// AccessKey and SecretKey are the upstream credentials every request
	// is re-signed with. Both are required.
	AccessKey, SecretKey string
	// SessionToken is sent as X-Amz-Security-Token for temporary
	// credentials; "" = none.
	SessionToken string
	// VirtualHost addresses buckets as <bucket>.<upstream host> instead of
	// <upstream host>/<bucket>. Buckets whose names are not valid host
	// labels still use path style. false = path style, which every
	// S3-compatible store accepts.
	VirtualHost bool
	// Transport sends the signed requests. nil = NewTransport(
	// ResponseHeaderTimeout). A custom transport is used as is:
	// ResponseHeaderTimeout does not apply to it.
	Transport http.RoundTripper
	// ResponseHeaderTimeout bounds the wait for the upstream's response
	// headers once the request, body included, has been sent. 0 =
	// DefaultResponseHeaderTimeout; negative = no limit. Raise it for
	// upstreams that answer large copies only when they are done.
	ResponseHeaderTimeout time.Duration
	// Logger receives upstream failures; nil = slog.Default().
	Logger *slog.Logger
	// Now is the clock requests are signed with; nil = time.Now.
	Now func() time.Time
}

// Gateway forwards S3 requests to the upstream. It is an http.Handler for
// server.Config.Backend and is safe for concurrent use. Requests must carry
// an *s3api.Info in their context (the server's classification).
type Gateway struct {
	base      *url.URL // scheme, host and path prefix of the upstream
	basePath  string   // decoded path prefix without trailing slash; "" for none
	host      string   // Host header of path-style requests: base.Host without a default port
	name      string   // upstream URL for messages (no credentials)
	region    string
	virtual   bool
	signer    *sigv4.Signer
	now       func() time.Time
	log       *slog.Logger
	transport http.RoundTripper
	bufs      *bufferPool // response copy buffers
}

var _ http.Handler = (*Gateway)(nil)

// New validates cfg and returns a Gateway. It does not contact the
// upstream: an upstream that is down at start shows up as 502 responses
// until it is reachable.
func New(cfg Config) (*Gateway, error) {
	base, err := parseUpstream(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("gateway: the upstream access key and secret key are both required")
	}
	g := &Gateway{
		base:      base,
		basePath:  strings.TrimSuffix(base.Path, "/"),
		host:      base.Host,
		name:      base.Scheme + "://" + base.Host + strings.TrimSuffix(base.Path, "/"),
		region:    cfg.Region,
		virtual:   cfg.VirtualHost,
		now:       cfg.Now,
		log:       cfg.Logger,
		transport: cfg.Transport,
		bufs:      newBufferPool(copyBufferSize),
	}
	g.host = sigv4.SigningHost(base.Scheme, base.Host) // as the signature has it
	if g.region == "" {
		g.region = DefaultRegion
	}
	g.signer = sigv4.NewSigner(sigv4.Credentials{AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, SessionToken: cfg.SessionToken}, g.region, "s3")
	if g.now == nil {
		g.now = time.Now
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.transport == nil {
		g.transport = NewTransport(cfg.ResponseHeaderTimeout)
	}
	return g, nil
}

// parseUpstream checks the upstream URL. Messages show it without a
// password.
func parseUpstream(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("gateway: no upstream URL")
	}
	if !strings.Contains(raw, "://") {
		// "127.0.0.1:9000" does not parse as a URL, and "minio:9000"
		// parses as the scheme "minio": say what is missing instead.
		shown := raw
		if i := strings.LastIndexByte(raw, '@'); i >= 0 {
			shown = "xxxxx" + raw[i:] // never echo a password
		}
		return nil, fmt.Errorf("gateway: upstream %q has no scheme: write it as a URL, e.g. http://%s (or https://)", shown, shown)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("gateway: the upstream URL is not a URL: %w", err)
	}
	shown := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("gateway: upstream URL %q: the scheme must be http or https", shown)
	case u.Host == "":
		return nil, fmt.Errorf("gateway: upstream URL %q has no host", shown)
	case u.User != nil:
		return nil, fmt.Errorf("gateway: upstream URL %q: give credentials as the upstream access key and secret key, not in the URL", shown)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("gateway: upstream URL %q must not have a query or fragment", shown)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("gateway: upstream URL %q: port %s is out of range", shown, p)
		}
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}, nil
}

// Upstream returns the upstream base URL, for logs and messages.
func (g *Gateway) Upstream() string { return g.name }
