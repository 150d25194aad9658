package s3api

import (
	"crypto/sha256"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// chunkSigning is what verifying chunk signatures needs: the request's
// signing key, time and scope, and its signature as sent, which has been
// verified and seeds the chain of chunk signatures.
type chunkSigning struct {
	key     sigv4.Key
	amzDate string
	scope   string
	seed    string
}

func (s *chunkSigning) chain() sigv4.Chain {
	seed, _ := sigv4.ParseSignature(s.seed)
	return sigv4.NewChain(s.key, s.amzDate, s.scope, seed)
}

// attachBody installs the reader that verifies r's body according to its
// payload mode. signing is nil for anonymous requests, which cannot carry
// signed chunks.
func attachBody(r *http.Request, mode payloadMode, sum [32]byte, signing *chunkSigning) error {
	if mode == payloadUnsigned || mode == payloadSHA256 {
		if _, ok := r.Header["Content-Encoding"]; ok && isAWSChunked(r.Header) {
			return ErrInvalidArgument.WithMessage("An aws-chunked body needs a STREAMING-* x-amz-content-sha256 value.")
		}
	}
	switch mode {
	case payloadUnsigned:
		return nil
	case payloadSHA256:
		if r.Body == nil || r.Body == http.NoBody {
			if sum != sha256.Sum256(nil) {
				return ErrXAmzContentSHA256Mismatch
			}
			return nil
		}
		r.Body = &sha256Reader{src: r.Body, h: sha256.New(), want: sum}
		return nil
	}

	decoded, err := decodedContentLength(r.Header)
	if err != nil {
		return err
	}
	cfg := chunkedConfig{
		signed:        mode == payloadChunkedSigned || mode == payloadChunkedSignedTrailer,
		trailer:       mode == payloadChunkedSignedTrailer || mode == payloadChunkedUnsignedTrailer,
		decodedLength: decoded,
	}
	if cfg.signed {
		if signing == nil {
			return ErrAccessDenied.WithMessage("A signed aws-chunked body needs a signed request.")
		}
		cfg.chain = signing.chain()
	}
	if cfg.trailer {
		if cfg.trailerNames, err = parseTrailerHeader(r.Header.Values(headerAmzTrailer)); err != nil {
			return err
		}
	}
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	trailer := make(http.Header)
	r.Body = newChunkedReader(body, cfg, trailer)
	r.Trailer = trailer
	r.ContentLength = decoded
	r.Header.Set("Content-Length", strconv.FormatInt(decoded, 10))
	r.Header.Del(headerDecodedContentLength)
	removeAWSChunkedEncoding(r.Header)
	return nil
}

// decodedContentLength returns x-amz-decoded-content-length, which every
// aws-chunked request must carry.
func decodedContentLength(h http.Header) (int64, error) {
	v := h.Get(headerDecodedContentLength)
	if v == "" {
		return 0, ErrMissingContentLength.WithMessage("An aws-chunked upload must declare x-amz-decoded-content-length.")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, ErrInvalidArgument.WithMessage("The x-amz-decoded-content-length header is not a non-negative integer: %q.", truncate(v, 32))
	}
	return n, nil
}

// parseTrailerHeader returns the lower-case trailer names x-amz-trailer
// declares. Only the checksum trailers are supported, at most one of them,
// as S3 allows.
func parseTrailerHeader(values []string) ([]string, error) {
	var names []string
	for _, v := range values {
		for rest := v; rest != ""; {
			var name string
			name, rest, _ = strings.Cut(rest, ",")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			if _, ok := checksumAlgorithmOf(name); !ok {
				return nil, ErrInvalidArgument.WithMessage("The x-amz-trailer header names an unsupported trailer %s; supported are x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1 and -sha256.", quoteShort(name))
			}
			if len(names) > 0 {
				return nil, ErrInvalidArgument.WithMessage("Expecting a single x-amz-checksum- trailer.")
			}
			names = append(names, name)
		}
	}
	return names, nil
}

// removeAWSChunkedEncoding drops the aws-chunked token from
// Content-Encoding, which describes the transfer, not the object, and
// deletes the header when nothing else is left.
func removeAWSChunkedEncoding(h http.Header) {
	values := h.Values("Content-Encoding")
	if len(values) == 0 {
		return
	}
	var kept []string
	for _, v := range values {
		for rest := v; rest != ""; {
			var tok string
			tok, rest, _ = strings.Cut(rest, ",")
			tok = strings.TrimSpace(tok)
			if tok != "" && !strings.EqualFold(tok, "aws-chunked") {
				kept = append(kept, tok)
			}
		}
	}
	if len(kept) == 0 {
		h.Del("Content-Encoding")
		return
	}
	h.Set("Content-Encoding", strings.Join(kept, ","))
}

// sha256Reader passes a body through and, at its end, returns
// ErrXAmzContentSHA256Mismatch instead of io.EOF when the body's SHA-256
// is not the signed one.
type sha256Reader struct {
	src  io.ReadCloser
	h    hash.Hash
	want [32]byte
	err  error // sticky result once the end was reached
}

func (s *sha256Reader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.src.Read(p)
	s.h.Write(p[:n])
	if err == io.EOF {
		var got [32]byte
		s.h.Sum(got[:0])
		if got != s.want {
			err = ErrXAmzContentSHA256Mismatch
		}
		s.err = err
	}
	return n, err
}

func (s *sha256Reader) Close() error { return s.src.Close() }
