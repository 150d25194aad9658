package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/transfer"
)

func getObject(t *testing.T, c *s3.Client, bucket, key string) ([]byte, *s3.HeadObjectOutput) {
	t.Helper()
	head, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("HeadObject s3://%s/%s: %v", bucket, key, err)
	}
	var buf bytes.Buffer
	m, err := transfer.NewManager(c, transfer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.DownloadStream(context.Background(), bucket, key, &buf).Result(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), head
}

// Server-side copies through a real server, in one request and in
// parallel parts: the bytes, the headers and the metadata arrive, options
// replace headers, and progress counts the copied bytes.
func TestE2ECopy(t *testing.T) {
	for _, srv := range s3Servers {
		t.Run(srv.name, func(t *testing.T) {
			c := srv.start(t, "src", "dst")
			m := newManager(t, c, transfer.Config{MultipartThreshold: 5 * mib, MultipartChunkSize: 5 * mib, MaxConcurrency: 4})
			ctx := context.Background()
			for _, tc := range []struct {
				name      string
				size      int
				opts      []transfer.Option
				wantCT    string
				wantParts int
			}{
				{name: "single request", size: 1000, wantCT: "text/csv"},
				{name: "multipart", size: 12*mib + 7, wantCT: "text/csv", wantParts: 3},
				{name: "single request, new type", size: 1000, opts: []transfer.Option{transfer.WithContentType("text/plain")}, wantCT: "text/plain"},
				{name: "multipart, new type", size: 11 * mib, opts: []transfer.Option{transfer.WithContentType("text/plain")}, wantCT: "text/plain", wantParts: 3},
			} {
				t.Run(tc.name, func(t *testing.T) {
					data := randomData(tc.size, uint64(tc.size))
					key := strings.ReplaceAll(tc.name, " ", "-") + "/a b+c.csv" // a key that needs escaping
					if _, err := m.Upload(ctx, bytes.NewReader(data), "src", key, transfer.WithContentType("text/csv"),
						transfer.WithMetadata(map[string]string{"team": "ops"}), transfer.WithCacheControl("max-age=9")).Result(); err != nil {
						t.Fatal(err)
					}
					log := &progressSum{}
					opts := append([]transfer.Option{transfer.WithSubscribers(log)}, tc.opts...)
					res, err := m.Copy(ctx, "src", key, "dst", "copy/"+key, opts...).Result()
					if err != nil {
						t.Fatal(err)
					}
					if res.Size != int64(tc.size) || res.Parts != tc.wantParts || res.Bucket != "dst" || res.ETag == "" {
						t.Fatalf("result %+v", res)
					}
					if log.total() != int64(tc.size) {
						t.Fatalf("progress %d, want %d", log.total(), tc.size)
					}
					got, head := getObject(t, c, "dst", "copy/"+key)
					if !bytes.Equal(got, data) {
						t.Fatalf("copy differs: %d bytes, want %d", len(got), len(data))
					}
					if aws.ToString(head.ContentType) != tc.wantCT || head.Metadata["team"] != "ops" || aws.ToString(head.CacheControl) != "max-age=9" {
						t.Fatalf("copy headers: type %q, metadata %v, cache-control %q", aws.ToString(head.ContentType), head.Metadata, aws.ToString(head.CacheControl))
					}
				})
			}
			if n := openUploads(t, c, "dst"); n != 0 {
				t.Fatalf("%d multipart uploads left", n)
			}

			// A missing source names itself.
			_, err := m.Copy(ctx, "src", "missing", "dst", "x").Result()
			if !errors.Is(err, transfer.ErrNotFound) || !strings.Contains(err.Error(), "copy s3://dst/x: not found: s3://src/missing") {
				t.Fatalf("copy of a missing source: %v", err)
			}
			// A missing object to download names itself.
			_, err = m.DownloadStream(ctx, "src", "missing", &bytes.Buffer{}).Result()
			if err == nil || err.Error() != "transfer: download: not found: s3://src/missing" {
				t.Fatalf("download of a missing object: %v", err)
			}
		})
	}
}

// progressSum adds up a transfer's progress.
type progressSum struct {
	transfer.SubscriberFuncs
	n atomic.Int64
}

func (p *progressSum) OnProgress(_ *transfer.Future, n int64) { p.n.Add(n) }
func (p *progressSum) total() int64                           { return p.n.Load() }

func TestE2EDelete(t *testing.T) {
	for _, srv := range s3Servers {
		t.Run(srv.name, func(t *testing.T) {
			c := srv.start(t, "bkt")
			m := newManager(t, c, transfer.Config{})
			ctx := context.Background()
			if _, err := m.Upload(ctx, strings.NewReader("bye"), "bkt", "k").Result(); err != nil {
				t.Fatal(err)
			}
			res, err := m.Delete(ctx, "bkt", "k").Result()
			if err != nil || res.Key != "k" {
				t.Fatalf("Delete: %+v, %v", res, err)
			}
			if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); err == nil {
				t.Fatal("the object is still there")
			}
			// Deleting a key that does not exist succeeds, as in S3.
			if _, err := m.Delete(ctx, "bkt", "k").Result(); err != nil {
				t.Fatalf("second Delete: %v", err)
			}
			// A bucket that does not exist is an error that says so.
			_, err = m.Delete(ctx, "nobucket", "k").Result()
			if !errors.Is(err, transfer.ErrNotFound) || !strings.Contains(err.Error(), "bucket not found: s3://nobucket") {
				t.Fatalf("Delete in a missing bucket: %v", err)
			}
		})
	}
}
