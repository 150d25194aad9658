package s3api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// ErrAuthorizationQueryParametersError is S3's answer to malformed
// presigned-URL parameters.
var ErrAuthorizationQueryParametersError = &Error{"AuthorizationQueryParametersError", http.StatusBadRequest, "Error parsing the X-Amz-Credential parameter.", 0}

// DefaultMaxSkew is the largest difference between a request's signing
// time and the server's clock that S3 accepts.
const DefaultMaxSkew = 15 * time.Minute

// MaxPresignExpiry is the longest validity of a presigned URL S3 accepts
// (X-Amz-Expires), one week.
const MaxPresignExpiry = 7 * 24 * time.Hour

// AuthOptions configures an Authenticator. The zero value is ready to use.
type AuthOptions struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the largest accepted difference between a request's
	// signing time and Now; 0 means DefaultMaxSkew (15 minutes).
	MaxSkew time.Duration
}

// Authenticator verifies AWS Signature Version 4 requests against a set of
// identities: the Authorization header, presigned URLs, and the payload
// forms S3 accepts (UNSIGNED-PAYLOAD, a signed SHA-256 of the body, and the
// aws-chunked streaming forms with chunk signatures and trailing
// checksums). It never logs and never puts a secret in an error.
//
// An Authenticator is immutable and safe for concurrent use. To change
// the identities, build a new one and swap it in.
type Authenticator struct {
	now       func() time.Time
	maxSkew   time.Duration
	keys      map[string]*principal // by access key; read only
	anonymous *Identity             // nil when unsigned requests are denied
}

// principal is one access key with its identity.
type principal struct {
	identity *Identity
	keys     *sigv4.KeyCache // the signing keys of the secret
}

func (p *principal) signingKey(date, region string) sigv4.Key { return p.keys.Key(date, region) }

// NewAuthenticator returns an Authenticator for the identities of cfg,
// which it validates (see ParseIdentityConfig) and copies.
func NewAuthenticator(cfg *IdentityConfig, opts AuthOptions) (*Authenticator, error) {
	if cfg == nil {
		return nil, errors.New("s3api: NewAuthenticator: nil identity configuration")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxSkew < 0 {
		return nil, errors.New("s3api: NewAuthenticator: negative MaxSkew")
	}
	a := &Authenticator{
		now:     opts.Now,
		maxSkew: opts.MaxSkew,
		keys:    make(map[string]*principal),
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.maxSkew == 0 {
		a.maxSkew = DefaultMaxSkew
	}
	for _, src := range cfg.Identities {
		id := &Identity{
			Name:        src.Name,
			Credentials: append([]Credential(nil), src.Credentials...),
			Actions:     append([]string(nil), src.Actions...),
		}
		if id.Name == AnonymousIdentity {
			a.anonymous = id
		}
		for _, c := range id.Credentials {
			a.keys[c.AccessKey] = &principal{identity: id, keys: sigv4.NewKeyCache(c.SecretKey, serviceS3)}
		}
	}
	return a, nil
}

// Authenticate verifies the signature of r and returns the identity that
// signed it. An unsigned request gets the "anonymous" identity when the
// configuration has one, and ErrAccessDenied otherwise.
//
// When the body is protected, Authenticate replaces r.Body with a reader
// that verifies it: reading to the end returns an *Error
// (ErrXAmzContentSHA256Mismatch, ErrSignatureDoesNotMatch for a chunk,
// ErrBadDigest for a trailing checksum, ErrIncompleteBody) instead of
// io.EOF when the body does not match, so a store that commits only on EOF
// never commits a forged or damaged object. For aws-chunked bodies it also
// sets r.ContentLength (and the Content-Length header) to the decoded
// length, removes "aws-chunked" from Content-Encoding and deletes
// x-amz-decoded-content-length; once the body has been read to EOF, the
// verified trailing headers (x-amz-checksum-*) are in r.Trailer.
//
// Errors are *Error values with S3 codes: ErrAccessDenied,
// ErrInvalidAccessKeyID, ErrSignatureDoesNotMatch,
// ErrAuthorizationHeaderMalformed, ErrAuthorizationQueryParametersError,
// ErrRequestTimeTooSkewed, ErrInvalidArgument, ErrInvalidRequest,
// ErrMissingContentLength, ErrNotImplemented (SigV2, SigV4A).
func (a *Authenticator) Authenticate(r *http.Request) (*Identity, error) {
	authz, hasAuthz := r.Header["Authorization"]
	presigned := queryHasAny(r.URL.RawQuery, "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Algorithm")
	switch {
	case hasAuthz && presigned:
		return nil, ErrInvalidArgument.WithMessage("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.")
	case hasAuthz:
		if len(authz) != 1 {
			return nil, malformedAuth("more than one Authorization header")
		}
		return a.authenticateHeader(r, authz[0])
	case presigned:
		return a.authenticatePresigned(r)
	case queryHasAny(r.URL.RawQuery, "AWSAccessKeyId", "Signature"):
		return nil, ErrNotImplemented.WithMessage("AWS Signature Version 2 is not supported; presign URLs with AWS Signature Version 4.")
	}
	return a.authenticateAnonymous(r)
}

func (a *Authenticator) authenticateAnonymous(r *http.Request) (*Identity, error) {
	if a.anonymous == nil {
		return nil, ErrAccessDenied.WithMessage("Anonymous access is not allowed; sign the request.")
	}
	mode, sum := payloadUnsigned, [32]byte{}
	if v := r.Header.Get(headerContentSHA256); v != "" {
		var err error
		if mode, sum, err = parsePayloadHash(v); err != nil {
			return nil, err
		}
	}
	if mode == payloadChunkedSigned || mode == payloadChunkedSignedTrailer {
		return nil, ErrAccessDenied.WithMessage("A signed aws-chunked body needs a signed request.")
	}
	if err := attachBody(r, mode, sum, nil); err != nil {
		return nil, err
	}
	return a.anonymous, nil
}

func (a *Authenticator) authenticateHeader(r *http.Request, header string) (*Identity, error) {
	auth, err := parseAuthorization(header)
	if err != nil {
		return nil, err
	}
	p := a.keys[auth.cred.accessKey]
	if p == nil {
		return nil, ErrInvalidAccessKeyID
	}
	amzDate, t, err := headerRequestTime(r.Header)
	if err != nil {
		return nil, err
	}
	if amzDate[:8] != auth.cred.date {
		return nil, malformedAuth("the credential date is not the date of x-amz-date")
	}
	if err := a.checkSkew(t); err != nil {
		return nil, err
	}
	payload := r.Header.Get(headerContentSHA256)
	if payload == "" {
		return nil, ErrInvalidRequest.WithMessage("Missing required header for this request: x-amz-content-sha256.")
	}
	mode, sum, err := parsePayloadHash(payload)
	if err != nil {
		return nil, err
	}
	// x-amz-content-sha256 is covered by the canonical request's last line.
	if err := checkAmzHeadersSigned(r.Header, auth.signedHeaders, true); err != nil {
		return nil, err
	}
	key := p.signingKey(auth.cred.date, auth.cred.region)
	cr := canonicalRequest{signedHeaders: auth.signedHeaders, payloadHash: payload}
	ok, err := a.verify(r, &cr, key, amzDate, auth.cred.scope, auth.signature)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrSignatureDoesNotMatch
	}
	signing := &chunkSigning{key: key, amzDate: amzDate, scope: auth.cred.scope, seed: auth.signature}
	if err := attachBody(r, mode, sum, signing); err != nil {
		return nil, err
	}
	return p.identity, nil
}

// headerRequestTime returns the signing time of a header-signed request
// from x-amz-date, or from Date when x-amz-date is absent, as the
// ISO 8601 basic string the string to sign uses and as a time.
func headerRequestTime(h http.Header) (string, time.Time, error) {
	if v := h.Get(headerAmzDate); v != "" {
		t, err := time.Parse(amzDateLayout, v)
		if err != nil {
			return "", t, ErrAccessDenied.WithMessage("AWS authentication requires a valid Date or x-amz-date header: x-amz-date must be YYYYMMDD'T'HHMMSS'Z'.")
		}
		return v, t, nil
	}
	if v := h.Get("Date"); v != "" {
		t, err := http.ParseTime(v)
		if err != nil {
			return "", t, ErrAccessDenied.WithMessage("AWS authentication requires a valid Date or x-amz-date header: Date is not an HTTP date.")
		}
		return t.UTC().Format(amzDateLayout), t, nil
	}
	return "", time.Time{}, ErrAccessDenied.WithMessage("AWS authentication requires a valid Date or x-amz-date header.")
}

func (a *Authenticator) checkSkew(t time.Time) error {
	d := a.now().Sub(t)
	if d < 0 {
		d = -d
	}
	if d > a.maxSkew {
		return ErrRequestTimeTooSkewed.WithMessage("The difference between the request time (%s) and the server's time is larger than %s.",
			t.UTC().Format(amzDateLayout), a.maxSkew)
	}
	return nil
}

// checkAmzHeadersSigned returns AccessDenied when the request carries an
// x-amz-* header its signature does not cover: otherwise anyone holding a
// presigned URL, or anyone on the path of a plain-HTTP request, could add
// x-amz-copy-source, x-amz-acl, metadata, ...
func checkAmzHeadersSigned(h http.Header, signedHeaders string, exemptContentSHA256 bool) error {
	for k := range h {
		if len(k) < 6 || !strings.EqualFold(k[:6], "x-amz-") {
			continue
		}
		if exemptContentSHA256 && strings.EqualFold(k, headerContentSHA256) {
			continue
		}
		if !signedHeaderListed(signedHeaders, k) {
			return ErrAccessDenied.WithMessage("There were headers present in the request which were not signed: %s.", strings.ToLower(truncate(k, 64)))
		}
	}
	return nil
}

// queryHasAny reports whether the raw query has a parameter with one of
// the names (compared as sent: these names need no encoding).
func queryHasAny(raw string, names ...string) bool {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, _, _ := strings.Cut(pair, "=")
		for _, n := range names {
			if name == n {
				return true
			}
		}
	}
	return false
}
