package s3api

import (
	"errors"
	"strings"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// credentialScope is the Credential of a SigV4 request:
// <access key>/<date>/<region>/<service>/aws4_request.
type credentialScope struct {
	accessKey string
	scope     string // "<date>/<region>/<service>/aws4_request"
	date      string // YYYYMMDD
	region    string
}

// authorization is a parsed SigV4 Authorization header or the equivalent
// presigned query parameters.
type authorization struct {
	cred          credentialScope
	signedHeaders string // lower-case names, ';'-separated, sorted
	// signature is the signature as sent. It is not checked for form
	// here: a malformed signature is one that does not match (403
	// SignatureDoesNotMatch, as S3 answers), not a malformed header.
	signature string
}

// parseAuthorization parses an Authorization header of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,
//	SignedHeaders=host;x-amz-date, Signature=<64 hex digits>
//
// The three components may come in any order, separated by commas and
// optional spaces. Errors are ErrAuthorizationHeaderMalformed with a
// message naming the problem (or ErrNotImplemented for other signature
// versions); they never quote the signature.
func parseAuthorization(v string) (authorization, error) {
	var a authorization
	alg, rest, _ := strings.Cut(v, " ")
	switch alg {
	case sigv4.Algorithm:
	case "AWS":
		return a, ErrNotImplemented.WithMessage("AWS Signature Version 2 is not supported; sign requests with AWS Signature Version 4.")
	case "AWS4-ECDSA-P256-SHA256":
		return a, ErrNotImplemented.WithMessage("AWS Signature Version 4A (ECDSA) is not supported; sign with AWS4-HMAC-SHA256.")
	default:
		return a, malformedAuth("the algorithm must be AWS4-HMAC-SHA256")
	}
	var haveCred, haveHeaders, haveSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.Trim(part, " ")
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return a, malformedAuth("expected Credential=, SignedHeaders= and Signature= components")
		}
		switch key {
		case "Credential":
			if haveCred {
				return a, malformedAuth("Credential appears twice")
			}
			haveCred = true
			c, err := parseCredential(val)
			if err != nil {
				return a, malformedAuth(err.Error())
			}
			a.cred = c
		case "SignedHeaders":
			if haveHeaders {
				return a, malformedAuth("SignedHeaders appears twice")
			}
			haveHeaders = true
			if err := sigv4.CheckSignedHeaders(val); err != nil {
				return a, malformedAuth(err.Error())
			}
			a.signedHeaders = val
		case "Signature":
			if haveSig {
				return a, malformedAuth("Signature appears twice")
			}
			haveSig = true
			if val == "" {
				return a, malformedAuth("the signature is empty")
			}
			a.signature = val
		default:
			return a, malformedAuth("unknown component " + quoteShort(key))
		}
	}
	switch {
	case !haveCred:
		return a, malformedAuth("missing Credential")
	case !haveHeaders:
		return a, malformedAuth("missing SignedHeaders")
	case !haveSig:
		return a, malformedAuth("missing Signature")
	}
	return a, nil
}

func malformedAuth(reason string) error {
	return ErrAuthorizationHeaderMalformed.WithMessage("The authorization header is malformed: %s.", reason)
}

// quoteShort quotes client input for an error message, cut to a sane size.
func quoteShort(s string) string {
	return "\"" + strings.ToValidUTF8(truncate(s, 40), "?") + "\""
}

// parseCredential splits <access key>/<date>/<region>/<service>/aws4_request.
// The service must be s3; any region is accepted, since the server is
// region-agnostic, but it must be present.
func parseCredential(v string) (credentialScope, error) {
	var c credentialScope
	// The scope has four parts; split from the right.
	end := len(v)
	var parts [4]string
	for i := 3; i >= 0; i-- {
		j := strings.LastIndexByte(v[:end], '/')
		if j < 0 {
			return c, errors.New("the credential must be <access key>/<date>/<region>/s3/aws4_request")
		}
		parts[i] = v[j+1 : end]
		end = j
	}
	c.accessKey = v[:end]
	c.scope = v[end+1:]
	c.date = parts[0]
	c.region = parts[1]
	switch {
	case c.accessKey == "":
		return c, errors.New("the credential has an empty access key")
	case !isDate8(c.date):
		return c, errors.New("the credential date must be YYYYMMDD")
	case !validRegion(c.region):
		return c, errors.New("the credential region must be a non-empty name of letters, digits and '-'")
	case parts[2] != serviceS3:
		return c, errors.New("the credential service must be s3, not " + quoteShort(parts[2]))
	case parts[3] != sigv4.Terminator:
		return c, errors.New("the credential must end with aws4_request")
	}
	return c, nil
}

func isDate8(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validRegion(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}
