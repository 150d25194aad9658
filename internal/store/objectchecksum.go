package store

import (
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"

	"github.com/s3limit/s3limit/internal/s3api"
)

// checkObjectChecksum verifies the x-amz-checksum-* header of a
// CompleteMultipartUpload. In S3 it is the checksum of the object, not of
// the request's XML body: with x-amz-checksum-type COMPOSITE (the default
// but for CRC64NVME) the checksum of the parts' binary checksums
// concatenated, optionally followed by "-<part count>"; with FULL_OBJECT
// (CRC32, CRC32C, CRC64NVME) the CRC of the whole object, which the parts'
// CRCs combine into. Every listed part must have been uploaded with a
// checksum of that algorithm. A request without the header passes.
func (s *Store) checkObjectChecksum(r *http.Request, bucket, key, uploadID string, parts []CompletePart) error {
	ck, err := parseChecksumRequest(r)
	if err != nil || ck.alg == "" {
		return err
	}
	want := ck.want()
	if want == "" {
		return nil // an algorithm without a value: nothing to check
	}
	typ := strings.ToUpper(r.Header.Get("x-amz-checksum-type"))
	if typ == "" {
		typ = "COMPOSITE"
		if ck.alg == "CRC64NVME" {
			typ = "FULL_OBJECT"
		}
	}
	recorded, err := s.partChecksums(bucket, key, uploadID)
	if err != nil {
		return err
	}
	var got string
	switch typ {
	case "COMPOSITE":
		if ck.alg == "CRC64NVME" {
			return s3api.ErrInvalidRequest.WithMessage("The CRC64NVME checksum of a multipart upload must be FULL_OBJECT.")
		}
		h := newChecksumHash(ck.alg)
		for _, p := range parts {
			raw, err := partChecksum(recorded, p.PartNumber, ck.alg)
			if err != nil {
				return err
			}
			h.Write(raw)
		}
		got = base64.StdEncoding.EncodeToString(h.Sum(nil))
		want = strings.TrimSuffix(want, "-"+strconv.Itoa(len(parts)))
	case "FULL_OBJECT":
		poly, width := crcPolynomial(ck.alg)
		if width == 0 {
			return s3api.ErrInvalidRequest.WithMessage("The FULL_OBJECT checksum type needs CRC32, CRC32C or CRC64NVME, not %s.", ck.alg)
		}
		var crc uint64
		for i, p := range parts {
			raw, err := partChecksum(recorded, p.PartNumber, ck.alg)
			if err != nil {
				return err
			}
			part := decodeCRC(raw)
			if i == 0 {
				crc = part
			} else {
				crc = crcCombine(poly, width, crc, part, recorded[p.PartNumber].Size)
			}
		}
		raw := binary.BigEndian.AppendUint64(nil, crc)
		got = base64.StdEncoding.EncodeToString(raw[8-width/8:])
	default:
		return s3api.ErrInvalidRequest.WithMessage("Value for x-amz-checksum-type header is invalid: %q.", typ)
	}
	if got != want {
		return s3api.ErrBadDigest.WithMessage("The %s you specified did not match the calculated checksum.", ck.alg)
	}
	return nil
}

// partChecksums returns the recorded parts of an upload by part number.
func (s *Store) partChecksums(bucket, key, uploadID string) (map[int]PartInfo, error) {
	parts := make(map[int]PartInfo)
	for marker := 0; ; {
		pl, err := s.ListParts(bucket, key, uploadID, marker, maxListKeys)
		if err != nil {
			return nil, err
		}
		for _, p := range pl.Parts {
			parts[p.PartNumber] = p
			marker = p.PartNumber
		}
		if !pl.IsTruncated {
			return parts, nil
		}
	}
}

// partChecksum returns the binary checksum a part was uploaded with.
func partChecksum(recorded map[int]PartInfo, n int, alg string) ([]byte, error) {
	p, ok := recorded[n]
	if !ok {
		return nil, s3api.ErrInvalidPart.WithMessage("One or more of the specified parts could not be found: part %d.", n)
	}
	raw, err := base64.StdEncoding.DecodeString(p.Checksum.Value)
	if p.Checksum.Algorithm != alg || err != nil {
		return nil, s3api.ErrInvalidRequest.WithMessage("The upload's %s checksum needs every part uploaded with a %s checksum; part %d was not.", alg, alg, n)
	}
	return raw, nil
}

// crcPolynomial returns the reflected polynomial and the width in bits of
// a CRC algorithm; width 0 for the others.
func crcPolynomial(alg string) (poly uint64, width int) {
	switch alg {
	case "CRC32":
		return 0xedb88320, 32
	case "CRC32C":
		return 0x82f63b78, 32
	case "CRC64NVME":
		return 0x9a6c9329ac4bc9b5, 64
	}
	return 0, 0
}

// decodeCRC reads a big-endian CRC of 4 or 8 bytes.
func decodeCRC(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// crcCombine returns the CRC of a||b from crcA, crcB and len(b), for a
// reflected CRC with pre- and post-inversion (CRC-32, CRC-32C,
// CRC-64/NVME): crcA advanced over len(b) zero bytes by GF(2) matrix
// squaring, as zlib's crc32_combine does, then xored with crcB.
func crcCombine(poly uint64, width int, crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	var odd, even [64]uint64
	odd[0] = poly // the operator of one zero bit
	for n, row := 1, uint64(1); n < width; n, row = n+1, row<<1 {
		odd[n] = row
	}
	gf2Square(&even, &odd, width) // two zero bits
	gf2Square(&odd, &even, width) // four zero bits
	for {
		gf2Square(&even, &odd, width) // the next power of two, in bytes
		if lenB&1 != 0 {
			crcA = gf2Times(&even, crcA)
		}
		if lenB >>= 1; lenB == 0 {
			break
		}
		gf2Square(&odd, &even, width)
		if lenB&1 != 0 {
			crcA = gf2Times(&odd, crcA)
		}
		if lenB >>= 1; lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}

func gf2Times(mat *[64]uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[64]uint64, width int) {
	for n := 0; n < width; n++ {
		square[n] = gf2Times(mat, mat[n])
	}
}
