package servertest

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/url"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinioGoUpload is one way minio-go uploads an object: how the body is
// framed and signed, which checksum travels with it, and whether it is
// one PUT or a multipart upload.
type MinioGoUpload struct {
	Name string
	// Trailers turns on minio-go's trailing headers (Options.TrailingHeaders):
	// the checksum follows the body of an aws-chunked upload.
	Trailers bool
	// Unsigned sends the body without a payload signature
	// (PutObjectOptions.DisableContentSha256): UNSIGNED-PAYLOAD, or
	// STREAMING-UNSIGNED-PAYLOAD-TRAILER with trailers. Otherwise the body
	// is aws-chunked with chunk signatures (minio-go streams signed chunks
	// over plain HTTP).
	Unsigned bool
	Checksum minio.ChecksumType // ChecksumNone: minio-go's default
	Size     int                // object size in bytes
}

// MinioGoPartSize is the part size of the multipart uploads, minio-go's
// smallest.
const MinioGoPartSize = 5 << 20

// MinioGoUploads lists every upload mode of minio-go that S3 supports:
// plain and trailing-checksum uploads, signed and unsigned, with each
// checksum S3 knows (CRC32, CRC32C, CRC64NVME, SHA1, SHA256, and the
// full-object CRC32 and CRC32C of multipart uploads), as one PUT and as a
// multipart upload.
func MinioGoUploads() []MinioGoUpload {
	sizes := []struct {
		name string
		size int
	}{
		{"single", 100<<10 + 17},             // two 64 KiB chunks and a short one
		{"multipart", MinioGoPartSize + 999}, // two parts
	}
	checksums := []struct {
		name string
		typ  minio.ChecksumType
	}{
		{"default", minio.ChecksumNone}, // CRC32C with trailers
		{"CRC32", minio.ChecksumCRC32},
		{"CRC32C", minio.ChecksumCRC32C},
		{"CRC64NVME", minio.ChecksumCRC64NVME},
		{"SHA1", minio.ChecksumSHA1},
		{"SHA256", minio.ChecksumSHA256},
		{"FullObjectCRC32", minio.ChecksumFullObjectCRC32},
		{"FullObjectCRC32C", minio.ChecksumFullObjectCRC32C},
	}
	var ups []MinioGoUpload
	for _, s := range sizes {
		for _, unsigned := range []bool{false, true} {
			signing := "signed"
			if unsigned {
				signing = "unsigned"
			}
			ups = append(ups, MinioGoUpload{Name: s.name + "/" + signing + "/no-trailers", Unsigned: unsigned, Size: s.size})
			for _, c := range checksums {
				ups = append(ups, MinioGoUpload{Name: s.name + "/" + signing + "/trailer-" + c.name,
					Trailers: true, Unsigned: unsigned, Checksum: c.typ, Size: s.size})
			}
		}
	}
	return append(ups,
		MinioGoUpload{Name: "empty/signed/trailer-default", Trailers: true},
		MinioGoUpload{Name: "empty/unsigned/trailer-default", Trailers: true, Unsigned: true},
	)
}

// RunMinioGoUploads uploads an object with minio-go in every mode of
// MinioGoUploads into bucket (which it creates) at endpoint
// ("http://host:port"), reads each one back with minio-go and fails the
// test when an upload fails or the bytes read differ from those written.
func RunMinioGoUploads(t *testing.T, endpoint, accessKey, secretKey, bucket string) {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	client := func(trailers bool) *minio.Client {
		c, err := minio.New(u.Host, &minio.Options{
			Creds:           credentials.NewStaticV4(accessKey, secretKey, ""),
			Region:          "us-east-1",
			TrailingHeaders: trailers,
			MaxRetries:      1,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	plain, trailing := client(false), client(true)
	if err := plain.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("MakeBucket %s: %v", bucket, err)
	}
	for i, up := range MinioGoUploads() {
		t.Run(up.Name, func(t *testing.T) {
			c := plain
			if up.Trailers {
				c = trailing
			}
			data := make([]byte, up.Size)
			_, _ = rand.NewChaCha8([32]byte{byte(i), 42}).Read(data)
			key := "miniogo/" + up.Name
			info, err := c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
				Checksum:             up.Checksum,
				DisableContentSha256: up.Unsigned,
				PartSize:             MinioGoPartSize,
				ContentType:          "application/x-miniogo",
			})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			if info.Size != int64(len(data)) {
				t.Errorf("PutObject reports %d bytes, want %d", info.Size, len(data))
			}
			obj, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			defer obj.Close()
			got, err := io.ReadAll(obj)
			if err != nil {
				t.Fatalf("GetObject body: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes that differ from the %d written", len(got), len(data))
			}
		})
	}
}
