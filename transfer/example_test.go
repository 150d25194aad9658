package transfer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3limit/s3limit/bandwidth"
	"github.com/s3limit/s3limit/transfer"
)

// Upload a file at no more than 8 MiB/s, with credentials and region from
// the standard AWS configuration (environment, ~/.aws, instance role).
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{MaxBandwidth: 8 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	res, err := m.UploadFile(ctx, "/tmp/backup.tar", "my-bucket", "backups/backup.tar").Result()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("uploaded", res.Size, "bytes, ETag", res.ETag)
}

// A client for an S3-compatible server on a custom endpoint (s3limit serve,
// MinIO, Ceph, ...), with static credentials and path-style addressing.
func Example_customEndpoint() {
	ctx := context.Background()
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String("http://127.0.0.1:9000"),
		Region:       "us-east-1", // any region the server accepts
		UsePathStyle: true,        // bucket names in the path, not in DNS
		Credentials:  credentials.NewStaticCredentialsProvider(os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY"), ""),
	})
	m, err := transfer.NewManager(client, transfer.Config{
		MaxBandwidth:       2 << 20, // 2 MiB/s
		MultipartThreshold: 16 << 20,
		MultipartChunkSize: 16 << 20,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	res, err := m.DownloadFile(ctx, "my-bucket", "reports/2026.csv", "/tmp/2026.csv").Result()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("downloaded", res.Size, "bytes")
}

// Print a progress line every second, and the outcome at the end.
func ExampleWithProgress() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{MaxBandwidth: 4 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	_, err = m.UploadFile(ctx, "/tmp/video.mp4", "my-bucket", "video.mp4",
		transfer.WithProgress(time.Second, func(p transfer.Progress) { log.Print(p) })).Result()
	if err != nil {
		log.Fatal(err)
	}
	// Logs lines such as:
	// 12.0 MiB / 64.0 MiB (18%), 4.0 MiB/s, ETA 13s
}

// One progress line for everything a manager does.
func ExampleManager_WatchProgress() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{MaxBandwidth: 16 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)
	if err := m.WatchProgress(ctx, 5*time.Second, func(p transfer.Progress) { log.Print("all transfers: ", p) }); err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"a.bin", "b.bin", "c.bin"} {
		m.UploadFile(ctx, "/data/"+name, "my-bucket", name)
	}
}

// Request options: storage class, tags, encryption under a KMS key, a
// checksum S3 verifies, and a guard against a bucket that changed hands.
func ExampleWithStorageClass() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	_, err = m.UploadFile(ctx, "/tmp/archive.tar.gz", "my-bucket", "archive/2026.tar.gz",
		transfer.WithStorageClass(types.StorageClassGlacierIr),
		transfer.WithTagging(map[string]string{"retention": "7y"}),
		transfer.WithSSEKMS("alias/archive"),
		transfer.WithChecksumAlgorithm(types.ChecksumAlgorithmCrc32c),
		transfer.WithExpectedBucketOwner("111122223333"),
		transfer.WithContentEncoding("gzip"),
	).Result()
	if err != nil {
		log.Fatal(err)
	}
}

// Objects encrypted with a key of your own (SSE-C): the same option
// uploads and reads them.
func ExampleWithSSECustomerKey() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	key := make([]byte, 32) // keep it safe: S3 does not store it
	if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}
	if _, err := m.Upload(ctx, strings.NewReader("secret"), "my-bucket", "secret.txt", transfer.WithSSECustomerKey(key)).Result(); err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.DownloadStream(ctx, "my-bucket", "secret.txt", &buf, transfer.WithSSECustomerKey(key)).Result(); err != nil {
		log.Fatal(err)
	}
}

// Settings that have no option of their own: WithRequest sees every
// request of the transfer.
func ExampleWithRequest() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	retain := time.Now().AddDate(1, 0, 0)
	lock := transfer.WithRequest(func(in any) {
		switch in := in.(type) {
		case *s3.PutObjectInput: // small objects
			in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockModeGovernance, &retain
		case *s3.CreateMultipartUploadInput: // large ones
			in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockModeGovernance, &retain
		}
	})
	if _, err := m.UploadFile(ctx, "/tmp/ledger.db", "my-bucket", "ledger.db", lock).Result(); err != nil {
		log.Fatal(err)
	}
}

// Download the first 1 KiB of an object, its header.
func ExampleWithRange() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	var head bytes.Buffer
	if _, err := m.DownloadStream(ctx, "my-bucket", "logs/app.log", &head, transfer.WithRange(0, 1024)).Result(); err != nil {
		log.Fatal(err)
	}
}

// Copy an object on the server (multipart from MultipartThreshold up);
// its bytes do not count against MaxBandwidth. Then delete the original.
func ExampleManager_Copy() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	if _, err := m.Copy(ctx, "incoming", "2026/report.pdf", "archive", "reports/2026.pdf",
		transfer.WithStorageClass(types.StorageClassStandardIa)).Result(); err != nil {
		log.Fatal(err)
	}
	if _, err := m.Delete(ctx, "incoming", "2026/report.pdf").Result(); err != nil {
		log.Fatal(err)
	}
}

// Upload the JPEG files of a directory tree, one line per file.
func ExampleManager_UploadDirectory() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{MaxBandwidth: 10 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	res, err := m.UploadDirectory(ctx, "/home/me/photos", "my-bucket", "photos/",
		transfer.WithExclude("*"), transfer.WithInclude("*.jpg", "*.jpeg"),
		transfer.WithEachObject(func(r transfer.ObjectResult) {
			if r.Err != nil {
				log.Printf("%s: %v", r.Path, r.Err)
			}
		}))
	fmt.Println(len(res.Objects), "files,", res.Bytes, "bytes,", res.Failed, "failed")
	if err != nil {
		log.Fatal(err)
	}
}

// Mirror a prefix into a local directory.
func ExampleManager_DownloadDirectory() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{MaxBandwidth: 10 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	if _, err := m.DownloadDirectory(ctx, "my-bucket", "photos/", "/tmp/photos", transfer.WithExclude("*.tmp")); err != nil {
		log.Fatal(err)
	}
}

// A missing object is an error that says so.
func ExampleNotFoundError() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	_, err = m.DownloadFile(ctx, "my-bucket", "missing.txt", "/tmp/missing.txt").Result()
	if errors.Is(err, transfer.ErrNotFound) {
		fmt.Println(err) // transfer: download: not found: s3://my-bucket/missing.txt
	}
}

// Subscribers receive every event: queued, progress (negative when a
// failed attempt is retried) and done.
func ExampleWithSubscribers() {
	ctx := context.Background()
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String("http://127.0.0.1:8333"),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY"), ""),
	})
	m, err := transfer.NewManager(client, transfer.Config{MaxBandwidth: 2 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	var mu sync.Mutex
	var moved int64
	events := transfer.SubscriberFuncs{
		Queued:   func(f *transfer.Future) { fmt.Println("queued", f.Kind(), f.Key()) },
		Progress: func(_ *transfer.Future, n int64) { mu.Lock(); moved += n; mu.Unlock() },
		Done:     func(f *transfer.Future, err error) { fmt.Println("done", f.Key(), err) },
	}
	if _, err := m.UploadFile(ctx, "/tmp/test_file.dat", "my-bucket", "test_file.dat", transfer.WithSubscribers(events)).Result(); err != nil {
		log.Fatal(err)
	}
}

// Two managers (for example for two endpoints) under one 10 MiB/s cap.
func ExampleConfig_sharedLimiter() {
	shared := bandwidth.NewPacingBucket(10<<20, 0, nil)
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	a, err := transfer.NewManager(s3.New(s3.Options{Region: "us-east-1", Credentials: creds}), transfer.Config{BandwidthLimiter: shared})
	if err != nil {
		log.Fatal(err)
	}
	b, err := transfer.NewManager(s3.New(s3.Options{Region: "eu-west-1", Credentials: creds}), transfer.Config{BandwidthLimiter: shared})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Stats().MaxConcurrency, b.Stats().MaxConcurrency)
	// Output: 10 10
}

// Stats shows the request window, which shrinks while a server
// throttles.
func ExampleManager_Stats() {
	m, err := transfer.NewManager(s3.New(s3.Options{Region: "us-east-1"}), transfer.Config{MaxConcurrency: 16})
	if err != nil {
		log.Fatal(err)
	}
	st := m.Stats()
	fmt.Printf("window %d of %d, %d throttled\n", st.ConcurrencyLimit, st.MaxConcurrency, st.Throttled)
	// Output: window 16 of 16, 0 throttled
}

// Invalid settings are reported by NewManager.
func ExampleNewManager_invalid() {
	_, err := transfer.NewManager(s3.New(s3.Options{Region: "us-east-1"}), transfer.Config{MultipartChunkSize: 1 << 20})
	fmt.Println(err)
	// Output: transfer: invalid config: MultipartChunkSize 1048576 is below the S3 minimum part size of 5 MiB (5242880)
}

// memStore is a test double for code that uses a Manager: the
// operations the test needs, in memory. Embedding the interface leaves
// the others unimplemented.
type memStore struct {
	transfer.Client
	mu      sync.Mutex
	objects map[string][]byte
}

func (s *memStore) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	data, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[*in.Bucket+"/"+*in.Key] = data
	return &s3.PutObjectOutput{ETag: aws.String(`"1"`)}, nil
}

// A Client of your own lets tests of code that uses a Manager run
// without a server.
func ExampleClient() {
	store := &memStore{objects: map[string][]byte{}}
	m, err := transfer.NewManager(store, transfer.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	res, err := m.Upload(context.Background(), strings.NewReader("hello"), "b", "greeting.txt").Result()
	fmt.Println(res.Size, err, string(store.objects["b/greeting.txt"]))
	// Output: 5 <nil> hello
}
