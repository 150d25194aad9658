//lint:file-ignore SA1019 feature/s3/manager is deprecated but is the stock upload manager many programs still run.

package server_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

// minPartSize is S3's smallest size for a part other than the last.
const minPartSize = 5 << 20

func createUpload(t testing.TB, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("CreateMultipartUpload %s/%s: %v", bucket, key, err)
	}
	if aws.ToString(out.UploadId) == "" {
		t.Fatalf("CreateMultipartUpload returned no UploadId")
	}
	return aws.ToString(out.UploadId)
}

func uploadPart(t testing.TB, c *s3.Client, bucket, key, id string, n int32, body []byte) types.CompletedPart {
	t.Helper()
	out, err := c.UploadPart(context.Background(), &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
		PartNumber: aws.Int32(n), Body: bytes.NewReader(body),
	})
	if err != nil {
		t.Fatalf("UploadPart %d: %v", n, err)
	}
	if got, want := aws.ToString(out.ETag), quoted(md5Hex(body)); got != want {
		t.Fatalf("UploadPart %d ETag = %s, want %s", n, got, want)
	}
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag}
}

func complete(c *s3.Client, bucket, key, id string, parts ...types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
	return c.CompleteMultipartUpload(context.Background(), &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
}

func TestMultipartUpload(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "mpu")

	p1 := randomBytes(11, minPartSize)
	p2 := randomBytes(12, minPartSize+3)
	p3 := randomBytes(13, 1000)
	id := createUpload(t, c, "mpu", "big/object")
	other := createUpload(t, c, "mpu", "other")

	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	found := map[string]string{}
	for _, u := range ups.Uploads {
		found[aws.ToString(u.Key)] = aws.ToString(u.UploadId)
	}
	if len(found) != 2 || found["big/object"] != id || found["other"] != other {
		t.Fatalf("ListMultipartUploads = %v, want big/object=%s other=%s", found, id, other)
	}

	// Parts may arrive in any order and may be replaced.
	c3 := uploadPart(t, c, "mpu", "big/object", id, 3, p3)
	uploadPart(t, c, "mpu", "big/object", id, 1, randomBytes(99, minPartSize))
	c1 := uploadPart(t, c, "mpu", "big/object", id, 1, p1)
	c2 := uploadPart(t, c, "mpu", "big/object", id, 2, p2)

	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big/object"), UploadId: aws.String(id)})
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(lp.Parts) != 3 {
		t.Fatalf("ListParts lists %d parts, want 3", len(lp.Parts))
	}
	for i, want := range [][]byte{p1, p2, p3} {
		p := lp.Parts[i]
		if aws.ToInt32(p.PartNumber) != int32(i+1) || aws.ToInt64(p.Size) != int64(len(want)) || aws.ToString(p.ETag) != quoted(md5Hex(want)) {
			t.Errorf("ListParts[%d] = number %d size %d ETag %s; want %d, %d, %s", i,
				aws.ToInt32(p.PartNumber), aws.ToInt64(p.Size), aws.ToString(p.ETag), i+1, len(want), quoted(md5Hex(want)))
		}
	}
	lp, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big/object"), UploadId: aws.String(id), MaxParts: aws.Int32(2)})
	if err != nil {
		t.Fatalf("ListParts max-parts 2: %v", err)
	}
	if len(lp.Parts) != 2 || !aws.ToBool(lp.IsTruncated) || aws.ToString(lp.NextPartNumberMarker) != "2" {
		t.Errorf("ListParts max-parts 2: %d parts, truncated %v, next marker %q; want 2, true, \"2\"",
			len(lp.Parts), aws.ToBool(lp.IsTruncated), aws.ToString(lp.NextPartNumberMarker))
	}

	out, err := complete(c, "mpu", "big/object", id, c1, c2, c3)
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	wantETag := multipartETag(p1, p2, p3)
	if aws.ToString(out.ETag) != wantETag {
		t.Fatalf("CompleteMultipartUpload ETag = %s, want %s", aws.ToString(out.ETag), wantETag)
	}
	if aws.ToString(out.Key) != "big/object" || aws.ToString(out.Bucket) != "mpu" {
		t.Errorf("CompleteMultipartUpload names %s/%s", aws.ToString(out.Bucket), aws.ToString(out.Key))
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big/object")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(head.ETag) != wantETag || aws.ToInt64(head.ContentLength) != int64(len(p1)+len(p2)+len(p3)) {
		t.Fatalf("HeadObject: ETag %s length %d; want %s, %d", aws.ToString(head.ETag), aws.ToInt64(head.ContentLength), wantETag, len(p1)+len(p2)+len(p3))
	}
	got := servertest.GetObject(t, c, "mpu", "big/object")
	if !bytes.Equal(got, bytes.Join([][]byte{p1, p2, p3}, nil)) {
		t.Fatalf("multipart object reads back wrong (%d bytes)", len(got))
	}
	// A range across the part boundary.
	rng, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big/object"),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", minPartSize-10, minPartSize+9))})
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(rng.Body)
	rng.Body.Close()
	if !bytes.Equal(rb, append(p1[minPartSize-10:], p2[:10]...)) {
		t.Fatalf("range across parts = %x", rb)
	}

	ups, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 1 || aws.ToString(ups.Uploads[0].UploadId) != other {
		t.Fatalf("after completion ListMultipartUploads = %+v, want only %s", ups.Uploads, other)
	}
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big/object"), UploadId: aws.String(id)})
	wantError(t, err, http.StatusNotFound, "NoSuchUpload")

	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("other"), UploadId: aws.String(other)}); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	ups, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("after abort ListMultipartUploads = %v, %v; want none", ups, err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpu"), Key: aws.String("other")})
	wantError(t, err, http.StatusNotFound, "")
}

func TestMultipartErrors(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "mperr")
	big := randomBytes(21, minPartSize)
	small := []byte("tail")

	t.Run("EntityTooSmall", func(t *testing.T) {
		id := createUpload(t, c, "mperr", "small")
		a := uploadPart(t, c, "mperr", "small", id, 1, []byte("too small to be a first part"))
		b := uploadPart(t, c, "mperr", "small", id, 2, small)
		_, err := complete(c, "mperr", "small", id, a, b)
		wantError(t, err, http.StatusBadRequest, "EntityTooSmall")
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mperr"), Key: aws.String("small")})
		wantError(t, err, http.StatusNotFound, "")
	})
	t.Run("InvalidPart", func(t *testing.T) {
		id := createUpload(t, c, "mperr", "invalid")
		a := uploadPart(t, c, "mperr", "invalid", id, 1, big)
		b := uploadPart(t, c, "mperr", "invalid", id, 2, small)
		_, err := complete(c, "mperr", "invalid", id, a, types.CompletedPart{PartNumber: aws.Int32(3), ETag: b.ETag})
		wantError(t, err, http.StatusBadRequest, "InvalidPart")
		_, err = complete(c, "mperr", "invalid", id, a, types.CompletedPart{PartNumber: aws.Int32(2), ETag: a.ETag})
		wantError(t, err, http.StatusBadRequest, "InvalidPart")
		// A failed completion leaves the upload in place: it can still complete.
		out, err := complete(c, "mperr", "invalid", id, a, b)
		if err != nil {
			t.Fatalf("completing after a failed attempt: %v", err)
		}
		if aws.ToString(out.ETag) != multipartETag(big, small) {
			t.Fatalf("ETag = %s, want %s", aws.ToString(out.ETag), multipartETag(big, small))
		}
	})
	t.Run("InvalidPartOrder", func(t *testing.T) {
		id := createUpload(t, c, "mperr", "order")
		a := uploadPart(t, c, "mperr", "order", id, 1, big)
		b := uploadPart(t, c, "mperr", "order", id, 2, small)
		_, err := complete(c, "mperr", "order", id, b, a)
		wantError(t, err, http.StatusBadRequest, "InvalidPartOrder")
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mperr"), Key: aws.String("order")})
		wantError(t, err, http.StatusNotFound, "")
	})
	t.Run("NoSuchUpload", func(t *testing.T) {
		_, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String("mperr"), Key: aws.String("k"), UploadId: aws.String("no-such-upload"),
			PartNumber: aws.Int32(1), Body: bytes.NewReader(small),
		})
		wantError(t, err, http.StatusNotFound, "NoSuchUpload")
		_, err = complete(c, "mperr", "k", "no-such-upload", types.CompletedPart{PartNumber: aws.Int32(1), ETag: aws.String(quoted(md5Hex(small)))})
		wantError(t, err, http.StatusNotFound, "NoSuchUpload")
		_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mperr"), Key: aws.String("k"), UploadId: aws.String("no-such-upload")})
		wantError(t, err, http.StatusNotFound, "NoSuchUpload")
		_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mperr"), Key: aws.String("k"), UploadId: aws.String("no-such-upload")})
		wantError(t, err, http.StatusNotFound, "NoSuchUpload")

		id := createUpload(t, c, "mperr", "aborted")
		uploadPart(t, c, "mperr", "aborted", id, 1, small)
		if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mperr"), Key: aws.String("aborted"), UploadId: aws.String(id)}); err != nil {
			t.Fatalf("AbortMultipartUpload: %v", err)
		}
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String("mperr"), Key: aws.String("aborted"), UploadId: aws.String(id),
			PartNumber: aws.Int32(2), Body: bytes.NewReader(small),
		})
		wantError(t, err, http.StatusNotFound, "NoSuchUpload")
		// The upload id belongs to its key.
		id = createUpload(t, c, "mperr", "owner")
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String("mperr"), Key: aws.String("not-owner"), UploadId: aws.String(id),
			PartNumber: aws.Int32(1), Body: bytes.NewReader(small),
		})
		wantError(t, err, http.StatusNotFound, "NoSuchUpload")
	})
	t.Run("NoSuchBucket", func(t *testing.T) {
		_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
		wantError(t, err, http.StatusNotFound, "NoSuchBucket")
	})
}

func TestUploadPartCopy(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "pcopy")
	src := randomBytes(31, minPartSize+1234)
	putObject(t, c, "pcopy", "source", src)
	head := randomBytes(32, minPartSize)

	id := createUpload(t, c, "pcopy", "assembled")
	p1 := uploadPart(t, c, "pcopy", "assembled", id, 1, head)
	cp, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String("pcopy"), Key: aws.String("assembled"), UploadId: aws.String(id), PartNumber: aws.Int32(2),
		CopySource: aws.String("pcopy/source"), CopySourceRange: aws.String("bytes=0-" + strconv.Itoa(minPartSize-1)),
	})
	if err != nil {
		t.Fatalf("UploadPartCopy: %v", err)
	}
	if cp.CopyPartResult == nil || aws.ToString(cp.CopyPartResult.ETag) != quoted(md5Hex(src[:minPartSize])) {
		t.Fatalf("UploadPartCopy result %+v, want ETag %s", cp.CopyPartResult, quoted(md5Hex(src[:minPartSize])))
	}
	cp2, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String("pcopy"), Key: aws.String("assembled"), UploadId: aws.String(id), PartNumber: aws.Int32(3),
		CopySource: aws.String("pcopy/source"), CopySourceRange: aws.String("bytes=" + strconv.Itoa(minPartSize) + "-" + strconv.Itoa(len(src)-1)),
	})
	if err != nil {
		t.Fatalf("UploadPartCopy 2: %v", err)
	}
	out, err := complete(c, "pcopy", "assembled", id, p1,
		types.CompletedPart{PartNumber: aws.Int32(2), ETag: cp.CopyPartResult.ETag},
		types.CompletedPart{PartNumber: aws.Int32(3), ETag: cp2.CopyPartResult.ETag})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if want := multipartETag(head, src[:minPartSize], src[minPartSize:]); aws.ToString(out.ETag) != want {
		t.Fatalf("ETag = %s, want %s", aws.ToString(out.ETag), want)
	}
	if got := servertest.GetObject(t, c, "pcopy", "assembled"); !bytes.Equal(got, append(bytes.Clone(head), src...)) {
		t.Fatalf("assembled object differs (%d bytes)", len(got))
	}

	// A whole-object part copy, and a range past the end.
	id2 := createUpload(t, c, "pcopy", "whole")
	cp, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String("pcopy"), Key: aws.String("whole"), UploadId: aws.String(id2), PartNumber: aws.Int32(1),
		CopySource: aws.String("pcopy/source"),
	})
	if err != nil || aws.ToString(cp.CopyPartResult.ETag) != quoted(md5Hex(src)) {
		t.Fatalf("UploadPartCopy of a whole object: %v, %+v", err, cp)
	}
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String("pcopy"), Key: aws.String("whole"), UploadId: aws.String(id2), PartNumber: aws.Int32(2),
		CopySource: aws.String("pcopy/source"), CopySourceRange: aws.String("bytes=0-" + strconv.Itoa(len(src))),
	})
	wantError(t, err, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String("pcopy"), Key: aws.String("whole"), UploadId: aws.String(id2), PartNumber: aws.Int32(2),
		CopySource: aws.String("pcopy/missing"),
	})
	wantError(t, err, http.StatusNotFound, "NoSuchKey")
}

// TestMultipart100MiB uploads 100 MiB through the SDK's transfer manager
// (8 MiB parts, 4 at a time) and reads it back, comparing hashes of
// streams so the content is never held in memory twice.
func TestMultipart100MiB(t *testing.T) {
	t.Parallel()
	const (
		size     = 100 << 20
		partSize = 8 << 20
		seed     = 100
	)
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "large")

	// Expected digests, computed from a first pass over the stream.
	whole := sha256.New()
	partsMD5 := md5.New()
	nparts := 0
	src := io.LimitReader(newPRNGReader(seed), size)
	buf := make([]byte, partSize)
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			whole.Write(buf[:n])
			sum := md5.Sum(buf[:n])
			partsMD5.Write(sum[:])
			nparts++
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	buf = nil
	wantETag := quoted(hex.EncodeToString(partsMD5.Sum(nil)) + "-" + strconv.Itoa(nparts))

	up := manager.NewUploader(c, func(u *manager.Uploader) {
		u.PartSize = partSize
		u.Concurrency = 4
	})
	out, err := up.Upload(ctx, &s3.PutObjectInput{
		Bucket: aws.String("large"), Key: aws.String("hundred"),
		Body: io.LimitReader(newPRNGReader(seed), size),
	})
	if err != nil {
		t.Fatalf("manager upload: %v", err)
	}
	if out.UploadID == "" {
		t.Fatalf("the upload did not use multipart")
	}
	if aws.ToString(out.ETag) != wantETag {
		t.Fatalf("ETag = %s, want %s (%d parts)", aws.ToString(out.ETag), wantETag, nparts)
	}

	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("large"), Key: aws.String("hundred")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	defer get.Body.Close()
	if aws.ToInt64(get.ContentLength) != size || aws.ToString(get.ETag) != wantETag {
		t.Fatalf("GetObject: length %d ETag %s; want %d %s", aws.ToInt64(get.ContentLength), aws.ToString(get.ETag), size, wantETag)
	}
	got := sha256.New()
	n, err := io.Copy(got, get.Body)
	if err != nil || n != size {
		t.Fatalf("reading back: %d bytes, %v", n, err)
	}
	if !bytes.Equal(got.Sum(nil), whole.Sum(nil)) {
		t.Fatalf("100 MiB object reads back with a different SHA-256")
	}
}
