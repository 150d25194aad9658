package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/s3limit/s3limit/transfer"
)

// memClient is the kind of test double a user writes for code that uses
// the manager: the few operations a test needs, in memory, no HTTP. The
// embedded interface leaves the others unimplemented.
type memClient struct {
	transfer.Client // nil: other operations panic

	mu      sync.Mutex
	objects map[string][]byte
	calls   []string
}

func (c *memClient) record(op string) {
	c.mu.Lock()
	c.calls = append(c.calls, op)
	c.mu.Unlock()
}

func (c *memClient) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	c.record("PutObject")
	data, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.objects[*in.Bucket+"/"+*in.Key] = data
	c.mu.Unlock()
	return &s3.PutObjectOutput{ETag: aws.String(`"mem"`)}, nil
}

func (c *memClient) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	c.record("HeadObject")
	c.mu.Lock()
	data, ok := c.objects[*in.Bucket+"/"+*in.Key]
	c.mu.Unlock()
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "NotFound", Message: "Not Found"}
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(data))), ETag: aws.String(`"mem"`)}, nil
}

func (c *memClient) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.record("GetObject")
	c.mu.Lock()
	data := c.objects[*in.Bucket+"/"+*in.Key]
	c.mu.Unlock()
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(data)), ContentLength: aws.Int64(int64(len(data)))}, nil
}

// A Client of one's own, with no HTTP at all, carries uploads and
// downloads; a missing object is reported as not found.
func TestManagerWithTestDoubleClient(t *testing.T) {
	c := &memClient{objects: map[string][]byte{}}
	m, err := transfer.NewManager(c, transfer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if _, err := m.Upload(ctx, strings.NewReader("hello"), "b", "k").Result(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	res, err := m.DownloadStream(ctx, "b", "k", &buf).Result()
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != "hello" || res.Size != 5 {
		t.Fatalf("downloaded %q, result %+v", buf.String(), res)
	}
	_, err = m.DownloadStream(ctx, "b", "missing", &buf).Result()
	if !errors.Is(err, transfer.ErrNotFound) || !strings.Contains(err.Error(), "not found: s3://b/missing") {
		t.Fatalf("missing object: %v", err)
	}
	if got := strings.Join(c.calls, " "); got != "PutObject HeadObject GetObject HeadObject" {
		t.Fatalf("calls: %s", got)
	}
}

func TestNewManagerRejectsNilClient(t *testing.T) {
	_, err := transfer.NewManager(nil, transfer.Config{})
	if !errors.Is(err, transfer.ErrInvalidConfig) {
		t.Fatalf("NewManager(nil) = %v", err)
	}
}
