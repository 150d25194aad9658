package s3api

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strings"
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

// chunkSigning is what verifying chunk signatures needs: the request's
// signing key, time and scope, and the seed (the request signature).
type chunkSigning struct {
	key     [32]byte
	amzDate string
	scope   string
	seed    [32]byte
}

// chunkedConfig describes one aws-chunked body.
type chunkedConfig struct {
	signed        bool // chunks carry chunk-signature extensions to verify
	trailer       bool // trailing headers follow the final chunk
	signing       chunkSigning
	decodedLength int64    // x-amz-decoded-content-length
	trailerNames  []string // declared by x-amz-trailer, lower case
}

// chunkedReader decodes and verifies an aws-chunked body:
//
//	hex-size[;chunk-signature=sig] CRLF data CRLF ... 0[;chunk-signature=sig] CRLF
//	[name:value CRLF ...] [x-amz-trailer-signature:sig CRLF] CRLF
//
// It returns the decoded data and, at the end, io.EOF only when every
// chunk signature, the trailer signature and the trailing checksum
// verified and the length is the declared one; otherwise a sticky *Error.
// Lines are bounded (maxChunkLine), chunk sizes too (MaxChunkSize), and
// memory use is a fixed read buffer whatever the input.
//
// A chunk's data is handed out as it arrives, before the chunk's signature
// can be checked (a chunk may be gigabytes long): the error returned at the
// chunk's end, in place of io.EOF, is what tells the caller to discard it.
type chunkedReader struct {
	src    *bufio.Reader
	closer io.Closer
	cfg    chunkedConfig

	prevSig   [32]byte  // signature of the previous chunk (the seed at first)
	chunkSig  [32]byte  // claimed signature of the current chunk
	chunkHash hash.Hash // SHA-256 of the current chunk's data; signed only
	checksum  hash.Hash // declared trailing checksum, nil when none
	algorithm ChecksumAlgorithm

	left    int64 // data bytes left in the current chunk
	decoded int64 // data bytes returned so far
	err     error // sticky: io.EOF after a verified end, or the failure

	trailer http.Header // receives the verified trailers at the end
}

func newChunkedReader(body io.ReadCloser, cfg chunkedConfig, trailer http.Header) *chunkedReader {
	c := &chunkedReader{
		src:     bufio.NewReaderSize(body, chunkReadBuffer),
		closer:  body,
		cfg:     cfg,
		prevSig: cfg.signing.seed,
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

// readLine returns the next line without its line ending. Chunk-size
// lines must end in CRLF; trailer lines may end in a bare LF, which some
// encoders write.
func (c *chunkedReader) readLine(allowBareLF bool) ([]byte, error) {
	line, err := c.src.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull || len(line) > maxChunkLine:
		return nil, chunkFormatError("a chunk header or trailer line is too long")
	case err == io.EOF:
		return nil, ErrIncompleteBody.WithMessage("The aws-chunked body ended before its final chunk and trailers.")
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1], nil
	}
	if !allowBareLF {
		return nil, chunkFormatError("a chunk header line does not end in CRLF")
	}
	return line, nil
}

// nextChunk reads a chunk header. For the final chunk it also reads and
// verifies the trailers and returns io.EOF when all is well.
func (c *chunkedReader) nextChunk() error {
	line, err := c.readLine(false)
	if err != nil {
		return err
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
func parseChunkHeader(line []byte, signed bool) (int64, [32]byte, error) {
	var sig [32]byte
	sizeField := line
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		sizeField = line[:i]
		ext, ok := bytes.CutPrefix(line[i+1:], []byte("chunk-signature="))
		if !signed || !ok {
			return 0, sig, chunkFormatError("unexpected chunk extension")
		}
		if len(ext) != 64 || !decodeHex32(&sig, string(ext)) {
			return 0, sig, chunkFormatError("a chunk signature is not 64 hexadecimal digits")
		}
	} else if signed {
		return 0, sig, chunkFormatError("a chunk has no chunk-signature")
	}
	if len(sizeField) == 0 || len(sizeField) > 16 {
		return 0, sig, chunkFormatError("a chunk size is not 1 to 16 hexadecimal digits")
	}
	var size int64
	for _, b := range sizeField {
		d, ok := unhex(b)
		if !ok {
			return 0, sig, chunkFormatError("a chunk size is not hexadecimal")
		}
		size = size<<4 | int64(d)
		if size > MaxChunkSize {
			return 0, sig, chunkFormatError("a chunk is larger than 5 GiB")
		}
	}
	return size, sig, nil
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

// verifyChunk checks the current chunk's signature, chained from the
// previous one.
func (c *chunkedReader) verifyChunk() error {
	if !c.cfg.signed {
		return nil
	}
	var sum [32]byte
	c.chunkHash.Sum(sum[:0])
	var buf [512]byte
	sts := append(buf[:0], algorithmPayload...)
	sts = c.appendScope(sts)
	sts = append(sts, emptySHA256Hex...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, sum[:])
	want := hmacSHA256(c.cfg.signing.key[:], sts)
	if !hmac.Equal(want[:], c.chunkSig[:]) {
		return ErrSignatureDoesNotMatch.WithMessage("The signature of an aws-chunked chunk does not match.")
	}
	c.prevSig = c.chunkSig
	return nil
}

// appendScope appends "\n<date>\n<scope>\n<previous signature>\n".
func (c *chunkedReader) appendScope(dst []byte) []byte {
	dst = append(dst, '\n')
	dst = append(dst, c.cfg.signing.amzDate...)
	dst = append(dst, '\n')
	dst = append(dst, c.cfg.signing.scope...)
	dst = append(dst, '\n')
	dst = hex.AppendEncode(dst, c.prevSig[:])
	return append(dst, '\n')
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
		sig       [32]byte
		haveSig   bool
	)
	for lines := 0; ; lines++ {
		line, err := c.readLine(true)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
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
			if !decodeHex32(&sig, value) {
				return chunkFormatError("x-amz-trailer-signature is not 64 hexadecimal digits")
			}
			haveSig = true
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
		var buf [512]byte
		sts := append(buf[:0], algorithmTrailer...)
		sts = c.appendScope(sts)
		sts = hex.AppendEncode(sts, sum[:])
		want := hmacSHA256(c.cfg.signing.key[:], sts)
		if !hmac.Equal(want[:], sig[:]) {
			return ErrSignatureDoesNotMatch.WithMessage("The trailer signature of the aws-chunked body does not match.")
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
