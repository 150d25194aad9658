package s3api

import (
	"net/http/httptest"
	"testing"
)

// operationRows is the classification table as the rest of the server
// relies on it, written out independently of operations.go, with one
// request per operation that must classify to it.
var operationRows = []struct {
	op      string
	action  Action
	method  string
	target  string
	headers map[string]string
}{
	{op: "ListBuckets", action: ActionList, method: "GET", target: "/"},
	{op: "CreateBucket", action: ActionAdmin, method: "PUT", target: "/bucket"},
	{op: "HeadBucket", action: ActionRead, method: "HEAD", target: "/bucket"},
	{op: "DeleteBucket", action: ActionAdmin, method: "DELETE", target: "/bucket"},
	{op: "GetBucketLocation", action: ActionRead, method: "GET", target: "/bucket?location"},
	{op: "ListObjects", action: ActionList, method: "GET", target: "/bucket"},
	{op: "ListObjectsV2", action: ActionList, method: "GET", target: "/bucket?list-type=2"},
	{op: "ListObjectVersions", action: ActionList, method: "GET", target: "/bucket?versions"},
	{op: "ListMultipartUploads", action: ActionList, method: "GET", target: "/bucket?uploads"},
	{op: "DeleteObjects", action: ActionWrite, method: "POST", target: "/bucket?delete"},
	{op: "PostObject", action: ActionWrite, method: "POST", target: "/bucket", headers: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}},
	{op: "GetBucketTagging", action: ActionTagging, method: "GET", target: "/bucket?tagging"},
	{op: "PutBucketTagging", action: ActionTagging, method: "PUT", target: "/bucket?tagging"},
	{op: "DeleteBucketTagging", action: ActionTagging, method: "DELETE", target: "/bucket?tagging"},
	{op: "GetObjectTagging", action: ActionTagging, method: "GET", target: "/bucket/key?tagging"},
	{op: "PutObjectTagging", action: ActionTagging, method: "PUT", target: "/bucket/key?tagging"},
	{op: "DeleteObjectTagging", action: ActionTagging, method: "DELETE", target: "/bucket/key?tagging"},
	{op: "PutObject", action: ActionWrite, method: "PUT", target: "/bucket/key"},
	{op: "GetObject", action: ActionRead, method: "GET", target: "/bucket/key"},
	{op: "HeadObject", action: ActionRead, method: "HEAD", target: "/bucket/key"},
	{op: "CopyObject", action: ActionWrite, method: "PUT", target: "/bucket/key", headers: map[string]string{"X-Amz-Copy-Source": "/src/key"}},
	{op: "DeleteObject", action: ActionWrite, method: "DELETE", target: "/bucket/key"},
	{op: "CreateMultipartUpload", action: ActionWrite, method: "POST", target: "/bucket/key?uploads"},
	{op: "UploadPart", action: ActionWrite, method: "PUT", target: "/bucket/key?partNumber=1&uploadId=u"},
	{op: "UploadPartCopy", action: ActionWrite, method: "PUT", target: "/bucket/key?partNumber=1&uploadId=u", headers: map[string]string{"X-Amz-Copy-Source": "/src/key"}},
	{op: "CompleteMultipartUpload", action: ActionWrite, method: "POST", target: "/bucket/key?uploadId=u"},
	{op: "AbortMultipartUpload", action: ActionWrite, method: "DELETE", target: "/bucket/key?uploadId=u"},
	{op: "ListParts", action: ActionRead, method: "GET", target: "/bucket/key?uploadId=u"},
	{op: "GetObjectAcl", action: ActionRead, method: "GET", target: "/bucket/key?acl"},
	{op: "PutObjectAcl", action: ActionWrite, method: "PUT", target: "/bucket/key?acl"},
	{op: "GetObjectRetention", action: ActionRead, method: "GET", target: "/bucket/key?retention"},
	{op: "PutObjectRetention", action: ActionWrite, method: "PUT", target: "/bucket/key?retention"},
	{op: "GetObjectLegalHold", action: ActionRead, method: "GET", target: "/bucket/key?legal-hold"},
	{op: "PutObjectLegalHold", action: ActionWrite, method: "PUT", target: "/bucket/key?legal-hold"},
	{op: "GetObjectAttributes", action: ActionRead, method: "GET", target: "/bucket/key?attributes"},
	{op: "GetObjectTorrent", action: ActionRead, method: "GET", target: "/bucket/key?torrent"},
	{op: "RestoreObject", action: ActionWrite, method: "POST", target: "/bucket/key?restore"},
	{op: "SelectObjectContent", action: ActionRead, method: "POST", target: "/bucket/key?select&select-type=2"},
	{op: "GetBucketAcl", action: ActionRead, method: "GET", target: "/bucket?acl"},
	{op: "PutBucketAcl", action: ActionAdmin, method: "PUT", target: "/bucket?acl"},
	{op: "GetBucketPolicy", action: ActionRead, method: "GET", target: "/bucket?policy"},
	{op: "PutBucketPolicy", action: ActionAdmin, method: "PUT", target: "/bucket?policy"},
	{op: "DeleteBucketPolicy", action: ActionAdmin, method: "DELETE", target: "/bucket?policy"},
	{op: "GetBucketPolicyStatus", action: ActionRead, method: "GET", target: "/bucket?policyStatus"},
	{op: "GetBucketVersioning", action: ActionRead, method: "GET", target: "/bucket?versioning"},
	{op: "PutBucketVersioning", action: ActionAdmin, method: "PUT", target: "/bucket?versioning"},
	{op: "GetBucketCors", action: ActionRead, method: "GET", target: "/bucket?cors"},
	{op: "PutBucketCors", action: ActionAdmin, method: "PUT", target: "/bucket?cors"},
	{op: "DeleteBucketCors", action: ActionAdmin, method: "DELETE", target: "/bucket?cors"},
	{op: "GetBucketLifecycleConfiguration", action: ActionRead, method: "GET", target: "/bucket?lifecycle"},
	{op: "PutBucketLifecycleConfiguration", action: ActionAdmin, method: "PUT", target: "/bucket?lifecycle"},
	{op: "DeleteBucketLifecycle", action: ActionAdmin, method: "DELETE", target: "/bucket?lifecycle"},
	{op: "GetBucketEncryption", action: ActionRead, method: "GET", target: "/bucket?encryption"},
	{op: "PutBucketEncryption", action: ActionAdmin, method: "PUT", target: "/bucket?encryption"},
	{op: "DeleteBucketEncryption", action: ActionAdmin, method: "DELETE", target: "/bucket?encryption"},
	{op: "GetBucketWebsite", action: ActionRead, method: "GET", target: "/bucket?website"},
	{op: "PutBucketWebsite", action: ActionAdmin, method: "PUT", target: "/bucket?website"},
	{op: "DeleteBucketWebsite", action: ActionAdmin, method: "DELETE", target: "/bucket?website"},
	{op: "GetBucketLogging", action: ActionRead, method: "GET", target: "/bucket?logging"},
	{op: "PutBucketLogging", action: ActionAdmin, method: "PUT", target: "/bucket?logging"},
	{op: "GetBucketNotificationConfiguration", action: ActionRead, method: "GET", target: "/bucket?notification"},
	{op: "PutBucketNotificationConfiguration", action: ActionAdmin, method: "PUT", target: "/bucket?notification"},
	{op: "GetBucketReplication", action: ActionRead, method: "GET", target: "/bucket?replication"},
	{op: "PutBucketReplication", action: ActionAdmin, method: "PUT", target: "/bucket?replication"},
	{op: "DeleteBucketReplication", action: ActionAdmin, method: "DELETE", target: "/bucket?replication"},
	{op: "GetObjectLockConfiguration", action: ActionRead, method: "GET", target: "/bucket?object-lock"},
	{op: "PutObjectLockConfiguration", action: ActionAdmin, method: "PUT", target: "/bucket?object-lock"},
	{op: "GetBucketOwnershipControls", action: ActionRead, method: "GET", target: "/bucket?ownershipControls"},
	{op: "PutBucketOwnershipControls", action: ActionAdmin, method: "PUT", target: "/bucket?ownershipControls"},
	{op: "DeleteBucketOwnershipControls", action: ActionAdmin, method: "DELETE", target: "/bucket?ownershipControls"},
	{op: "GetPublicAccessBlock", action: ActionRead, method: "GET", target: "/bucket?publicAccessBlock"},
	{op: "PutPublicAccessBlock", action: ActionAdmin, method: "PUT", target: "/bucket?publicAccessBlock"},
	{op: "DeletePublicAccessBlock", action: ActionAdmin, method: "DELETE", target: "/bucket?publicAccessBlock"},
	{op: "GetBucketRequestPayment", action: ActionRead, method: "GET", target: "/bucket?requestPayment"},
	{op: "PutBucketRequestPayment", action: ActionAdmin, method: "PUT", target: "/bucket?requestPayment"},
	{op: "GetBucketAccelerateConfiguration", action: ActionRead, method: "GET", target: "/bucket?accelerate"},
	{op: "PutBucketAccelerateConfiguration", action: ActionAdmin, method: "PUT", target: "/bucket?accelerate"},
	{op: "GetBucketAnalyticsConfiguration", action: ActionRead, method: "GET", target: "/bucket?analytics&id=x"},
	{op: "ListBucketAnalyticsConfigurations", action: ActionRead, method: "GET", target: "/bucket?analytics"},
	{op: "PutBucketAnalyticsConfiguration", action: ActionAdmin, method: "PUT", target: "/bucket?analytics"},
	{op: "DeleteBucketAnalyticsConfiguration", action: ActionAdmin, method: "DELETE", target: "/bucket?analytics"},
	{op: "GetBucketInventoryConfiguration", action: ActionRead, method: "GET", target: "/bucket?inventory&id=x"},
	{op: "ListBucketInventoryConfigurations", action: ActionRead, method: "GET", target: "/bucket?inventory"},
	{op: "PutBucketInventoryConfiguration", action: ActionAdmin, method: "PUT", target: "/bucket?inventory"},
	{op: "DeleteBucketInventoryConfiguration", action: ActionAdmin, method: "DELETE", target: "/bucket?inventory"},
	{op: "GetBucketMetricsConfiguration", action: ActionRead, method: "GET", target: "/bucket?metrics&id=x"},
	{op: "ListBucketMetricsConfigurations", action: ActionRead, method: "GET", target: "/bucket?metrics"},
	{op: "PutBucketMetricsConfiguration", action: ActionAdmin, method: "PUT", target: "/bucket?metrics"},
	{op: "DeleteBucketMetricsConfiguration", action: ActionAdmin, method: "DELETE", target: "/bucket?metrics"},
	{op: "GetBucketIntelligentTieringConfiguration", action: ActionRead, method: "GET", target: "/bucket?intelligent-tiering&id=x"},
	{op: "ListBucketIntelligentTieringConfigurations", action: ActionRead, method: "GET", target: "/bucket?intelligent-tiering"},
	{op: "PutBucketIntelligentTieringConfiguration", action: ActionAdmin, method: "PUT", target: "/bucket?intelligent-tiering"},
	{op: "DeleteBucketIntelligentTieringConfiguration", action: ActionAdmin, method: "DELETE", target: "/bucket?intelligent-tiering"},
	{op: "HealthLive", action: ActionRead, method: "GET", target: "/_s3limit/health/live"},
	{op: "HealthReady", action: ActionRead, method: "GET", target: "/_s3limit/health/ready"},
}

func TestOperationsTable(t *testing.T) {
	table := Ops()
	// The admin API is s3limit's own and is checked by TestClassifyAdmin.
	if len(table) != len(operationRows)+1 {
		t.Errorf("Ops() has %d operations, the test knows %d", len(table), len(operationRows)+1)
	}
	seen := make(map[string]bool)
	for _, o := range table {
		name := o.String()
		if seen[name] {
			t.Errorf("operation %s appears twice", name)
		}
		seen[name] = true
		if byName, ok := OpByName(name); !ok || byName != o {
			t.Errorf("OpByName(%s) = %v, %v; want %d", name, byName, ok, o)
		}
		if !knownAction(o.Action()) {
			t.Errorf("operation %s has unknown action %q", name, o.Action())
		}
		if o.ReadsCopySource() != (o.Body() == BodyCopy) {
			t.Errorf("operation %s: ReadsCopySource %v but body %d", name, o.ReadsCopySource(), o.Body())
		}
	}
	if _, ok := OpByName("NoSuchOperation"); ok {
		t.Error("OpByName found an unknown name")
	}
	if OpUnknown.String() != "Unknown" || OpUnknown.Action() != "" || numOps.String() != "Unknown" {
		t.Error("OpUnknown or an out-of-range Op has a name or an action")
	}
	// Which operations carry object data decides what the upload limiter
	// queues and what the byte limits charge: spelled out here.
	bodies := map[string]Body{"PutObject": BodyUpload, "UploadPart": BodyUpload, "PostObject": BodyUpload,
		"CopyObject": BodyCopy, "UploadPartCopy": BodyCopy}
	for _, o := range table {
		if o.Body() != bodies[o.String()] {
			t.Errorf("%s has body %d, want %d", o, o.Body(), bodies[o.String()])
		}
	}

	for _, row := range operationRows {
		t.Run(row.op, func(t *testing.T) {
			if !seen[row.op] {
				t.Fatalf("%s is missing from Operations()", row.op)
			}
			if o, _ := OpByName(row.op); o.Action() != row.action {
				t.Fatalf("%s.Action() = %q, want %q", row.op, o.Action(), row.action)
			}
			r := httptest.NewRequest(row.method, "http://127.0.0.1:8333"+row.target, nil)
			r.Header.Set("Content-Length", "0")
			for k, v := range row.headers {
				r.Header.Set(k, v)
			}
			info, err := Classify(r, "")
			if err != nil {
				t.Fatalf("Classify(%s %s): %v", row.method, row.target, err)
			}
			if info.Operation.String() != row.op || info.Action != row.action {
				t.Fatalf("Classify(%s %s) = %s/%s, want %s/%s", row.method, row.target, info.Operation, info.Action, row.op, row.action)
			}
		})
	}
}
