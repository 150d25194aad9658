package store

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

func TestCopyObject(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("src")
	e.mkBucket("dst")
	e.mustDo(req{op: "PutObject", method: "PUT", bucket: "src", key: "a b", body: "payload", header: map[string]string{
		"Content-Type": "text/plain", "x-amz-meta-k": "v", "x-amz-tagging": "t=1",
	}}, 200)
	src, _ := e.s.StatObject("src", "a b")
	e.clock.Advance(time.Hour)
	copyObj := func(bucket, key string, h map[string]string) *httptest.ResponseRecorder {
		return e.do(req{op: "CopyObject", method: "PUT", bucket: bucket, key: key, header: h})
	}

	rec := copyObj("dst", "copy", map[string]string{"x-amz-copy-source": "/src/a%20b"})
	if rec.Code != 200 {
		t.Fatalf("copy: %d %s", rec.Code, rec.Body.String())
	}
	var res struct{ ETag, LastModified string }
	decodeXML(t, rec, &res)
	if res.ETag != src.ETag || res.LastModified != "2024-05-06T08:08:09.000Z" {
		t.Fatalf("copy result %+v", res)
	}
	oi, _ := e.s.StatObject("dst", "copy")
	if oi.Metadata.ContentType != "text/plain" || oi.Metadata.User["k"] != "v" || len(oi.Tags) != 1 {
		t.Fatalf("COPY directive lost metadata: %+v", oi)
	}
	if got, _ := e.read("dst", "copy"); got != "payload" {
		t.Fatalf("copied data %q", got)
	}

	rec = copyObj("dst", "replaced", map[string]string{
		"x-amz-copy-source": "src/a%20b", "x-amz-metadata-directive": "REPLACE", "Content-Type": "image/png", "x-amz-meta-new": "1",
		"x-amz-tagging-directive": "REPLACE", "x-amz-tagging": "x=y&z=w",
	})
	if rec.Code != 200 {
		t.Fatalf("copy replace: %s", rec.Body.String())
	}
	oi, _ = e.s.StatObject("dst", "replaced")
	if oi.Metadata.ContentType != "image/png" || oi.Metadata.User["new"] != "1" || oi.Metadata.User["k"] != "" || len(oi.Tags) != 2 {
		t.Fatalf("REPLACE directive: %+v", oi)
	}

	tests := []struct {
		name, bucket, key string
		h                 map[string]string
		want              *s3api.Error
	}{
		{"onto itself without replace", "src", "a b", map[string]string{"x-amz-copy-source": "/src/a%20b"}, s3api.ErrInvalidRequest},
		{"missing source key", "dst", "x", map[string]string{"x-amz-copy-source": "/src/none"}, s3api.ErrNoSuchKey},
		{"missing source bucket", "dst", "x", map[string]string{"x-amz-copy-source": "/none/x"}, s3api.ErrNoSuchBucket},
		{"missing destination bucket", "none", "x", map[string]string{"x-amz-copy-source": "/src/a%20b"}, s3api.ErrNoSuchBucket},
		{"no key in source", "dst", "x", map[string]string{"x-amz-copy-source": "/src"}, s3api.ErrInvalidArgument},
		{"bad escape in source", "dst", "x", map[string]string{"x-amz-copy-source": "/src/%zz"}, s3api.ErrInvalidArgument},
		{"bad directive", "dst", "x", map[string]string{"x-amz-copy-source": "/src/a%20b", "x-amz-metadata-directive": "MERGE"}, s3api.ErrInvalidArgument},
		{"bad tagging directive", "dst", "x", map[string]string{"x-amz-copy-source": "/src/a%20b", "x-amz-tagging-directive": "MERGE"}, s3api.ErrInvalidArgument},
		{"if-match fails", "dst", "x", map[string]string{"x-amz-copy-source": "/src/a%20b", "x-amz-copy-source-if-match": `"x"`}, s3api.ErrPreconditionFailed},
		{"if-none-match fails", "dst", "x", map[string]string{"x-amz-copy-source": "/src/a%20b", "x-amz-copy-source-if-none-match": src.ETag}, s3api.ErrPreconditionFailed},
		{"if-modified-since fails", "dst", "x", map[string]string{"x-amz-copy-source": "/src/a%20b", "x-amz-copy-source-if-modified-since": e.clock.Now().Format(http.TimeFormat)}, s3api.ErrPreconditionFailed},
		{"if-unmodified-since fails", "dst", "x", map[string]string{"x-amz-copy-source": "/src/a%20b", "x-amz-copy-source-if-unmodified-since": src.LastModified.Add(-time.Hour).Format(http.TimeFormat)}, s3api.ErrPreconditionFailed},
		{"source version", "dst", "x", map[string]string{"x-amz-copy-source": "/src/a%20b?versionId=7"}, ErrNoSuchVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantError(t, copyObj(tc.bucket, tc.key, tc.h), tc.want) })
	}
	e.mustDo(req{op: "CopyObject", method: "PUT", bucket: "dst", key: "cond", header: map[string]string{"x-amz-copy-source": "/src/a%20b?versionId=null", "x-amz-copy-source-if-match": src.ETag}}, 200)
	e.checkNoGarbage(0)
}

func TestCopyObjectOntoItselfReplacesMetadata(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	before := e.put("bkt", "k", "data")
	e.clock.Advance(time.Hour)
	rec := e.mustDo(req{op: "CopyObject", method: "PUT", bucket: "bkt", key: "k", header: map[string]string{
		"x-amz-copy-source": "/bkt/k", "x-amz-metadata-directive": "REPLACE", "Content-Type": "text/csv", "x-amz-meta-rev": "2",
	}}, 200)
	var res struct{ ETag string }
	decodeXML(t, rec, &res)
	after, _ := e.s.StatObject("bkt", "k")
	if res.ETag != before.ETag || after.ETag != before.ETag || after.Metadata.ContentType != "text/csv" || after.Metadata.User["rev"] != "2" {
		t.Fatalf("self copy: %+v", after)
	}
	if !after.LastModified.Equal(before.LastModified.Add(time.Hour)) {
		t.Fatalf("Last-Modified %v, want %v", after.LastModified, before.LastModified.Add(time.Hour))
	}
	if !sameSegments(after.segs, before.segs) {
		t.Fatalf("self copy rewrote data: %v → %v", before.segs, after.segs)
	}
	wantError(t, e.do(req{op: "CopyObject", method: "PUT", bucket: "bkt", key: "none", header: map[string]string{"x-amz-copy-source": "/bkt/none"}}), s3api.ErrNoSuchKey)
}

func TestCopyMultipartSource(t *testing.T) {
	e := newEnv(t)
	e.s.minPartSize = 2
	e.mkBucket("bkt")
	id := e.createUpload("bkt", "mp", nil)
	e1 := e.uploadPart("bkt", "mp", id, 1, "abc")
	e2 := e.uploadPart("bkt", "mp", id, 2, "def")
	if rec := e.complete("bkt", "mp", id, completeBody(1, e1, 2, e2)); rec.Code != 200 {
		t.Fatal(rec.Body.String())
	}
	oi, err := e.s.CopyObject(t.Context(), "bkt", "mp", "bkt", "flat", CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if oi.ETag != `"`+md5hex("abcdef")+`"` || oi.PartsCount != 0 {
		t.Fatalf("copy of a multipart object: %+v", oi)
	}
	if got, _ := e.read("bkt", "flat"); got != "abcdef" {
		t.Fatalf("data %q", got)
	}
}
