package transfer_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/bandwidth"
	"github.com/s3limit/s3limit/transfer"
)

// Upload a file at no more than 1 MiB/s, as the transfer manager of the
// Python s3transfer library does with TransferConfig(max_bandwidth=...).
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{MaxBandwidth: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	f, err := os.Open("/tmp/large_file.dat")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	res, err := m.Upload(ctx, f, "my-bucket", "large_file.dat").Result()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("uploaded", res.Size, "bytes, ETag", res.ETag)
}

// bandwidthMonitor prints the average rate of a transfer when it is done,
// like the BandwidthMonitorSubscriber of the Python s3transfer documentation.
type bandwidthMonitor struct {
	bytes atomic.Int64
}

func (b *bandwidthMonitor) OnQueued(f *transfer.Future) {
	fmt.Println("queued", f.Kind(), f.Key())
}

func (b *bandwidthMonitor) OnProgress(f *transfer.Future, n int64) { b.bytes.Add(n) }

func (b *bandwidthMonitor) OnDone(f *transfer.Future, err error) {
	fmt.Println("done", f.Key(), b.bytes.Load(), "bytes, error:", err)
}

// Subscribers receive queued, progress and done events; progress is
// negative when a failed part is sent again.
func ExampleWithSubscribers() {
	ctx := context.Background()
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:8333"), UsePathStyle: true})
	m, err := transfer.NewManager(client, transfer.Config{
		MaxBandwidth:       2 << 20, // 2 MiB/s
		MultipartThreshold: 5 << 20,
		MultipartChunkSize: 5 << 20,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	f, err := os.Open("/tmp/test_file.dat")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fut := m.Upload(ctx, f, "my-bucket", "test_file.dat", transfer.WithSubscribers(&bandwidthMonitor{}))
	<-fut.Done()
	if _, err := fut.Result(); err != nil {
		log.Fatal(err)
	}
}

// Download into a file with parallel ranged GETs.
func ExampleManager_Download() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	m, err := transfer.NewManager(s3.NewFromConfig(cfg), transfer.Config{MaxBandwidth: 512 << 10})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown(ctx)

	out, err := os.Create("/tmp/downloaded.dat")
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	res, err := m.Download(ctx, "my-bucket", "large-file.dat", out).Result()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("downloaded", res.Size, "bytes")
}

// Stream an object to stdout; parts arrive in parallel and are written in
// order.
func ExampleManager_DownloadStream() {
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
	if _, err := m.DownloadStream(ctx, "my-bucket", "log.txt", os.Stdout).Result(); err != nil {
		log.Fatal(err)
	}
}

// Two managers (for example for two endpoints) under one 10 MiB/s cap.
func ExampleConfig_sharedBucket() {
	shared := bandwidth.NewPacingBucket(10<<20, 0, nil)
	a, err := transfer.NewManager(s3.New(s3.Options{Region: "us-east-1"}), transfer.Config{BandwidthLimiter: shared})
	if err != nil {
		log.Fatal(err)
	}
	b, err := transfer.NewManager(s3.New(s3.Options{Region: "eu-west-1"}), transfer.Config{BandwidthLimiter: shared})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Stats().MaxConcurrency, b.Stats().MaxConcurrency)
	// Output: 10 10
}

// Stats shows the request window shrinking while a server throttles.
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
