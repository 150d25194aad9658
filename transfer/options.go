package transfer

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Option adjusts one transfer: an Upload, Download, DownloadStream, Copy
// or Delete, or every object of a directory transfer. An option that does
// not apply to a kind of transfer is ignored by it (the list of each
// option says where it applies). An invalid option (a bad key length, a
// negative range) fails the transfer with an error naming it.
type Option func(*options)

type options struct {
	subs []Subscriber
	size int64 // -1 = unknown

	// Headers of a stored object (uploads and copies).
	contentType, cacheControl, contentDisposition, contentEncoding string
	metadata                                                       map[string]string
	tagging                                                        *string // URL-encoded; nil = not set
	storageClass                                                   types.StorageClass
	acl                                                            types.ObjectCannedACL
	sse                                                            types.ServerSideEncryption
	kmsKeyID                                                       string
	checksum                                                       types.ChecksumAlgorithm

	ssec, srcSSEC *customerKey // SSE-C of the object, of a copy's source
	owner         string       // ExpectedBucketOwner
	version       string       // VersionId to read (downloads, copy source) or delete
	rng           *byteRange   // downloads

	request func(input any) // WithRequest

	progressEvery time.Duration // WithProgress
	progressFn    func(Progress)

	// Directory transfers.
	filters []filter
	each    func(ObjectResult)
	group   *tally // the directory transfer an object belongs to

	err error // the first invalid option
}

// customerKey is an SSE-C key as S3 wants it in headers.
type customerKey struct{ key, md5 string } // both base64

// headers returns the SSE-C request fields for k: algorithm, key, key MD5.
func (k *customerKey) headers() (alg, key, md5 *string) {
	return aws.String("AES256"), aws.String(k.key), aws.String(k.md5)
}

// byteRange is a part of an object: off bytes in, n bytes long (-1: to
// the end).
type byteRange struct{ off, n int64 }

func collect(opts []Option) options {
	o := options{size: -1}
	for _, fn := range opts {
		if fn != nil {
			fn(&o)
		}
	}
	return o
}

func (o *options) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

// WithSubscribers adds subscribers to the transfer's events. For a
// directory transfer, they receive the events of each object.
func WithSubscribers(subs ...Subscriber) Option {
	return func(o *options) {
		for _, s := range subs {
			if s != nil {
				o.subs = append(o.subs, s)
			}
		}
	}
}

// WithSize declares the exact length in bytes of an upload body that is a
// plain io.Reader. It lets the manager choose single or multipart upload
// and the part size before reading, and lets progress show a total.
// The upload fails if the body is shorter or longer. Bodies whose size
// the manager can find itself (regular files, *bytes.Reader,
// *strings.Reader, *io.SectionReader) do not need it. Uploads only.
func WithSize(n int64) Option {
	return func(o *options) { o.size = n }
}

// WithContentType sets the Content-Type of the stored object. Uploads and
// copies (a copy otherwise keeps the source's); a directory upload guesses
// it from each file's extension when this option is absent.
func WithContentType(ct string) Option {
	return func(o *options) { o.contentType = ct }
}

// WithMetadata sets the user metadata (x-amz-meta-*) of the stored
// object. Uploads and copies (a copy otherwise keeps the source's).
func WithMetadata(md map[string]string) Option {
	return func(o *options) { o.metadata = maps.Clone(md) }
}

// WithCacheControl sets the Cache-Control header of the stored object.
// Uploads and copies.
func WithCacheControl(v string) Option {
	return func(o *options) { o.cacheControl = v }
}

// WithContentDisposition sets the Content-Disposition header of the
// stored object, for example `attachment; filename="report.pdf"`.
// Uploads and copies.
func WithContentDisposition(v string) Option {
	return func(o *options) { o.contentDisposition = v }
}

// WithContentEncoding sets the Content-Encoding header of the stored
// object, for example "gzip" for a body that is already compressed (the
// manager does not compress). Uploads and copies.
func WithContentEncoding(v string) Option {
	return func(o *options) { o.contentEncoding = v }
}

// WithTagging sets the object's tags. Uploads and copies (a single-request
// copy otherwise keeps the source's tags; a multipart copy starts with
// none, as S3 does).
func WithTagging(tags map[string]string) Option {
	return func(o *options) {
		v := url.Values{}
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			v.Set(k, tags[k])
		}
		s := v.Encode()
		o.tagging = &s
	}
}

// WithStorageClass sets the storage class of the stored object, such as
// types.StorageClassStandardIa. Uploads and copies (S3 stores a copy in
// STANDARD unless told otherwise).
func WithStorageClass(c types.StorageClass) Option {
	return func(o *options) { o.storageClass = c }
}

// WithACL sets a canned ACL on the stored object, such as
// types.ObjectCannedACLBucketOwnerFullControl. Uploads and copies.
func WithACL(acl types.ObjectCannedACL) Option {
	return func(o *options) { o.acl = acl }
}

// WithSSES3 stores the object encrypted with keys S3 manages (SSE-S3,
// AES256). Uploads and copies.
func WithSSES3() Option {
	return func(o *options) { o.sse, o.kmsKeyID = types.ServerSideEncryptionAes256, "" }
}

// WithSSEKMS stores the object encrypted under a KMS key (SSE-KMS): keyID
// is a key ID, ARN or alias; "" means the account's AWS managed key for
// S3. Uploads and copies. Reading such an object needs no option.
func WithSSEKMS(keyID string) Option {
	return func(o *options) { o.sse, o.kmsKeyID = types.ServerSideEncryptionAwsKms, keyID }
}

// WithSSECustomerKey encrypts the object with a key the caller keeps
// (SSE-C): key is the 32-byte AES-256 key. Every request of the transfer
// carries it: uploads (each part too), downloads (which need it to read
// such an object) and the destination of copies. S3 accepts SSE-C only
// over HTTPS.
func WithSSECustomerKey(key []byte) Option {
	return func(o *options) {
		k, err := newCustomerKey(key, "WithSSECustomerKey")
		if err != nil {
			o.fail(err)
			return
		}
		o.ssec = k
	}
}

// WithCopySourceSSECustomerKey is the SSE-C key of a copy's source object,
// when the source was stored with one. Copies only.
func WithCopySourceSSECustomerKey(key []byte) Option {
	return func(o *options) {
		k, err := newCustomerKey(key, "WithCopySourceSSECustomerKey")
		if err != nil {
			o.fail(err)
			return
		}
		o.srcSSEC = k
	}
}

func newCustomerKey(key []byte, name string) (*customerKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("%s: the key has %d bytes; SSE-C needs a 32-byte AES-256 key", name, len(key))
	}
	sum := md5.Sum(key)
	return &customerKey{key: base64.StdEncoding.EncodeToString(key), md5: base64.StdEncoding.EncodeToString(sum[:])}, nil
}

// WithChecksumAlgorithm makes S3 verify and store a checksum of the
// object computed with alg (types.ChecksumAlgorithmCrc32C, ...): the SDK
// computes it for every PutObject or part (the bytes it reads to do so
// are not charged to the bandwidth budget) and a multipart upload
// completes with the parts' checksums. Uploads and copies. Without it,
// checksums are sent only where S3 requires them.
func WithChecksumAlgorithm(alg types.ChecksumAlgorithm) Option {
	return func(o *options) { o.checksum = alg }
}

// WithExpectedBucketOwner makes every request of the transfer fail with
// 403 unless the bucket belongs to this account ID, so that data is never
// sent to or read from a bucket that changed hands. For a copy it applies
// to the destination bucket.
func WithExpectedBucketOwner(accountID string) Option {
	return func(o *options) { o.owner = accountID }
}

// WithVersionID reads (downloads, and the source of a copy) or deletes
// one version of the object in a versioned bucket instead of the latest.
func WithVersionID(id string) Option {
	return func(o *options) { o.version = id }
}

// WithRange downloads length bytes of the object starting offset bytes
// in, or the rest of the object from offset when length is -1. The
// destination receives them from its own offset 0, and Result.Size is
// the number of bytes in the range (shorter than length if the object
// ends first). A range starting at or past the end of the object fails
// the download. Downloads only.
func WithRange(offset, length int64) Option {
	return func(o *options) {
		switch {
		case offset < 0:
			o.fail(fmt.Errorf("WithRange(%d, %d): negative offset", offset, length))
		case length == 0 || length < -1:
			o.fail(fmt.Errorf("WithRange(%d, %d): length must be positive, or -1 for the rest of the object", offset, length))
		default:
			o.rng = &byteRange{off: offset, n: length}
		}
	}
}

// WithRequest adjusts the S3 requests of the transfer before they are
// sent, for settings that have no option of their own. fn receives a
// pointer to the input of every request the transfer makes, each filled
// in by the manager and the other options; switch on its type:
//
//   - uploads: *s3.PutObjectInput, or *s3.CreateMultipartUploadInput,
//     *s3.UploadPartInput, *s3.CompleteMultipartUploadInput and
//     *s3.AbortMultipartUploadInput;
//   - downloads: *s3.HeadObjectInput and *s3.GetObjectInput;
//   - copies: *s3.HeadObjectInput (of the source), then
//     *s3.CopyObjectInput, or the multipart inputs with
//     *s3.UploadPartCopyInput in place of *s3.UploadPartInput;
//   - deletes: *s3.DeleteObjectInput.
//
// Retries send the same adjustments again. The fields the transfer
// itself depends on (Bucket, Key, Body, ContentLength, UploadId,
// PartNumber, Range, IfMatch, CopySource, CopySourceRange,
// CopySourceIfMatch, MultipartUpload) are set again after fn returns.
// fn may be called from several goroutines at once.
func WithRequest(fn func(input any)) Option {
	return func(o *options) { o.request = fn }
}
