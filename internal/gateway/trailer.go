package gateway

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/sigv4"
)

// A client's trailing checksum (an aws-chunked body with x-amz-trailer)
// is verified by s3limit and known only once the body has ended. The
// upstream needs it all the same: a part of a multipart upload created
// with x-amz-checksum-algorithm must carry that checksum, or the upstream
// refuses it. So such a body goes upstream aws-chunked again, as one
// chunk followed by the trailing checksum, unsigned
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER): s3limit has verified the
// client's signatures, and the upstream verifies the checksum again.

// trailerForward is how a body with a trailing checksum is forwarded.
type trailerForward struct {
	name     string // the trailer, lower case: "x-amz-checksum-crc32c"
	valueLen int    // length of its base64 value
}

// forwardedTrailer returns the trailing checksum of a client's request, if
// it declared one.
func forwardedTrailer(h http.Header) (trailerForward, bool) {
	v := h.Get("X-Amz-Trailer")
	name := strings.ToLower(strings.TrimSpace(v))
	alg, ok := strings.CutPrefix(name, "x-amz-checksum-")
	if !ok || strings.Contains(name, ",") {
		return trailerForward{}, false
	}
	sum := s3api.ChecksumAlgorithm(strings.ToUpper(alg)).NewHash()
	if sum == nil {
		return trailerForward{}, false
	}
	return trailerForward{name: name, valueLen: base64.StdEncoding.EncodedLen(sum.Size())}, true
}

// encodedLength is the length of the aws-chunked form of n bytes.
func (t trailerForward) encodedLength(n int64) int64 {
	size := int64(len("0\r\n") + len(t.name) + 1 + t.valueLen + len("\r\n\r\n"))
	if n > 0 {
		size += int64(len(strconv.FormatInt(n, 16))) + 2 + n + 2
	}
	return size
}

// setHeaders makes h describe the aws-chunked form of n bytes.
func (t trailerForward) setHeaders(h http.Header, n int64) {
	ce := []string{"aws-chunked"}
	for _, v := range h["Content-Encoding"] {
		ce[0] += "," + v
	}
	h["Content-Encoding"] = ce
	h["X-Amz-Decoded-Content-Length"] = []string{strconv.FormatInt(n, 10)}
	h["X-Amz-Trailer"] = []string{t.name}
	h["X-Amz-Content-Sha256"] = []string{sigv4.StreamingUnsignedTrailer}
}

// errTrailerLost is a verified body whose trailing checksum is not there
// at its end, which the aws-chunked decoder does not let happen.
var errTrailerLost = errors.New("gateway: the client's trailing checksum is missing at the end of its body")

// trailerBody is the aws-chunked form of a decoded body of n bytes: one
// chunk, the final chunk and the trailing checksum, read from trailer
// once src has ended.
type trailerBody struct {
	src     io.ReadCloser
	n       int64
	fwd     trailerForward
	trailer http.Header // filled when src ends
	pending []byte      // framing not yet read
	state   uint8       // 0: before the data, 1: in the data, 2: after it
}

func newTrailerBody(src io.ReadCloser, n int64, fwd trailerForward, trailer http.Header) *trailerBody {
	return &trailerBody{src: src, n: n, fwd: fwd, trailer: trailer}
}

func (b *trailerBody) Read(p []byte) (int, error) {
	for len(b.pending) == 0 {
		switch b.state {
		case 0:
			b.state = 1
			if b.n > 0 {
				b.pending = append(strconv.AppendInt(b.pending, b.n, 16), "\r\n"...)
			}
		case 1:
			n, err := b.src.Read(p)
			if err != io.EOF {
				return n, err
			}
			b.state = 2 // src has verified its end and published the trailers
			if n > 0 {
				return n, nil
			}
		case 2:
			v := b.trailer.Get(b.fwd.name)
			if len(v) != b.fwd.valueLen {
				return 0, errTrailerLost
			}
			if b.n > 0 {
				b.pending = append(b.pending, "\r\n"...)
			}
			b.pending = append(b.pending, "0\r\n"...)
			b.pending = append(b.pending, b.fwd.name...)
			b.pending = append(b.pending, ':')
			b.pending = append(b.pending, v...)
			b.pending = append(b.pending, "\r\n\r\n"...)
			b.state = 3
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

func (b *trailerBody) Close() error { return b.src.Close() }
