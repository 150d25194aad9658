package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/s3limit/s3limit/internal/s3api"
)

// ServeHTTP forwards one request to the upstream and streams the answer
// back. It needs the request's *s3api.Info in the context.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := s3api.FromContext(r.Context())
	if info == nil {
		g.log.Error("gateway: request reached the gateway unclassified", "path", r.URL.Path)
		s3api.WriteError(w, r, s3api.ErrInternalError)
		return
	}
	if r.ContentLength == 0 && r.Body != nil && r.Body != http.NoBody {
		// No body is sent for a zero length, so read this one to its end
		// here: an empty aws-chunked body verifies its final chunk
		// signature only then.
		if err := readEmptyBody(r.Body); err != nil {
			s3api.WriteError(w, r, err)
			return
		}
	}
	c := &call{in: r, w: w, info: info}
	out := g.outbound(c)
	if c.body != nil {
		// The transport's writer can outlive the handler; it must not
		// read the client's body once the server has moved on.
		defer c.Close()
		if small(out) {
			body, err := c.readWhole()
			if err != nil {
				g.handleError(w, c, err)
				return
			}
			out.Body = body
		}
		if c.trailer.name != "" {
			out.Body = newTrailerBody(out.Body, c.want, c.trailer, r.Trailer)
		}
	}
	g.sign(out)
	res, err := g.transport.RoundTrip(out)
	c.finish()
	if err != nil {
		g.handleError(w, c, err)
		return
	}
	if scopedListing(info) {
		g.respondFiltered(w, c, res)
		return
	}
	g.respond(w, c, res)
}

// smallBodyMax is the largest request body that is read whole before the
// upstream request is sent. The request then leaves in one write, headers
// and body together (http.Transport sends the headers of a streamed body
// on their own first), and a body that fails verification never reaches
// the upstream.
const smallBodyMax = 32 << 10

// small reports whether out's body is read whole first: a declared length
// of at most smallBodyMax, and no Expect: 100-continue, which leaves the
// upstream the choice to refuse the body before it is sent.
func small(out *http.Request) bool {
	_, expect := out.Header["Expect"]
	return out.ContentLength > 0 && out.ContentLength <= smallBodyMax && !expect
}

// readEmptyBody reads a body declared empty and reports a failure or
// content as an *s3api.Error.
func readEmptyBody(body io.Reader) error {
	var one [1]byte
	for range maxEmptyReads {
		n, err := body.Read(one[:])
		var se *s3api.Error
		switch {
		case n > 0:
			return errBodyTooLong
		case err == io.EOF:
			return nil
		case errors.As(err, &se):
			return se
		case err != nil:
			return s3api.ErrIncompleteBody
		}
	}
	return s3api.ErrIncompleteBody
}

// errSwitchedProtocols is an upstream answering 101, which S3 never asks for.
var errSwitchedProtocols = errors.New("switched protocols, which S3 does not use")

// respond streams the upstream's response to the client. Once the status
// line is sent, a failure can only cut the response short: the handler
// panics with http.ErrAbortHandler, so the client sees a broken
// connection instead of a short body that looks complete.
func (g *Gateway) respond(w http.ResponseWriter, c *call, res *http.Response) {
	if res.StatusCode == http.StatusSwitchingProtocols {
		res.Body.Close()
		g.handleError(w, c, errSwitchedProtocols)
		return
	}
	removeConnectionListed(res.Header)
	if err := g.inspectResponse(res, c); err != nil {
		res.Body.Close()
		g.handleError(w, c, err)
		return
	}
	dst := w.Header()
	copyResponseHeader(dst, res.Header)
	// http.Transport puts announced trailers in res.Trailer, not in a
	// Trailer header; announce them again.
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		dst.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	if err := g.copyBody(w, c, res); err != nil {
		res.Body.Close()
		if c.in.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler) // the server recovers it and drops the connection
		}
		return
	}
	res.Body.Close() // now, to fill res.Trailer
	if len(res.Trailer) > 0 {
		// Chunked encoding, so that the trailers can follow.
		_ = http.NewResponseController(w).Flush()
	}
	if len(res.Trailer) == announced {
		for k, vv := range res.Trailer {
			for _, v := range vv {
				dst.Add(k, v)
			}
		}
		return
	}
	for k, vv := range res.Trailer { // trailers that were not announced
		for _, v := range vv {
			dst.Add(http.TrailerPrefix+k, v)
		}
	}
}

// removeConnectionListed removes the headers a Connection header names:
// they are hop-by-hop too (RFC 9110 section 7.6.1).
func removeConnectionListed(h http.Header) {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = textproto.TrimString(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
}

// copyResponseHeader adds the upstream's response headers to the client's,
// without hop-by-hop headers and the upstream's Server header (s3limit's
// stays). s3limit's request id stays x-amz-request-id (the id of the
// access log line); the upstream's moves to X-S3limit-Upstream-Request-Id.
// User metadata names go out in lower case (see userMetadataKey). The
// value slices are handed over, not copied: the upstream response is not
// used again.
func copyResponseHeader(dst, src http.Header) {
	upstreamID := src["X-Amz-Request-Id"]
	if len(upstreamID) == 0 || upstreamID[0] == "" {
		upstreamID = nil
	}
	for k, vv := range src {
		switch k {
		case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
			"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Server":
			continue
		case "X-Amz-Request-Id", "X-S3limit-Upstream-Request-Id":
			if upstreamID != nil {
				continue
			}
		}
		if mk, ok := userMetadataKey(k); ok {
			addValuesAs(dst, mk, vv)
			continue
		}
		addValuesAs(dst, textproto.CanonicalMIMEHeaderKey(k), vv)
	}
	if upstreamID != nil {
		addValuesAs(dst, "X-S3limit-Upstream-Request-Id", upstreamID[:1:1])
	}
}

// metadataPrefix starts the name of every user metadata header.
const metadataPrefix = "x-amz-meta-"

// userMetadataKey reports whether k names user metadata and returns it in
// lower case. S3 sends these names in lower case, and clients that keep
// the name's case in what they return (boto3's Metadata: {'color': ...})
// would otherwise show the upstream's metadata renamed: http.Transport
// canonicalises every header name it reads (x-amz-meta-color arrives as
// X-Amz-Meta-Color), and net/http writes map keys as they are.
func userMetadataKey(k string) (string, bool) {
	if len(k) <= len(metadataPrefix) || !strings.EqualFold(k[:len(metadataPrefix)], metadataPrefix) {
		return "", false
	}
	return strings.ToLower(k), true
}

// addValuesAs appends vv to dst's values of k exactly as k is spelt, as
// http.Header.Add does value by value for a canonical k.
func addValuesAs(dst http.Header, k string, vv []string) {
	if len(vv) == 0 {
		return
	}
	if old := dst[k]; len(old) > 0 {
		dst[k] = append(old, vv...)
		return
	}
	dst[k] = vv
}

// copyBody copies the response body to the client. A body of unknown
// length and a server-sent event stream are flushed as they come, so
// that nothing waits in s3limit's buffers.
func (g *Gateway) copyBody(w http.ResponseWriter, c *call, res *http.Response) error {
	var rc *http.ResponseController
	if res.ContentLength == -1 || isEventStream(res.Header.Get("Content-Type")) {
		rc = http.NewResponseController(w)
		_ = rc.Flush() // the headers, before the first byte of body
	}
	bp := g.bufs.Get()
	defer g.bufs.Put(bp)
	buf := *bp
	for {
		nr, rerr := res.Body.Read(buf)
		if rerr != nil && rerr != io.EOF && !c.clientGone(rerr) {
			g.log.Warn("gateway: reading the upstream response failed",
				"request_id", s3api.RequestID(c.in.Context()), "upstream", g.name,
				"method", c.in.Method, "path", c.in.URL.Path, "error", rerr)
		}
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			if werr != nil {
				return werr
			}
			if nw != nr {
				return io.ErrShortWrite
			}
			if rc != nil {
				_ = rc.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// clientGone reports whether a failure to read the upstream's response is
// the client's doing: the client left while its body was spliced to it,
// or its request ended (it went away, or the server is cutting requests
// off at shutdown), which cancels the upstream exchange too.
func (c *call) clientGone(err error) bool {
	return c.clientLeft.Load() || errors.Is(err, s3api.ErrClientClosedRequest) ||
		errors.Is(err, context.Canceled) || c.in.Context().Err() != nil
}

// isEventStream reports whether a Content-Type is text/event-stream.
func isEventStream(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}
