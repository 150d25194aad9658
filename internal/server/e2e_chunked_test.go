package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

// chunkSigner computes the chunk signatures of an aws-chunked body
// signed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: each chunk's
// signature chains on the previous one, starting at the seed signature
// of the request headers.
type chunkSigner struct {
	key     []byte
	amzDate string
	scope   string
	prev    string
}

func newChunkSigner(secret string, t time.Time, seed string) *chunkSigner {
	date := t.UTC().Format("20060102")
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	key := mac(mac(mac(mac([]byte("AWS4"+secret), date), "us-east-1"), "s3"), "aws4_request")
	return &chunkSigner{key: key, amzDate: t.UTC().Format("20060102T150405Z"), scope: date + "/us-east-1/s3/aws4_request", prev: seed}
}

func (c *chunkSigner) next(kind, hashes string) string {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(kind + "\n" + c.amzDate + "\n" + c.scope + "\n" + c.prev + "\n" + hashes))
	c.prev = hex.EncodeToString(h.Sum(nil))
	return c.prev
}

func (c *chunkSigner) chunk(data []byte) string {
	return c.next("AWS4-HMAC-SHA256-PAYLOAD", emptySHA256+"\n"+sha256Hex(data))
}

func (c *chunkSigner) trailer(trailer string) string {
	return c.next("AWS4-HMAC-SHA256-TRAILER", sha256Hex([]byte(trailer)))
}

func crc32Base64(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// chunkedBody encodes content in aws-chunked form with chunks of
// chunkSize. sign returns the signature of a chunk ("" = unsigned
// chunks); trailer, when not "", is the trailing header line; trailerSig
// signs it ("" = no trailer signature).
func chunkedBody(content []byte, chunkSize int, sign func([]byte) string, trailer string, trailerSig func(string) string) []byte {
	var b bytes.Buffer
	ext := func(data []byte) string {
		if sign == nil {
			return ""
		}
		return ";chunk-signature=" + sign(data)
	}
	for off := 0; off < len(content); off += chunkSize {
		data := content[off:min(off+chunkSize, len(content))]
		b.WriteString(strconv.FormatInt(int64(len(data)), 16) + ext(data) + "\r\n")
		b.Write(data)
		b.WriteString("\r\n")
	}
	b.WriteString("0" + ext(nil) + "\r\n")
	if trailer != "" {
		b.WriteString(trailer + "\r\n")
		if trailerSig != nil {
			b.WriteString("x-amz-trailer-signature:" + trailerSig(trailer+"\n") + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// streamingRequest builds a PUT of content in one of the aws-chunked
// forms. mode is the x-amz-content-sha256 value. tamper, when not nil,
// may change the encoded body after it was signed.
func streamingRequest(t *testing.T, s *servertest.Server, key, mode string, content []byte, tamper func([]byte)) *http.Request {
	t.Helper()
	const chunkSize = 64 << 10
	signed := strings.HasPrefix(mode, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	trailer := ""
	if strings.HasSuffix(mode, "-TRAILER") {
		trailer = "x-amz-checksum-crc32:" + crc32Base64(content)
	}
	// Signatures have a fixed length, so a body with dummy signatures has
	// the final length, which the seed signature covers.
	dummy := func([]byte) string { return strings.Repeat("0", 64) }
	dummyTrailer := func(string) string { return strings.Repeat("0", 64) }
	var sign func([]byte) string
	var signTrailer func(string) string
	if signed {
		sign = dummy
		if trailer != "" {
			signTrailer = dummyTrailer
		}
	}
	length := len(chunkedBody(content, chunkSize, sign, trailer, signTrailer))

	now := time.Now()
	r, err := http.NewRequest(http.MethodPut, s.URL+"/chunked/"+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.ContentLength = int64(length)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(content)))
	r.Header.Set("Content-Type", "application/x-chunked-test")
	if trailer != "" {
		r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	}
	signRequest(t, r, s.AccessKey, s.SecretKey, mode, now)
	var body []byte
	if signed {
		seed, err := v4.GetSignedRequestSignature(r)
		if err != nil {
			t.Fatal(err)
		}
		cs := newChunkSigner(s.SecretKey, now, hex.EncodeToString(seed))
		var ts func(string) string
		if trailer != "" {
			ts = cs.trailer
		}
		body = chunkedBody(content, chunkSize, cs.chunk, trailer, ts)
	} else {
		body = chunkedBody(content, chunkSize, nil, trailer, nil)
	}
	if len(body) != length {
		t.Fatalf("encoded body is %d bytes, declared %d", len(body), length)
	}
	if tamper != nil {
		tamper(body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r
}

// otherHexDigit returns a lower-case hex digit other than c.
func otherHexDigit(c byte) byte {
	if c == '0' {
		return '1'
	}
	return '0'
}

func TestChunkedUploads(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "chunked")
	hc := &http.Client{}

	modes := []string{
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
		"STREAMING-UNSIGNED-PAYLOAD-TRAILER",
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
	}
	for i, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			for _, size := range []int{0, 1, 64 << 10, 200_000} {
				key := mode + "/" + strconv.Itoa(size)
				content := randomBytes(uint64(1000+i*10+size), size)
				status, h, rb := do(t, hc, streamingRequest(t, s, key, mode, content, nil))
				if status != http.StatusOK {
					t.Fatalf("%d bytes: %d %s", size, status, rb)
				}
				if h.Get("ETag") != quoted(md5Hex(content)) {
					t.Errorf("%d bytes: ETag %q, want %q", size, h.Get("ETag"), quoted(md5Hex(content)))
				}
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("chunked"), Key: aws.String(key)})
				if err != nil {
					t.Fatalf("GetObject: %v", err)
				}
				got, _ := io.ReadAll(out.Body)
				out.Body.Close()
				if !bytes.Equal(got, content) {
					t.Fatalf("%d bytes: stored %d bytes that differ from the decoded content", size, len(got))
				}
				if aws.ToString(out.ETag) != quoted(md5Hex(content)) {
					t.Errorf("%d bytes: stored ETag %s", size, aws.ToString(out.ETag))
				}
				// aws-chunked is a transfer detail, not the object's encoding.
				if ce := aws.ToString(out.ContentEncoding); ce != "" {
					t.Errorf("%d bytes: stored Content-Encoding %q, want none", size, ce)
				}
				if ct := aws.ToString(out.ContentType); ct != "application/x-chunked-test" {
					t.Errorf("%d bytes: stored Content-Type %q", size, ct)
				}
			}
		})
	}

	tampered := []struct {
		name, mode string
		tamper     func(b []byte)
		wantStatus int
		wantCode   string
	}{
		{"SignedChunkData", modes[0], func(b []byte) { b[70<<10] ^= 1 }, http.StatusForbidden, "SignatureDoesNotMatch"},
		// Another hex digit: a well-formed signature that does not match.
		{"SignedChunkSignature", modes[0], func(b []byte) {
			i := bytes.LastIndex(b, []byte("chunk-signature=")) + len("chunk-signature=")
			b[i] = otherHexDigit(b[i])
		}, http.StatusForbidden, "SignatureDoesNotMatch"},
		// Not a hex digit: a malformed signature does not match either.
		{"SignedChunkSignatureNotHex", modes[0], func(b []byte) {
			i := bytes.LastIndex(b, []byte("chunk-signature=")) + len("chunk-signature=")
			b[i] = 'g'
		}, http.StatusForbidden, "SignatureDoesNotMatch"},
		{"SignedTrailerSignatureNotHex", modes[2], func(b []byte) {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + len("x-amz-trailer-signature:")
			b[i] = 'g'
		}, http.StatusForbidden, "SignatureDoesNotMatch"},
		{"SignedTrailerChecksum", modes[2], func(b []byte) {
			i := bytes.Index(b, []byte("x-amz-checksum-crc32:")) + len("x-amz-checksum-crc32:")
			b[i] ^= 1
		}, 0, ""},
		{"ChunkLongerThanDeclared", modes[1], func(b []byte) { copy(b, "10001") }, http.StatusBadRequest, ""},
	}
	for _, tc := range tampered {
		t.Run("Tampered/"+tc.name, func(t *testing.T) {
			key := "tampered/" + tc.name
			content := randomBytes(7, 200_000)
			status, _, rb := do(t, hc, streamingRequest(t, s, key, tc.mode, content, tc.tamper))
			switch {
			case tc.wantStatus == 0 && (status < 400 || status >= 500):
				t.Fatalf("%s: %d %s, want a 4xx rejection", tc.name, status, rb)
			case tc.wantStatus != 0 && status != tc.wantStatus:
				t.Fatalf("%s: %d %s, want %d %s", tc.name, status, rb, tc.wantStatus, tc.wantCode)
			case tc.wantCode != "" && s3ErrorCode(rb) != tc.wantCode:
				t.Fatalf("%s: code %q, want %s", tc.name, s3ErrorCode(rb), tc.wantCode)
			}
			_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("chunked"), Key: aws.String(key)})
			wantError(t, err, http.StatusNotFound, "")
		})
	}
}
