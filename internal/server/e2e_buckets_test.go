package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

func TestBucketOperations(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()

	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	if len(out.Buckets) != 0 {
		t.Fatalf("fresh server lists %d buckets, want 0", len(out.Buckets))
	}

	for _, b := range []string{"beta", "alpha", "gamma.dots-1"} {
		createBucket(t, c, b)
	}
	out, err = c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
		if b.CreationDate == nil || time.Since(*b.CreationDate) > time.Hour || time.Until(*b.CreationDate) > time.Minute {
			t.Errorf("bucket %s: CreationDate %v is not about now", aws.ToString(b.Name), b.CreationDate)
		}
	}
	if want := []string{"alpha", "beta", "gamma.dots-1"}; !slices.Equal(names, want) {
		t.Fatalf("ListBuckets = %v, want %v", names, want)
	}
	if out.Owner == nil || aws.ToString(out.Owner.ID) == "" {
		t.Errorf("ListBuckets has no Owner ID")
	}

	t.Run("CreateBucketTwice", func(t *testing.T) {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
		wantError(t, err, http.StatusConflict, "BucketAlreadyOwnedByYou")
	})
	t.Run("InvalidBucketName", func(t *testing.T) {
		for _, name := range []string{"ab", "Upper-Case", "under_score", "-leading-dash", "trailing-dash-", "two..dots", strings.Repeat("a", 64)} {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
			if err == nil {
				t.Errorf("CreateBucket %q succeeded, want InvalidBucketName", name)
				continue
			}
			if errorStatus(err) != http.StatusBadRequest || errorCode(err) != "InvalidBucketName" {
				t.Errorf("CreateBucket %q: %v, want 400 InvalidBucketName", name, err)
			}
		}
	})
	t.Run("HeadBucket", func(t *testing.T) {
		if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")}); err != nil {
			t.Fatalf("HeadBucket alpha: %v", err)
		}
		_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing")})
		wantError(t, err, http.StatusNotFound, "")
	})
	t.Run("GetBucketLocation", func(t *testing.T) {
		out, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("alpha")})
		if err != nil {
			t.Fatalf("GetBucketLocation: %v", err)
		}
		// us-east-1 is reported as an empty LocationConstraint, as S3 does.
		if out.LocationConstraint != "" {
			t.Fatalf("LocationConstraint = %q, want empty (us-east-1)", out.LocationConstraint)
		}
		_, err = c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("missing")})
		wantError(t, err, http.StatusNotFound, "NoSuchBucket")
	})
	t.Run("DeleteBucket", func(t *testing.T) {
		putObject(t, c, "beta", "k", []byte("x"))
		_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("beta")})
		wantError(t, err, http.StatusConflict, "BucketNotEmpty")
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("beta"), Key: aws.String("k")}); err != nil {
			t.Fatalf("DeleteObject: %v", err)
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("beta")}); err != nil {
			t.Fatalf("DeleteBucket of an empty bucket: %v", err)
		}
		_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("beta")})
		wantError(t, err, http.StatusNotFound, "")
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("beta")})
		wantError(t, err, http.StatusNotFound, "NoSuchBucket")
	})
	t.Run("NoSuchBucket", func(t *testing.T) {
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("missing"), Key: aws.String("k")})
		wantError(t, err, http.StatusNotFound, "NoSuchBucket")
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("missing"), Key: aws.String("k"), Body: strings.NewReader("x")})
		wantError(t, err, http.StatusNotFound, "NoSuchBucket")
		_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("missing")})
		wantError(t, err, http.StatusNotFound, "NoSuchBucket")
	})
}

func TestTagging(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "tags")
	tagMap := func(ts []types.Tag) map[string]string {
		m := map[string]string{}
		for _, tg := range ts {
			m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		return m
	}

	t.Run("Object", func(t *testing.T) {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String("tags"), Key: aws.String("obj"), Body: strings.NewReader("x"),
			Tagging: aws.String("team=storage&tier=gold%20plus"),
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj")})
		if err != nil {
			t.Fatalf("GetObjectTagging: %v", err)
		}
		if got := tagMap(out.TagSet); len(got) != 2 || got["team"] != "storage" || got["tier"] != "gold plus" {
			t.Fatalf("tags from PutObject's x-amz-tagging = %v", got)
		}
		_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
			Bucket: aws.String("tags"), Key: aws.String("obj"),
			Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k1"), Value: aws.String("v1")}}},
		})
		if err != nil {
			t.Fatalf("PutObjectTagging: %v", err)
		}
		out, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj")})
		if err != nil {
			t.Fatal(err)
		}
		if got := tagMap(out.TagSet); len(got) != 1 || got["k1"] != "v1" {
			t.Fatalf("tags after PutObjectTagging = %v, want only k1=v1", got)
		}
		if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj")}); err != nil {
			t.Fatalf("DeleteObjectTagging: %v", err)
		}
		out, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.TagSet) != 0 {
			t.Fatalf("tags after DeleteObjectTagging = %v", tagMap(out.TagSet))
		}
		if got := servertest.GetObject(t, c, "tags", "obj"); string(got) != "x" {
			t.Fatalf("tagging changed the object body to %q", got)
		}
		_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("missing")})
		wantError(t, err, http.StatusNotFound, "NoSuchKey")
		_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
			Bucket: aws.String("tags"), Key: aws.String("missing"),
			Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}},
		})
		wantError(t, err, http.StatusNotFound, "NoSuchKey")
	})
	t.Run("Bucket", func(t *testing.T) {
		_, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("tags")})
		wantError(t, err, http.StatusNotFound, "NoSuchTagSet")
		_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{
			Bucket: aws.String("tags"),
			Tagging: &types.Tagging{TagSet: []types.Tag{
				{Key: aws.String("env"), Value: aws.String("test")},
				{Key: aws.String("owner"), Value: aws.String("ops")},
			}},
		})
		if err != nil {
			t.Fatalf("PutBucketTagging: %v", err)
		}
		out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("tags")})
		if err != nil {
			t.Fatalf("GetBucketTagging: %v", err)
		}
		if got := tagMap(out.TagSet); len(got) != 2 || got["env"] != "test" || got["owner"] != "ops" {
			t.Fatalf("bucket tags = %v", got)
		}
		if _, err := c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String("tags")}); err != nil {
			t.Fatalf("DeleteBucketTagging: %v", err)
		}
		_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("tags")})
		wantError(t, err, http.StatusNotFound, "NoSuchTagSet")
		_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("nobucket")})
		wantError(t, err, http.StatusNotFound, "NoSuchBucket")
	})
}
