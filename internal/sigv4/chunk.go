package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
)

// Chain computes the signatures of an aws-chunked body
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]): each chunk's signature,
// and then the trailing headers', signs the one before it, starting from
// the seed, the signature of the request headers. A signer and a verifier
// walk the same chain: the verifier compares each signature the client
// sent with the next one of the chain and stops at the first mismatch.
//
// The zero Chain is not useful; a Chain is a value that one goroutine
// advances.
type Chain struct {
	key     Key
	amzDate string
	scope   string
	prev    Signature // the signature of the previous link
}

// NewChain returns the chain of a request signed with key at amzDate
// (TimeFormat) for scope, whose own signature is seed.
func NewChain(key Key, amzDate, scope string, seed Signature) Chain {
	return Chain{key: key, amzDate: amzDate, scope: scope, prev: seed}
}

// Chunk returns the signature of the next chunk, whose data has SHA-256
// sum, and advances the chain to it.
func (c *Chain) Chunk(sum [sha256.Size]byte) Signature {
	var buf [512]byte
	sts := c.appendStringToSign(buf[:0], algorithmChunk)
	sts = append(sts, EmptySHA256...) // the hash of the chunk's (absent) headers
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, sum[:])
	c.prev = c.key.sign(sts)
	return c.prev
}

// Trailer returns the signature of the trailing headers, whose canonical
// form ("name:value\n" for each, in the order sent) has SHA-256 sum, and
// advances the chain to it.
func (c *Chain) Trailer(sum [sha256.Size]byte) Signature {
	var buf [512]byte
	sts := c.appendStringToSign(buf[:0], algorithmTrailer)
	sts = hex.AppendEncode(sts, sum[:])
	c.prev = c.key.sign(sts)
	return c.prev
}

func (c *Chain) appendStringToSign(dst []byte, algorithm string) []byte {
	dst = appendStringToSign(dst, algorithm, c.amzDate, c.scope)
	dst = c.prev.AppendHex(dst)
	return append(dst, '\n')
}
