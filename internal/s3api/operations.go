package s3api

// Names of the S3 operations a backend dispatches on. They are exactly the
// AWS API names; Info.Operation holds one of them (or another AWS name from
// the Operations table, such as "GetBucketAcl", for requests a gateway
// forwards without interpreting).
const (
	OpListBuckets             = "ListBuckets"
	OpCreateBucket            = "CreateBucket"
	OpHeadBucket              = "HeadBucket"
	OpDeleteBucket            = "DeleteBucket"
	OpGetBucketLocation       = "GetBucketLocation"
	OpListObjects             = "ListObjects"
	OpListObjectsV2           = "ListObjectsV2"
	OpListObjectVersions      = "ListObjectVersions"
	OpListMultipartUploads    = "ListMultipartUploads"
	OpGetBucketTagging        = "GetBucketTagging"
	OpPutBucketTagging        = "PutBucketTagging"
	OpDeleteBucketTagging     = "DeleteBucketTagging"
	OpPutObject               = "PutObject"
	OpGetObject               = "GetObject"
	OpHeadObject              = "HeadObject"
	OpCopyObject              = "CopyObject"
	OpDeleteObject            = "DeleteObject"
	OpDeleteObjects           = "DeleteObjects"
	OpCreateMultipartUpload   = "CreateMultipartUpload"
	OpUploadPart              = "UploadPart"
	OpUploadPartCopy          = "UploadPartCopy"
	OpCompleteMultipartUpload = "CompleteMultipartUpload"
	OpAbortMultipartUpload    = "AbortMultipartUpload"
	OpListParts               = "ListParts"
	OpGetObjectTagging        = "GetObjectTagging"
	OpPutObjectTagging        = "PutObjectTagging"
	OpDeleteObjectTagging     = "DeleteObjectTagging"
	OpPostObject              = "PostObject"
)

// Operation is one row of the classification table: an S3 operation name
// and the action that permits it and that the limits count it under.
type Operation struct {
	Name   string
	Action Action
}

// operations is the classification table. Every operation Classify can
// return has exactly one row. The rules, in the words the circuit breaker
// and the identities file use:
//
//   - Read: GET/HEAD of an object and its sub-resources, ListParts,
//     HeadBucket, and every bucket GET sub-resource (location, ACL, policy,
//     versioning, ...).
//   - Write: object uploads and copies, part uploads, creating, completing
//     and aborting multipart uploads, deleting objects, browser POST
//     uploads, and object sub-resource writes (ACL, retention, legal hold,
//     restore).
//   - List: ListBuckets, ListObjects v1/v2, ListObjectVersions,
//     ListMultipartUploads.
//   - Tagging: object and bucket tagging, read or write.
//   - Admin: creating and deleting buckets and every PUT/DELETE of a bucket
//     configuration sub-resource.
var operations = [...]Operation{
	// Service and bucket level.
	{OpListBuckets, ActionList},
	{OpCreateBucket, ActionAdmin},
	{OpHeadBucket, ActionRead},
	{OpDeleteBucket, ActionAdmin},
	{OpGetBucketLocation, ActionRead},
	{OpListObjects, ActionList},
	{OpListObjectsV2, ActionList},
	{OpListObjectVersions, ActionList},
	{OpListMultipartUploads, ActionList},
	{OpDeleteObjects, ActionWrite},
	{OpPostObject, ActionWrite},

	// Tagging.
	{OpGetBucketTagging, ActionTagging},
	{OpPutBucketTagging, ActionTagging},
	{OpDeleteBucketTagging, ActionTagging},
	{OpGetObjectTagging, ActionTagging},
	{OpPutObjectTagging, ActionTagging},
	{OpDeleteObjectTagging, ActionTagging},

	// Objects and multipart uploads.
	{OpPutObject, ActionWrite},
	{OpGetObject, ActionRead},
	{OpHeadObject, ActionRead},
	{OpCopyObject, ActionWrite},
	{OpDeleteObject, ActionWrite},
	{OpCreateMultipartUpload, ActionWrite},
	{OpUploadPart, ActionWrite},
	{OpUploadPartCopy, ActionWrite},
	{OpCompleteMultipartUpload, ActionWrite},
	{OpAbortMultipartUpload, ActionWrite},
	{OpListParts, ActionRead},

	// Object sub-resources.
	{"GetObjectAcl", ActionRead},
	{"PutObjectAcl", ActionWrite},
	{"GetObjectRetention", ActionRead},
	{"PutObjectRetention", ActionWrite},
	{"GetObjectLegalHold", ActionRead},
	{"PutObjectLegalHold", ActionWrite},
	{"GetObjectAttributes", ActionRead},
	{"GetObjectTorrent", ActionRead},
	{"RestoreObject", ActionWrite},
	{"SelectObjectContent", ActionRead},

	// Bucket configuration: reads are Read, changes are Admin.
	{"GetBucketAcl", ActionRead},
	{"PutBucketAcl", ActionAdmin},
	{"GetBucketPolicy", ActionRead},
	{"PutBucketPolicy", ActionAdmin},
	{"DeleteBucketPolicy", ActionAdmin},
	{"GetBucketPolicyStatus", ActionRead},
	{"GetBucketVersioning", ActionRead},
	{"PutBucketVersioning", ActionAdmin},
	{"GetBucketCors", ActionRead},
	{"PutBucketCors", ActionAdmin},
	{"DeleteBucketCors", ActionAdmin},
	{"GetBucketLifecycleConfiguration", ActionRead},
	{"PutBucketLifecycleConfiguration", ActionAdmin},
	{"DeleteBucketLifecycle", ActionAdmin},
	{"GetBucketEncryption", ActionRead},
	{"PutBucketEncryption", ActionAdmin},
	{"DeleteBucketEncryption", ActionAdmin},
	{"GetBucketWebsite", ActionRead},
	{"PutBucketWebsite", ActionAdmin},
	{"DeleteBucketWebsite", ActionAdmin},
	{"GetBucketLogging", ActionRead},
	{"PutBucketLogging", ActionAdmin},
	{"GetBucketNotificationConfiguration", ActionRead},
	{"PutBucketNotificationConfiguration", ActionAdmin},
	{"GetBucketReplication", ActionRead},
	{"PutBucketReplication", ActionAdmin},
	{"DeleteBucketReplication", ActionAdmin},
	{"GetObjectLockConfiguration", ActionRead},
	{"PutObjectLockConfiguration", ActionAdmin},
	{"GetBucketOwnershipControls", ActionRead},
	{"PutBucketOwnershipControls", ActionAdmin},
	{"DeleteBucketOwnershipControls", ActionAdmin},
	{"GetPublicAccessBlock", ActionRead},
	{"PutPublicAccessBlock", ActionAdmin},
	{"DeletePublicAccessBlock", ActionAdmin},
	{"GetBucketRequestPayment", ActionRead},
	{"PutBucketRequestPayment", ActionAdmin},
	{"GetBucketAccelerateConfiguration", ActionRead},
	{"PutBucketAccelerateConfiguration", ActionAdmin},
	{"GetBucketAnalyticsConfiguration", ActionRead},
	{"ListBucketAnalyticsConfigurations", ActionRead},
	{"PutBucketAnalyticsConfiguration", ActionAdmin},
	{"DeleteBucketAnalyticsConfiguration", ActionAdmin},
	{"GetBucketInventoryConfiguration", ActionRead},
	{"ListBucketInventoryConfigurations", ActionRead},
	{"PutBucketInventoryConfiguration", ActionAdmin},
	{"DeleteBucketInventoryConfiguration", ActionAdmin},
	{"GetBucketMetricsConfiguration", ActionRead},
	{"ListBucketMetricsConfigurations", ActionRead},
	{"PutBucketMetricsConfiguration", ActionAdmin},
	{"DeleteBucketMetricsConfiguration", ActionAdmin},
	{"GetBucketIntelligentTieringConfiguration", ActionRead},
	{"ListBucketIntelligentTieringConfigurations", ActionRead},
	{"PutBucketIntelligentTieringConfiguration", ActionAdmin},
	{"DeleteBucketIntelligentTieringConfiguration", ActionAdmin},
}

// Operations returns the classification table: every operation name
// Classify can produce with its action. The slice is a fresh copy.
func Operations() []Operation {
	out := make([]Operation, len(operations))
	copy(out[:], operations[:])
	return out
}

// ActionOf returns the action of the S3 operation op, or "" for a name
// that is not in the table.
func ActionOf(op string) Action {
	return actionByName[op]
}

// actionByName indexes operations by name. It is built once and never
// written afterwards.
var actionByName = func() map[string]Action {
	m := make(map[string]Action, len(operations))
	for _, o := range operations {
		m[o.Name] = o.Action
	}
	return m
}()
