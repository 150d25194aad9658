package s3api

import (
	"net/http"
	"strings"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// Header names of AWS Signature Version 4 for S3.
const (
	headerContentSHA256        = "X-Amz-Content-Sha256"
	headerDecodedContentLength = "X-Amz-Decoded-Content-Length"
	headerAmzDate              = "X-Amz-Date"
	headerAmzTrailer           = "X-Amz-Trailer"

	serviceS3     = "s3"
	amzDateLayout = sigv4.TimeFormat
)

// payloadMode is how the request body is protected, from the
// x-amz-content-sha256 value.
type payloadMode uint8

const (
	payloadUnsigned               payloadMode = iota // UNSIGNED-PAYLOAD or no body check
	payloadSHA256                                    // hex SHA-256 of the whole body
	payloadChunkedSigned                             // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
	payloadChunkedSignedTrailer                      // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
	payloadChunkedUnsignedTrailer                    // STREAMING-UNSIGNED-PAYLOAD-TRAILER
)

// parsePayloadHash classifies an x-amz-content-sha256 value. For
// payloadSHA256 it also returns the decoded digest.
func parsePayloadHash(v string) (payloadMode, [32]byte, error) {
	switch v {
	case sigv4.UnsignedPayload:
		return payloadUnsigned, [32]byte{}, nil
	case sigv4.StreamingSigned:
		return payloadChunkedSigned, [32]byte{}, nil
	case sigv4.StreamingSignedTrailer:
		return payloadChunkedSignedTrailer, [32]byte{}, nil
	case sigv4.StreamingUnsignedTrailer:
		return payloadChunkedUnsignedTrailer, [32]byte{}, nil
	}
	if strings.HasPrefix(v, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD") {
		return 0, [32]byte{}, ErrNotImplemented.WithMessage("AWS Signature Version 4A (ECDSA) is not supported; sign with AWS4-HMAC-SHA256.")
	}
	sum, ok := sigv4.ParseHash(v)
	if !ok {
		return 0, sum, ErrInvalidArgument.WithMessage("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value or the hex SHA-256 of the payload.")
	}
	return payloadSHA256, sum, nil
}

// canonicalRequest holds what a request signature covers beyond the
// http.Request.
type canonicalRequest struct {
	signedHeaders string // as the client listed them, ';'-separated
	payloadHash   string // last line of the canonical request
	presigned     bool   // leave X-Amz-Signature out of the query
}

// verify reports whether claimed, the signature as the client sent it, is
// the signature of r (see sigv4.Verify). A malformed claim does not match:
// S3 answers SignatureDoesNotMatch for it as for any other wrong
// signature.
func (a *Authenticator) verify(r *http.Request, cr *canonicalRequest, key sigv4.Key, amzDate, scope, claimed string) (bool, error) {
	p := sigv4.Params{
		Key: key, AmzDate: amzDate, Scope: scope,
		SignedHeaders: cr.signedHeaders, PayloadHash: cr.payloadHash, Presigned: cr.presigned,
	}
	ok, err := sigv4.Verify(r, &p, claimed)
	if err != nil {
		return false, ErrInvalidArgument.WithMessage("The query string is not validly percent-encoded.")
	}
	return ok, nil
}

// signedHeaderListed reports whether the header key appears,
// case-insensitively, in a SignedHeaders list.
func signedHeaderListed(signedHeaders, key string) bool {
	return sigv4.SignedHeadersInclude(signedHeaders, key)
}
