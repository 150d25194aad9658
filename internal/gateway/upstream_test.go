package gateway_test

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/s3limit/s3limit/internal/gateway"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testpeer"
)

// Credentials of the test upstreams. They differ from the identities of
// the s3limit in front, so only a re-signed request can succeed.
const (
	upstreamAccessKey = "UPSTREAMROOTKEY00000"
	upstreamSecretKey = "upstreamRootSecret000000000000000000000"
)

// upstream is an S3 store the gateway tests run against.
type upstream struct {
	URL  string
	Kill func() // stops it abruptly (kill -9 for a process)
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t testing.TB) string { return testpeer.FreeAddr(t) }

// startVersitygw runs versitygw with its posix backend on a free loopback
// port and stops it when the test ends. It skips t when versitygw is not
// installed (see testpeer).
func startVersitygw(t testing.TB) *upstream {
	t.Helper()
	p := testpeer.StartVersitygw(t, upstreamAccessKey, upstreamSecretKey)
	return &upstream{URL: p.URL, Kill: p.Kill}
}

// startVersitygwAt starts the versitygw binary bin (testpeer.Versitygw)
// on addr, for a gateway configured before its upstream came up.
func startVersitygwAt(t testing.TB, bin, addr string) *upstream {
	t.Helper()
	p, err := testpeer.RunVersitygw(t, bin, addr, upstreamAccessKey, upstreamSecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return &upstream{URL: p.URL, Kill: p.Kill}
}

// startEmbeddedUpstream runs an s3limit on its embedded store as the
// upstream, with an identity of its own.
func startEmbeddedUpstream(t testing.TB) *upstream {
	t.Helper()
	s := servertest.Start(t, servertest.Options{Identities: &s3api.IdentityConfig{Identities: []s3api.Identity{{
		Name:        "root",
		Credentials: []s3api.Credential{{AccessKey: upstreamAccessKey, SecretKey: upstreamSecretKey}},
		Actions:     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}})
	return &upstream{URL: s.URL, Kill: func() { _ = s.HTTP.Close() }}
}

// upstreams are the stores every gateway test runs against.
var upstreams = []struct {
	name  string
	start func(testing.TB) *upstream
}{
	{"versitygw", startVersitygw},
	{"s3limit", startEmbeddedUpstream},
}

// countingTransport counts the requests that reach the upstream.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// holdTransport holds requests that match at the gateway's transport
// until the test releases them, so a test can keep requests in flight
// without sleeping.
type holdTransport struct {
	next    http.RoundTripper
	match   func(*http.Request) bool
	arrived chan struct{} // one send per held request
	release chan struct{} // closed to let them go
}

func newHoldTransport(next http.RoundTripper, match func(*http.Request) bool) *holdTransport {
	return &holdTransport{next: next, match: match, arrived: make(chan struct{}, 64), release: make(chan struct{})}
}

func (h *holdTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if h.match(r) {
		h.arrived <- struct{}{}
		select {
		case <-h.release:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return h.next.RoundTrip(r)
}

// gatewayFront starts an s3limit whose backend is a gateway to up.
// adjust, when not nil, changes the gateway and server options.
func gatewayFront(t testing.TB, up *upstream, adjust func(*gateway.Config, *servertest.Options)) *servertest.Server {
	t.Helper()
	gcfg := gateway.Config{
		Upstream:  up.URL,
		AccessKey: upstreamAccessKey,
		SecretKey: upstreamSecretKey,
	}
	var opts servertest.Options
	if adjust != nil {
		adjust(&gcfg, &opts)
	}
	if gcfg.Logger == nil {
		gcfg.Logger = slog.New(slog.DiscardHandler)
	}
	g, err := gateway.New(gcfg)
	if err != nil {
		t.Fatal(err)
	}
	opts.Backend = g
	return servertest.Start(t, opts)
}
