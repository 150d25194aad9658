package transfer

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// opOf names the S3 operation of a request to the fake.
func opOf(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		return "CreateMultipartUpload"
	case r.Method == http.MethodPut && q.Has("uploadId"):
		return "UploadPart"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload"
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		return "AbortMultipartUpload"
	case r.Method == http.MethodPut:
		return "PutObject"
	case r.Method == http.MethodHead:
		return "HeadObject"
	case r.Method == http.MethodGet:
		return "GetObject"
	case r.Method == http.MethodDelete:
		return "DeleteObject"
	}
	return r.Method
}

// requestLog records the requests reaching a fake: per operation, the
// headers, query and (for CompleteMultipartUpload) body of each.
type requestLog struct {
	mu   sync.Mutex
	reqs map[string][]*http.Request
	body map[string][]byte
}

func logRequests(fake *fakeS3) *requestLog {
	l := &requestLog{reqs: map[string][]*http.Request{}, body: map[string][]byte{}}
	fake.fault = func(r *http.Request) *http.Response {
		op := opOf(r)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.reqs[op] = append(l.reqs[op], r)
		if op == "CompleteMultipartUpload" {
			b, _ := io.ReadAll(r.Body)
			l.body[op] = b
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.ContentLength = int64(len(b))
		}
		return nil
	}
	return l
}

// header returns the values of header h in every request of op, and
// fails if op was not sent.
func (l *requestLog) header(t *testing.T, op, h string) []string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.reqs[op]) == 0 {
		t.Fatalf("no %s request", op)
	}
	var vs []string
	for _, r := range l.reqs[op] {
		vs = append(vs, r.Header.Get(h))
	}
	return vs
}

func (l *requestLog) query(t *testing.T, op, name string) []string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.reqs[op]) == 0 {
		t.Fatalf("no %s request", op)
	}
	var vs []string
	for _, r := range l.reqs[op] {
		vs = append(vs, r.URL.Query().Get(name))
	}
	return vs
}

// expect checks that every request of each op carried header h = want.
func (l *requestLog) expect(t *testing.T, h, want string, ops ...string) {
	t.Helper()
	for _, op := range ops {
		for i, v := range l.header(t, op, h) {
			if v != want {
				t.Errorf("%s #%d: %s = %q, want %q", op, i+1, h, v, want)
			}
		}
	}
}

var testSSECKey = bytes.Repeat([]byte{7}, 32)

func sseCHeaders() (key, sum string) {
	s := md5.Sum(testSSECKey)
	return base64.StdEncoding.EncodeToString(testSSECKey), base64.StdEncoding.EncodeToString(s[:])
}

// Every option reaches every request of an upload that needs it, for a
// single PutObject and for each request of a multipart upload.
func TestUploadOptionsReachEveryRequest(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int
		objectOps []string // requests that create the object
		partOps   []string // requests that carry the data of a part
		allOps    []string
	}{
		{"single", 1000, []string{"PutObject"}, []string{"PutObject"}, []string{"PutObject"}},
		{"multipart", 12 * MiB, []string{"CreateMultipartUpload"}, []string{"UploadPart"},
			[]string{"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeS3()
			log := logRequests(fake)
			m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
			data := pattern(tc.size, 1)
			_, err := m.Upload(context.Background(), bytes.NewReader(data), "b", "k",
				WithContentType("text/csv"),
				WithCacheControl("max-age=60"),
				WithContentDisposition(`attachment; filename="r.csv"`),
				WithContentEncoding("gzip"),
				WithMetadata(map[string]string{"team": "ops"}),
				WithTagging(map[string]string{"b": "x y", "a": "1"}),
				WithStorageClass(types.StorageClassStandardIa),
				WithACL(types.ObjectCannedACLBucketOwnerFullControl),
				WithSSECustomerKey(testSSECKey),
				WithChecksumAlgorithm(types.ChecksumAlgorithmCrc32c),
				WithExpectedBucketOwner("111122223333"),
			).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := fake.get("b/k"); !bytes.Equal(got, data) {
				t.Fatal("content differs")
			}
			log.expect(t, "Content-Type", "text/csv", tc.objectOps...)
			log.expect(t, "Cache-Control", "max-age=60", tc.objectOps...)
			log.expect(t, "Content-Disposition", `attachment; filename="r.csv"`, tc.objectOps...)
			log.expect(t, "Content-Encoding", "gzip", tc.objectOps...)
			log.expect(t, "X-Amz-Meta-Team", "ops", tc.objectOps...)
			log.expect(t, "X-Amz-Tagging", "a=1&b=x+y", tc.objectOps...)
			log.expect(t, "X-Amz-Storage-Class", "STANDARD_IA", tc.objectOps...)
			log.expect(t, "X-Amz-Acl", "bucket-owner-full-control", tc.objectOps...)
			key, sum := sseCHeaders()
			log.expect(t, "X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256", tc.allOps...)
			log.expect(t, "X-Amz-Server-Side-Encryption-Customer-Key", key, tc.allOps...)
			log.expect(t, "X-Amz-Server-Side-Encryption-Customer-Key-Md5", sum, tc.allOps...)
			log.expect(t, "X-Amz-Expected-Bucket-Owner", "111122223333", tc.allOps...)
			for _, op := range tc.partOps {
				for i, v := range log.header(t, op, "X-Amz-Checksum-Crc32c") {
					if v == "" {
						t.Errorf("%s #%d carries no CRC32C checksum", op, i+1)
					}
				}
			}
			if tc.name == "multipart" {
				log.expect(t, "X-Amz-Checksum-Algorithm", "CRC32C", "CreateMultipartUpload")
				if body := string(log.body["CompleteMultipartUpload"]); strings.Count(body, "<ChecksumCRC32C>") != 3 {
					t.Errorf("CompleteMultipartUpload does not list the 3 parts' checksums: %s", body)
				}
			}
		})
	}
}

// SSE-S3 and SSE-KMS set the encryption headers of the request that
// creates the object.
func TestUploadServerSideEncryption(t *testing.T) {
	for _, tc := range []struct {
		name        string
		opt         Option
		sse, kmsKey string
	}{
		{"SSE-S3", WithSSES3(), "AES256", ""},
		{"SSE-KMS default key", WithSSEKMS(""), "aws:kms", ""},
		{"SSE-KMS", WithSSEKMS("alias/backups"), "aws:kms", "alias/backups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeS3()
			log := logRequests(fake)
			m := newTestManager(t, fake.client(), Config{})
			if _, err := m.Upload(context.Background(), strings.NewReader("x"), "b", "k", tc.opt).Result(); err != nil {
				t.Fatal(err)
			}
			log.expect(t, "X-Amz-Server-Side-Encryption", tc.sse, "PutObject")
			log.expect(t, "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", tc.kmsKey, "PutObject")
		})
	}
}

// Downloads carry the SSE-C key, the version and the expected owner on
// the HeadObject and on every GET.
func TestDownloadOptionsReachEveryRequest(t *testing.T) {
	fake := newFakeS3()
	fake.put("b/k", pattern(12*MiB, 2))
	log := logRequests(fake)
	m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
	var w bufferAt
	if _, err := m.Download(context.Background(), "b", "k", &w,
		WithSSECustomerKey(testSSECKey), WithVersionID("v42"), WithExpectedBucketOwner("111122223333")).Result(); err != nil {
		t.Fatal(err)
	}
	key, sum := sseCHeaders()
	ops := []string{"HeadObject", "GetObject"}
	log.expect(t, "X-Amz-Server-Side-Encryption-Customer-Key", key, ops...)
	log.expect(t, "X-Amz-Server-Side-Encryption-Customer-Key-Md5", sum, ops...)
	log.expect(t, "X-Amz-Expected-Bucket-Owner", "111122223333", ops...)
	for _, op := range ops {
		for i, v := range log.query(t, op, "versionId") {
			if v != "v42" {
				t.Errorf("%s #%d: versionId %q", op, i+1, v)
			}
		}
	}
	if n := len(log.header(t, "GetObject", "Range")); n != 3 {
		t.Errorf("%d GETs, want 3 ranged parts", n)
	}
}

// WithRequest sees every request of the transfer after the options, may
// set fields that have no option, and cannot redirect the transfer.
func TestWithRequestShapesEveryRequest(t *testing.T) {
	fake := newFakeS3()
	log := logRequests(fake)
	m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
	var mu sync.Mutex
	seen := map[string]int{}
	shape := WithRequest(func(in any) {
		mu.Lock()
		defer mu.Unlock()
		switch in := in.(type) {
		case *s3.CreateMultipartUploadInput:
			seen["create"]++
			in.ObjectLockLegalHoldStatus = types.ObjectLockLegalHoldStatusOn
			in.StorageClass = types.StorageClassGlacierIr // overrides WithStorageClass
			in.Bucket = ptr("elsewhere")                  // set back by the manager
		case *s3.UploadPartInput:
			seen["part"]++
			in.Key = ptr("other-key")
		case *s3.CompleteMultipartUploadInput:
			seen["complete"]++
		}
	})
	data := pattern(11*MiB, 4)
	if _, err := m.Upload(context.Background(), bytes.NewReader(data), "b", "k",
		WithStorageClass(types.StorageClassStandardIa), shape).Result(); err != nil {
		t.Fatal(err)
	}
	if got, _ := fake.get("b/k"); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if seen["create"] != 1 || seen["part"] != 3 || seen["complete"] != 1 {
		t.Fatalf("requests seen by the function: %v", seen)
	}
	log.expect(t, "X-Amz-Object-Lock-Legal-Hold", "ON", "CreateMultipartUpload")
	log.expect(t, "X-Amz-Storage-Class", "GLACIER_IR", "CreateMultipartUpload")
}

func ptr(s string) *string { return &s }

func TestInvalidOptionsFailTheTransfer(t *testing.T) {
	fake := newFakeS3()
	fake.put("b/k", []byte("hello"))
	m := newTestManager(t, fake.client(), Config{})
	for _, tc := range []struct {
		name string
		opt  Option
		want string
	}{
		{"short SSE-C key", WithSSECustomerKey(make([]byte, 16)), "WithSSECustomerKey: the key has 16 bytes; SSE-C needs a 32-byte AES-256 key"},
		{"short source SSE-C key", WithCopySourceSSECustomerKey(nil), "WithCopySourceSSECustomerKey: the key has 0 bytes"},
		{"negative offset", WithRange(-1, 5), "WithRange(-1, 5): negative offset"},
		{"zero length", WithRange(0, 0), "WithRange(0, 0): length must be positive"},
		{"bad pattern", WithInclude("[a-"), `WithInclude("[a-"): unterminated [`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.DownloadStream(context.Background(), "b", "k", io.Discard, tc.opt).Result()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if fake.count("HeadObject") != 0 {
				t.Fatal("a request was sent despite the invalid option")
			}
		})
	}
}
