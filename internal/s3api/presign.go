package s3api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// presignParams are the SigV4 query parameters of a presigned URL, decoded.
type presignParams struct {
	algorithm, credential, date, expires, signedHeaders, signature string
	contentSHA256                                                  string
	hasContentSHA256                                               bool
}

// parsePresignParams collects the X-Amz-* authentication parameters of a
// raw query. A parameter given twice is an error.
func parsePresignParams(raw string) (presignParams, error) {
	var p presignParams
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, value, _ := strings.Cut(pair, "=")
		var dst *string
		switch name {
		case "X-Amz-Algorithm":
			dst = &p.algorithm
		case "X-Amz-Credential":
			dst = &p.credential
		case "X-Amz-Date":
			dst = &p.date
		case "X-Amz-Expires":
			dst = &p.expires
		case "X-Amz-SignedHeaders":
			dst = &p.signedHeaders
		case "X-Amz-Signature":
			dst = &p.signature
		case "X-Amz-Content-Sha256":
			dst = &p.contentSHA256
			p.hasContentSHA256 = true
		default:
			continue
		}
		if *dst != "" {
			return p, queryAuthError("%s appears more than once.", name)
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return p, queryAuthError("%s is not validly percent-encoded.", name)
		}
		if v == "" {
			return p, queryAuthError("%s is empty.", name)
		}
		*dst = v
	}
	return p, nil
}

func queryAuthError(format string, args ...any) error {
	return ErrAuthorizationQueryParametersError.WithMessage(format, args...)
}

// authenticatePresigned verifies a presigned URL (query-string
// authentication). The payload is UNSIGNED-PAYLOAD unless the URL's
// X-Amz-Content-Sha256 parameter or a signed x-amz-content-sha256 header
// says otherwise.
func (a *Authenticator) authenticatePresigned(r *http.Request) (*Identity, error) {
	p, err := parsePresignParams(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	if p.algorithm == "" || p.credential == "" || p.date == "" || p.expires == "" || p.signedHeaders == "" || p.signature == "" {
		return nil, queryAuthError("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
	}
	if p.algorithm != sigv4.Algorithm {
		return nil, queryAuthError("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\".")
	}
	cred, err := parseCredential(p.credential)
	if err != nil {
		return nil, queryAuthError("Error parsing the X-Amz-Credential parameter: %s.", err.Error())
	}
	if err := sigv4.CheckSignedHeaders(p.signedHeaders); err != nil {
		return nil, queryAuthError("Error parsing the X-Amz-SignedHeaders parameter: %s.", err.Error())
	}
	t, err := time.Parse(amzDateLayout, p.date)
	if err != nil {
		return nil, queryAuthError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".")
	}
	if p.date[:8] != cred.date {
		return nil, queryAuthError("The X-Amz-Credential date is not the date of X-Amz-Date.")
	}
	secs, err := strconv.ParseInt(p.expires, 10, 64)
	switch {
	case err != nil || secs < 0:
		return nil, queryAuthError("X-Amz-Expires must be a non-negative integer.")
	case secs > int64(MaxPresignExpiry/time.Second):
		return nil, queryAuthError("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than %d seconds.", int64(MaxPresignExpiry/time.Second))
	}
	pr := a.keys[cred.accessKey]
	if pr == nil {
		return nil, ErrInvalidAccessKeyID
	}
	now := a.now()
	if t.Sub(now) > a.maxSkew {
		return nil, ErrAccessDenied.WithMessage("Request is not valid yet.")
	}
	if now.After(t.Add(time.Duration(secs) * time.Second)) {
		return nil, ErrAccessDenied.WithMessage("Request has expired.")
	}

	payload := sigv4.UnsignedPayload
	switch {
	case signedHeaderListed(p.signedHeaders, headerContentSHA256) && r.Header.Get(headerContentSHA256) != "":
		payload = r.Header.Get(headerContentSHA256)
	case p.hasContentSHA256:
		payload = p.contentSHA256
	}
	mode, sum, err := parsePayloadHash(payload)
	if err != nil {
		return nil, err
	}
	if err := checkAmzHeadersSigned(r.Header, p.signedHeaders, false); err != nil {
		return nil, err
	}
	key := pr.signingKey(cred.date, cred.region)
	cr := canonicalRequest{signedHeaders: p.signedHeaders, payloadHash: payload, presigned: true}
	// A malformed X-Amz-Signature is one that does not match: 403
	// SignatureDoesNotMatch, as S3 answers, not a parameter error.
	ok, err := a.verify(r, &cr, key, p.date, cred.scope, p.signature)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrSignatureDoesNotMatch
	}
	signing := &chunkSigning{key: key, amzDate: p.date, scope: cred.scope, seed: p.signature}
	if err := attachBody(r, mode, sum, signing); err != nil {
		return nil, err
	}
	return pr.identity, nil
}
