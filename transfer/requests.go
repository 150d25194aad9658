package transfer

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// How options become request fields. Each builder below fills in the
// fields the options set on one kind of input; shape then runs the
// caller's WithRequest function and sets the fields the manager owns
// again, so that a request function cannot break the transfer.

// shape applies WithRequest to in: own sets the manager's fields, before
// and after fn.
func shape[T any](o *options, in *T, own func(*T)) *T {
	own(in)
	if o.request != nil {
		o.request(in)
		own(in)
	}
	return in
}

func (o *options) putObject(in *s3.PutObjectInput) {
	in.ContentType = optString(o.contentType)
	in.CacheControl = optString(o.cacheControl)
	in.ContentDisposition = optString(o.contentDisposition)
	in.ContentEncoding = optString(o.contentEncoding)
	in.Metadata = o.metadata
	in.Tagging = o.tagging
	in.StorageClass = o.storageClass
	in.ACL = o.acl
	in.ServerSideEncryption = o.sse
	in.SSEKMSKeyId = optString(o.kmsKeyID)
	in.ChecksumAlgorithm = o.checksum
	in.ExpectedBucketOwner = optString(o.owner)
	if k := o.ssec; k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.headers()
	}
}

func (o *options) createMultipartUpload(in *s3.CreateMultipartUploadInput) {
	in.ContentType = optString(o.contentType)
	in.CacheControl = optString(o.cacheControl)
	in.ContentDisposition = optString(o.contentDisposition)
	in.ContentEncoding = optString(o.contentEncoding)
	in.Metadata = o.metadata
	in.Tagging = o.tagging
	in.StorageClass = o.storageClass
	in.ACL = o.acl
	in.ServerSideEncryption = o.sse
	in.SSEKMSKeyId = optString(o.kmsKeyID)
	in.ChecksumAlgorithm = o.checksum
	in.ExpectedBucketOwner = optString(o.owner)
	if k := o.ssec; k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.headers()
	}
}

func (o *options) uploadPart(in *s3.UploadPartInput) {
	in.ChecksumAlgorithm = o.checksum
	in.ExpectedBucketOwner = optString(o.owner)
	if k := o.ssec; k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.headers()
	}
}

func (o *options) uploadPartCopy(in *s3.UploadPartCopyInput) {
	in.ExpectedBucketOwner = optString(o.owner)
	if k := o.ssec; k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.headers()
	}
	if k := o.srcSSEC; k != nil {
		in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = k.headers()
	}
}

func (o *options) completeMultipartUpload(in *s3.CompleteMultipartUploadInput) {
	in.ExpectedBucketOwner = optString(o.owner)
	if k := o.ssec; k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.headers()
	}
}

func (o *options) abortMultipartUpload(in *s3.AbortMultipartUploadInput) {
	in.ExpectedBucketOwner = optString(o.owner)
}

// headObject fills in a HeadObject of the transfer's object: the one
// downloaded, or the source of a copy (source is true; its SSE-C key is
// WithCopySourceSSECustomerKey's, and its owner is not the destination's).
func (o *options) headObject(in *s3.HeadObjectInput, source bool) {
	in.VersionId = optString(o.version)
	k := o.ssec
	if source {
		k = o.srcSSEC
	} else {
		in.ExpectedBucketOwner = optString(o.owner)
	}
	if k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.headers()
	}
}

func (o *options) getObject(in *s3.GetObjectInput) {
	in.VersionId = optString(o.version)
	in.ExpectedBucketOwner = optString(o.owner)
	if k := o.ssec; k != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.headers()
	}
}

func (o *options) deleteObject(in *s3.DeleteObjectInput) {
	in.VersionId = optString(o.version)
	in.ExpectedBucketOwner = optString(o.owner)
}

// completedPart returns the part of a CompleteMultipartUpload for an
// uploaded part, with the checksum S3 computed for it, if any.
func completedPart(num int32, etag string, c checksums) types.CompletedPart {
	return types.CompletedPart{
		PartNumber:        aws.Int32(num),
		ETag:              aws.String(etag),
		ChecksumCRC32:     c.crc32,
		ChecksumCRC32C:    c.crc32c,
		ChecksumCRC64NVME: c.crc64nvme,
		ChecksumSHA1:      c.sha1,
		ChecksumSHA256:    c.sha256,
	}
}

// checksums are a part's checksums as S3 returned them.
type checksums struct{ crc32, crc32c, crc64nvme, sha1, sha256 *string }

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
