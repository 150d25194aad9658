package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Errors the gateway answers with when the upstream exchange fails.
var (
	// ErrClientClosedRequest records a request whose client went away
	// before the upstream answered. Nobody reads the response; the status
	// (499, as nginx logs it) is for the access log and metrics.
	ErrClientClosedRequest = s3api.ErrClientClosedRequest.WithMessage("The client closed the connection before the upstream answered.")
)

// UpstreamCredentialsError is an upstream's refusal of the signature
// s3limit made with its upstream credentials or region. It is a
// configuration fault of the gateway, not of the client, so the client
// gets 502 BadGateway instead of an error that blames its own keys.
type UpstreamCredentialsError struct {
	Upstream string // upstream URL
	Status   int    // upstream HTTP status
	Code     string // upstream S3 error code, e.g. "InvalidAccessKeyId"
	Message  string // upstream message
}

func (e *UpstreamCredentialsError) Error() string {
	return fmt.Sprintf("gateway: upstream %s refused s3limit's signature: %s: %s", e.Upstream, e.Code, e.Message)
}

// upstreamAuthCodes are the upstream error codes that mean the gateway's
// own signature was refused, with the setting to check.
var upstreamAuthCodes = map[string]string{
	"InvalidAccessKeyId":           "the upstream access key",
	"SignatureDoesNotMatch":        "the upstream secret key",
	"AuthorizationHeaderMalformed": "the upstream region",
	"InvalidToken":                 "the upstream session token",
	"ExpiredToken":                 "the upstream session token",
	"RequestTimeTooSkewed":         "the clocks of s3limit and the upstream",
	// versitygw answers an unknown access key with 404 XAdminUserNotFound.
	"XAdminUserNotFound": "the upstream access key",
}

// maxErrorPeek bounds how much of a 400/403/404 body is read to recognise an
// upstream credentials error; S3 error documents are far smaller.
const maxErrorPeek = 16 << 10

// inspectResponse turns the upstream's refusal of the gateway's own
// credentials into UpstreamCredentialsError and lets large GET bodies be
// spliced (see spliceBody).
func (g *Gateway) inspectResponse(resp *http.Response, c *call) error {
	switch resp.StatusCode {
	case http.StatusForbidden, http.StatusBadRequest, http.StatusNotFound:
	default:
		if sb := newSpliceBody(resp, c); sb != nil {
			resp.Body = sb
		}
		return nil
	}
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		return nil // no body to tell why
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "xml") {
		return nil
	}
	peek, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorPeek))
	if err != nil {
		return err
	}
	var doc struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(peek, &doc) == nil {
		if _, ok := upstreamAuthCodes[doc.Code]; ok {
			return &UpstreamCredentialsError{Upstream: g.name, Status: resp.StatusCode, Code: doc.Code, Message: doc.Message}
		}
	}
	resp.Body = &peekedBody{Reader: io.MultiReader(bytes.NewReader(peek), resp.Body), Closer: resp.Body}
	return nil
}

type peekedBody struct {
	io.Reader
	io.Closer
}

// handleError is the gateway's only error path: every failure to
// complete the upstream exchange before response headers were sent ends
// here and becomes one S3 error response. (After the headers, respond
// aborts the response with http.ErrAbortHandler; the client sees a cut
// connection.)
func (g *Gateway) handleError(w http.ResponseWriter, c *call, err error) {
	in := c.in
	e := g.classify(c, in, err)
	if e != ErrClientClosedRequest {
		g.log.Warn("gateway: upstream request failed",
			"request_id", s3api.RequestID(in.Context()),
			"upstream", g.name, "method", in.Method, "path", in.URL.Path,
			"status", e.StatusCode, "error", err)
	}
	s3api.WriteError(w, in, e)
}

// classify maps a failed upstream exchange to the S3 error the client
// gets: the client's own faults first (its body failed, it went away),
// then the upstream's (refused credentials, timeouts, unreachable).
func (g *Gateway) classify(c *call, in *http.Request, err error) *s3api.Error {
	if c != nil {
		if berr := c.clientBodyErr(); berr != nil {
			var se *s3api.Error
			switch {
			case errors.As(berr, &se):
				return se
			case in.Context().Err() != nil:
				return ErrClientClosedRequest
			case isTimeout(berr):
				return s3api.ErrRequestTimeout
			default:
				return s3api.ErrIncompleteBody
			}
		}
	}
	if in.Context().Err() != nil {
		return ErrClientClosedRequest
	}
	var ce *UpstreamCredentialsError
	if errors.As(err, &ce) {
		return s3api.ErrBadGateway.WithMessage(
			"s3limit: the upstream %s refused the signature s3limit made with its upstream credentials (%s: %s); check %s.",
			g.name, ce.Code, ce.Message, upstreamAuthCodes[ce.Code])
	}
	var dnsErr *net.DNSError
	if isTimeout(err) && !errors.As(err, &dnsErr) {
		return s3api.ErrGatewayTimeout.WithMessage("s3limit: the upstream %s did not answer in time (%v)", g.name, err)
	}
	return s3api.ErrBadGateway.WithMessage("s3limit: the upstream %s %s", g.name, describe(err))
}

// describe words a transport error for the client's error message.
func describe(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused the connection (is it running?)"
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot be resolved: %v", dnsErr)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "closed the connection before answering"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "is unreachable"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return fmt.Sprintf("failed TLS verification: %v", err)
	case errors.As(err, &recordErr):
		return "did not answer TLS (is it plain http?)"
	default:
		return fmt.Sprintf("failed: %v", err)
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
