// Command presign prepares objects on an S3 endpoint and prints presigned
// URLs for them, one per line, for load generators that cannot sign
// requests themselves (bench/compare.sh drives wrk with them):
//
//	presign -endpoint http://127.0.0.1:9000 -op get -size 4KiB -objects 16 -prepare
//	presign -endpoint http://127.0.0.1:9000 -op put -size 4KiB -objects 64
//
// -op get prints presigned GetObject URLs of -objects keys of -size bytes;
// with -prepare it first creates the bucket and uploads the objects that are
// missing or have another size. -op put prints presigned PutObject URLs of
// -objects keys (with -prepare it creates the bucket): the payload is
// UNSIGNED-PAYLOAD and only the host is signed, so the URL accepts any body
// of any length. The keys depend only on -op, -size and -objects, so URLs
// presigned through a proxy (another -endpoint) name the objects prepared
// behind it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/bandwidth"
)

type config struct {
	endpoint  string
	accessKey string
	secretKey string
	bucket    string
	op        string
	size      int64
	objects   int
	prepare   bool
	expires   time.Duration
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "presign:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var cfg config
	var size string
	fs := flag.NewFlagSet("presign", flag.ContinueOnError)
	fs.StringVar(&cfg.endpoint, "endpoint", "http://127.0.0.1:8333", "S3 endpoint URL (path-style); the host the URLs are signed for")
	fs.StringVar(&cfg.accessKey, "accessKey", os.Getenv("AWS_ACCESS_KEY_ID"), "access key (default $AWS_ACCESS_KEY_ID)")
	fs.StringVar(&cfg.secretKey, "secretKey", os.Getenv("AWS_SECRET_ACCESS_KEY"), "secret key (default $AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&cfg.bucket, "bucket", "bench", "bucket")
	fs.StringVar(&cfg.op, "op", "get", "operation the URLs are for: get or put")
	fs.StringVar(&size, "size", "4KiB", "object size (bytes, or with KiB, MiB, GiB); part of the key")
	fs.IntVar(&cfg.objects, "objects", 16, "distinct keys, one URL each")
	fs.BoolVar(&cfg.prepare, "prepare", false, "create the bucket and (get) upload the objects that are missing")
	fs.DurationVar(&cfg.expires, "expires", 12*time.Hour, "lifetime of the URLs (at most 7 days, as SigV4 allows)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	n, err := bandwidth.ParseSize(size)
	if err != nil {
		return err
	}
	cfg.size = n
	switch {
	case cfg.op != "get" && cfg.op != "put":
		return fmt.Errorf("-op %q: use get or put", cfg.op)
	case cfg.objects < 1:
		return errors.New("-objects must be positive")
	case cfg.expires <= 0 || cfg.expires > 7*24*time.Hour:
		return fmt.Errorf("-expires %v: want more than 0 and at most 168h", cfg.expires)
	case cfg.accessKey == "" || cfg.secretKey == "":
		return errors.New("no credentials: set -accessKey/-secretKey or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
	}
	client := newClient(cfg)
	ctx := context.Background()
	if cfg.prepare {
		if err := ensureBucket(ctx, client, cfg.bucket); err != nil {
			return err
		}
		if cfg.op == "get" {
			if err := prepare(ctx, client, cfg); err != nil {
				return err
			}
		}
	}
	presigner := s3.NewPresignClient(client, s3.WithPresignExpires(cfg.expires))
	var out strings.Builder
	for i := range cfg.objects {
		var url string
		switch cfg.op {
		case "get":
			r, err := presigner.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(cfg.bucket), Key: aws.String(key(cfg, i))})
			if err != nil {
				return fmt.Errorf("presign GET %s: %w", key(cfg, i), err)
			}
			url = r.URL
		case "put":
			r, err := presigner.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(cfg.bucket), Key: aws.String(key(cfg, i))})
			if err != nil {
				return fmt.Errorf("presign PUT %s: %w", key(cfg, i), err)
			}
			for name := range r.SignedHeader {
				// wrk sends Host, Content-Length and the body only; a URL
				// that signs anything else would be refused.
				if !strings.EqualFold(name, "host") {
					return fmt.Errorf("presign PUT %s: the URL signs header %s, which the load generator does not send", key(cfg, i), name)
				}
			}
			url = r.URL
		}
		out.WriteString(url)
		out.WriteByte('\n')
	}
	_, err = os.Stdout.WriteString(out.String())
	return err
}

func newClient(cfg config) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(cfg.endpoint),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.accessKey, cfg.secretKey, ""),
		HTTPClient:   &http.Client{Timeout: 5 * time.Minute},
		// Checksums only where S3 requires them: a presigned PUT must not
		// carry a checksum of a body the load generator chooses.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

func ensureBucket(ctx context.Context, c *s3.Client, bucket string) error {
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil {
		return nil
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

func key(cfg config, i int) string {
	return fmt.Sprintf("presign/%s/%d/%04d", cfg.op, cfg.size, i)
}

// prepare uploads the objects the GET URLs name, skipping those already there.
func prepare(ctx context.Context, c *s3.Client, cfg config) error {
	body := make([]byte, cfg.size)
	for i := range body {
		body[i] = byte(i*7 + i>>8)
	}
	for i := range cfg.objects {
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(cfg.bucket), Key: aws.String(key(cfg, i))})
		if err == nil && aws.ToInt64(head.ContentLength) == cfg.size {
			continue
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(cfg.bucket), Key: aws.String(key(cfg, i)), Body: bytes.NewReader(body),
		}); err != nil {
			return fmt.Errorf("prepare %s: %w", key(cfg, i), err)
		}
	}
	return nil
}
