package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxProbeBody bounds what a probe reads of an answer's body before it
// drops the connection.
const maxProbeBody = 4 << 10

// Probe asks the upstream for a cheap answer, for the server's readiness
// probe: a signed HEAD of the service root (the base URL's path), through
// the gateway's own transport, so the proxy, TLS and connection pool are
// those of real requests. Any answer below 500 counts, whatever the store
// thinks of the request: the probe checks that the store is reachable and
// answering, not the credentials (a refused signature shows in every
// response as a 502 naming the setting to check). A 5xx answer, a failure
// to connect, or ctx ending first is an error naming the upstream.
func (g *Gateway) Probe(ctx context.Context) error {
	u := url.URL{Scheme: g.base.Scheme, Host: g.base.Host, Path: g.basePath + "/"}
	res, err := g.head(ctx, &u)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("gateway: the upstream %s did not answer in time", g.name)
		}
		return fmt.Errorf("gateway: the upstream %s %s", g.name, describe(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxProbeBody))
	res.Body.Close()
	if res.StatusCode >= 500 {
		return fmt.Errorf("gateway: the upstream %s answered %s", g.name, res.Status)
	}
	return nil
}

// head sends a signed HEAD of u to the upstream, outside any client
// request: the readiness probe, the size of a copy's source.
func (g *Gateway) head(ctx context.Context, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Host = g.hostOf(u)
	req.Header.Set("User-Agent", "s3limit")
	g.sign(req)
	return g.transport.RoundTrip(req)
}
