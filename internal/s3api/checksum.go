package s3api

import (
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"sync"
)

// ChecksumAlgorithm is one of the flexible checksums S3 accepts in
// x-amz-checksum-* headers and trailers.
type ChecksumAlgorithm string

// The checksum algorithms, named as in x-amz-sdk-checksum-algorithm.
const (
	ChecksumCRC32     ChecksumAlgorithm = "CRC32"
	ChecksumCRC32C    ChecksumAlgorithm = "CRC32C"
	ChecksumCRC64NVME ChecksumAlgorithm = "CRC64NVME"
	ChecksumSHA1      ChecksumAlgorithm = "SHA1"
	ChecksumSHA256    ChecksumAlgorithm = "SHA256"
)

// checksumAlgorithmOf maps a lower-case x-amz-checksum-* header name to its
// algorithm.
func checksumAlgorithmOf(header string) (ChecksumAlgorithm, bool) {
	switch header {
	case "x-amz-checksum-crc32":
		return ChecksumCRC32, true
	case "x-amz-checksum-crc32c":
		return ChecksumCRC32C, true
	case "x-amz-checksum-crc64nvme":
		return ChecksumCRC64NVME, true
	case "x-amz-checksum-sha1":
		return ChecksumSHA1, true
	case "x-amz-checksum-sha256":
		return ChecksumSHA256, true
	}
	return "", false
}

// NewHash returns a hash computing the checksum; its Sum is the value S3
// transmits, base64-encoded (CRCs big-endian). It returns nil for an
// unknown algorithm.
func (a ChecksumAlgorithm) NewHash() hash.Hash {
	switch a {
	case ChecksumCRC32:
		return crc32.NewIEEE()
	case ChecksumCRC32C:
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case ChecksumCRC64NVME:
		return crc64.New(crc64NVMETable())
	case ChecksumSHA1:
		return sha1.New()
	case ChecksumSHA256:
		return sha256.New()
	}
	return nil
}

// crc64NVMETable is the table of the CRC-64/NVME polynomial (reflected
// form), built once and never modified.
var crc64NVMETable = sync.OnceValue(func() *crc64.Table {
	return crc64.MakeTable(0x9a6c9329ac4bc9b5)
})
