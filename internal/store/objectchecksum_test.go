package store

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
)

func TestCRCCombine(t *testing.T) {
	data := make([]byte, 10000)
	_, _ = rand.NewChaCha8([32]byte{7}).Read(data)
	for _, alg := range []string{"CRC32", "CRC32C", "CRC64NVME"} {
		poly, width := crcPolynomial(alg)
		crc := func(b []byte) uint64 {
			switch alg {
			case "CRC32":
				return uint64(crc32.ChecksumIEEE(b))
			case "CRC32C":
				return uint64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
			}
			return crc64.Checksum(b, crc64.MakeTable(0x9a6c9329ac4bc9b5))
		}
		for _, cut := range []int{0, 1, 7, 64, 4096, 9999, 10000} {
			a, b := data[:cut], data[cut:]
			if got, want := crcCombine(poly, width, crc(a), crc(b), int64(len(b))), crc(data); got != want {
				t.Errorf("%s split at %d: combined %x, want %x", alg, cut, got, want)
			}
		}
	}
}

// The x-amz-checksum-* header of CompleteMultipartUpload is the checksum
// of the object (COMPOSITE or FULL_OBJECT), as minio-go and the AWS SDKs
// send it; before, the store took it for a checksum of the XML body.
func TestCompleteMultipartObjectChecksum(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	parts := []string{"first part data", "second part"}
	crc32c := func(b []byte) []byte {
		return binary.BigEndian.AppendUint32(nil, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	}
	b64 := base64.StdEncoding.EncodeToString
	composite := crc32c(append(crc32c([]byte(parts[0])), crc32c([]byte(parts[1]))...))
	full := crc32c([]byte(parts[0] + parts[1]))
	tests := []struct {
		name     string
		checksum bool              // parts uploaded with x-amz-checksum-crc32c
		header   map[string]string // of CompleteMultipartUpload
		want     *s3api.Error      // nil: 200
	}{
		{name: "composite", checksum: true, header: map[string]string{"x-amz-checksum-crc32c": b64(composite), "x-amz-checksum-type": "COMPOSITE"}},
		{name: "composite without type", checksum: true, header: map[string]string{"x-amz-checksum-crc32c": b64(composite)}},
		{name: "composite with part count", checksum: true, header: map[string]string{"x-amz-checksum-crc32c": b64(composite) + "-2"}},
		{name: "full object", checksum: true, header: map[string]string{"x-amz-checksum-crc32c": b64(full), "x-amz-checksum-type": "FULL_OBJECT"}},
		{name: "no checksum", checksum: true},
		{name: "wrong composite", checksum: true, header: map[string]string{"x-amz-checksum-crc32c": b64(full)}, want: s3api.ErrBadDigest},
		{name: "wrong full object", checksum: true, header: map[string]string{"x-amz-checksum-crc32c": b64(composite), "x-amz-checksum-type": "FULL_OBJECT"}, want: s3api.ErrBadDigest},
		{name: "full object SHA256", checksum: true, header: map[string]string{"x-amz-checksum-sha256": b64(make([]byte, 32)), "x-amz-checksum-type": "FULL_OBJECT"}, want: s3api.ErrInvalidRequest},
		{name: "parts without checksums", header: map[string]string{"x-amz-checksum-crc32c": b64(composite)}, want: s3api.ErrInvalidRequest},
		{name: "unknown type", checksum: true, header: map[string]string{"x-amz-checksum-crc32c": b64(composite), "x-amz-checksum-type": "PARTIAL"}, want: s3api.ErrInvalidRequest},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("k%d", i)
			id := e.createUpload("bkt", key, nil)
			var etags []any
			for n, p := range parts {
				var h map[string]string
				if tc.checksum {
					h = map[string]string{"x-amz-checksum-crc32c": b64(crc32c([]byte(p)))}
				}
				rec := e.mustDo(req{op: "UploadPart", method: "PUT", target: fmt.Sprintf("/bkt/%s?partNumber=%d&uploadId=%s", key, n+1, id),
					bucket: "bkt", key: key, body: p, header: h}, http.StatusOK)
				etags = append(etags, n+1, rec.Header().Get("ETag"))
			}
			rec := e.do(req{op: "CompleteMultipartUpload", method: "POST", target: "/bkt/" + key + "?uploadId=" + id,
				bucket: "bkt", key: key, body: completeBody(etags...), header: tc.header})
			if tc.want != nil {
				wantError(t, rec, tc.want)
				return
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if got, err := e.read("bkt", key); err != nil || got != parts[0]+parts[1] {
				t.Fatalf("object %q, %v", got, err)
			}
		})
	}
}
