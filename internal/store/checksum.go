package store

import (
	"encoding/base64"
	"hash"
	"net/http"
	"strings"

	"github.com/s3limit/s3limit/internal/s3api"
)

// checksumAlgorithms are the additional checksums S3 defines, by the
// name used in x-amz-checksum-<name> (lower case) and in XML (upper case).
var checksumAlgorithms = [...]string{"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"}

// newChecksumHash returns the hash of an algorithm name (upper case), or
// nil for an unknown one.
func newChecksumHash(alg string) hash.Hash {
	return s3api.ChecksumAlgorithm(alg).NewHash()
}

// checksumRequest is what a request says about its additional checksum:
// the algorithm and where its expected value is.
type checksumRequest struct {
	alg    string // "" when the request names none
	header string // x-amz-checksum-<alg>, lower case
	r      *http.Request
}

// want returns the expected base64 value from a header or, after the body
// ended, from the trailer; "" when the request sent none.
func (c checksumRequest) want() string {
	if v := c.r.Header.Get(c.header); v != "" {
		return v
	}
	if c.r.Trailer != nil {
		return c.r.Trailer.Get(c.header)
	}
	return ""
}

// parseChecksumRequest finds the checksum algorithm of a request from an
// x-amz-checksum-* header, the declared trailer, or
// x-amz-sdk-checksum-algorithm. Two different algorithms, or an unknown
// one, are an error.
func parseChecksumRequest(r *http.Request) (checksumRequest, error) {
	var alg string
	add := func(a string) error {
		a = strings.ToUpper(strings.TrimSpace(a))
		if a == "" {
			return nil
		}
		if newChecksumHash(a) == nil {
			return s3api.ErrInvalidRequest.WithMessage("Value for x-amz-checksum-algorithm header is invalid: %q.", a)
		}
		if alg != "" && alg != a {
			return s3api.ErrInvalidRequest.WithMessage("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		alg = a
		return nil
	}
	for _, a := range checksumAlgorithms {
		if r.Header.Get("x-amz-checksum-"+strings.ToLower(a)) != "" {
			if err := add(a); err != nil {
				return checksumRequest{}, err
			}
		}
	}
	for _, t := range strings.Split(r.Header.Get("x-amz-trailer"), ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		if a, ok := strings.CutPrefix(t, "x-amz-checksum-"); ok {
			if err := add(a); err != nil {
				return checksumRequest{}, err
			}
		}
	}
	if err := add(r.Header.Get("x-amz-sdk-checksum-algorithm")); err != nil {
		return checksumRequest{}, err
	}
	if alg == "" {
		return checksumRequest{}, nil
	}
	return checksumRequest{alg: alg, header: "x-amz-checksum-" + strings.ToLower(alg), r: r}, nil
}

// checksumOf returns the base64 checksum of data with algorithm alg.
func checksumOf(alg string, data []byte) string {
	h := newChecksumHash(alg)
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}
