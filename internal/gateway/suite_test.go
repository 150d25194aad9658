//lint:file-ignore SA1019 feature/s3/manager is deprecated but is the stock upload manager many programs still run.

package gateway_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/s3limit/s3limit/internal/gateway"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// TestGatewayClientSuite runs the aws-sdk-go-v2 client suite through an
// s3limit gateway against each upstream: a real, independently written S3
// server (versitygw) and an s3limit on its embedded store.
func TestGatewayClientSuite(t *testing.T) {
	for _, u := range upstreams {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			up := u.start(t)
			counter := &countingTransport{next: gateway.NewTransport(0)}
			fs := gatewayFront(t, up, func(g *gateway.Config, _ *servertest.Options) { g.Transport = counter })
			c := fs.Client()

			t.Run("Buckets", func(t *testing.T) { testBuckets(t, c) })
			t.Run("Objects", func(t *testing.T) { testObjects(t, c) })
			t.Run("Ranges", func(t *testing.T) { testRanges(t, c) })
			t.Run("Multipart", func(t *testing.T) { testMultipart(t, c) })
			t.Run("Presigned", func(t *testing.T) { testPresigned(t, c) })
			t.Run("ChunkedSigned", func(t *testing.T) { testChunkedSigned(t, fs, c) })
			t.Run("TrailingChecksum", func(t *testing.T) { testTrailingChecksum(t, fs, c) })
			t.Run("MinioGo", func(t *testing.T) {
				servertest.RunMinioGoUploads(t, fs.URL, fs.AccessKey, fs.SecretKey, "gw-miniogo")
			})
			t.Run("Tagging", func(t *testing.T) { testTagging(t, c) })
			t.Run("WrongClientSecret", func(t *testing.T) { testWrongClientSecret(t, fs, counter) })
			t.Run("WrongUpstreamCredentials", func(t *testing.T) { testWrongUpstreamCredentials(t, up) })
			if u.name == "versitygw" {
				t.Run("OperationsTheEmbeddedStoreLacks", func(t *testing.T) { testForeignOperations(t, c) })
			}
		})
	}
}

var ctx = context.Background()

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func md5Quoted(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// apiError returns the S3 error code, message and HTTP status of err.
func apiError(err error) (code, message string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, message = ae.ErrorCode(), ae.ErrorMessage()
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, message, status
}

func mustCreateBucket(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", bucket, err)
	}
}

func mustPut(t *testing.T, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
}

func testBuckets(t *testing.T, c *s3.Client) {
	const bucket = "gw-buckets"
	mustCreateBucket(t, c, bucket)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err == nil {
		t.Error("creating an existing bucket succeeded")
	} else if code, _, status := apiError(err); status != http.StatusConflict {
		t.Errorf("creating an existing bucket: %d %s, want 409", status, code)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
	list, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	if !slices.ContainsFunc(list.Buckets, func(b types.Bucket) bool { return aws.ToString(b.Name) == bucket }) {
		t.Errorf("ListBuckets does not list %s", bucket)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if _, _, status := apiError(err); status != http.StatusNotFound {
		t.Errorf("HeadBucket of a deleted bucket: %v, want 404", err)
	}
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if code, _, status := apiError(err); status != http.StatusNotFound || code != "NoSuchBucket" {
		t.Errorf("listing a deleted bucket: %d %s, want 404 NoSuchBucket", status, code)
	}
}

func testObjects(t *testing.T, c *s3.Client) {
	const bucket = "gw-objects"
	mustCreateBucket(t, c, bucket)
	keys := []string{"plain.txt", "dir/sp ace+plus=eq&amp;ü.txt", "dir/sub/deep.bin"}
	for i, key := range keys {
		body := randomBytes(uint64(i), 1000+i)
		out, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
			ContentType: aws.String("application/x-test"), Metadata: map[string]string{"color": "red"},
		})
		if err != nil {
			t.Fatalf("PutObject %q: %v", key, err)
		}
		if aws.ToString(out.ETag) != md5Quoted(body) {
			t.Errorf("PutObject %q ETag %s, want %s", key, aws.ToString(out.ETag), md5Quoted(body))
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("GetObject %q: %v", key, err)
		}
		got, _ := io.ReadAll(get.Body)
		get.Body.Close()
		if !bytes.Equal(got, body) || aws.ToString(get.ContentType) != "application/x-test" || get.Metadata["color"] != "red" {
			t.Errorf("GetObject %q: %d bytes (equal %v), type %q, metadata %v", key, len(got), bytes.Equal(got, body),
				aws.ToString(get.ContentType), get.Metadata)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil || aws.ToInt64(head.ContentLength) != int64(len(body)) {
			t.Errorf("HeadObject %q: %v, length %d", key, err, aws.ToInt64(head.ContentLength))
		}
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("dir/"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	if len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != keys[1] ||
		len(list.CommonPrefixes) != 1 || aws.ToString(list.CommonPrefixes[0].Prefix) != "dir/sub/" {
		t.Errorf("ListObjectsV2 prefix dir/: %d objects, %d prefixes", len(list.Contents), len(list.CommonPrefixes))
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("copy.txt"), CopySource: aws.String(bucket + "/plain.txt"),
	}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if got := servertest.GetObject(t, c, bucket, "copy.txt"); !bytes.Equal(got, randomBytes(0, 1000)) {
		t.Error("the copy differs from its source")
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy.txt")}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy.txt")})
	if code, _, status := apiError(err); status != http.StatusNotFound || code != "NoSuchKey" {
		t.Errorf("GetObject of a deleted key: %d %q, want 404 NoSuchKey", status, code)
	}
	var ids []types.ObjectIdentifier
	for _, k := range keys {
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
	}
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids}})
	if err != nil || len(del.Deleted) != len(keys) || len(del.Errors) != 0 {
		t.Fatalf("DeleteObjects: %v (%d deleted, %d errors)", err, len(del.Deleted), len(del.Errors))
	}
	all, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil || len(all.Contents) != 0 {
		t.Errorf("after DeleteObjects: %v, %d objects left", err, len(all.Contents))
	}
}

func testRanges(t *testing.T, c *s3.Client) {
	const bucket = "gw-ranges"
	mustCreateBucket(t, c, bucket)
	body := randomBytes(7, 1000)
	mustPut(t, c, bucket, "r", body)
	tests := []struct {
		rng        string
		want       []byte
		wantCRange string
	}{
		{"bytes=10-19", body[10:20], "bytes 10-19/1000"},
		{"bytes=990-", body[990:], "bytes 990-999/1000"},
		{"bytes=-5", body[995:], "bytes 995-999/1000"},
		{"bytes=0-0", body[:1], "bytes 0-0/1000"},
	}
	for _, tc := range tests {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("r"), Range: aws.String(tc.rng)})
		if err != nil {
			t.Fatalf("GetObject %s: %v", tc.rng, err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, tc.want) || aws.ToString(out.ContentRange) != tc.wantCRange {
			t.Errorf("%s: %d bytes, Content-Range %q, want %d bytes, %q", tc.rng, len(got), aws.ToString(out.ContentRange), len(tc.want), tc.wantCRange)
		}
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("r"), Range: aws.String("bytes=2000-3000")})
	if code, _, status := apiError(err); status != http.StatusRequestedRangeNotSatisfiable || code != "InvalidRange" {
		t.Errorf("unsatisfiable range: %d %q, want 416 InvalidRange", status, code)
	}
}

func testMultipart(t *testing.T, c *s3.Client) {
	const bucket = "gw-multipart"
	mustCreateBucket(t, c, bucket)
	body := randomBytes(11, 11<<20+123)
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 << 20; u.Concurrency = 3 })
	res, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("big/object"), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("multipart upload: %v", err)
	}
	if !strings.HasSuffix(aws.ToString(res.ETag), `-3"`) {
		t.Errorf("multipart ETag %s, want a 3-part ETag", aws.ToString(res.ETag))
	}
	if got := servertest.GetObject(t, c, bucket, "big/object"); !bytes.Equal(got, body) {
		t.Fatalf("multipart object: %d bytes read back, differ from the %d uploaded", len(got), len(body))
	}
	// An upload that is abandoned: list its parts, then abort it.
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("abandoned")})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	part := randomBytes(12, 1<<20)
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("abandoned"),
		UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(part)}); err != nil {
		t.Fatalf("UploadPart: %v", err)
	}
	uploads, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(uploads.Uploads) != 1 || aws.ToString(uploads.Uploads[0].UploadId) != aws.ToString(cr.UploadId) {
		t.Fatalf("ListMultipartUploads: %v, %d uploads", err, len(uploads.Uploads))
	}
	parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("abandoned"), UploadId: cr.UploadId})
	if err != nil || len(parts.Parts) != 1 || aws.ToInt64(parts.Parts[0].Size) != int64(len(part)) {
		t.Fatalf("ListParts: %v, %d parts", err, len(parts.Parts))
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("abandoned"), UploadId: cr.UploadId}); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("abandoned"), UploadId: cr.UploadId})
	if code, _, _ := apiError(err); code != "NoSuchUpload" {
		t.Errorf("ListParts after abort: %v, want NoSuchUpload", err)
	}
}

func testPresigned(t *testing.T, c *s3.Client) {
	const bucket = "gw-presigned"
	mustCreateBucket(t, c, bucket)
	pc := s3.NewPresignClient(c, s3.WithPresignExpires(10*time.Minute))
	body := []byte("uploaded with a presigned URL")
	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("p/obj.txt")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, bytes.NewReader(body))
	for k, vs := range put.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			req.Header[k] = vs
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT: %d %s", resp.StatusCode, rb)
	}
	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("p/obj.txt")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(rb, body) {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, rb)
	}
	// A presigned URL with a forged signature is refused by s3limit.
	forged := strings.Replace(get.URL, "X-Amz-Signature=", "X-Amz-Signature=0", 1)
	resp, err = http.Get(forged[:len(forged)-1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged presigned GET: %d, want 403", resp.StatusCode)
	}
}

// chunkedPut builds a PUT whose body is aws-chunked with signed chunks
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), as SDKs send uploads they cannot
// hash in advance.
func chunkedPut(t *testing.T, endpoint, path, accessKey, secretKey string, content []byte, chunkSize int) *http.Request {
	t.Helper()
	const streaming = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	const sigLen = 64
	var sizes []int
	for off := 0; off < len(content); off += chunkSize {
		sizes = append(sizes, min(chunkSize, len(content)-off))
	}
	sizes = append(sizes, 0) // the final chunk
	encodedLen := 0
	for _, n := range sizes {
		encodedLen += len(strconv.FormatInt(int64(n), 16)) + len(";chunk-signature=") + sigLen + 2 + n + 2
	}
	now := time.Now().UTC()
	req, err := http.NewRequest(http.MethodPut, endpoint+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(encodedLen)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(content)))
	req.Header.Set("X-Amz-Content-Sha256", streaming)
	req.Header.Set("Content-Type", "text/x-chunked")
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(ctx, creds, req, streaming, "s3", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	seed, err := v4.GetSignedRequestSignature(req)
	if err != nil {
		t.Fatal(err)
	}
	hmacOf := func(key []byte, data string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(data))
		return m.Sum(nil)
	}
	day := now.Format("20060102")
	key := hmacOf(hmacOf(hmacOf(hmacOf([]byte("AWS4"+secretKey), day), "us-east-1"), "s3"), "aws4_request")
	scope := day + "/us-east-1/s3/aws4_request"
	emptyHash := sha256.Sum256(nil)
	prev := hex.EncodeToString(seed)
	var body bytes.Buffer
	off := 0
	for _, n := range sizes {
		chunk := content[off : off+n]
		off += n
		chunkHash := sha256.Sum256(chunk)
		prev = hex.EncodeToString(hmacOf(key, "AWS4-HMAC-SHA256-PAYLOAD\n"+now.Format("20060102T150405Z")+"\n"+scope+"\n"+
			prev+"\n"+hex.EncodeToString(emptyHash[:])+"\n"+hex.EncodeToString(chunkHash[:])))
		fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n", n, prev)
		body.Write(chunk)
		body.WriteString("\r\n")
	}
	if body.Len() != encodedLen {
		t.Fatalf("encoded %d bytes, declared %d", body.Len(), encodedLen)
	}
	req.Body = io.NopCloser(&body)
	return req
}

func testChunkedSigned(t *testing.T, fs *servertest.Server, c *s3.Client) {
	const bucket = "gw-chunked"
	mustCreateBucket(t, c, bucket)
	for _, size := range []int{0, 1, 64 << 10, 300_000} {
		content := randomBytes(uint64(size), size)
		key := "chunked-" + strconv.Itoa(size)
		resp, err := http.DefaultClient.Do(chunkedPut(t, fs.URL, "/"+bucket+"/"+key, fs.AccessKey, fs.SecretKey, content, 64<<10))
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != md5Quoted(content) {
			t.Fatalf("%d bytes: %d ETag %s %s", size, resp.StatusCode, resp.Header.Get("ETag"), rb)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, content) || aws.ToString(out.ContentEncoding) != "" || aws.ToString(out.ContentType) != "text/x-chunked" {
			t.Errorf("%d bytes: stored %d bytes (equal %v), encoding %q, type %q", size, len(got), bytes.Equal(got, content),
				aws.ToString(out.ContentEncoding), aws.ToString(out.ContentType))
		}
	}
	// A chunk that does not match its signature is refused and not stored.
	content := randomBytes(99, 200_000)
	req := chunkedPut(t, fs.URL, "/"+bucket+"/tampered", fs.AccessKey, fs.SecretKey, content, 64<<10)
	encoded, _ := io.ReadAll(req.Body)
	encoded[100<<10] ^= 1
	req.Body = io.NopCloser(bytes.NewReader(encoded))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(rb, []byte("SignatureDoesNotMatch")) {
		t.Errorf("tampered chunk: %d %s, want 403 SignatureDoesNotMatch", resp.StatusCode, rb)
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("tampered")})
	if _, _, status := apiError(err); status != http.StatusNotFound {
		t.Errorf("tampered upload was stored upstream: %v (%d bytes)", err, aws.ToInt64(h.ContentLength))
	}
}

// trailerPut builds a PUT whose aws-chunked body ends with a CRC32
// trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER); checksum is its value.
func trailerPut(t *testing.T, endpoint, path, accessKey, secretKey string, content []byte, checksum string) *http.Request {
	t.Helper()
	const mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	var body bytes.Buffer
	for off := 0; off < len(content); off += 64 << 10 {
		chunk := content[off:min(off+64<<10, len(content))]
		fmt.Fprintf(&body, "%x\r\n", len(chunk))
		body.Write(chunk)
		body.WriteString("\r\n")
	}
	body.WriteString("0\r\nx-amz-checksum-crc32:" + checksum + "\r\n\r\n")
	req, err := http.NewRequest(http.MethodPut, endpoint+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(content)))
	req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	req.Header.Set("X-Amz-Content-Sha256", mode)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	if err := signer.SignHTTP(ctx, creds, req, mode, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func crc32Base64(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func testTrailingChecksum(t *testing.T, fs *servertest.Server, c *s3.Client) {
	const bucket = "gw-trailer"
	mustCreateBucket(t, c, bucket)
	content := randomBytes(5, 200_000)
	tests := []struct {
		key, checksum string
		wantStatus    int
	}{
		{"good", crc32Base64(content), http.StatusOK},
		// The checksum is only known after the last data byte: the
		// upstream must not end up with the object all the same.
		{"bad", crc32Base64(content[1:]), http.StatusBadRequest},
	}
	for _, tc := range tests {
		resp, err := http.DefaultClient.Do(trailerPut(t, fs.URL, "/"+bucket+"/"+tc.key, fs.AccessKey, fs.SecretKey, content, tc.checksum))
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus {
			t.Fatalf("%s trailer: %d %s, want %d", tc.key, resp.StatusCode, rb, tc.wantStatus)
		}
	}
	if got := servertest.GetObject(t, c, bucket, "good"); !bytes.Equal(got, content) {
		t.Errorf("object with a good trailer: %d bytes stored, differ", len(got))
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("bad")})
	if _, _, status := apiError(err); status != http.StatusNotFound {
		t.Errorf("object with a bad trailer was stored upstream: %v (%d bytes)", err, aws.ToInt64(h.ContentLength))
	}
}

func testTagging(t *testing.T, c *s3.Client) {
	const bucket = "gw-tagging"
	mustCreateBucket(t, c, bucket)
	key := aws.String("tagged")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: key,
		Body: strings.NewReader("x"), Tagging: aws.String("a=1&b=two%20words")}); err != nil {
		t.Fatalf("PutObject with tags: %v", err)
	}
	tags := func() map[string]string {
		t.Helper()
		out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: key})
		if err != nil {
			t.Fatalf("GetObjectTagging: %v", err)
		}
		m := map[string]string{}
		for _, tg := range out.TagSet {
			m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		return m
	}
	if got := tags(); len(got) != 2 || got["a"] != "1" || got["b"] != "two words" {
		t.Errorf("tags after PutObject: %v", got)
	}
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: key,
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("c"), Value: aws.String("3")}}}}); err != nil {
		t.Fatalf("PutObjectTagging: %v", err)
	}
	if got := tags(); len(got) != 1 || got["c"] != "3" {
		t.Errorf("tags after PutObjectTagging: %v", got)
	}
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(bucket), Key: key}); err != nil {
		t.Fatalf("DeleteObjectTagging: %v", err)
	}
	if got := tags(); len(got) != 0 {
		t.Errorf("tags after DeleteObjectTagging: %v", got)
	}
}

func testWrongClientSecret(t *testing.T, fs *servertest.Server, counter *countingTransport) {
	mustCreateBucket(t, fs.Client(), "gw-auth")
	before := counter.n.Load()
	bad := fs.ClientFor(fs.AccessKey, "not-the-secret")
	unknown := fs.ClientFor("AKIAUNKNOWN000000000", "whatever")
	checks := []struct {
		name     string
		call     func() error
		wantCode string
	}{
		{"ListBuckets", func() error { _, err := bad.ListBuckets(ctx, &s3.ListBucketsInput{}); return err }, "SignatureDoesNotMatch"},
		{"GetObject", func() error {
			_, err := bad.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("gw-auth"), Key: aws.String("k")})
			return err
		}, "SignatureDoesNotMatch"},
		{"PutObject", func() error {
			_, err := bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("gw-auth"), Key: aws.String("k"), Body: strings.NewReader("x")})
			return err
		}, "SignatureDoesNotMatch"},
		{"UnknownKey", func() error { _, err := unknown.ListBuckets(ctx, &s3.ListBucketsInput{}); return err }, "InvalidAccessKeyId"},
	}
	for _, ch := range checks {
		code, _, status := apiError(ch.call())
		if status != http.StatusForbidden || code != ch.wantCode {
			t.Errorf("%s with bad credentials: %d %q, want 403 %s", ch.name, status, code, ch.wantCode)
		}
	}
	if after := counter.n.Load(); after != before {
		t.Errorf("%d refused requests reached the upstream", after-before)
	}
	// The same request with the right secret does reach it.
	if _, err := fs.Client().ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil || counter.n.Load() != before+1 {
		t.Errorf("ListBuckets with the right secret: %v, %d upstream requests", err, counter.n.Load()-before)
	}
}

func testWrongUpstreamCredentials(t *testing.T, up *upstream) {
	tests := []struct {
		name                 string
		accessKey, secretKey string
		wantMsg              string
	}{
		{"wrong secret key", upstreamAccessKey, "wrong-secret", "upstream secret key"},
		{"unknown access key", "AKIANOSUCHUPSTREAMKEY", upstreamSecretKey, "upstream access key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := gatewayFront(t, up, func(g *gateway.Config, _ *servertest.Options) { g.AccessKey, g.SecretKey = tc.accessKey, tc.secretKey })
			_, err := fs.Client().ListBuckets(ctx, &s3.ListBucketsInput{})
			code, msg, status := apiError(err)
			if status != http.StatusBadGateway || code != "BadGateway" || !strings.Contains(msg, tc.wantMsg) || !strings.Contains(msg, up.URL) {
				t.Errorf("ListBuckets: %d %s %q, want 502 BadGateway naming %s and %q", status, code, msg, up.URL, tc.wantMsg)
			}
		})
	}
}

// testForeignOperations runs operations the embedded store answers with
// NotImplemented: through the gateway they reach an upstream that has them.
func testForeignOperations(t *testing.T, c *s3.Client) {
	const bucket = "gw-foreign"
	mustCreateBucket(t, c, bucket)
	cors := &types.CORSConfiguration{CORSRules: []types.CORSRule{{
		AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://example.com"},
	}}}
	if _, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(bucket), CORSConfiguration: cors}); err != nil {
		t.Fatalf("PutBucketCors: %v", err)
	}
	out, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(bucket)})
	if err != nil || len(out.CORSRules) != 1 || out.CORSRules[0].AllowedOrigins[0] != "https://example.com" {
		t.Fatalf("GetBucketCors: %v %+v", err, out)
	}
	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String(bucket)})
	if err != nil || acl.Owner == nil {
		t.Fatalf("GetBucketAcl: %v", err)
	}
	// The same operation on the embedded store, to show what the gateway adds.
	emb := servertest.Start(t, servertest.Options{})
	ec := emb.Client()
	mustCreateBucket(t, ec, bucket)
	_, err = ec.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(bucket)})
	if code, _, _ := apiError(err); code != "NotImplemented" {
		t.Errorf("embedded store GetBucketCors: %v, expected NotImplemented", err)
	}
}
