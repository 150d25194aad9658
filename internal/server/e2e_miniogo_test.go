package server_test

import (
	"testing"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

// TestMinioGoUploads uploads with minio-go in every framing and checksum
// mode it has (signed and unsigned aws-chunked bodies with trailing
// checksums, whose trailer lines minio-go ends with LF and CRLF; checksums
// of multipart uploads at CompleteMultipartUpload) and reads the objects
// back.
func TestMinioGoUploads(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	servertest.RunMinioGoUploads(t, s.URL, s.AccessKey, s.SecretKey, "miniogo")
}
