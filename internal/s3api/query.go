package s3api

import (
	"net/url"
	"strings"
)

// queryParam identifies a query parameter that selects an operation. Other
// parameters (prefix, max-keys, versionId, x-id, ...) do not change the
// operation and are not recorded.
type queryParam uint8

const (
	qLocation queryParam = iota
	qListType
	qVersions
	qUploads
	qUploadID
	qPartNumber
	qTagging
	qDelete
	qID
	qRestore
	qSelect
	qSelectType
	// Object sub-resources.
	qRetention
	qLegalHold
	qAttributes
	qTorrent
	// Bucket configuration sub-resources; qAcl is shared with objects.
	qAcl
	qPolicy
	qPolicyStatus
	qVersioning
	qCors
	qLifecycle
	qEncryption
	qWebsite
	qLogging
	qNotification
	qReplication
	qObjectLock
	qOwnershipControls
	qPublicAccessBlock
	qRequestPayment
	qAccelerate
	qAnalytics
	qInventory
	qMetrics
	qIntelligentTiering
	numQueryParams
)

// queryParams maps parameter names to their queryParam. Read only.
var queryParams = map[string]queryParam{
	"location":            qLocation,
	"list-type":           qListType,
	"versions":            qVersions,
	"uploads":             qUploads,
	"uploadId":            qUploadID,
	"partNumber":          qPartNumber,
	"tagging":             qTagging,
	"delete":              qDelete,
	"id":                  qID,
	"restore":             qRestore,
	"select":              qSelect,
	"select-type":         qSelectType,
	"retention":           qRetention,
	"legal-hold":          qLegalHold,
	"attributes":          qAttributes,
	"torrent":             qTorrent,
	"acl":                 qAcl,
	"policy":              qPolicy,
	"policyStatus":        qPolicyStatus,
	"versioning":          qVersioning,
	"cors":                qCors,
	"lifecycle":           qLifecycle,
	"encryption":          qEncryption,
	"website":             qWebsite,
	"logging":             qLogging,
	"notification":        qNotification,
	"replication":         qReplication,
	"object-lock":         qObjectLock,
	"ownershipControls":   qOwnershipControls,
	"publicAccessBlock":   qPublicAccessBlock,
	"requestPayment":      qRequestPayment,
	"accelerate":          qAccelerate,
	"analytics":           qAnalytics,
	"inventory":           qInventory,
	"metrics":             qMetrics,
	"intelligent-tiering": qIntelligentTiering,
}

// queryInfo is what classification needs from the query string.
type queryInfo struct {
	present    uint64 // bit i set when queryParam i occurs
	listType   string // value of list-type
	selectType string // value of select-type
}

func (q *queryInfo) has(p queryParam) bool { return q.present&(1<<p) != 0 }

// scanQuery records the operation-selecting parameters of a raw query
// string in one pass. It allocates only for percent-encoded names.
func scanQuery(raw string) (queryInfo, error) {
	var q queryInfo
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(name, "%+") {
			n, err := url.QueryUnescape(name)
			if err != nil {
				return q, ErrInvalidArgument.WithMessage("The query string is not validly percent-encoded.")
			}
			name = n
		}
		p, ok := queryParams[name]
		if !ok {
			continue
		}
		q.present |= 1 << p
		switch p {
		case qListType:
			q.listType = value
		case qSelectType:
			q.selectType = value
		}
	}
	return q, nil
}

// bucketSubresourceOps names the operations on one bucket configuration
// sub-resource. An empty name means S3 has no such operation.
type bucketSubresourceOps struct {
	param         queryParam
	get, put, del string
	// list, when set, is the GET operation without an ?id parameter
	// (ListBucketAnalyticsConfigurations and friends).
	list string
}

var bucketSubresources = [...]bucketSubresourceOps{
	{qAcl, "GetBucketAcl", "PutBucketAcl", "", ""},
	{qPolicy, "GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy", ""},
	{qPolicyStatus, "GetBucketPolicyStatus", "", "", ""},
	{qVersioning, "GetBucketVersioning", "PutBucketVersioning", "", ""},
	{qCors, "GetBucketCors", "PutBucketCors", "DeleteBucketCors", ""},
	{qLifecycle, "GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle", ""},
	{qEncryption, "GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption", ""},
	{qWebsite, "GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite", ""},
	{qLogging, "GetBucketLogging", "PutBucketLogging", "", ""},
	{qNotification, "GetBucketNotificationConfiguration", "PutBucketNotificationConfiguration", "", ""},
	{qReplication, "GetBucketReplication", "PutBucketReplication", "DeleteBucketReplication", ""},
	{qObjectLock, "GetObjectLockConfiguration", "PutObjectLockConfiguration", "", ""},
	{qOwnershipControls, "GetBucketOwnershipControls", "PutBucketOwnershipControls", "DeleteBucketOwnershipControls", ""},
	{qPublicAccessBlock, "GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock", ""},
	{qRequestPayment, "GetBucketRequestPayment", "PutBucketRequestPayment", "", ""},
	{qAccelerate, "GetBucketAccelerateConfiguration", "PutBucketAccelerateConfiguration", "", ""},
	{qAnalytics, "GetBucketAnalyticsConfiguration", "PutBucketAnalyticsConfiguration", "DeleteBucketAnalyticsConfiguration", "ListBucketAnalyticsConfigurations"},
	{qInventory, "GetBucketInventoryConfiguration", "PutBucketInventoryConfiguration", "DeleteBucketInventoryConfiguration", "ListBucketInventoryConfigurations"},
	{qMetrics, "GetBucketMetricsConfiguration", "PutBucketMetricsConfiguration", "DeleteBucketMetricsConfiguration", "ListBucketMetricsConfigurations"},
	{qIntelligentTiering, "GetBucketIntelligentTieringConfiguration", "PutBucketIntelligentTieringConfiguration", "DeleteBucketIntelligentTieringConfiguration", "ListBucketIntelligentTieringConfigurations"},
}

// bucketSubresource returns the first bucket configuration sub-resource
// present in the query, or nil.
func (q *queryInfo) bucketSubresource() *bucketSubresourceOps {
	if q.present == 0 {
		return nil
	}
	for i := range bucketSubresources {
		if q.has(bucketSubresources[i].param) {
			return &bucketSubresources[i]
		}
	}
	return nil
}

type objectMethod uint8

const (
	objectGet objectMethod = iota
	objectPut
)

// objectSubresources names the GET and PUT operations of the object
// sub-resources other than tagging.
var objectSubresources = [...]struct {
	param    queryParam
	get, put string
}{
	{qAcl, "GetObjectAcl", "PutObjectAcl"},
	{qRetention, "GetObjectRetention", "PutObjectRetention"},
	{qLegalHold, "GetObjectLegalHold", "PutObjectLegalHold"},
	{qAttributes, "GetObjectAttributes", ""},
	{qTorrent, "GetObjectTorrent", ""},
}

// objectSubresource returns the operation of the first object sub-resource
// in the query for method m. found is false when the query names no object
// sub-resource; op is "" when it names one that m does not apply to.
func (q *queryInfo) objectSubresource(m objectMethod) (op string, found bool) {
	if q.present == 0 {
		return "", false
	}
	for _, sr := range objectSubresources {
		if !q.has(sr.param) {
			continue
		}
		if m == objectGet {
			return sr.get, true
		}
		return sr.put, true
	}
	return "", false
}
