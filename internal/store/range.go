package store

import (
	"strconv"
	"strings"

	"github.com/s3limit/s3limit/internal/s3api"
)

// byteRange is a satisfiable range of an object: length bytes from start.
type byteRange struct {
	start, length int64
}

// parseRange resolves a Range header against an object of size bytes.
// ok is false when the whole object is to be sent: no header, a header
// that is not one well-formed "bytes=" range (RFC 7233 section 3.1 says
// to ignore it; S3 serves one range only). An unsatisfiable range is
// InvalidRange.
func parseRange(h string, size int64) (r byteRange, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return byteRange{}, false, nil
	}
	if first == "" { // suffix: the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return byteRange{}, false, nil
		}
		if n == 0 {
			return byteRange{}, false, s3api.ErrInvalidRange
		}
		if size == 0 {
			// RFC 9110 section 14.1.1: on an empty representation a
			// non-zero suffix range is the one satisfiable form; it is
			// the whole (empty) object, which S3 serves to tail reads.
			return byteRange{}, false, nil
		}
		n = min(n, size)
		return byteRange{start: size - n, length: n}, true, nil
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return byteRange{}, false, nil
	}
	b := size - 1
	if last != "" {
		b, err = strconv.ParseInt(last, 10, 64)
		if err != nil || b < a {
			return byteRange{}, false, nil
		}
		b = min(b, size-1)
	}
	if a >= size {
		return byteRange{}, false, s3api.ErrInvalidRange
	}
	return byteRange{start: a, length: b - a + 1}, true, nil
}
