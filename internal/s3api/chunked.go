package s3api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// Bounds of the aws-chunked decoder. Chunk data is streamed through, never
// buffered, so MaxChunkSize only rejects nonsense: it is the largest body a
// single S3 PUT may carry, because SDKs send a body of known length as one
// chunk (aws-sdk-go-v2 does for STREAMING-UNSIGNED-PAYLOAD-TRAILER).
const (
	MaxChunkSize = 5 << 30 // bytes in one chunk

	maxChunkLine    = 256 // bytes in a chunk-size or trailer line, CRLF included
	maxTrailerLines = 8   // trailer lines, the signature included
	chunkReadBuffer = 4096
)

// chunkedConfig describes one aws-chunked body.
type chunkedConfig struct {
	signed        bool        // chunks carry chunk-signature extensions to verify
	trailer       bool        // trailing headers follow the final chunk
	chain         sigv4.Chain // the signatures of a signed body, seeded
	decodedLength int64       // x-amz-decoded-content-length
	trailerNames  []string    // declared by x-amz-trailer, lower case
}

// chunkedReader decodes and verifies an aws-chunked body:
//
//	hex-size[;chunk-signature=sig] CRLF data CRLF ... 0[;chunk-signature=sig] CRLF
//	[name:value EOL ...] [x-amz-trailer-signature:sig EOL] CRLF
//
// It returns the decoded data and, at the end, io.EOF only when every
// chunk signature, the trailer signature and the trailing checksum
// verified and the length is the declared one; otherwise a sticky *Error.
// Lines are bounded (maxChunkLine), chunk sizes too (MaxChunkSize), and
// memory use is a fixed read buffer whatever the input.
//
// The end of a trailer line (EOL) is CRLF, as the S3 documentation shows
// it, a bare LF, or LF followed by CRLF, which minio-go writes (its
// trailer block is "name:value\n" followed by CRLF); MinIO and S3 accept
// all three. Chunk header lines must end in CRLF.
//
// A chunk's data is handed out as it arrives, before the chunk's signature
// can be checked (a chunk may be gigabytes long): the error returned at the
// chunk's end, in place of io.EOF, is what tells the caller to discard it.
// A chunk signature that does not match, well-formed or not, is
// SignatureDoesNotMatch (403), as S3 answers.
type chunkedReader struct {
	src    *bufio.Reader
	closer io.Closer
	cfg    chunkedConfig

	chunkSig  sigv4.Signature // claimed signature of the current chunk
	chunkHash hash.Hash       // SHA-256 of the current chunk's data; signed only
	checksum  hash.Hash       // declared trailing checksum, nil when none
	algorithm ChecksumAlgorithm

	left    int64 // data bytes left in the current chunk
	decoded int64 // data bytes returned so far
	err     error // sticky: io.EOF after a verified end, or the failure

	trailer http.Header // receives the verified trailers at the end
}

// Errors of signatures in aws-chunked bodies.
var (
	errChunkSignature   = ErrSignatureDoesNotMatch.WithMessage("The signature of an aws-chunked chunk does not match.")
	errTrailerSignature = ErrSignatureDoesNotMatch.WithMessage("The trailer signature of the aws-chunked body does not match.")
)

func newChunkedReader(body io.ReadCloser, cfg chunkedConfig, trailer http.Header) *chunkedReader {
	c := &chunkedReader{
		src:     bufio.NewReaderSize(body, chunkReadBuffer),
		closer:  body,
		cfg:     cfg,
		trailer: trailer,
	}
	if cfg.signed {
		c.chunkHash = sha256.New()
	}
	for _, name := range cfg.trailerNames {
		if alg, ok := checksumAlgorithmOf(name); ok {
			c.algorithm = alg
			c.checksum = alg.NewHash()
		}
	}
	return c
}

// chunkFormatError reports a framing error of an aws-chunked body.
func chunkFormatError(reason string) error {
	return ErrInvalidRequest.WithMessage("Malformed aws-chunked body: %s.", reason)
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.err == nil && c.left == 0 {
		c.err = c.nextChunk()
	}
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.src.Read(p)
	c.left -= int64(n)
	c.decoded += int64(n)
	if c.chunkHash != nil {
		c.chunkHash.Write(p[:n])
	}
	if c.checksum != nil {
		c.checksum.Write(p[:n])
	}
	switch {
	case c.left == 0:
		c.err = c.endChunk()
	case err == io.EOF:
		c.err = ErrIncompleteBody.WithMessage("The aws-chunked body ended inside a chunk.")
	case err != nil:
		return n, err // a transport error: not sticky, not ours to rename
	}
	if c.err == io.EOF {
		return n, nil // the caller sees EOF on the next Read
	}
	return n, c.err
}

func (c *chunkedReader) Close() error { return c.closer.Close() }

// errEndOfBody is readLine's report of a body that ends where a line
// would start.
var errEndOfBody = ErrIncompleteBody.WithMessage("The aws-chunked body ended before its final chunk and trailers.")

// readLine returns the next line without its line ending, and whether
// that ending was a bare LF rather than CRLF.
func (c *chunkedReader) readLine() (line []byte, bareLF bool, err error) {
	line, err = c.src.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull || len(line) > maxChunkLine:
		return nil, false, chunkFormatError("a chunk header or trailer line is too long")
	case err == io.EOF && len(line) == 0:
		return nil, false, errEndOfBody
	case err == io.EOF:
		return nil, false, ErrIncompleteBody.WithMessage("The aws-chunked body ended inside a chunk header or trailer line.")
	case err != nil:
		return nil, false, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1], false, nil
	}
	return line, true, nil
}

// nextChunk reads a chunk header. For the final chunk it also reads and
// verifies the trailers and returns io.EOF when all is well.
func (c *chunkedReader) nextChunk() error {
	line, bareLF, err := c.readLine()
	if err != nil {
		return err
	}
	if bareLF {
		return chunkFormatError("a chunk header line does not end in CRLF")
	}
	size, sig, err := parseChunkHeader(line, c.cfg.signed)
	if err != nil {
		return err
	}
	if size > c.cfg.decodedLength-c.decoded {
		return ErrIncompleteBody.WithMessage("The aws-chunked body carries more data than x-amz-decoded-content-length declares (%d bytes).", c.cfg.decodedLength)
	}
	c.chunkSig = sig
	if c.chunkHash != nil {
		c.chunkHash.Reset()
	}
	if size > 0 {
		c.left = size
		return nil
	}
	return c.finish()
}

// parseChunkHeader parses "hex-size" or "hex-size;chunk-signature=sig".
// A signature that is not 64 hex digits cannot match any chunk:
// SignatureDoesNotMatch, before the chunk's data is handed out.
func parseChunkHeader(line []byte, signed bool) (int64, sigv4.Signature, error) {
	var sig sigv4.Signature
	sizeField := line
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		sizeField = line[:i]
		ext, ok := bytes.CutPrefix(line[i+1:], []byte("chunk-signature="))
		if !signed || !ok {
			return 0, sig, chunkFormatError("unexpected chunk extension")
		}
		if sig, ok = sigv4.ParseSignature(string(ext)); !ok {
			return 0, sig, errChunkSignature
		}
	} else if signed {
		return 0, sig, chunkFormatError("a chunk has no chunk-signature")
	}
	if len(sizeField) == 0 || len(sizeField) > 16 {
		return 0, sig, chunkFormatError("a chunk size is not 1 to 16 hexadecimal digits")
	}
	size, err := strconv.ParseUint(string(sizeField), 16, 64)
	switch {
	case err != nil:
		return 0, sig, chunkFormatError("a chunk size is not hexadecimal")
	case size > MaxChunkSize:
		return 0, sig, chunkFormatError("a chunk is larger than 5 GiB")
	}
	return int64(size), sig, nil
}

// endChunk consumes the CRLF after a chunk's data and verifies the chunk
// signature.
func (c *chunkedReader) endChunk() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.src, crlf[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return ErrIncompleteBody.WithMessage("The aws-chunked body ended after a chunk's data.")
		}
		return err
	}
	if crlf != [2]byte{'\r', '\n'} {
		return chunkFormatError("a chunk's data is not followed by CRLF (is the chunk size right?)")
	}
	return c.verifyChunk()
}

// verifyChunk checks the current chunk's signature, the next link of the
// chain.
func (c *chunkedReader) verifyChunk() error {
	if !c.cfg.signed {
		return nil
	}
	var sum [32]byte
	c.chunkHash.Sum(sum[:0])
	if !c.cfg.chain.Chunk(sum).Equal(c.chunkSig) {
		return errChunkSignature
	}
	return nil
}

// finish handles what follows the final chunk header: its signature, the
// trailers and the end of the body.
func (c *chunkedReader) finish() error {
	if err := c.verifyChunk(); err != nil {
		return err
	}
	if c.decoded != c.cfg.decodedLength {
		return ErrIncompleteBody.WithMessage("The aws-chunked body carries %d bytes, x-amz-decoded-content-length declares %d.", c.decoded, c.cfg.decodedLength)
	}
	if err := c.readTrailers(); err != nil {
		return err
	}
	if _, err := c.src.ReadByte(); err != io.EOF {
		if err != nil {
			return err
		}
		return chunkFormatError("data follows the end of the body")
	}
	return io.EOF
}

// readTrailers reads the trailer section up to its empty line, verifies
// the trailer signature and checksum, and publishes the trailers.
func (c *chunkedReader) readTrailers() error {
	type field struct{ name, value string }
	var (
		fields    []field
		canonical = sha256.New()
		sigText   string // x-amz-trailer-signature as sent
		haveSig   bool
		afterLF   bool // the previous line was a field that ended in a bare LF
		absorbed  bool // ... and the empty line after it was taken as its end
	)
	for lines := 0; ; lines++ {
		line, bareLF, err := c.readLine()
		if err == errEndOfBody && absorbed {
			break // "name:value\n\r\n" and the end of the body
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			if afterLF && !bareLF {
				// LF then CRLF ends one field (minio-go): the section
				// ends at the next empty line or with the body.
				afterLF, absorbed = false, true
				continue
			}
			break
		}
		afterLF, absorbed = bareLF, false
		if !c.cfg.trailer {
			return chunkFormatError("trailing headers after the final chunk of a body without trailers")
		}
		if lines >= maxTrailerLines {
			return chunkFormatError("too many trailing headers")
		}
		if haveSig {
			return chunkFormatError("x-amz-trailer-signature must be the last trailing header")
		}
		rawName, rawValue, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return chunkFormatError("a trailing header has no ':'")
		}
		name := strings.ToLower(string(bytes.TrimSpace(rawName)))
		value := string(bytes.TrimSpace(rawValue))
		if name == "x-amz-trailer-signature" {
			if !c.cfg.signed {
				return chunkFormatError("a trailer signature in a body with unsigned chunks")
			}
			sigText, haveSig = value, true
			continue
		}
		declared := false
		for _, d := range c.cfg.trailerNames {
			declared = declared || d == name
		}
		if !declared {
			return chunkFormatError("trailing header " + quoteShort(name) + " was not declared in x-amz-trailer")
		}
		for _, f := range fields {
			if f.name == name {
				return chunkFormatError("trailing header " + quoteShort(name) + " appears twice")
			}
		}
		fields = append(fields, field{name, value})
		canonical.Write([]byte(name))
		canonical.Write([]byte{':'})
		canonical.Write([]byte(value))
		canonical.Write([]byte{'\n'})
	}
	if len(fields) != len(c.cfg.trailerNames) {
		return ErrIncompleteBody.WithMessage("The aws-chunked body lacks a trailing header that x-amz-trailer declares.")
	}
	if c.cfg.signed && c.cfg.trailer {
		if !haveSig {
			return ErrSignatureDoesNotMatch.WithMessage("The aws-chunked body has no x-amz-trailer-signature.")
		}
		var sum [32]byte
		canonical.Sum(sum[:0])
		claimed, ok := sigv4.ParseSignature(sigText)
		if want := c.cfg.chain.Trailer(sum); !ok || !want.Equal(claimed) {
			return errTrailerSignature
		}
	}
	if c.checksum != nil {
		got := base64.StdEncoding.EncodeToString(c.checksum.Sum(nil))
		for _, f := range fields {
			if _, isChecksum := checksumAlgorithmOf(f.name); isChecksum && f.value != got {
				return ErrBadDigest.WithMessage("The %s you specified did not match the calculated checksum.", c.algorithm)
			}
		}
	}
	for _, f := range fields {
		c.trailer.Set(f.name, f.value)
	}
	return nil
}
