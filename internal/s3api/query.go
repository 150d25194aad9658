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

// qualifiers are parameters that refine the operation another parameter
// selects (list-type, id, select-type, partNumber with uploadId) rather
// than select one themselves.
const qualifiers = 1<<qListType | 1<<qID | 1<<qSelectType | 1<<qPartNumber

// selectors returns the operation-selecting parameters present, in the
// order of queryParams' constants.
func (q *queryInfo) selectors() []string {
	var names []string
	for p := queryParam(0); p < numQueryParams; p++ {
		if q.present&(1<<p) != 0 && qualifiers&(1<<p) == 0 {
			names = append(names, queryParamNames[p])
		}
	}
	return names
}

// queryParamNames is queryParams inverted.
var queryParamNames = func() [numQueryParams]string {
	var names [numQueryParams]string
	for name, p := range queryParams {
		names[p] = name
	}
	return names
}()

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
// sub-resource. OpUnknown means S3 has no such operation.
type bucketSubresourceOps struct {
	param         queryParam
	get, put, del Op
	// list, when set, is the GET operation without an ?id parameter
	// (ListBucketAnalyticsConfigurations and friends).
	list Op
}

var bucketSubresources = [...]bucketSubresourceOps{
	{qAcl, OpGetBucketAcl, OpPutBucketAcl, OpUnknown, OpUnknown},
	{qPolicy, OpGetBucketPolicy, OpPutBucketPolicy, OpDeleteBucketPolicy, OpUnknown},
	{qPolicyStatus, OpGetBucketPolicyStatus, OpUnknown, OpUnknown, OpUnknown},
	{qVersioning, OpGetBucketVersioning, OpPutBucketVersioning, OpUnknown, OpUnknown},
	{qCors, OpGetBucketCors, OpPutBucketCors, OpDeleteBucketCors, OpUnknown},
	{qLifecycle, OpGetBucketLifecycleConfiguration, OpPutBucketLifecycleConfiguration, OpDeleteBucketLifecycle, OpUnknown},
	{qEncryption, OpGetBucketEncryption, OpPutBucketEncryption, OpDeleteBucketEncryption, OpUnknown},
	{qWebsite, OpGetBucketWebsite, OpPutBucketWebsite, OpDeleteBucketWebsite, OpUnknown},
	{qLogging, OpGetBucketLogging, OpPutBucketLogging, OpUnknown, OpUnknown},
	{qNotification, OpGetBucketNotificationConfiguration, OpPutBucketNotificationConfiguration, OpUnknown, OpUnknown},
	{qReplication, OpGetBucketReplication, OpPutBucketReplication, OpDeleteBucketReplication, OpUnknown},
	{qObjectLock, OpGetObjectLockConfiguration, OpPutObjectLockConfiguration, OpUnknown, OpUnknown},
	{qOwnershipControls, OpGetBucketOwnershipControls, OpPutBucketOwnershipControls, OpDeleteBucketOwnershipControls, OpUnknown},
	{qPublicAccessBlock, OpGetPublicAccessBlock, OpPutPublicAccessBlock, OpDeletePublicAccessBlock, OpUnknown},
	{qRequestPayment, OpGetBucketRequestPayment, OpPutBucketRequestPayment, OpUnknown, OpUnknown},
	{qAccelerate, OpGetBucketAccelerateConfiguration, OpPutBucketAccelerateConfiguration, OpUnknown, OpUnknown},
	{qAnalytics, OpGetBucketAnalyticsConfiguration, OpPutBucketAnalyticsConfiguration, OpDeleteBucketAnalyticsConfiguration, OpListBucketAnalyticsConfigurations},
	{qInventory, OpGetBucketInventoryConfiguration, OpPutBucketInventoryConfiguration, OpDeleteBucketInventoryConfiguration, OpListBucketInventoryConfigurations},
	{qMetrics, OpGetBucketMetricsConfiguration, OpPutBucketMetricsConfiguration, OpDeleteBucketMetricsConfiguration, OpListBucketMetricsConfigurations},
	{qIntelligentTiering, OpGetBucketIntelligentTieringConfiguration, OpPutBucketIntelligentTieringConfiguration, OpDeleteBucketIntelligentTieringConfiguration, OpListBucketIntelligentTieringConfigurations},
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
	get, put Op
}{
	{qAcl, OpGetObjectAcl, OpPutObjectAcl},
	{qRetention, OpGetObjectRetention, OpPutObjectRetention},
	{qLegalHold, OpGetObjectLegalHold, OpPutObjectLegalHold},
	{qAttributes, OpGetObjectAttributes, OpUnknown},
	{qTorrent, OpGetObjectTorrent, OpUnknown},
}

// objectSubresource returns the operation of the first object sub-resource
// in the query for method m. found is false when the query names no object
// sub-resource; op is OpUnknown when it names one that m does not apply to.
func (q *queryInfo) objectSubresource(m objectMethod) (op Op, found bool) {
	if q.present == 0 {
		return OpUnknown, false
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
	return OpUnknown, false
}
