package server_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

func TestUploadBackpressure(t *testing.T) {
	t.Parallel()
	t.Run("Bytes", func(t *testing.T) {
		t.Parallel()
		s, g := startGated(t, servertest.Options{Limits: limits.Options{ConcurrentUploadLimitBytes: 1000}})
		c := s.Client()
		ctx := context.Background()
		createBucket(t, c, "uploads")
		// A single upload larger than the limit runs when nothing else does.
		putObject(t, c, "uploads", "oversize", make([]byte, 5000))

		body := func(i int) []byte { return bytes.Repeat([]byte{byte('0' + i)}, 600) }
		var done []<-chan error
		done = append(done, goPut(ctx, c, "uploads", "hold/1", body(1)))
		if k := g.await(t); k != "hold/1" {
			t.Fatalf("first admitted %s", k)
		}
		wantGauges(t, s, "files=1 bytes=600 waiting=0 requests=1")
		// Each further upload would exceed 1000 bytes: they queue, in order.
		for i := 2; i <= 4; i++ {
			done = append(done, goPut(ctx, c, "uploads", "hold/"+strconv.Itoa(i), body(i)))
			wantGauges(t, s, "files=1 bytes=600 waiting="+strconv.Itoa(i-1)+" requests=1")
		}
		for i := 2; i <= 4; i++ {
			g.releaseOne(t)
			if err := result(t, done[i-2]); err != nil {
				t.Fatalf("upload %d: %v", i-1, err)
			}
			if k := g.await(t); k != "hold/"+strconv.Itoa(i) {
				t.Fatalf("admitted %s, want hold/%d (first come, first served)", k, i)
			}
			wantGauges(t, s, "files=1 bytes=600 waiting="+strconv.Itoa(4-i)+" requests=1")
		}
		g.releaseOne(t)
		if err := result(t, done[3]); err != nil {
			t.Fatalf("upload 4: %v", err)
		}
		for i := 1; i <= 4; i++ {
			if got := servertest.GetObject(t, c, "uploads", "hold/"+strconv.Itoa(i)); !bytes.Equal(got, body(i)) {
				t.Fatalf("hold/%d stored wrong content", i)
			}
		}
		wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
		ms := scrape(t, s)
		if got := ms.value("s3limit_s3_upload_wait_seconds_count"); got != 5 {
			t.Errorf("s3_upload_wait_seconds_count = %v, want 5 (every admitted upload)", got)
		}
		if got := ms.sum("s3limit_s3_throttled_total"); got != 0 {
			t.Errorf("uploads were throttled %v times; they must wait instead", got)
		}
	})
	t.Run("Files", func(t *testing.T) {
		t.Parallel()
		s, g := startGated(t, servertest.Options{Limits: limits.Options{ConcurrentFileUploadLimit: 1}})
		c := s.Client()
		ctx := context.Background()
		createBucket(t, c, "uploads")
		putObject(t, c, "uploads", "src", []byte("copy me"))
		held := goPut(ctx, c, "uploads", "hold/1", []byte("0123456789"))
		g.await(t)
		wantGauges(t, s, "files=1 bytes=10 waiting=0 requests=1")
		// A copy is an upload of one file and no bytes.
		copied := make(chan error, 1)
		go func() {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("uploads"), Key: aws.String("dst"), CopySource: aws.String("uploads/src")})
			copied <- err
		}()
		second := goPut(ctx, c, "uploads", "second", []byte("abc"))
		wantGauges(t, s, "files=1 bytes=10 waiting=2 requests=1")
		g.releaseOne(t)
		for _, ch := range []<-chan error{held, copied, second} {
			if err := result(t, ch); err != nil {
				t.Fatal(err)
			}
		}
		if got := servertest.GetObject(t, c, "uploads", "dst"); string(got) != "copy me" {
			t.Fatalf("copy = %q", got)
		}
		wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
	})
	t.Run("ClientGivesUp", func(t *testing.T) {
		t.Parallel()
		s, g := startGated(t, servertest.Options{Limits: limits.Options{ConcurrentUploadLimitBytes: 1000}})
		c := s.Client()
		ctx := context.Background()
		createBucket(t, c, "uploads")
		held := goPut(ctx, c, "uploads", "hold/1", make([]byte, 600))
		g.await(t)
		qctx, cancel := context.WithCancel(ctx)
		queued := goPut(qctx, c, "uploads", "gone", make([]byte, 600))
		wantGauges(t, s, "files=1 bytes=600 waiting=1 requests=1")
		cancel()
		if err := result(t, queued); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled upload returned %v", err)
		}
		// The server notices the closed connection and frees the place.
		if why := testkit.Poll(3*time.Second, func() string {
			if got := gauges(t, s); got != "files=1 bytes=600 waiting=0 requests=1" {
				return "gauges " + got + ", want files=1 bytes=600 waiting=0 requests=1"
			}
			return ""
		}); why != "" {
			t.Errorf("the upload whose client left is still queued: %s", why)
		}
		g.releaseOne(t)
		if err := result(t, held); err != nil {
			t.Fatal(err)
		}
		wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("uploads"), Key: aws.String("gone")})
		if err == nil {
			t.Fatalf("the upload whose client gave up while queued created its object")
		}
		wantError(t, err, http.StatusNotFound, "")
		if got := listKeys(t, c, "uploads", ""); !slices.Equal(got, []string{"hold/1"}) {
			t.Fatalf("bucket holds %v, want [hold/1]", got)
		}
	})
	t.Run("MaxWait", func(t *testing.T) {
		t.Parallel()
		s, g := startGated(t, servertest.Options{Limits: limits.Options{ConcurrentUploadLimitBytes: 1000, UploadMaxWait: 50 * time.Millisecond}})
		c := s.Client()
		ctx := context.Background()
		createBucket(t, c, "uploads")
		held := goPut(ctx, c, "uploads", "hold/1", make([]byte, 600))
		g.await(t)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String("late"), Body: bytes.NewReader(make([]byte, 600))})
		wantThrottled(t, err, http.StatusTooManyRequests, "SlowDown")
		g.releaseOne(t)
		if err := result(t, held); err != nil {
			t.Fatal(err)
		}
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("uploads"), Key: aws.String("late")})
		wantError(t, err, http.StatusNotFound, "")
		if got := scrape(t, s).value("s3limit_s3_throttled_total", "action", "Write", "scope", "upload", "type", "wait"); got != 1 {
			t.Errorf(`s3_throttled_total{action="Write",scope="upload",type="wait"} = %v, want 1`, got)
		}
		wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
	})
}
