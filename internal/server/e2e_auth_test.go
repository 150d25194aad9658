package server_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

// shiftedClock is a server clock at a settable offset from the wall clock.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *shiftedClock) set(d time.Duration) { c.offset.Store(int64(d)) }

func TestAuthentication(t *testing.T) {
	t.Parallel()
	clock := &shiftedClock{}
	s := servertest.Start(t, servertest.Options{Now: clock.now})
	admin := s.Client()
	ctx := context.Background()
	createBucket(t, admin, "public")
	createBucket(t, admin, "private")
	putObject(t, admin, "public", "doc.txt", []byte("public document"))
	putObject(t, admin, "private", "secret.txt", []byte("private document"))
	hc := &http.Client{}

	t.Run("PresignedGetAndPut", func(t *testing.T) {
		pc := s3.NewPresignClient(admin)
		body := []byte("uploaded through a presigned URL")
		put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("public"), Key: aws.String("presigned/put.txt")},
			s3.WithPresignExpires(5*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(put.URL, "X-Amz-Signature=") || !strings.Contains(put.URL, "X-Amz-Expires=300") {
			t.Fatalf("not a presigned URL: %s", put.URL)
		}
		r, err := http.NewRequest(put.Method, put.URL, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range put.SignedHeader {
			if !strings.EqualFold(k, "host") {
				r.Header[k] = v
			}
		}
		status, h, rb := do(t, hc, r)
		if status != http.StatusOK {
			t.Fatalf("presigned PUT: %d %s", status, rb)
		}
		if h.Get("ETag") != quoted(md5Hex(body)) {
			t.Fatalf("presigned PUT ETag %q, want %q", h.Get("ETag"), quoted(md5Hex(body)))
		}
		get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("public"), Key: aws.String("presigned/put.txt")})
		if err != nil {
			t.Fatal(err)
		}
		r, _ = http.NewRequest(get.Method, get.URL, nil)
		status, _, rb = do(t, hc, r)
		if status != http.StatusOK || !bytes.Equal(rb, body) {
			t.Fatalf("presigned GET: %d %q, want 200 %q", status, rb, body)
		}
		// The signature covers the key: another key in the same URL fails.
		r, _ = http.NewRequest(get.Method, strings.Replace(get.URL, "presigned/put.txt", "doc.txt", 1), nil)
		status, _, rb = do(t, hc, r)
		if status != http.StatusForbidden || s3ErrorCode(rb) != "SignatureDoesNotMatch" {
			t.Fatalf("presigned GET with another key: %d %s, want 403 SignatureDoesNotMatch", status, rb)
		}
		// And the method: the GET URL does not allow a PUT.
		r, _ = http.NewRequest(http.MethodPut, get.URL, strings.NewReader("overwrite"))
		status, _, rb = do(t, hc, r)
		if status != http.StatusForbidden || s3ErrorCode(rb) != "SignatureDoesNotMatch" {
			t.Fatalf("presigned GET URL used for PUT: %d %s, want 403 SignatureDoesNotMatch", status, rb)
		}
	})
	t.Run("ExpiredPresign", func(t *testing.T) {
		pc := s3.NewPresignClient(admin)
		get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("public"), Key: aws.String("doc.txt")},
			s3.WithPresignExpires(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		clock.set(time.Minute) // well inside the skew limit, well past the expiry
		defer clock.set(0)
		r, _ := http.NewRequest(get.Method, get.URL, nil)
		status, _, rb := do(t, hc, r)
		if status != http.StatusForbidden || s3ErrorCode(rb) != "AccessDenied" {
			t.Fatalf("expired presigned GET: %d %s, want 403 AccessDenied", status, rb)
		}
		clock.set(0)
		r, _ = http.NewRequest(get.Method, get.URL, nil)
		if status, _, rb := do(t, hc, r); status != http.StatusOK {
			t.Fatalf("the same URL before expiry: %d %s", status, rb)
		}
	})
	t.Run("WrongSecret", func(t *testing.T) {
		c := s.ClientFor(servertest.AdminAccessKey, "wrong"+servertest.AdminSecretKey[5:])
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("public"), Key: aws.String("doc.txt")})
		wantError(t, err, http.StatusForbidden, "SignatureDoesNotMatch")
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("public"), Key: aws.String("forged"), Body: strings.NewReader("x")})
		wantError(t, err, http.StatusForbidden, "SignatureDoesNotMatch")
		_, err = admin.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("public"), Key: aws.String("forged")})
		wantError(t, err, http.StatusNotFound, "")
	})
	t.Run("UnknownAccessKey", func(t *testing.T) {
		c := s.ClientFor("AKIAUNKNOWN000000000", servertest.AdminSecretKey)
		_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		wantError(t, err, http.StatusForbidden, "InvalidAccessKeyId")
	})
	t.Run("ClockSkew", func(t *testing.T) {
		for _, d := range []time.Duration{20 * time.Minute, -20 * time.Minute} {
			clock.set(d)
			_, err := admin.ListBuckets(ctx, &s3.ListBucketsInput{})
			clock.set(0)
			wantError(t, err, http.StatusForbidden, "RequestTimeTooSkewed")
		}
		clock.set(14 * time.Minute)
		_, err := admin.ListBuckets(ctx, &s3.ListBucketsInput{})
		clock.set(0)
		if err != nil {
			t.Fatalf("14 minutes of skew are allowed: %v", err)
		}
		// The same from the client side: a request signed 20 minutes ago.
		r, _ := http.NewRequest(http.MethodGet, s.URL+"/", nil)
		signRequest(t, r, s.AccessKey, s.SecretKey, emptySHA256, time.Now().Add(-20*time.Minute))
		if status, _, rb := do(t, hc, r); status != http.StatusForbidden || s3ErrorCode(rb) != "RequestTimeTooSkewed" {
			t.Fatalf("request signed 20 min ago: %d %s, want 403 RequestTimeTooSkewed", status, rb)
		}
	})
	t.Run("BadDate", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, s.URL+"/", nil)
		signRequest(t, r, s.AccessKey, s.SecretKey, emptySHA256, time.Time{})
		r.Header.Set("X-Amz-Date", "yesterday")
		status, _, rb := do(t, hc, r)
		if status != http.StatusForbidden && status != http.StatusBadRequest {
			t.Fatalf("malformed X-Amz-Date: %d %s, want 403 or 400", status, rb)
		}
		if s3ErrorCode(rb) == "" {
			t.Fatalf("malformed X-Amz-Date: no S3 error code in %s", rb)
		}
	})
	t.Run("PayloadHashMismatch", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPut, s.URL+"/public/tampered", strings.NewReader("the real body"))
		signRequest(t, r, s.AccessKey, s.SecretKey, sha256Hex([]byte("the signed body")), time.Time{})
		status, _, rb := do(t, hc, r)
		if status != http.StatusBadRequest || s3ErrorCode(rb) != "XAmzContentSHA256Mismatch" {
			t.Fatalf("body not matching x-amz-content-sha256: %d %s, want 400 XAmzContentSHA256Mismatch", status, rb)
		}
		_, err := admin.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("public"), Key: aws.String("tampered")})
		wantError(t, err, http.StatusNotFound, "")
	})
	t.Run("Reader", func(t *testing.T) {
		rc := s.ClientFor(servertest.ReaderAccessKey, servertest.ReaderSecretKey)
		if got := servertest.GetObject(t, rc, "public", "doc.txt"); string(got) != "public document" {
			t.Fatalf("reader GET public = %q", got)
		}
		if _, err := rc.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("public"), Key: aws.String("doc.txt")}); err != nil {
			t.Fatalf("reader HEAD public: %v", err)
		}
		if keys := listKeys(t, rc, "public", "doc"); len(keys) != 1 {
			t.Fatalf("reader lists %v", keys)
		}
		_, err := rc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("public"), Key: aws.String("by-reader"), Body: strings.NewReader("x")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = rc.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("public"), Key: aws.String("doc.txt")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = rc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("private"), Key: aws.String("secret.txt")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = rc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("private")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = rc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("readers-bucket")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = rc.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("public"), Key: aws.String("doc.txt")})
		wantError(t, err, http.StatusForbidden, "AccessDenied")
		// Denied requests change nothing.
		if got := servertest.GetObject(t, admin, "public", "doc.txt"); string(got) != "public document" {
			t.Fatalf("public/doc.txt = %q after denied requests", got)
		}
	})
	t.Run("Anonymous", func(t *testing.T) {
		for _, tc := range []struct{ method, path string }{
			{http.MethodGet, "/"},
			{http.MethodGet, "/public/doc.txt"},
			{http.MethodGet, "/public"},
			{http.MethodPut, "/public/anon"},
			{http.MethodDelete, "/public/doc.txt"},
		} {
			r, _ := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(""))
			status, _, rb := do(t, hc, r)
			if status != http.StatusForbidden || s3ErrorCode(rb) != "AccessDenied" {
				t.Errorf("anonymous %s %s: %d %s, want 403 AccessDenied", tc.method, tc.path, status, rb)
			}
		}
		if got := servertest.GetObject(t, admin, "public", "doc.txt"); string(got) != "public document" {
			t.Fatalf("public/doc.txt = %q after anonymous requests", got)
		}
	})
}
