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
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

// shiftedClock is a server clock at a settable offset from the wall clock.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *shiftedClock) set(d time.Duration) { c.offset.Store(int64(d)) }

func TestAuthentication(t *testing.T) {
	t.Parallel()
	clock := &shiftedClock{}
	s := servertest.Start(t, servertest.Options{Now: clock.now})
	admin := s.Client()
	ctx := context.Background()
	createBucket(t, admin, "public")
	createBucket(t, admin, "private")
	putObject(t, admin, "public", "doc.txt", []byte("public document"))
	putObject(t, admin, "private", "secret.txt", []byte("private document"))
	hc := &http.Client{}

	t.Run("PresignedGetAndPut", func(t *testing.T) {
		pc := s3.NewPresignClient(admin)
		body := []byte("uploaded through a presigned URL")
		put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("public"), Key: aws.String("presigned/put.txt")},
			s3.WithPresignExpires(5*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(put.URL, "X-Amz-Signature=") || !strings.Contains(put.URL, "X-Amz-Expires=300") {
			t.Fatalf("not a presigned URL: %s", put.URL)
		}
		r, err := http.NewRequest(put.Method, put.URL, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range put.SignedHeader {
			if !strings.EqualFold(k, "host") {
				r.Header[k] = v
			}
		}
		status, h, rb := do(t, hc, r)
		if status != http.StatusOK {
			t.Fatalf("presigned PUT: %d %s", status, rb)
		}
		if h.Get("ETag") != quoted(md5Hex(body)) {
			t.Fatalf("presigned PUT ETag %q, want %q", h.Get("ETag"), quoted(md5Hex(body)))
		}
		get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("public"), Key: aws.String("presigned/put.txt")})
		if err != nil {
			t.Fatal(err)
		}
		r, _ = http.NewRequest(get.Method, get.URL, nil)
		status, _, rb = do(t, hc, r)
		if status != http.StatusOK || !bytes.Equal(rb, body) {
			t.Fatalf("presigned GET: %d %q, want 200 %q", status, rb, body)
		}
		// The signature covers the key: another key in the same URL fails.
		r, _ = http.NewRequest(get.Method, strings.Replace(get.URL, "presigned/put.txt", "doc.txt", 1), nil)
		status, _, rb = do(t, hc, r)
		if status != http.StatusForbidden || s3ErrorCode(rb) != "SignatureDoesNotMatch" {
			t.Fatalf("presigned GET with another key: %d %s, want 403 SignatureDoesNotMatch", status, rb)
		}
		// And the method: the GET URL does not allow a PUT.
		r, _ = http.NewRequest(http.MethodPut, get.URL, strings.NewReader("overwrite"))
		status, _, rb = do(t, hc, r)
		if status != http.StatusForbidden || s3ErrorCode(rb) != "SignatureDoesNotMatch" {
			t.Fatalf("presigned GET URL used for PUT: %d %s, want 403 SignatureDoesNotMatch", status, rb)
		}
	})
	t.Run("ExpiredPresign", func(t *testing.T) {
		pc := s3.NewPresignClient(admin)
		get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("public"), Key: aws.String("doc.txt")},
			s3.WithPresignExpires(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		clock.set(time.Minute) // well inside the skew limit, well past the expiry
		defer clock.set(0)
		r, _ := http.NewRequest(get.Method, get.URL, nil)
		status, _, rb := do(t, hc, r)
		if status != http.StatusForbidden || s3ErrorCode(rb) != "AccessDenied" {
			t.Fatalf("expired presigned GET: %d %s, want 403 AccessDenied", status, rb)
		}
		clock.set(0)
		r, _ = http.NewRequest(get.Method, get.URL, nil)
		if status, _, rb := do(t, hc, r); status != http.StatusOK {
			t.Fatalf("the same URL before expiry: %d %s", status, rb)
		}
	})
	t.Run("WrongSecret", func(t *testing.T) {
		c := s.ClientFor(servertest.AdminAccessKey, "wrong"+servertest.AdminSecretKey[5:])
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("public"), Key: aws.String("doc.txt")})
		wantError(t, err, http.StatusForbidden, "SignatureDoesNotMatch")
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("public"), Key: aws.String("forged"), Body: strings.NewReader("x")})
		wantError(t, err, http.StatusForbidden, "SignatureDoesNotMatch")
		_, err = admin.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("public"), Key: aws.String("forged")})
		wantError(t, err, http.StatusNotFound, "")
	})
	t.Run("UnknownAccessKey", func(t *testing.T) {
		c := s.ClientFor("AKIAUNKNOWN000000000", servertest.AdminSecretKey)
		_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		wantError(t, err, http.StatusForbidden, "InvalidAccessKeyId")
	})
	t.Run("ClockSkew", func(t *testing.T) {
		for _, d := range []time.Duration{20 * time.Minute, -20 * time.Minute} {
			clock.set(d)
			_, err := admin.ListBuckets(ctx, &s3.ListBucketsInput{})
			clock.set(0)
			wantError(t, err, http.StatusForbidden, "RequestTimeTooSkewed")
		}
		clock.set(14 * time.Minute)
		_, err := admin.ListBuckets(ctx, &s3.ListBucketsInput{})
		clock.set(0)
		if err != nil {
			t.Fatalf("14 minutes of skew are allowed: %v", err)
		}
		// The same from the client side: a request signed 20 minutes ago.
		r, _ := http.NewRequest(http.MethodGet, s.URL+"/", nil)
		signRequest(t, r, s.AccessKey, s.SecretKey, emptySHA256, time.Now().Add(-20*time.Minute))
		if status, _, rb := do(t, hc, r); status != http.StatusForbidden || s3ErrorCode(rb) != "RequestTimeTooSkewed" {
			t.Fatalf("request signed 20 min ago: %d %s, want 403 RequestTimeTooSkewed", status, rb)
		}
	})
	t.Run("BadDate", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, s.URL+"/", nil)
		signRequest(t, r, s.AccessKey, s.SecretKey, emptySHA256, time.Time{})
		r.Header.Set("X-Amz-Date", "yesterday")
		status, _, rb := do(t, hc, r)
		if status != http.StatusForbidden && status != http.StatusBadRequest {
			t.Fatalf("malformed X-Amz-Date: %d %s, want 403 or 400", status, rb)
		}
		if s3ErrorCode(rb) == "" {
			t.Fatalf("malformed X-Amz-Date: no S3 error code in %s", rb)
		}
	})
	t.Run("PayloadHashMismatch", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPut, s.URL+"/public/tampered", strings.NewReader("the real body"))
		signRequest(t, r, s.AccessKey, s.SecretKey, sha256Hex([]byte("the signed body")), time.Time{})
		status, _, rb := do(t, hc, r)
		if status != http.StatusBadRequest || s3ErrorCode(rb) != "XAmzContentSHA256Mismatch" {
			t.Fatalf("body not matching x-amz-content-sha256: %d %s, want 400 XAmzContentSHA256Mismatch", status, rb)
		}
		_, err := admin.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("public"), Key: aws.String("tampered")})
		wantError(t, err, http.StatusNotFound, "")
	})
	t.Run("Reader", func(t *testing.T) {
		rc := s.ClientFor(servertest.ReaderAccessKey, servertest.ReaderSecretKey)
		if got := getObject(t, rc, "public", "doc.txt"); string(got) != "public document" {
			t.Fatalf("reader GET public = %q", got)
		}
		if _, err := rc.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("public"), Key: aws.String("doc.txt")}); err != nil {
			t.Fatalf("reader HEAD public: %v", err)
		}
		if keys := listKeys(t, rc, "public", "doc"); len(keys) != 1 {
			t.Fatalf("reader lists %v", keys)
		}
		_, err := rc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("public"), Key: aws.String("by-reader"), Body: strings.NewReader("x")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = rc.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("public"), Key: aws.String("doc.txt")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = rc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("private"), Key: aws.String("secret.txt")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = rc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("private")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = rc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("readers-bucket")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = rc.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("public"), Key: aws.String("doc.txt")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		// Denied requests change nothing.
		if got := getObject(t, admin, "public", "doc.txt"); string(got) != "public document" {
			t.Fatalf("public/doc.txt = %q after denied requests", got)
		}
	})
	t.Run("Anonymous", func(t *testing.T) {
		for _, tc := range []struct{ method, path string }{
			{http.MethodGet, "/"},
			{http.MethodGet, "/public/doc.txt"},
			{http.MethodGet, "/public"},
			{http.MethodPut, "/public/anon"},
			{http.MethodDelete, "/public/doc.txt"},
		} {
			r, _ := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(""))
			status, _, rb := do(t, hc, r)
			if status != http.StatusForbidden || s3ErrorCode(rb) != "AccessDenied" {
				t.Errorf("anonymous %s %s: %d %s, want 403 AccessDenied", tc.method, tc.path, status, rb)
			}
		}
		if got := getObject(t, admin, "public", "doc.txt"); string(got) != "public document" {
			t.Fatalf("public/doc.txt = %q after anonymous requests", got)
		}
	})
}

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
		{"SignedChunkSignature", modes[0], func(b []byte) {
			i := bytes.LastIndex(b, []byte("chunk-signature=")) + len("chunk-signature=")
			b[i] ^= 1
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
