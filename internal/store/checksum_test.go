package store

import (
	"encoding/binary"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
)

func TestChecksumKnownAnswers(t *testing.T) {
	// Check values of the CRC catalogue for "123456789".
	tests := []struct {
		alg  string
		want uint64
		size int
	}{
		{"CRC32", 0xcbf43926, 4},
		{"CRC32C", 0xe3069283, 4},
		{"CRC64NVME", 0xae8b14860a799888, 8},
	}
	for _, tc := range tests {
		h := newChecksumHash(tc.alg)
		h.Write([]byte("123456789"))
		sum := h.Sum(nil)
		var got uint64
		if tc.size == 4 {
			got = uint64(binary.BigEndian.Uint32(sum))
		} else {
			got = binary.BigEndian.Uint64(sum)
		}
		if got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.alg, got, tc.want)
		}
	}
	if got := checksumOf("SHA256", nil); got != "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" {
		t.Errorf("SHA256 of nothing = %s", got)
	}
}

func TestParseChecksumRequest(t *testing.T) {
	tests := []struct {
		name string
		h    map[string]string
		alg  string
		err  *s3api.Error
	}{
		{"none", nil, "", nil},
		{"header", map[string]string{"x-amz-checksum-crc32": "x"}, "CRC32", nil},
		{"trailer", map[string]string{"x-amz-trailer": "x-amz-checksum-crc64nvme"}, "CRC64NVME", nil},
		{"sdk algorithm", map[string]string{"x-amz-sdk-checksum-algorithm": "sha256"}, "SHA256", nil},
		{"agreeing", map[string]string{"x-amz-checksum-sha1": "x", "x-amz-sdk-checksum-algorithm": "SHA1"}, "SHA1", nil},
		{"conflicting", map[string]string{"x-amz-checksum-sha1": "x", "x-amz-sdk-checksum-algorithm": "CRC32"}, "", s3api.ErrInvalidRequest},
		{"unknown", map[string]string{"x-amz-sdk-checksum-algorithm": "MD4"}, "", s3api.ErrInvalidRequest},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("PUT", "/b/k", nil)
		for k, v := range tc.h {
			r.Header.Set(k, v)
		}
		got, err := parseChecksumRequest(r)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err != nil || got.alg != tc.alg {
			t.Errorf("%s: alg %q, %v; want %q", tc.name, got.alg, err, tc.alg)
		}
	}
}
