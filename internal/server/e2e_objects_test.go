package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

func TestObjectRoundTrip(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "objects")

	body := []byte("hello, s3limit")
	keys := []string{"plain.txt", "dir/sub dir/ünïcode+plus%percent?&=.txt", "a/very/" + strings.Repeat("deep/", 40) + "key"}
	for _, key := range keys {
		t.Run("", func(t *testing.T) {
			put, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket:             aws.String("objects"),
				Key:                aws.String(key),
				Body:               bytes.NewReader(body),
				ContentType:        aws.String("text/x-test; charset=utf-8"),
				ContentEncoding:    aws.String("gzip"),
				ContentDisposition: aws.String(`attachment; filename="report.txt"`),
				CacheControl:       aws.String("max-age=3600, private"),
				ContentLanguage:    aws.String("de-CH"),
				Expires:            aws.Time(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)),
				Metadata:           map[string]string{"color": "blue", "Multi-Word": "a b  c", "empty": ""},
			})
			if err != nil {
				t.Fatalf("PutObject %q: %v", key, err)
			}
			if got, want := aws.ToString(put.ETag), quoted(md5Hex(body)); got != want {
				t.Fatalf("PutObject ETag = %s, want %s", got, want)
			}
			get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("objects"), Key: aws.String(key)})
			if err != nil {
				t.Fatalf("GetObject %q: %v", key, err)
			}
			got, err := io.ReadAll(get.Body)
			get.Body.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("GetObject body = %q, %v; want %q", got, err, body)
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objects"), Key: aws.String(key)})
			if err != nil {
				t.Fatalf("HeadObject %q: %v", key, err)
			}
			for _, o := range []struct {
				what      string
				get, head *string
				want      string
			}{
				{"ETag", get.ETag, head.ETag, quoted(md5Hex(body))},
				{"Content-Type", get.ContentType, head.ContentType, "text/x-test; charset=utf-8"},
				{"Content-Encoding", get.ContentEncoding, head.ContentEncoding, "gzip"},
				{"Content-Disposition", get.ContentDisposition, head.ContentDisposition, `attachment; filename="report.txt"`},
				{"Cache-Control", get.CacheControl, head.CacheControl, "max-age=3600, private"},
				{"Content-Language", get.ContentLanguage, head.ContentLanguage, "de-CH"},
			} {
				if aws.ToString(o.get) != o.want || aws.ToString(o.head) != o.want {
					t.Errorf("%s: GET %q, HEAD %q, want %q", o.what, aws.ToString(o.get), aws.ToString(o.head), o.want)
				}
			}
			if aws.ToInt64(head.ContentLength) != int64(len(body)) || aws.ToInt64(get.ContentLength) != int64(len(body)) {
				t.Errorf("Content-Length: GET %d, HEAD %d, want %d", aws.ToInt64(get.ContentLength), aws.ToInt64(head.ContentLength), len(body))
			}
			if head.LastModified == nil || time.Since(*head.LastModified) > time.Hour {
				t.Errorf("Last-Modified %v is not about now", head.LastModified)
			}
			wantMeta := map[string]string{"color": "blue", "multi-word": "a b  c", "empty": ""}
			for _, m := range []map[string]string{get.Metadata, head.Metadata} {
				lower := map[string]string{}
				for k, v := range m {
					lower[strings.ToLower(k)] = v
				}
				for k, v := range wantMeta {
					if got, ok := lower[k]; !ok || got != v {
						// S3 may drop an empty value; everything else must match.
						if !(v == "" && !ok) {
							t.Errorf("metadata %q = %q (present %v), want %q; all: %v", k, got, ok, v, m)
						}
					}
				}
			}
		})
	}
	if got := listKeys(t, c, "objects", ""); !slices.Equal(got, []string{keys[2], keys[1], keys[0]}) {
		t.Fatalf("listing = %q, want %q", got, []string{keys[2], keys[1], keys[0]})
	}

	t.Run("Overwrite", func(t *testing.T) {
		etag := putObject(t, c, "objects", "plain.txt", []byte("second version"))
		if etag != quoted(md5Hex([]byte("second version"))) {
			t.Fatalf("ETag after overwrite = %s", etag)
		}
		if got := servertest.GetObject(t, c, "objects", "plain.txt"); string(got) != "second version" {
			t.Fatalf("body after overwrite = %q", got)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objects"), Key: aws.String("plain.txt")})
		if err != nil {
			t.Fatal(err)
		}
		if head.ContentType != nil && strings.HasPrefix(*head.ContentType, "text/x-test") {
			t.Errorf("overwrite kept the old Content-Type %q", *head.ContentType)
		}
		if len(head.Metadata) != 0 {
			t.Errorf("overwrite kept the old metadata %v", head.Metadata)
		}
	})
	t.Run("EmptyObject", func(t *testing.T) {
		etag := putObject(t, c, "objects", "empty", nil)
		if etag != `"d41d8cd98f00b204e9800998ecf8427e"` {
			t.Fatalf("ETag of an empty object = %s", etag)
		}
		if got := servertest.GetObject(t, c, "objects", "empty"); len(got) != 0 {
			t.Fatalf("empty object reads back %d bytes", len(got))
		}
	})
	t.Run("Delete", func(t *testing.T) {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("objects"), Key: aws.String("plain.txt")}); err != nil {
			t.Fatalf("DeleteObject: %v", err)
		}
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("objects"), Key: aws.String("plain.txt")})
		wantError(t, err, http.StatusNotFound, "NoSuchKey")
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objects"), Key: aws.String("plain.txt")})
		wantError(t, err, http.StatusNotFound, "")
		// Deleting a missing key succeeds, as in S3.
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("objects"), Key: aws.String("plain.txt")}); err != nil {
			t.Fatalf("DeleteObject of a missing key: %v", err)
		}
	})
	t.Run("MissingContentLength", func(t *testing.T) {
		// A chunked transfer without any declared length.
		r, err := http.NewRequest(http.MethodPut, s.URL+"/objects/no-length", io.MultiReader(strings.NewReader("abc")))
		if err != nil {
			t.Fatal(err)
		}
		r.ContentLength = -1
		signRequest(t, r, s.AccessKey, s.SecretKey, unsignedPayload, time.Time{})
		status, _, respBody := do(t, http.DefaultClient, r)
		if status != http.StatusLengthRequired || s3ErrorCode(respBody) != "MissingContentLength" {
			t.Fatalf("PUT without a length: %d %s, want 411 MissingContentLength", status, respBody)
		}
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objects"), Key: aws.String("no-length")})
		wantError(t, err, http.StatusNotFound, "")
	})
	t.Run("NotImplemented", func(t *testing.T) {
		_, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("objects")})
		wantError(t, err, http.StatusNotImplemented, "NotImplemented")
		_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
			Bucket:                  aws.String("objects"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
		})
		wantError(t, err, http.StatusNotImplemented, "NotImplemented")
	})
}

func TestGetObjectRange(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	createBucket(t, c, "ranges")
	body := []byte("abcdefghijklmnopqrstuvwxyz")
	putObject(t, c, "ranges", "alphabet", body)

	tests := []struct {
		rng, want, contentRange string
	}{
		{"bytes=0-4", "abcde", "bytes 0-4/26"},
		{"bytes=5-5", "f", "bytes 5-5/26"},
		{"bytes=20-", "uvwxyz", "bytes 20-25/26"},
		{"bytes=-3", "xyz", "bytes 23-25/26"},
		{"bytes=24-1000", "yz", "bytes 24-25/26"},
		{"bytes=-100", string(body), "bytes 0-25/26"},
	}
	for _, tc := range tests {
		t.Run(tc.rng, func(t *testing.T) {
			out, err := c.GetObject(context.Background(), &s3.GetObjectInput{
				Bucket: aws.String("ranges"), Key: aws.String("alphabet"), Range: aws.String(tc.rng),
			})
			if err != nil {
				t.Fatalf("GetObject Range %s: %v", tc.rng, err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || string(got) != tc.want {
				t.Fatalf("body = %q, %v; want %q", got, err, tc.want)
			}
			if aws.ToString(out.ContentRange) != tc.contentRange {
				t.Errorf("Content-Range = %q, want %q", aws.ToString(out.ContentRange), tc.contentRange)
			}
			if aws.ToInt64(out.ContentLength) != int64(len(tc.want)) {
				t.Errorf("Content-Length = %d, want %d", aws.ToInt64(out.ContentLength), len(tc.want))
			}
			if aws.ToString(out.ETag) != quoted(md5Hex(body)) {
				t.Errorf("ETag of a range = %s, want the object's", aws.ToString(out.ETag))
			}
		})
	}
	for _, rng := range []string{"bytes=26-30", "bytes=100-200"} {
		t.Run(rng, func(t *testing.T) {
			_, err := c.GetObject(context.Background(), &s3.GetObjectInput{
				Bucket: aws.String("ranges"), Key: aws.String("alphabet"), Range: aws.String(rng),
			})
			wantError(t, err, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
		})
	}
}

func TestConditionalRequests(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "cond")
	etag := putObject(t, c, "cond", "k", []byte("conditional"))
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cond"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	lm := *head.LastModified

	tests := []struct {
		name   string
		in     s3.GetObjectInput
		status int // 200 = success
		code   string
	}{
		{"IfMatch/same", s3.GetObjectInput{IfMatch: aws.String(etag)}, 200, ""},
		{"IfMatch/star", s3.GetObjectInput{IfMatch: aws.String("*")}, 200, ""},
		{"IfMatch/other", s3.GetObjectInput{IfMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)}, 412, "PreconditionFailed"},
		{"IfNoneMatch/same", s3.GetObjectInput{IfNoneMatch: aws.String(etag)}, 304, ""},
		{"IfNoneMatch/other", s3.GetObjectInput{IfNoneMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)}, 200, ""},
		{"IfModifiedSince/lastModified", s3.GetObjectInput{IfModifiedSince: aws.Time(lm)}, 304, ""},
		{"IfModifiedSince/earlier", s3.GetObjectInput{IfModifiedSince: aws.Time(lm.Add(-time.Hour))}, 200, ""},
		{"IfUnmodifiedSince/earlier", s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lm.Add(-time.Hour))}, 412, "PreconditionFailed"},
		{"IfUnmodifiedSince/lastModified", s3.GetObjectInput{IfUnmodifiedSince: aws.Time(lm)}, 200, ""},
		// If-None-Match wins over If-Modified-Since (RFC 7232 section 6).
		{"IfNoneMatch/other+IfModifiedSince", s3.GetObjectInput{IfNoneMatch: aws.String(`"00"`), IfModifiedSince: aws.Time(lm)}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Bucket, in.Key = aws.String("cond"), aws.String("k")
			out, err := c.GetObject(ctx, &in)
			if tc.status == 200 {
				if err != nil {
					t.Fatalf("GetObject: %v, want 200", err)
				}
				b, _ := io.ReadAll(out.Body)
				out.Body.Close()
				if string(b) != "conditional" {
					t.Fatalf("body = %q", b)
				}
				return
			}
			wantError(t, err, tc.status, tc.code)
			if tc.status == http.StatusNotModified && errorHeader(err, "ETag") != etag {
				t.Errorf("304 carries ETag %q, want %q", errorHeader(err, "ETag"), etag)
			}
			// HEAD answers the same preconditions.
			_, herr := c.HeadObject(ctx, &s3.HeadObjectInput{
				Bucket: in.Bucket, Key: in.Key, IfMatch: in.IfMatch, IfNoneMatch: in.IfNoneMatch,
				IfModifiedSince: in.IfModifiedSince, IfUnmodifiedSince: in.IfUnmodifiedSince,
			})
			wantError(t, herr, tc.status, "")
		})
	}
}

func TestDeleteObjects(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "multi")
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		putObject(t, c, "multi", k, []byte(k))
	}
	ids := func(keys ...string) []types.ObjectIdentifier {
		var out []types.ObjectIdentifier
		for _, k := range keys {
			out = append(out, types.ObjectIdentifier{Key: aws.String(k)})
		}
		return out
	}

	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String("multi"),
		Delete: &types.Delete{Objects: ids("a", "c", "missing")},
	})
	if err != nil {
		t.Fatalf("DeleteObjects: %v", err)
	}
	var deleted []string
	for _, d := range out.Deleted {
		deleted = append(deleted, aws.ToString(d.Key))
	}
	slices.Sort(deleted)
	// A missing key is reported as deleted, as S3 does.
	if want := []string{"a", "c", "missing"}; !slices.Equal(deleted, want) || len(out.Errors) != 0 {
		t.Fatalf("DeleteObjects: deleted %v, errors %v; want %v and no errors", deleted, out.Errors, want)
	}

	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String("multi"),
		Delete: &types.Delete{Objects: ids("b", "e"), Quiet: aws.Bool(true)},
	})
	if err != nil {
		t.Fatalf("DeleteObjects quiet: %v", err)
	}
	if len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Fatalf("quiet DeleteObjects reported deleted %d, errors %v; want nothing", len(out.Deleted), out.Errors)
	}
	if got := listKeys(t, c, "multi", ""); !slices.Equal(got, []string{"d", "f"}) {
		t.Fatalf("after DeleteObjects the bucket holds %v, want [d f]", got)
	}
	_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("nobucket"), Delete: &types.Delete{Objects: ids("a")}})
	wantError(t, err, http.StatusNotFound, "NoSuchBucket")
}

func TestCopyObject(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "src")
	createBucket(t, c, "dst")
	body := randomBytes(1, 100_000)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("src"), Key: aws.String("orig/ünï code"), Body: bytes.NewReader(body),
		ContentType: aws.String("application/x-orig"), CacheControl: aws.String("no-cache"),
		Metadata: map[string]string{"origin": "source", "shade": "dark"},
	})
	if err != nil {
		t.Fatal(err)
	}
	source := "src/" + url.PathEscape("orig/ünï code")
	source = strings.ReplaceAll(source, "%2F", "/")

	t.Run("COPY", func(t *testing.T) {
		out, err := c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String("dst"), Key: aws.String("copied"), CopySource: aws.String(source),
		})
		if err != nil {
			t.Fatalf("CopyObject: %v", err)
		}
		if out.CopyObjectResult == nil || aws.ToString(out.CopyObjectResult.ETag) != quoted(md5Hex(body)) {
			t.Fatalf("CopyObjectResult = %+v, want ETag %s", out.CopyObjectResult, quoted(md5Hex(body)))
		}
		if out.CopyObjectResult.LastModified == nil {
			t.Errorf("CopyObjectResult has no LastModified")
		}
		if got := servertest.GetObject(t, c, "dst", "copied"); !bytes.Equal(got, body) {
			t.Fatalf("copied body differs (%d bytes, want %d)", len(got), len(body))
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("copied")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(head.ContentType) != "application/x-orig" || aws.ToString(head.CacheControl) != "no-cache" ||
			head.Metadata["origin"] != "source" || head.Metadata["shade"] != "dark" {
			t.Fatalf("COPY did not copy metadata: type %q cache %q meta %v",
				aws.ToString(head.ContentType), aws.ToString(head.CacheControl), head.Metadata)
		}
	})
	t.Run("REPLACE", func(t *testing.T) {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String("dst"), Key: aws.String("replaced"), CopySource: aws.String(source),
			MetadataDirective: types.MetadataDirectiveReplace,
			ContentType:       aws.String("text/x-new"),
			Metadata:          map[string]string{"fresh": "yes"},
		})
		if err != nil {
			t.Fatalf("CopyObject REPLACE: %v", err)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("replaced")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(head.ContentType) != "text/x-new" || head.Metadata["fresh"] != "yes" ||
			head.Metadata["origin"] != "" || head.Metadata["shade"] != "" || head.CacheControl != nil {
			t.Fatalf("REPLACE: type %q cache %v meta %v; want only the new metadata",
				aws.ToString(head.ContentType), head.CacheControl, head.Metadata)
		}
		if aws.ToString(head.ETag) != quoted(md5Hex(body)) {
			t.Fatalf("REPLACE ETag = %s", aws.ToString(head.ETag))
		}
	})
	t.Run("ToItself", func(t *testing.T) {
		// S3 refuses a copy onto itself that changes nothing...
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String("src"), Key: aws.String("orig/ünï code"), CopySource: aws.String(source),
		})
		wantError(t, err, http.StatusBadRequest, "InvalidRequest")
		// ...and accepts one that replaces the metadata.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String("src"), Key: aws.String("orig/ünï code"), CopySource: aws.String(source),
			MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"edited": "1"},
		})
		if err != nil {
			t.Fatalf("self copy with REPLACE: %v", err)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("src"), Key: aws.String("orig/ünï code")})
		if err != nil || head.Metadata["edited"] != "1" || head.Metadata["origin"] != "" {
			t.Fatalf("after self copy: %v, metadata %v", err, head.Metadata)
		}
		if got := servertest.GetObject(t, c, "src", "orig/ünï code"); !bytes.Equal(got, body) {
			t.Fatalf("self copy changed the body")
		}
	})
	t.Run("Errors", func(t *testing.T) {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/missing")})
		wantError(t, err, http.StatusNotFound, "NoSuchKey")
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("nobucket/k")})
		wantError(t, err, http.StatusNotFound, "NoSuchBucket")
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("x"), CopySource: aws.String(source)})
		wantError(t, err, http.StatusNotFound, "NoSuchBucket")
	})
}
