package transfer

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Copy copies s3://srcBucket/srcKey to s3://dstBucket/dstKey on the
// server and returns at once; the Future (which names the destination)
// reports the outcome. The object's bytes do not pass through this
// machine, so they are not charged to the bandwidth budget; its requests
// take places in the request window like any other.
//
// The source is read first (HeadObject). An object smaller than
// MultipartThreshold (and at most 5 GiB) is copied with one CopyObject;
// a larger one with a multipart upload whose parts are copied in
// parallel (UploadPartCopy, MultipartChunkSize bytes each), and which is
// aborted if the copy fails or is cancelled. Every request carries
// If-Match with the source's ETag, so a source replaced during the copy
// fails it rather than mixing versions. Progress counts each part (or the
// whole object) when the server has copied it.
//
// The copy keeps the source's Content-Type, Cache-Control,
// Content-Disposition, Content-Encoding, Content-Language, Expires and
// user metadata, unless options set them; a single-request copy also
// keeps its tags unless WithTagging is given. Storage class, ACL and
// encryption are the destination's defaults unless options set them.
// WithVersionID selects a version of the source.
func (m *Manager) Copy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, opts ...Option) *Future {
	o := collect(opts)
	return m.start(ctx, KindCopy, dstBucket, dstKey, o, func(ctx context.Context, f *Future) (Result, error) {
		if err := validateTarget(srcBucket, srcKey); err != nil {
			return Result{}, fmt.Errorf("copy source: %w", err)
		}
		src := &copySource{bucket: srcBucket, key: srcKey, version: o.version}
		return m.copy(ctx, f, src, o)
	})
}

// copySource is the object a copy reads.
type copySource struct {
	bucket, key, version string
	// From HeadObject: the ETag every request is conditional on, and the
	// headers no option sets that a multipart copy must pass on.
	etag            string
	contentLanguage *string
	expires         *time.Time
}

// header is the CopySource value: bucket/key, URL-encoded, with the
// version if one was asked for. Every byte but the unreserved ones and '/'
// is escaped, as the AWS SDKs and CLI do: some servers (versitygw) decode
// the header as a query value, so a bare '+' would become a space.
func (s *copySource) header() string {
	h := escapeCopySource(s.bucket) + "/" + escapeCopySource(s.key)
	if s.version != "" {
		h += "?versionId=" + url.QueryEscape(s.version)
	}
	return h
}

func (s *copySource) String() string { return "s3://" + s.bucket + "/" + s.key }

func (m *Manager) copy(ctx context.Context, f *Future, src *copySource, o options) (Result, error) {
	var head *s3.HeadObjectOutput
	err := m.call(ctx, "HeadObject (copy source)", m.cfg.MaxAttempts, func(actx context.Context) error {
		in := &s3.HeadObjectInput{}
		o.headObject(in, true)
		shape(&o, in, func(in *s3.HeadObjectInput) {
			in.Bucket, in.Key = aws.String(src.bucket), aws.String(src.key)
		})
		var err error
		head, err = m.client.HeadObject(actx, in, m.requestOptions(nil, nil))
		return err
	})
	if err != nil {
		return Result{}, asNotFound(err, src.bucket, src.key, src.version)
	}
	src.etag = aws.ToString(head.ETag)
	src.contentLanguage, src.expires = head.ContentLanguage, expires(head)
	size := aws.ToInt64(head.ContentLength)
	f.setSize(size)
	replace := o.contentType != "" || o.metadata != nil || o.cacheControl != "" ||
		o.contentDisposition != "" || o.contentEncoding != ""
	inherit(&o, head)
	u := &uploader{m: m, f: f, o: o, part: partSize(m.cfg.MultipartChunkSize, size), src: src}
	if size < m.cfg.MultipartThreshold && size <= MaxPartSize {
		return u.copyObject(ctx, size, replace, head)
	}
	return u.multipart(ctx, func(ctx context.Context, submit submitFunc) (int64, error) {
		num := int32(0)
		for off := int64(0); off < size; off += u.part {
			if ctx.Err() != nil {
				return off, context.Cause(ctx)
			}
			num++
			submit(num, nil, min(u.part, size-off), nil)
		}
		return size, nil
	})
}

// expires returns the source's Expires header as a time, nil when it has
// none or it is not an HTTP date (S3 stores it as given).
func expires(head *s3.HeadObjectOutput) *time.Time {
	if head.ExpiresString == nil {
		return nil
	}
	t, err := http.ParseTime(*head.ExpiresString)
	if err != nil {
		return nil
	}
	return &t
}

// inherit fills the object headers the options leave unset with the
// source's, so a copy keeps them whichever way it is made.
func inherit(o *options, head *s3.HeadObjectOutput) {
	or := func(v *string, src *string) {
		if *v == "" {
			*v = aws.ToString(src)
		}
	}
	or(&o.contentType, head.ContentType)
	or(&o.cacheControl, head.CacheControl)
	or(&o.contentDisposition, head.ContentDisposition)
	or(&o.contentEncoding, head.ContentEncoding)
	if o.metadata == nil {
		o.metadata = head.Metadata
	}
}

// copyObject copies the whole object with one CopyObject. The source's
// headers travel with it (MetadataDirective COPY) unless options change
// one, in which case all of them are sent (REPLACE).
func (u *uploader) copyObject(ctx context.Context, size int64, replace bool, head *s3.HeadObjectOutput) (Result, error) {
	m, o, src := u.m, &u.o, u.src
	var out *s3.CopyObjectOutput
	err := m.call(ctx, "CopyObject", m.cfg.MaxAttempts, func(actx context.Context) error {
		in := &s3.CopyObjectInput{
			StorageClass:         o.storageClass,
			ACL:                  o.acl,
			ServerSideEncryption: o.sse,
			SSEKMSKeyId:          optString(o.kmsKeyID),
			ChecksumAlgorithm:    o.checksum,
			ExpectedBucketOwner:  optString(o.owner),
		}
		if replace {
			in.MetadataDirective = types.MetadataDirectiveReplace
			in.ContentType = optString(o.contentType)
			in.CacheControl = optString(o.cacheControl)
			in.ContentDisposition = optString(o.contentDisposition)
			in.ContentEncoding = optString(o.contentEncoding)
			in.ContentLanguage = head.ContentLanguage
			in.Expires = src.expires
			in.Metadata = o.metadata
		}
		if o.tagging != nil {
			in.TaggingDirective = types.TaggingDirectiveReplace
			in.Tagging = o.tagging
		}
		if k := o.ssec; k != nil {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.headers()
		}
		if k := o.srcSSEC; k != nil {
			in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = k.headers()
		}
		shape(o, in, func(in *s3.CopyObjectInput) {
			in.Bucket, in.Key = aws.String(u.f.bucket), aws.String(u.f.key)
			in.CopySource, in.CopySourceIfMatch = aws.String(src.header()), optString(src.etag)
		})
		var err error
		out, err = m.client.CopyObject(actx, in, m.requestOptions(nil, nil))
		return err
	})
	if err != nil {
		return Result{}, asNotFound(err, src.bucket, src.key, src.version)
	}
	u.f.progress(size)
	res := Result{Size: size, VersionID: aws.ToString(out.VersionId)}
	if out.CopyObjectResult != nil {
		res.ETag = aws.ToString(out.CopyObjectResult.ETag)
	}
	return res, nil
}

// copyPart copies part num of the source, size bytes, into the upload.
func (u *uploader) copyPart(ctx context.Context, uploadID string, num int32, size int64) (types.CompletedPart, error) {
	m, src := u.m, u.src
	off := int64(num-1) * u.part
	var part types.CompletedPart
	err := m.call(ctx, fmt.Sprintf("UploadPartCopy %d", num), m.cfg.MaxAttempts, func(actx context.Context) error {
		in := &s3.UploadPartCopyInput{}
		u.o.uploadPartCopy(in)
		shape(&u.o, in, func(in *s3.UploadPartCopyInput) {
			in.Bucket, in.Key = aws.String(u.f.bucket), aws.String(u.f.key)
			in.UploadId, in.PartNumber = aws.String(uploadID), aws.Int32(num)
			in.CopySource, in.CopySourceIfMatch = aws.String(src.header()), optString(src.etag)
			in.CopySourceRange = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+size-1))
		})
		out, err := m.client.UploadPartCopy(actx, in, m.requestOptions(nil, nil))
		if err != nil {
			return err
		}
		var c checksums
		etag := ""
		if r := out.CopyPartResult; r != nil {
			etag = aws.ToString(r.ETag)
			c = checksums{r.ChecksumCRC32, r.ChecksumCRC32C, r.ChecksumCRC64NVME, r.ChecksumSHA1, r.ChecksumSHA256}
		}
		part = completedPart(num, etag, c)
		return nil
	})
	if err != nil {
		return part, asNotFound(err, src.bucket, src.key, src.version)
	}
	u.f.progress(size)
	return part, nil
}

// Delete deletes s3://bucket/key (with WithVersionID, one version of it)
// and returns at once; the Future reports the outcome. Deleting a key
// that does not exist succeeds, as it does in S3. The request takes a
// place in the request window and is retried like any other.
func (m *Manager) Delete(ctx context.Context, bucket, key string, opts ...Option) *Future {
	o := collect(opts)
	return m.start(ctx, KindDelete, bucket, key, o, func(ctx context.Context, f *Future) (Result, error) {
		f.setSize(0)
		var out *s3.DeleteObjectOutput
		err := m.call(ctx, "DeleteObject", m.cfg.MaxAttempts, func(actx context.Context) error {
			in := &s3.DeleteObjectInput{}
			o.deleteObject(in)
			shape(&o, in, func(in *s3.DeleteObjectInput) {
				in.Bucket, in.Key = aws.String(bucket), aws.String(key)
			})
			var err error
			out, err = m.client.DeleteObject(actx, in, m.requestOptions(nil, nil))
			return err
		})
		if err != nil {
			return Result{}, asNotFound(err, bucket, key, o.version)
		}
		return Result{VersionID: aws.ToString(out.VersionId)}, nil
	})
}

// escapeCopySource percent-encodes s except for unreserved characters
// (RFC 3986) and '/'.
func escapeCopySource(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
