package s3api

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// classifyCase is one request to classify. Content-Length is declared
// only when length >= 0.
type classifyCase struct {
	name    string
	method  string
	target  string
	host    string
	domain  string
	headers map[string]string
	length  int64

	op     string
	action Action
	bucket string
	key    string
	size   int64
	src    CopySource
	code   string
}

func (tc classifyCase) request() *http.Request {
	host := tc.host
	if host == "" {
		host = "127.0.0.1:8333"
	}
	r := httptest.NewRequest(tc.method, "http://"+host+tc.target, nil)
	r.Host = host
	if tc.length >= 0 {
		r.ContentLength = tc.length
		r.Header.Set("Content-Length", strconv.FormatInt(tc.length, 10))
	}
	for k, v := range tc.headers {
		r.Header.Set(k, v)
	}
	return r
}

func TestClassify(t *testing.T) {
	const none = -1
	tests := []classifyCase{
		// Service and bucket level.
		{name: "list buckets", method: "GET", target: "/", length: none, op: "ListBuckets", action: ActionList, size: none},
		{name: "create bucket", method: "PUT", target: "/photos", length: 0, op: "CreateBucket", action: ActionAdmin, bucket: "photos"},
		{name: "create bucket trailing slash", method: "PUT", target: "/photos/", length: 0, op: "CreateBucket", action: ActionAdmin, bucket: "photos"},
		{name: "head bucket", method: "HEAD", target: "/photos", length: none, op: "HeadBucket", action: ActionRead, bucket: "photos", size: none},
		{name: "delete bucket", method: "DELETE", target: "/photos", length: none, op: "DeleteBucket", action: ActionAdmin, bucket: "photos", size: none},
		{name: "location", method: "GET", target: "/photos?location", length: none, op: "GetBucketLocation", action: ActionRead, bucket: "photos", size: none},
		{name: "list v1", method: "GET", target: "/photos?prefix=a&marker=b", length: none, op: "ListObjects", action: ActionList, bucket: "photos", size: none},
		{name: "list v2", method: "GET", target: "/photos?list-type=2&prefix=a", length: none, op: "ListObjectsV2", action: ActionList, bucket: "photos", size: none},
		{name: "list v2 with sdk x-id", method: "GET", target: "/photos?list-type=2&x-id=ListObjectsV2", length: none, op: "ListObjectsV2", action: ActionList, bucket: "photos", size: none},
		{name: "list versions", method: "GET", target: "/photos?versions", length: none, op: "ListObjectVersions", action: ActionList, bucket: "photos", size: none},
		{name: "list uploads", method: "GET", target: "/photos?uploads", length: none, op: "ListMultipartUploads", action: ActionList, bucket: "photos", size: none},
		{name: "bucket tagging get", method: "GET", target: "/photos?tagging", length: none, op: "GetBucketTagging", action: ActionTagging, bucket: "photos", size: none},
		{name: "bucket tagging put", method: "PUT", target: "/photos?tagging", length: 10, op: "PutBucketTagging", action: ActionTagging, bucket: "photos", size: 10},
		{name: "bucket tagging delete", method: "DELETE", target: "/photos?tagging", length: none, op: "DeleteBucketTagging", action: ActionTagging, bucket: "photos", size: none},
		{name: "delete objects", method: "POST", target: "/photos?delete", length: 200, op: "DeleteObjects", action: ActionWrite, bucket: "photos", size: 200},
		{name: "post object", method: "POST", target: "/photos", length: 500, headers: map[string]string{"Content-Type": "multipart/form-data; boundary=xyz"},
			op: "PostObject", action: ActionWrite, bucket: "photos", size: 500},
		{name: "post to bucket without form", method: "POST", target: "/photos", length: 5, code: "MethodNotAllowed"},
		{name: "bucket acl", method: "GET", target: "/photos?acl", length: none, op: "GetBucketAcl", action: ActionRead, bucket: "photos", size: none},
		{name: "bucket policy put", method: "PUT", target: "/photos?policy", length: 50, op: "PutBucketPolicy", action: ActionAdmin, bucket: "photos", size: 50},
		{name: "bucket policy delete", method: "DELETE", target: "/photos?policy", length: none, op: "DeleteBucketPolicy", action: ActionAdmin, bucket: "photos", size: none},
		{name: "bucket versioning", method: "GET", target: "/photos?versioning", length: none, op: "GetBucketVersioning", action: ActionRead, bucket: "photos", size: none},
		{name: "bucket lifecycle delete", method: "DELETE", target: "/photos?lifecycle", length: none, op: "DeleteBucketLifecycle", action: ActionAdmin, bucket: "photos", size: none},
		{name: "bucket acl delete is not an operation", method: "DELETE", target: "/photos?acl", length: none, code: "MethodNotAllowed"},
		{name: "analytics list", method: "GET", target: "/photos?analytics", length: none, op: "ListBucketAnalyticsConfigurations", action: ActionRead, bucket: "photos", size: none},
		{name: "analytics get", method: "GET", target: "/photos?analytics&id=r1", length: none, op: "GetBucketAnalyticsConfiguration", action: ActionRead, bucket: "photos", size: none},
		{name: "unknown parameter ignored", method: "GET", target: "/photos?foo=bar", length: none, op: "ListObjects", action: ActionList, bucket: "photos", size: none},

		// Objects.
		{name: "get object", method: "GET", target: "/photos/2024/cat.jpg", length: none, op: "GetObject", action: ActionRead, bucket: "photos", key: "2024/cat.jpg", size: none},
		{name: "get object part number", method: "GET", target: "/photos/k?partNumber=2", length: none, op: "GetObject", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "head object", method: "HEAD", target: "/photos/k", length: none, op: "HeadObject", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "put object", method: "PUT", target: "/photos/k", length: 1234, op: "PutObject", action: ActionWrite, bucket: "photos", key: "k", size: 1234},
		{name: "put empty object", method: "PUT", target: "/photos/k", length: 0, op: "PutObject", action: ActionWrite, bucket: "photos", key: "k", size: 0},
		{name: "put object without length", method: "PUT", target: "/photos/k", length: none, code: "MissingContentLength"},
		{name: "put object aws-chunked", method: "PUT", target: "/photos/k", length: 2000,
			headers: map[string]string{"X-Amz-Content-Sha256": payloadStreamingUnsignTrail, "X-Amz-Decoded-Content-Length": "1800"},
			op:      "PutObject", action: ActionWrite, bucket: "photos", key: "k", size: 1800},
		{name: "put object aws-chunked by content-encoding", method: "PUT", target: "/photos/k", length: 2000,
			headers: map[string]string{"Content-Encoding": "gzip, aws-chunked", "X-Amz-Decoded-Content-Length": "1500"},
			op:      "PutObject", action: ActionWrite, bucket: "photos", key: "k", size: 1500},
		{name: "put object aws-chunked without decoded length", method: "PUT", target: "/photos/k", length: 2000,
			headers: map[string]string{"X-Amz-Content-Sha256": payloadStreamingSigned}, code: "MissingContentLength"},
		{name: "put object bad decoded length", method: "PUT", target: "/photos/k", length: 2000,
			headers: map[string]string{"X-Amz-Content-Sha256": payloadStreamingSigned, "X-Amz-Decoded-Content-Length": "12x"}, code: "InvalidArgument"},
		{name: "put object bad content length", method: "PUT", target: "/photos/k", length: none,
			headers: map[string]string{"Content-Length": "-5"}, code: "MissingContentLength"},
		{name: "copy object", method: "PUT", target: "/photos/k", length: none, headers: map[string]string{"X-Amz-Copy-Source": "/src/a"},
			op: "CopyObject", action: ActionWrite, bucket: "photos", key: "k", size: 0, src: CopySource{Bucket: "src", Key: "a"}},
		{name: "copy object with version", method: "PUT", target: "/photos/k", length: none, headers: map[string]string{"X-Amz-Copy-Source": "src/dir%2Fa%20b?versionId=null"},
			op: "CopyObject", action: ActionWrite, bucket: "photos", key: "k", size: 0, src: CopySource{Bucket: "src", Key: "dir/a b", VersionID: "null"}},
		{name: "copy object bad source", method: "PUT", target: "/photos/k", length: none, headers: map[string]string{"X-Amz-Copy-Source": "/src"}, code: "InvalidArgument"},
		{name: "delete object", method: "DELETE", target: "/photos/k", length: none, op: "DeleteObject", action: ActionWrite, bucket: "photos", key: "k", size: none},
		{name: "create multipart", method: "POST", target: "/photos/k?uploads", length: 0, op: "CreateMultipartUpload", action: ActionWrite, bucket: "photos", key: "k"},
		{name: "upload part", method: "PUT", target: "/photos/k?partNumber=3&uploadId=abc", length: 5 << 20, op: "UploadPart", action: ActionWrite, bucket: "photos", key: "k", size: 5 << 20},
		{name: "upload part without length", method: "PUT", target: "/photos/k?partNumber=3&uploadId=abc", length: none, code: "MissingContentLength"},
		{name: "upload part copy", method: "PUT", target: "/photos/k?uploadId=abc&partNumber=3", length: none,
			headers: map[string]string{"X-Amz-Copy-Source": "/src/a"}, op: "UploadPartCopy", action: ActionWrite, bucket: "photos", key: "k", size: 0, src: CopySource{Bucket: "src", Key: "a"}},
		{name: "upload part without number", method: "PUT", target: "/photos/k?uploadId=abc", length: 5, code: "InvalidArgument"},
		{name: "complete multipart", method: "POST", target: "/photos/k?uploadId=abc", length: 300, op: "CompleteMultipartUpload", action: ActionWrite, bucket: "photos", key: "k", size: 300},
		{name: "abort multipart", method: "DELETE", target: "/photos/k?uploadId=abc", length: none, op: "AbortMultipartUpload", action: ActionWrite, bucket: "photos", key: "k", size: none},
		{name: "list parts", method: "GET", target: "/photos/k?uploadId=abc", length: none, op: "ListParts", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "object tagging get", method: "GET", target: "/photos/k?tagging", length: none, op: "GetObjectTagging", action: ActionTagging, bucket: "photos", key: "k", size: none},
		{name: "object tagging put", method: "PUT", target: "/photos/k?tagging", length: 100, op: "PutObjectTagging", action: ActionTagging, bucket: "photos", key: "k", size: 100},
		{name: "object tagging delete", method: "DELETE", target: "/photos/k?tagging", length: none, op: "DeleteObjectTagging", action: ActionTagging, bucket: "photos", key: "k", size: none},
		{name: "object acl", method: "GET", target: "/photos/k?acl", length: none, op: "GetObjectAcl", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "object acl put", method: "PUT", target: "/photos/k?acl", length: 0, op: "PutObjectAcl", action: ActionWrite, bucket: "photos", key: "k"},
		{name: "object attributes", method: "GET", target: "/photos/k?attributes", length: none, op: "GetObjectAttributes", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "object attributes put", method: "PUT", target: "/photos/k?attributes", length: 0, code: "MethodNotAllowed"},
		{name: "restore", method: "POST", target: "/photos/k?restore", length: 10, op: "RestoreObject", action: ActionWrite, bucket: "photos", key: "k", size: 10},
		{name: "select", method: "POST", target: "/photos/k?select&select-type=2", length: 10, op: "SelectObjectContent", action: ActionRead, bucket: "photos", key: "k", size: 10},
		{name: "post to object", method: "POST", target: "/photos/k", length: 10, code: "MethodNotAllowed"},

		// Keys.
		{name: "key with encoded space and unicode", method: "GET", target: "/b1c/dir%20one/caf%C3%A9.txt", length: none,
			op: "GetObject", action: ActionRead, bucket: "b1c", key: "dir one/café.txt", size: none},
		{name: "key with double slashes", method: "GET", target: "/b1c//a//b/", length: none,
			op: "GetObject", action: ActionRead, bucket: "b1c", key: "/a//b/", size: none},
		{name: "key with encoded slash", method: "GET", target: "/b1c/a%2Fb", length: none,
			op: "GetObject", action: ActionRead, bucket: "b1c", key: "a/b", size: none},
		{name: "key with plus", method: "GET", target: "/b1c/a+b%2B", length: none,
			op: "GetObject", action: ActionRead, bucket: "b1c", key: "a+b+", size: none},
		{name: "key with encoded percent", method: "GET", target: "/b1c/100%25", length: none,
			op: "GetObject", action: ActionRead, bucket: "b1c", key: "100%", size: none},
		{name: "key decoded once only", method: "GET", target: "/b1c/a%252F", length: none,
			op: "GetObject", action: ActionRead, bucket: "b1c", key: "a%2F", size: none},
		{name: "key of 1024 bytes", method: "GET", target: "/b1c/" + strings.Repeat("k", 1024), length: none,
			op: "GetObject", action: ActionRead, bucket: "b1c", key: strings.Repeat("k", 1024), size: none},
		{name: "key too long", method: "GET", target: "/b1c/" + strings.Repeat("k", 1025), length: none, code: "KeyTooLongError"},
		{name: "key too long once decoded", method: "GET", target: "/b1c/" + strings.Repeat("%E2%82%AC", 342), length: none, code: "KeyTooLongError"},
		{name: "key not utf-8", method: "GET", target: "/b1c/%FF", length: none, code: "InvalidArgument"},
		{name: "key with dot dot segments kept", method: "GET", target: "/b1c/../k/./x", length: none,
			op: "GetObject", action: ActionRead, bucket: "b1c", key: "../k/./x", size: none},
		{name: "double slash is the service", method: "GET", target: "//", length: none,
			op: "ListBuckets", action: ActionList, size: none},
		{name: "object without bucket", method: "GET", target: "//k", length: none, code: "InvalidBucketName"},
		{name: "sub-resource without value", method: "GET", target: "/b1c?uploads&prefix", length: none,
			op: "ListMultipartUploads", action: ActionList, bucket: "b1c", size: none},

		// Buckets.
		{name: "two sub-resources", method: "PUT", target: "/photos?tagging&policy", length: 10, code: "InvalidArgument"},
		{name: "two object sub-resources", method: "GET", target: "/photos/k?uploadId=u&tagging", length: none, code: "InvalidArgument"},
		{name: "acl and retention", method: "PUT", target: "/photos/k?acl&retention", length: 10, code: "InvalidArgument"},
		{name: "sub-resource with qualifiers", method: "GET", target: "/photos?analytics&id=x&list-type=2", length: none,
			op: "GetBucketAnalyticsConfiguration", action: ActionRead, bucket: "photos", size: none},
		{name: "part of an object", method: "GET", target: "/photos/k?partNumber=2&versionId=null&x-id=GetObject", length: none,
			op: "GetObject", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "bucket starting with underscore", method: "GET", target: "/_other/config", length: none, code: "InvalidBucketName"},
		{name: "admin api", method: "PUT", target: "/_s3limit/circuit-breaker", length: 10, op: "AdminCircuitBreaker", action: ActionAdmin, size: none},
		{name: "admin api other path", method: "GET", target: "/_s3limit/nothing", length: none, op: "AdminCircuitBreaker", action: ActionAdmin, size: none},
		{name: "admin api with domain, path style", method: "GET", target: "/_s3limit/circuit-breaker", host: "127.0.0.1:8333", domain: "s3.example.com", length: none,
			op: "AdminCircuitBreaker", action: ActionAdmin, size: none},
		{name: "health live", method: "GET", target: "/_s3limit/health/live", length: none, op: "HealthLive", action: ActionRead, size: none},
		{name: "health ready", method: "GET", target: "/_s3limit/health/ready?verbose", length: none, op: "HealthReady", action: ActionRead, size: none},
		{name: "health ready HEAD", method: "HEAD", target: "/_s3limit/health/ready", length: none, op: "HealthReady", action: ActionRead, size: none},
		{name: "health with domain, path style", method: "GET", target: "/_s3limit/health/ready", host: "10.0.0.7:8333", domain: "s3.example.com", length: none,
			op: "HealthReady", action: ActionRead, size: none},
		{name: "health POST", method: "POST", target: "/_s3limit/health/ready", length: 0, code: "MethodNotAllowed"},
		{name: "health DELETE", method: "DELETE", target: "/_s3limit/health/live", length: none, code: "MethodNotAllowed"},
		{name: "health prefix is the admin api", method: "GET", target: "/_s3limit/health/live/", length: none, op: "AdminCircuitBreaker", action: ActionAdmin, size: none},
		{name: "virtual host health-like key", method: "GET", target: "/_s3limit/health/ready", host: "photos.s3.example.com", domain: "s3.example.com", length: none,
			op: "GetObject", action: ActionRead, bucket: "photos", key: "_s3limit/health/ready", size: none},
		// On a virtual-hosted bucket the admin path is an ordinary key.
		{name: "virtual host admin-like key", method: "PUT", target: "/_s3limit/circuit-breaker", host: "photos.s3.example.com", domain: "s3.example.com", length: 10,
			op: "PutObject", action: ActionWrite, bucket: "photos", key: "_s3limit/circuit-breaker", size: 10},
		{name: "bucket too short", method: "GET", target: "/ab/k", length: none, code: "InvalidBucketName"},
		{name: "dot dot", method: "GET", target: "/../k", length: none, code: "InvalidBucketName"},
		{name: "encoded slash in bucket", method: "GET", target: "/buck%2Fet/k", length: none, code: "InvalidBucketName"},
		{name: "encoded dot dot", method: "GET", target: "/%2E%2E/k", length: none, code: "InvalidBucketName"},
		{name: "legacy bucket accessible", method: "GET", target: "/Legacy_Bucket/k", length: none,
			op: "GetObject", action: ActionRead, bucket: "Legacy_Bucket", key: "k", size: none},
		{name: "legacy bucket not creatable", method: "PUT", target: "/Legacy_Bucket", length: 0, code: "InvalidBucketName"},
		{name: "ip bucket not creatable", method: "PUT", target: "/192.168.1.1", length: 0, code: "InvalidBucketName"},

		// Virtual-hosted style.
		{name: "virtual host object", method: "GET", target: "/dir/k", host: "photos.s3.example.com:8333", domain: "s3.example.com", length: none,
			op: "GetObject", action: ActionRead, bucket: "photos", key: "dir/k", size: none},
		{name: "virtual host bucket", method: "GET", target: "/?list-type=2", host: "photos.s3.example.com", domain: "s3.example.com", length: none,
			op: "ListObjectsV2", action: ActionList, bucket: "photos", size: none},
		{name: "virtual host dotted bucket", method: "GET", target: "/k", host: "my.photos.s3.example.com", domain: "s3.example.com", length: none,
			op: "GetObject", action: ActionRead, bucket: "my.photos", key: "k", size: none},
		{name: "virtual host upper case", method: "GET", target: "/k", host: "Photos.S3.Example.COM", domain: "s3.example.com", length: none,
			op: "GetObject", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "virtual host second domain", method: "GET", target: "/k", host: "photos.localhost:8333", domain: "s3.example.com,localhost", length: none,
			op: "GetObject", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "domain itself is path style", method: "GET", target: "/photos/k", host: "s3.example.com", domain: "s3.example.com", length: none,
			op: "GetObject", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "other host is path style", method: "GET", target: "/photos/k", host: "10.0.0.1:8333", domain: "s3.example.com", length: none,
			op: "GetObject", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "no domain is path style", method: "GET", target: "/photos/k", host: "photos.s3.example.com", length: none,
			op: "GetObject", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "suffix without dot is not virtual", method: "GET", target: "/photos/k", host: "evils3.example.com", domain: "s3.example.com", length: none,
			op: "GetObject", action: ActionRead, bucket: "photos", key: "k", size: none},
		{name: "virtual host with bad bucket", method: "GET", target: "/k", host: "_x.s3.example.com", domain: "s3.example.com", length: none, code: "InvalidBucketName"},

		// Methods.
		{name: "options", method: "OPTIONS", target: "/photos/k", length: none, code: "MethodNotAllowed"},
		{name: "patch bucket", method: "PATCH", target: "/photos", length: none, code: "MethodNotAllowed"},
		{name: "put service", method: "PUT", target: "/", length: 0, code: "MethodNotAllowed"},
		{name: "bad query escape", method: "GET", target: "/photos?%zz=1", length: none, code: "InvalidArgument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Classify(tc.request(), tc.domain)
			wantCode(t, err, tc.code)
			if tc.code != "" {
				if info != nil {
					t.Fatalf("info %+v returned with an error", info)
				}
				return
			}
			op, _ := OpByName(tc.op)
			want := Info{Operation: op, Action: tc.action, Bucket: tc.bucket, Key: tc.key, Size: tc.size, CopySource: tc.src}
			if *info != want {
				t.Fatalf("Classify = %+v\n          want %+v", *info, want)
			}
		})
	}
}

func TestValidBucketName(t *testing.T) {
	valid := []string{"abc", "photos", "my-bucket.example", "a1.b2-c3", strings.Repeat("a", 63), "1.2.3", "192.168.1.1a"}
	invalid := []string{"", "ab", strings.Repeat("a", 64), "Photos", "_s3limit", "-abc", "abc-", ".abc", "abc.",
		"a..b", "a_b", "a b", "192.168.1.1", "a/b", "abc\x00"}
	for _, n := range valid {
		if !ValidBucketName(n) {
			t.Errorf("ValidBucketName(%q) = false", n)
		}
	}
	for _, n := range invalid {
		if ValidBucketName(n) {
			t.Errorf("ValidBucketName(%q) = true", n)
		}
	}
}

func TestParseCopySourceRange(t *testing.T) {
	tests := []struct {
		h           string
		first, last int64
		ok, bad     bool
	}{
		{"", 0, 0, false, false},
		{"bytes=0-9", 0, 9, true, false},
		{"bytes=5-5", 5, 5, true, false},
		{"bytes=5-", 0, 0, false, true},
		{"bytes=-5", 0, 0, false, true},
		{"bytes=6-5", 0, 0, false, true},
		{"items=0-1", 0, 0, false, true},
	}
	for _, tc := range tests {
		first, last, ok, err := ParseCopySourceRange(tc.h)
		if (err != nil) != tc.bad || ok != tc.ok || first != tc.first || last != tc.last {
			t.Errorf("%q: %d-%d %v %v", tc.h, first, last, ok, err)
		}
	}
}
