package transfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testpeer"
	"github.com/s3limit/s3limit/transfer"
)

const mib = 1 << 20

func startServer(t *testing.T, opts servertest.Options, buckets ...string) (*servertest.Server, *s3.Client) {
	t.Helper()
	srv := servertest.Start(t, opts)
	c := srv.Client()
	for _, b := range buckets {
		if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("CreateBucket %s: %v", b, err)
		}
	}
	return srv, c
}

// s3Servers are the S3 servers the end-to-end tests of copies, deletes
// and directory transfers run against: s3limit's embedded store and
// versitygw, an independent implementation (skipped when it is not
// installed, see testpeer).
var s3Servers = []struct {
	name  string
	start func(t *testing.T, buckets ...string) *s3.Client
	// dotKeys: the server stores keys with ".." segments, as S3 does
	// (versitygw refuses them with 400).
	dotKeys bool
}{
	{"s3limit", func(t *testing.T, buckets ...string) *s3.Client {
		_, c := startServer(t, servertest.Options{}, buckets...)
		return c
	}, true},
	{"versitygw", func(t *testing.T, buckets ...string) *s3.Client {
		const ak, sk = "TRANSFERTESTKEY00000", "transferTestSecret0000000000000000000000"
		p := testpeer.StartVersitygw(t, ak, sk)
		c := servertest.NewClient(p.URL, ak, sk)
		for _, b := range buckets {
			if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
				t.Fatalf("CreateBucket %s: %v", b, err)
			}
		}
		return c
	}, false},
}

func randomData(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

func newManager(t *testing.T, c *s3.Client, cfg transfer.Config) *transfer.Manager {
	t.Helper()
	m, err := transfer.NewManager(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func openUploads(t *testing.T, c *s3.Client, bucket string) int {
	t.Helper()
	out, err := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	return len(out.Uploads)
}

// Round trips through a real s3limit server at the sizes around the
// multipart threshold, from a pipe and from a file, back into a file and
// into a stream.
func TestE2ERoundTripSizes(t *testing.T) {
	const threshold = 5 * mib
	_, c := startServer(t, servertest.Options{}, "bkt")
	m := newManager(t, c, transfer.Config{MultipartThreshold: threshold, MultipartChunkSize: 5 * mib, MaxConcurrency: 4})
	dir := t.TempDir()
	for _, size := range []int{0, 1, threshold - 1, threshold, threshold + 1} {
		for _, source := range []string{"pipe", "file"} {
			t.Run(strconv.Itoa(size)+"/"+source, func(t *testing.T) {
				data := randomData(size, uint64(size))
				key := "obj-" + strconv.Itoa(size) + "-" + source
				var body io.Reader
				if source == "file" {
					p := filepath.Join(dir, key)
					if err := os.WriteFile(p, data, 0o600); err != nil {
						t.Fatal(err)
					}
					f, err := os.Open(p)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					body = f
				} else {
					pr, pw := io.Pipe()
					go func() { pw.CloseWithError(writeAll(pw, data)) }()
					body = pr
				}
				res, err := m.Upload(context.Background(), body, "bkt", key).Result()
				if err != nil {
					t.Fatalf("Upload: %v", err)
				}
				if res.Size != int64(size) {
					t.Fatalf("uploaded size %d", res.Size)
				}

				out, err := os.Create(filepath.Join(dir, key+".down"))
				if err != nil {
					t.Fatal(err)
				}
				defer out.Close()
				if _, err := m.Download(context.Background(), "bkt", key, out).Result(); err != nil {
					t.Fatalf("Download: %v", err)
				}
				got, _ := os.ReadFile(out.Name())
				if !bytes.Equal(got, data) {
					t.Fatalf("file download: %d bytes, want %d identical", len(got), len(data))
				}
				var buf bytes.Buffer
				if _, err := m.DownloadStream(context.Background(), "bkt", key, &buf).Result(); err != nil {
					t.Fatalf("DownloadStream: %v", err)
				}
				if !bytes.Equal(buf.Bytes(), data) {
					t.Fatalf("stream download differs")
				}
			})
		}
	}
	if n := openUploads(t, c, "bkt"); n != 0 {
		t.Fatalf("%d multipart uploads left", n)
	}
}

func writeAll(w io.Writer, data []byte) error {
	for len(data) > 0 {
		n := min(len(data), 64<<10+3)
		if _, err := w.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// 100 MiB with the default configuration, from a file and back.
func TestE2E100MiB(t *testing.T) {
	_, c := startServer(t, servertest.Options{}, "bkt")
	m := newManager(t, c, transfer.Config{})
	dir := t.TempDir()
	data := randomData(100*mib, 7)
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := m.Upload(context.Background(), f, "bkt", "big").Result()
	if err != nil {
		t.Fatal(err)
	}
	if res.Parts != 13 || res.Size != 100*mib {
		t.Fatalf("result %+v", res)
	}
	out, err := os.Create(filepath.Join(dir, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := m.Download(context.Background(), "bkt", "big", out).Result(); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	out.Seek(0, io.SeekStart)
	io.Copy(h, out)
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("100 MiB download differs")
	}
}

// progressGate closes reached once a transfer has moved at least n bytes.
type progressGate struct {
	n       int64
	mu      sync.Mutex
	total   int64
	once    sync.Once
	reached chan struct{}
}

func newGate(n int64) *progressGate { return &progressGate{n: n, reached: make(chan struct{})} }

func (g *progressGate) OnQueued(*transfer.Future) {}
func (g *progressGate) OnDone(*transfer.Future, error) {
	g.once.Do(func() { close(g.reached) })
}
func (g *progressGate) OnProgress(_ *transfer.Future, n int64) {
	g.mu.Lock()
	g.total += n
	hit := g.total >= g.n
	g.mu.Unlock()
	if hit {
		g.once.Do(func() { close(g.reached) })
	}
}

func TestE2ECancelAbortsMultipartUpload(t *testing.T) {
	_, c := startServer(t, servertest.Options{}, "bkt")
	m := newManager(t, c, transfer.Config{MaxBandwidth: 8 * mib, MultipartThreshold: 5 * mib, MultipartChunkSize: 5 * mib})
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeAll(pw, randomData(60*mib, 1))) }()
	gate := newGate(6 * mib)
	f := m.Upload(context.Background(), pr, "bkt", "cancelled", transfer.WithSubscribers(gate))
	<-gate.reached
	start := time.Now()
	f.Cancel()
	_, err := f.Result()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("cancel took %v", el)
	}
	pr.Close()
	if n := openUploads(t, c, "bkt"); n != 0 {
		t.Fatalf("%d multipart uploads left after cancel", n)
	}
	if _, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("cancelled")}); err == nil {
		t.Fatal("cancelled upload created the object")
	}
}

func TestE2ECloseCancelsInFlight(t *testing.T) {
	_, c := startServer(t, servertest.Options{}, "bkt")
	m, err := transfer.NewManager(c, transfer.Config{MaxBandwidth: 8 * mib, MultipartThreshold: 5 * mib, MultipartChunkSize: 5 * mib})
	if err != nil {
		t.Fatal(err)
	}
	gate := newGate(4 * mib)
	var futures []*transfer.Future
	for i := range 3 {
		futures = append(futures, m.Upload(context.Background(), bytes.NewReader(randomData(30*mib, uint64(i))), "bkt", "s"+strconv.Itoa(i), transfer.WithSubscribers(gate)))
	}
	<-gate.reached
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i, f := range futures {
		if _, err := f.Result(); !errors.Is(err, transfer.ErrClosed) {
			t.Fatalf("transfer %d: %v", i, err)
		}
	}
	if n := openUploads(t, c, "bkt"); n != 0 {
		t.Fatalf("%d multipart uploads left after Close", n)
	}
}

// A circuit breaker that admits one write at a time on the bucket: several
// concurrent multipart uploads still complete through retries, and the
// manager's request window drops while the server throttles.
func TestE2ECircuitBreakerThrottling(t *testing.T) {
	cb := &limits.Config{Buckets: map[string]*limits.Section{
		"tight": {Enabled: true, Actions: map[string]int64{"Write:count": 1}},
	}}
	srv, _ := startServer(t, servertest.Options{CircuitBreaker: cb}, "tight")
	// Like the SDK's default HTTP client, send "Expect: 100-continue" and
	// wait for the server before sending a part, so a refusal arrives as
	// a 429 rather than as a connection reset halfway through the body.
	c := srv.ClientFor(srv.AccessKey, srv.SecretKey, func(o *s3.Options) {
		o.HTTPClient = &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Second, MaxIdleConnsPerHost: 16}}
	})
	m := newManager(t, c, transfer.Config{MultipartThreshold: 5 * mib, MultipartChunkSize: 5 * mib, MaxConcurrency: 8})
	var futures []*transfer.Future
	var datas [][]byte
	for i := range 4 {
		data := randomData(15*mib+i, uint64(i))
		datas = append(datas, data)
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeAll(pw, data)) }()
		futures = append(futures, m.Upload(context.Background(), pr, "tight", "k"+strconv.Itoa(i)))
	}
	for i, f := range futures {
		if _, err := f.Result(); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
	}
	st := m.Stats()
	t.Logf("stats: %+v", st)
	if st.Throttled == 0 || st.Retries == 0 {
		t.Fatalf("the server never throttled: %+v", st)
	}
	if st.MinConcurrencyLimit >= st.MaxConcurrency/2 {
		t.Fatalf("request window stayed at %d of %d while throttled", st.MinConcurrencyLimit, st.MaxConcurrency)
	}
	for i, data := range datas {
		var buf bytes.Buffer
		if _, err := m.DownloadStream(context.Background(), "tight", "k"+strconv.Itoa(i), &buf).Result(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("object %d differs", i)
		}
	}
	if n := openUploads(t, c, "tight"); n != 0 {
		t.Fatalf("%d multipart uploads left", n)
	}
}
