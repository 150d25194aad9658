package s3api

import "strings"

// Op is an S3 operation: a small integer that indexes the operations
// table below. The zero value, OpUnknown, is no operation. Everything that
// depends on which operation a request is (its action, whether it carries
// an object upload, whether it reads a copy source, its AWS name) is a
// column of that table, so adding an operation is one constant and one
// row, and nothing else in the server switches on operation names.
type Op uint8

// Body says what an operation's request body holds, for the upload
// limiter and the byte limits.
type Body uint8

const (
	// BodyNone: no object data; at most a small XML or JSON document.
	BodyNone Body = iota
	// BodyUpload: object data, counted by its declared size.
	BodyUpload
	// BodyCopy: no body, but object data copied from the copy source.
	BodyCopy
)

// The operations. Names are exactly the AWS API names (Op.String); the
// exceptions are s3limit's own endpoints under AdminPrefix: the admin API
// (OpAdminCircuitBreaker) and the health probes (OpHealthLive,
// OpHealthReady).
const (
	OpUnknown Op = iota // not an S3 operation s3limit knows
	OpListBuckets
	OpCreateBucket
	OpHeadBucket
	OpDeleteBucket
	OpGetBucketLocation
	OpListObjects
	OpListObjectsV2
	OpListObjectVersions
	OpListMultipartUploads
	OpDeleteObjects
	OpPostObject
	OpGetBucketTagging
	OpPutBucketTagging
	OpDeleteBucketTagging
	OpGetObjectTagging
	OpPutObjectTagging
	OpDeleteObjectTagging
	OpPutObject
	OpGetObject
	OpHeadObject
	OpCopyObject
	OpDeleteObject
	OpCreateMultipartUpload
	OpUploadPart
	OpUploadPartCopy
	OpCompleteMultipartUpload
	OpAbortMultipartUpload
	OpListParts
	OpGetObjectAcl
	OpPutObjectAcl
	OpGetObjectRetention
	OpPutObjectRetention
	OpGetObjectLegalHold
	OpPutObjectLegalHold
	OpGetObjectAttributes
	OpGetObjectTorrent
	OpRestoreObject
	OpSelectObjectContent
	OpGetBucketAcl
	OpPutBucketAcl
	OpGetBucketPolicy
	OpPutBucketPolicy
	OpDeleteBucketPolicy
	OpGetBucketPolicyStatus
	OpGetBucketVersioning
	OpPutBucketVersioning
	OpGetBucketCors
	OpPutBucketCors
	OpDeleteBucketCors
	OpGetBucketLifecycleConfiguration
	OpPutBucketLifecycleConfiguration
	OpDeleteBucketLifecycle
	OpGetBucketEncryption
	OpPutBucketEncryption
	OpDeleteBucketEncryption
	OpGetBucketWebsite
	OpPutBucketWebsite
	OpDeleteBucketWebsite
	OpGetBucketLogging
	OpPutBucketLogging
	OpGetBucketNotificationConfiguration
	OpPutBucketNotificationConfiguration
	OpGetBucketReplication
	OpPutBucketReplication
	OpDeleteBucketReplication
	OpGetObjectLockConfiguration
	OpPutObjectLockConfiguration
	OpGetBucketOwnershipControls
	OpPutBucketOwnershipControls
	OpDeleteBucketOwnershipControls
	OpGetPublicAccessBlock
	OpPutPublicAccessBlock
	OpDeletePublicAccessBlock
	OpGetBucketRequestPayment
	OpPutBucketRequestPayment
	OpGetBucketAccelerateConfiguration
	OpPutBucketAccelerateConfiguration
	OpGetBucketAnalyticsConfiguration
	OpListBucketAnalyticsConfigurations
	OpPutBucketAnalyticsConfiguration
	OpDeleteBucketAnalyticsConfiguration
	OpGetBucketInventoryConfiguration
	OpListBucketInventoryConfigurations
	OpPutBucketInventoryConfiguration
	OpDeleteBucketInventoryConfiguration
	OpGetBucketMetricsConfiguration
	OpListBucketMetricsConfigurations
	OpPutBucketMetricsConfiguration
	OpDeleteBucketMetricsConfiguration
	OpGetBucketIntelligentTieringConfiguration
	OpListBucketIntelligentTieringConfigurations
	OpPutBucketIntelligentTieringConfiguration
	OpDeleteBucketIntelligentTieringConfiguration
	OpAdminCircuitBreaker
	OpHealthLive
	OpHealthReady
	numOps
)

// operation is one row of the table.
type operation struct {
	name   string // AWS API name
	action Action // permits the operation; the limits count it under it
	body   Body
	// copySource: the request names another object in
	// x-amz-copy-source, which the caller must be allowed to read.
	copySource bool
}

// operations is the classification table, indexed by Op. The rules, in
// the words the circuit breaker and the identities file use:
//
//   - Read: GET/HEAD of an object and its sub-resources, ListParts,
//     HeadBucket, every bucket GET sub-resource (location, ACL, policy,
//     versioning, ...), and the health probes.
//   - Write: object uploads and copies, part uploads, creating, completing
//     and aborting multipart uploads, deleting objects, browser POST
//     uploads, and object sub-resource writes (ACL, retention, legal hold,
//     restore).
//   - List: ListBuckets, ListObjects v1/v2, ListObjectVersions,
//     ListMultipartUploads.
//   - Tagging: object and bucket tagging, read or write.
//   - Admin: creating and deleting buckets, every PUT/DELETE of a bucket
//     configuration sub-resource, and the admin API.
var operations = [numOps]operation{
	// Service and bucket level.
	OpListBuckets:          {name: "ListBuckets", action: ActionList},
	OpCreateBucket:         {name: "CreateBucket", action: ActionAdmin},
	OpHeadBucket:           {name: "HeadBucket", action: ActionRead},
	OpDeleteBucket:         {name: "DeleteBucket", action: ActionAdmin},
	OpGetBucketLocation:    {name: "GetBucketLocation", action: ActionRead},
	OpListObjects:          {name: "ListObjects", action: ActionList},
	OpListObjectsV2:        {name: "ListObjectsV2", action: ActionList},
	OpListObjectVersions:   {name: "ListObjectVersions", action: ActionList},
	OpListMultipartUploads: {name: "ListMultipartUploads", action: ActionList},
	OpDeleteObjects:        {name: "DeleteObjects", action: ActionWrite},
	OpPostObject:           {name: "PostObject", action: ActionWrite, body: BodyUpload},

	// Tagging.
	OpGetBucketTagging:    {name: "GetBucketTagging", action: ActionTagging},
	OpPutBucketTagging:    {name: "PutBucketTagging", action: ActionTagging},
	OpDeleteBucketTagging: {name: "DeleteBucketTagging", action: ActionTagging},
	OpGetObjectTagging:    {name: "GetObjectTagging", action: ActionTagging},
	OpPutObjectTagging:    {name: "PutObjectTagging", action: ActionTagging},
	OpDeleteObjectTagging: {name: "DeleteObjectTagging", action: ActionTagging},

	// Objects and multipart uploads.
	OpPutObject:               {name: "PutObject", action: ActionWrite, body: BodyUpload},
	OpGetObject:               {name: "GetObject", action: ActionRead},
	OpHeadObject:              {name: "HeadObject", action: ActionRead},
	OpCopyObject:              {name: "CopyObject", action: ActionWrite, body: BodyCopy, copySource: true},
	OpDeleteObject:            {name: "DeleteObject", action: ActionWrite},
	OpCreateMultipartUpload:   {name: "CreateMultipartUpload", action: ActionWrite},
	OpUploadPart:              {name: "UploadPart", action: ActionWrite, body: BodyUpload},
	OpUploadPartCopy:          {name: "UploadPartCopy", action: ActionWrite, body: BodyCopy, copySource: true},
	OpCompleteMultipartUpload: {name: "CompleteMultipartUpload", action: ActionWrite},
	OpAbortMultipartUpload:    {name: "AbortMultipartUpload", action: ActionWrite},
	OpListParts:               {name: "ListParts", action: ActionRead},

	// Object sub-resources.
	OpGetObjectAcl:        {name: "GetObjectAcl", action: ActionRead},
	OpPutObjectAcl:        {name: "PutObjectAcl", action: ActionWrite},
	OpGetObjectRetention:  {name: "GetObjectRetention", action: ActionRead},
	OpPutObjectRetention:  {name: "PutObjectRetention", action: ActionWrite},
	OpGetObjectLegalHold:  {name: "GetObjectLegalHold", action: ActionRead},
	OpPutObjectLegalHold:  {name: "PutObjectLegalHold", action: ActionWrite},
	OpGetObjectAttributes: {name: "GetObjectAttributes", action: ActionRead},
	OpGetObjectTorrent:    {name: "GetObjectTorrent", action: ActionRead},
	OpRestoreObject:       {name: "RestoreObject", action: ActionWrite},
	OpSelectObjectContent: {name: "SelectObjectContent", action: ActionRead},

	// Bucket configuration: reads are Read, changes are Admin.
	OpGetBucketAcl:                                {name: "GetBucketAcl", action: ActionRead},
	OpPutBucketAcl:                                {name: "PutBucketAcl", action: ActionAdmin},
	OpGetBucketPolicy:                             {name: "GetBucketPolicy", action: ActionRead},
	OpPutBucketPolicy:                             {name: "PutBucketPolicy", action: ActionAdmin},
	OpDeleteBucketPolicy:                          {name: "DeleteBucketPolicy", action: ActionAdmin},
	OpGetBucketPolicyStatus:                       {name: "GetBucketPolicyStatus", action: ActionRead},
	OpGetBucketVersioning:                         {name: "GetBucketVersioning", action: ActionRead},
	OpPutBucketVersioning:                         {name: "PutBucketVersioning", action: ActionAdmin},
	OpGetBucketCors:                               {name: "GetBucketCors", action: ActionRead},
	OpPutBucketCors:                               {name: "PutBucketCors", action: ActionAdmin},
	OpDeleteBucketCors:                            {name: "DeleteBucketCors", action: ActionAdmin},
	OpGetBucketLifecycleConfiguration:             {name: "GetBucketLifecycleConfiguration", action: ActionRead},
	OpPutBucketLifecycleConfiguration:             {name: "PutBucketLifecycleConfiguration", action: ActionAdmin},
	OpDeleteBucketLifecycle:                       {name: "DeleteBucketLifecycle", action: ActionAdmin},
	OpGetBucketEncryption:                         {name: "GetBucketEncryption", action: ActionRead},
	OpPutBucketEncryption:                         {name: "PutBucketEncryption", action: ActionAdmin},
	OpDeleteBucketEncryption:                      {name: "DeleteBucketEncryption", action: ActionAdmin},
	OpGetBucketWebsite:                            {name: "GetBucketWebsite", action: ActionRead},
	OpPutBucketWebsite:                            {name: "PutBucketWebsite", action: ActionAdmin},
	OpDeleteBucketWebsite:                         {name: "DeleteBucketWebsite", action: ActionAdmin},
	OpGetBucketLogging:                            {name: "GetBucketLogging", action: ActionRead},
	OpPutBucketLogging:                            {name: "PutBucketLogging", action: ActionAdmin},
	OpGetBucketNotificationConfiguration:          {name: "GetBucketNotificationConfiguration", action: ActionRead},
	OpPutBucketNotificationConfiguration:          {name: "PutBucketNotificationConfiguration", action: ActionAdmin},
	OpGetBucketReplication:                        {name: "GetBucketReplication", action: ActionRead},
	OpPutBucketReplication:                        {name: "PutBucketReplication", action: ActionAdmin},
	OpDeleteBucketReplication:                     {name: "DeleteBucketReplication", action: ActionAdmin},
	OpGetObjectLockConfiguration:                  {name: "GetObjectLockConfiguration", action: ActionRead},
	OpPutObjectLockConfiguration:                  {name: "PutObjectLockConfiguration", action: ActionAdmin},
	OpGetBucketOwnershipControls:                  {name: "GetBucketOwnershipControls", action: ActionRead},
	OpPutBucketOwnershipControls:                  {name: "PutBucketOwnershipControls", action: ActionAdmin},
	OpDeleteBucketOwnershipControls:               {name: "DeleteBucketOwnershipControls", action: ActionAdmin},
	OpGetPublicAccessBlock:                        {name: "GetPublicAccessBlock", action: ActionRead},
	OpPutPublicAccessBlock:                        {name: "PutPublicAccessBlock", action: ActionAdmin},
	OpDeletePublicAccessBlock:                     {name: "DeletePublicAccessBlock", action: ActionAdmin},
	OpGetBucketRequestPayment:                     {name: "GetBucketRequestPayment", action: ActionRead},
	OpPutBucketRequestPayment:                     {name: "PutBucketRequestPayment", action: ActionAdmin},
	OpGetBucketAccelerateConfiguration:            {name: "GetBucketAccelerateConfiguration", action: ActionRead},
	OpPutBucketAccelerateConfiguration:            {name: "PutBucketAccelerateConfiguration", action: ActionAdmin},
	OpGetBucketAnalyticsConfiguration:             {name: "GetBucketAnalyticsConfiguration", action: ActionRead},
	OpListBucketAnalyticsConfigurations:           {name: "ListBucketAnalyticsConfigurations", action: ActionRead},
	OpPutBucketAnalyticsConfiguration:             {name: "PutBucketAnalyticsConfiguration", action: ActionAdmin},
	OpDeleteBucketAnalyticsConfiguration:          {name: "DeleteBucketAnalyticsConfiguration", action: ActionAdmin},
	OpGetBucketInventoryConfiguration:             {name: "GetBucketInventoryConfiguration", action: ActionRead},
	OpListBucketInventoryConfigurations:           {name: "ListBucketInventoryConfigurations", action: ActionRead},
	OpPutBucketInventoryConfiguration:             {name: "PutBucketInventoryConfiguration", action: ActionAdmin},
	OpDeleteBucketInventoryConfiguration:          {name: "DeleteBucketInventoryConfiguration", action: ActionAdmin},
	OpGetBucketMetricsConfiguration:               {name: "GetBucketMetricsConfiguration", action: ActionRead},
	OpListBucketMetricsConfigurations:             {name: "ListBucketMetricsConfigurations", action: ActionRead},
	OpPutBucketMetricsConfiguration:               {name: "PutBucketMetricsConfiguration", action: ActionAdmin},
	OpDeleteBucketMetricsConfiguration:            {name: "DeleteBucketMetricsConfiguration", action: ActionAdmin},
	OpGetBucketIntelligentTieringConfiguration:    {name: "GetBucketIntelligentTieringConfiguration", action: ActionRead},
	OpListBucketIntelligentTieringConfigurations:  {name: "ListBucketIntelligentTieringConfigurations", action: ActionRead},
	OpPutBucketIntelligentTieringConfiguration:    {name: "PutBucketIntelligentTieringConfiguration", action: ActionAdmin},
	OpDeleteBucketIntelligentTieringConfiguration: {name: "DeleteBucketIntelligentTieringConfiguration", action: ActionAdmin},

	// s3limit's admin API (path style only, under AdminPrefix).
	OpAdminCircuitBreaker: {name: "AdminCircuitBreaker", action: ActionAdmin},
	// The health probes (HealthLivePath, HealthReadyPath): reads of the
	// server's state, answered before authentication and the limits, so
	// no identity needs the action and no limit counts them.
	OpHealthLive:  {name: "HealthLive", action: ActionRead},
	OpHealthReady: {name: "HealthReady", action: ActionRead},
}

// String returns the operation's AWS API name, or "Unknown".
func (o Op) String() string {
	if o == OpUnknown || o >= numOps {
		return "Unknown"
	}
	return operations[o].name
}

// Action returns the action that permits o; "" for OpUnknown.
func (o Op) Action() Action {
	if o >= numOps {
		return ""
	}
	return operations[o].action
}

// Body returns what o's request body holds.
func (o Op) Body() Body {
	if o >= numOps {
		return BodyNone
	}
	return operations[o].body
}

// ReadsCopySource reports whether o reads the object named by
// x-amz-copy-source (CopyObject, UploadPartCopy).
func (o Op) ReadsCopySource() bool {
	return o < numOps && operations[o].copySource
}

// Ops returns every operation in table order.
func Ops() []Op {
	out := make([]Op, 0, numOps-1)
	for o := OpUnknown + 1; o < numOps; o++ {
		out = append(out, o)
	}
	return out
}

// OpByName returns the operation with the AWS API name, matched exactly.
func OpByName(name string) (Op, bool) {
	o, ok := opByName[name]
	return o, ok
}

// opByName indexes operations by name. Built once, read only.
var opByName = func() map[string]Op {
	m := make(map[string]Op, numOps)
	for o := OpUnknown + 1; o < numOps; o++ {
		m[operations[o].name] = o
	}
	return m
}()

// Actions lists every action in a stable order.
var Actions = [...]Action{ActionRead, ActionWrite, ActionList, ActionTagging, ActionAdmin}

// ParseAction returns the action named a, matched case-insensitively as
// the identities and circuit-breaker files allow ("read" is Read).
func ParseAction(a string) (Action, bool) {
	for _, n := range Actions {
		if strings.EqualFold(a, string(n)) {
			return n, true
		}
	}
	return "", false
}

// ActionNames returns the action names joined with ", ", for messages.
func ActionNames() string {
	var b strings.Builder
	for i, a := range Actions {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(a))
	}
	return b.String()
}
