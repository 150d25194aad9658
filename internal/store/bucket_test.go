package store

import (
	"strings"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

func TestBucketLifecycle(t *testing.T) {
	e := newEnv(t)
	e.mustDo(req{op: "CreateBucket", method: "PUT", bucket: "zeta"}, 200)
	e.clock.Advance(time.Minute)
	rec := e.mustDo(req{op: "CreateBucket", method: "PUT", bucket: "alpha", body: `<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`}, 200)
	if rec.Header().Get("Location") != "/alpha" {
		t.Fatalf("Location %q", rec.Header().Get("Location"))
	}
	wantError(t, e.do(req{op: "CreateBucket", method: "PUT", bucket: "alpha"}), s3api.ErrBucketAlreadyOwnedByYou)
	wantError(t, e.do(req{op: "CreateBucket", method: "PUT", bucket: "Bad_Name"}), s3api.ErrInvalidBucketName)
	wantError(t, e.do(req{op: "CreateBucket", method: "PUT", bucket: "locked", header: map[string]string{"x-amz-bucket-object-lock-enabled": "true"}}), s3api.ErrNotImplemented)

	rec = e.mustDo(req{op: "ListBuckets", target: "/"}, 200)
	var list struct {
		Owner   struct{ ID, DisplayName string }
		Buckets []struct{ Name, CreationDate string } `xml:"Buckets>Bucket"`
	}
	decodeXML(t, rec, &list)
	if len(list.Buckets) != 2 || list.Buckets[0].Name != "alpha" || list.Buckets[1].Name != "zeta" {
		t.Fatalf("buckets %+v", list.Buckets)
	}
	if list.Buckets[1].CreationDate != "2024-05-06T07:08:09.000Z" || list.Buckets[0].CreationDate != "2024-05-06T07:09:09.000Z" {
		t.Fatalf("creation dates %+v", list.Buckets)
	}
	if list.Owner.ID == "" {
		t.Fatal("no owner")
	}

	rec = e.mustDo(req{op: "HeadBucket", method: "HEAD", bucket: "alpha"}, 200)
	if rec.Header().Get("x-amz-bucket-region") != "us-east-1" {
		t.Fatalf("region header %q", rec.Header().Get("x-amz-bucket-region"))
	}
	wantError(t, e.do(req{op: "HeadBucket", method: "HEAD", bucket: "nope"}), s3api.ErrNoSuchBucket)
	rec = e.mustDo(req{op: "GetBucketLocation", target: "/alpha?location", bucket: "alpha"}, 200)
	if !strings.Contains(rec.Body.String(), `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>`) {
		t.Fatalf("location %s", rec.Body.String())
	}
	rec = e.mustDo(req{op: "GetBucketVersioning", target: "/alpha?versioning", bucket: "alpha"}, 200)
	if !strings.Contains(rec.Body.String(), "<VersioningConfiguration") {
		t.Fatalf("versioning %s", rec.Body.String())
	}

	e.put("alpha", "obj", "x")
	wantError(t, e.do(req{op: "DeleteBucket", method: "DELETE", bucket: "alpha"}), s3api.ErrBucketNotEmpty)
	if err := e.s.DeleteObject("alpha", "obj"); err != nil {
		t.Fatal(err)
	}
	e.mustDo(req{op: "DeleteBucket", method: "DELETE", bucket: "alpha"}, 204)
	wantError(t, e.do(req{op: "DeleteBucket", method: "DELETE", bucket: "alpha"}), s3api.ErrNoSuchBucket)
	wantError(t, e.do(req{op: "ListObjectsV2", bucket: "alpha"}), s3api.ErrNoSuchBucket)
	// The name can be used again, and the new bucket starts empty.
	e.mustDo(req{op: "CreateBucket", method: "PUT", bucket: "alpha"}, 200)
	if lr, _ := e.s.ListObjects("alpha", ListOptions{MaxKeys: 10}); len(lr.Objects) != 0 {
		t.Fatalf("recreated bucket holds %v", lr.Objects)
	}
}

func TestDeleteBucketAbortsUploads(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	id, err := e.s.CreateMultipartUpload("bkt", "big", Metadata{}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.UploadPart(t.Context(), "bkt", "big", id, 1, strings.NewReader("part"), PartOptions{Size: 4}); err != nil {
		t.Fatal(err)
	}
	e.checkNoGarbage(1)
	if err := e.s.DeleteBucket("bkt"); err != nil {
		t.Fatalf("delete bucket with an upload: %v", err)
	}
	e.checkNoGarbage(0)
	e.mkBucket("bkt")
	if _, err := e.s.ListParts("bkt", "big", id, 0, 10); err != s3api.ErrNoSuchUpload {
		t.Fatalf("upload survived its bucket: %v", err)
	}
}

func TestListBucketsPaging(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"aaa", "aab", "abc", "bcd", "bce"} {
		e.mkBucket(n)
	}
	var names []string
	target := "/?max-buckets=2&prefix=a"
	for range 5 {
		rec := e.mustDo(req{op: "ListBuckets", target: target}, 200)
		var page struct {
			Buckets           []struct{ Name string } `xml:"Buckets>Bucket"`
			ContinuationToken string
			Prefix            string
		}
		decodeXML(t, rec, &page)
		if page.Prefix != "a" {
			t.Fatalf("prefix %q", page.Prefix)
		}
		for _, b := range page.Buckets {
			names = append(names, b.Name)
		}
		if page.ContinuationToken == "" {
			break
		}
		target = "/?max-buckets=2&prefix=a&continuation-token=" + page.ContinuationToken
	}
	if strings.Join(names, ",") != "aaa,aab,abc" {
		t.Fatalf("paged buckets %v", names)
	}
	wantError(t, e.do(req{op: "ListBuckets", target: "/?max-buckets=0"}), s3api.ErrInvalidArgument)
	wantError(t, e.do(req{op: "ListBuckets", target: "/?continuation-token=%21%21"}), s3api.ErrInvalidArgument)
}

func TestListBucketsShowsOnlyListableBuckets(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"logs", "photos", "photos-2024", "private"} {
		e.mkBucket(n)
	}
	id := func(actions ...string) *s3api.Identity { return &s3api.Identity{Name: "t", Actions: actions} }
	tests := []struct {
		name     string
		identity *s3api.Identity
		target   string
		want     string
	}{
		{"unscoped List", id("List"), "/", "logs,photos,photos-2024,private"},
		{"admin", id("Admin"), "/", "logs,photos,photos-2024,private"},
		{"List on every bucket", id("List:*"), "/", "logs,photos,photos-2024,private"},
		{"one bucket", id("Read:photos", "List:photos"), "/", "photos"},
		{"a prefix", id("List:photos*"), "/", "photos,photos-2024"},
		{"scoped admin", id("Admin:private", "List:logs"), "/", "logs,private"},
		{"scoped, paged", id("List:photos*", "List:private"), "/?max-buckets=2", "photos,photos-2024"},
		{"no identity", nil, "/", "logs,photos,photos-2024,private"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.mustDo(req{op: "ListBuckets", target: tc.target, identity: tc.identity}, 200)
			var page struct {
				Buckets []struct{ Name string } `xml:"Buckets>Bucket"`
			}
			decodeXML(t, rec, &page)
			var names []string
			for _, b := range page.Buckets {
				names = append(names, b.Name)
			}
			if got := strings.Join(names, ","); got != tc.want {
				t.Fatalf("listed %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBucketTagging(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	wantError(t, e.do(req{op: "GetBucketTagging", target: "/bkt?tagging", bucket: "bkt"}), s3api.ErrNoSuchTagSet)
	body := `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>cost-center</Key><Value>42</Value></Tag></TagSet></Tagging>`
	e.mustDo(req{op: "PutBucketTagging", method: "PUT", target: "/bkt?tagging", bucket: "bkt", body: body, header: map[string]string{"Content-MD5": md5b64(body)}}, 204)
	rec := e.mustDo(req{op: "GetBucketTagging", target: "/bkt?tagging", bucket: "bkt"}, 200)
	var doc struct {
		TagSet []Tag `xml:"TagSet>Tag"`
	}
	decodeXML(t, rec, &doc)
	if len(doc.TagSet) != 1 || doc.TagSet[0] != (Tag{"cost-center", "42"}) {
		t.Fatalf("bucket tags %+v", doc.TagSet)
	}
	var many strings.Builder
	many.WriteString("<Tagging><TagSet>")
	for i := range maxBucketTags + 1 {
		many.WriteString("<Tag><Key>k" + strings.Repeat("x", i) + "</Key><Value>v</Value></Tag>")
	}
	many.WriteString("</TagSet></Tagging>")
	wantError(t, e.do(req{op: "PutBucketTagging", method: "PUT", target: "/bkt?tagging", bucket: "bkt", body: many.String()}), s3api.ErrInvalidTag)
	wantError(t, e.do(req{op: "PutBucketTagging", method: "PUT", target: "/bkt?tagging", bucket: "bkt", body: body, header: map[string]string{"Content-MD5": md5b64("x")}}), s3api.ErrBadDigest)
	wantError(t, e.do(req{op: "PutBucketTagging", method: "PUT", target: "/nob?tagging", bucket: "nob", body: body}), s3api.ErrNoSuchBucket)
	e.mustDo(req{op: "DeleteBucketTagging", method: "DELETE", target: "/bkt?tagging", bucket: "bkt"}, 204)
	wantError(t, e.do(req{op: "GetBucketTagging", target: "/bkt?tagging", bucket: "bkt"}), s3api.ErrNoSuchTagSet)
}

func TestUnimplementedOperations(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	for _, op := range []string{"ListObjectVersions", "GetBucketAcl", "PostObject", "PutBucketPolicy", "GetObjectAcl", "PutBucketVersioning", ""} {
		t.Run(op, func(t *testing.T) {
			wantError(t, e.do(req{op: op, bucket: "bkt"}), s3api.ErrNotImplemented)
		})
	}
}
