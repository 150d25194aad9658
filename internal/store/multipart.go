package store

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
	bolt "go.etcd.io/bbolt"
)

// uploadIDLength is the length of an upload id: 16 hex digits of the
// initiation time in nanoseconds, then 16 random hex digits.
const uploadIDLength = 32

// PartOptions describe the body of an UploadPart; the fields mean what
// they mean in PutOptions.
type PartOptions struct {
	Size              int64
	ContentMD5        []byte
	ChecksumAlgorithm string
	ChecksumValue     func() string
}

// PartInfo describes an uploaded part.
type PartInfo struct {
	PartNumber   int
	ETag         string // quoted hex MD5
	Size         int64  // bytes
	LastModified time.Time
	Checksum     Checksum // zero when none was sent
}

// CompletePart names a part in CompleteMultipartUpload.
type CompletePart struct {
	PartNumber int
	ETag       string // quoted or not
}

// CreateMultipartUpload starts an upload and returns its id. Metadata,
// tags and initiator (shown in listings) apply to the completed object.
func (s *Store) CreateMultipartUpload(bucket, key string, meta Metadata, tags []Tag, initiator string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if err := validateTags(tags, maxObjectTags); err != nil {
		return "", err
	}
	now := s.now()
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(now.UnixNano()))
	id := hex.EncodeToString(ts[:]) + newID()[:16]
	rec := uploadRecord{Initiated: now.UnixNano(), Meta: meta, Tags: tags, Initiator: initiator}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := uploadsOf(tx, bucket)
		if err != nil {
			return err
		}
		return b.Put(uploadKey(key, id), encode(rec))
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// UploadPart stores part partNumber (1–10000) of an upload, replacing a
// part uploaded before with the same number.
func (s *Store) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, body io.Reader, opts PartOptions) (PartInfo, error) {
	if err := checkPartNumber(partNumber); err != nil {
		return PartInfo{}, err
	}
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return PartInfo{}, err
	}
	d, err := s.writeData(ctx, body, writeSpec{
		size:         opts.Size,
		maxSize:      maxPutSize,
		contentMD5:   opts.ContentMD5,
		checksumAlg:  opts.ChecksumAlgorithm,
		checksumWant: opts.ChecksumValue,
	})
	if err != nil {
		return PartInfo{}, err
	}
	return s.commitPart(bucket, key, uploadID, partNumber, d)
}

// UploadPartCopy stores bytes first–last (inclusive; last < 0 means the
// whole source) of srcBucket/srcKey as a part of an upload.
func (s *Store) UploadPartCopy(ctx context.Context, bucket, key, uploadID string, partNumber int, srcBucket, srcKey string, first, last int64, conds Conditions) (PartInfo, error) {
	if err := checkPartNumber(partNumber); err != nil {
		return PartInfo{}, err
	}
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return PartInfo{}, err
	}
	src, err := s.OpenObject(srcBucket, srcKey)
	if err != nil {
		return PartInfo{}, err
	}
	defer src.Close()
	if err := checkCopySource(conds, src.Info); err != nil {
		return PartInfo{}, err
	}
	size := src.Info.Size
	if last < 0 {
		first, last = 0, size-1
	} else if first < 0 || first > last || last >= size {
		return PartInfo{}, s3api.ErrInvalidRange.WithMessage("The x-amz-copy-source-range value bytes=%d-%d is not valid for a source object of size %d.", first, last, size)
	}
	n := last - first + 1
	if n > maxPutSize {
		return PartInfo{}, s3api.ErrInvalidRequest.WithMessage("The specified copy range is larger than the maximum allowable size for a copy source: %d", int64(maxPutSize))
	}
	rd := src.NewReader(first, n)
	defer rd.Close()
	d, err := s.writeData(ctx, rd, writeSpec{size: n, maxSize: maxPutSize})
	if err != nil {
		return PartInfo{}, err
	}
	return s.commitPart(bucket, key, uploadID, partNumber, d)
}

// commitPart records a written part, replacing an earlier one.
func (s *Store) commitPart(bucket, key, uploadID string, partNumber int, d dataFile) (PartInfo, error) {
	rec := partRecord{ID: d.id, Size: d.size, ETag: d.etag(), Modified: s.now().UnixNano(), Checksum: d.checksum}
	var replaced []string
	err := s.commits.update(func(tx *bolt.Tx) error {
		replaced = nil
		if _, err := getUpload(tx, bucket, key, uploadID); err != nil {
			return err
		}
		parts := tx.Bucket([]byte(partsTable))
		pk := partKey(uploadID, partNumber)
		if v := parts.Get(pk); v != nil {
			var old partRecord
			if err := decode(v, &old); err != nil {
				return err
			}
			replaced = []string{old.ID}
		}
		return parts.Put(pk, encode(rec))
	})
	if err != nil {
		s.discard(d)
		return PartInfo{}, err
	}
	_ = s.step(stepCommitted)
	s.release(replaced)
	return rec.info(partNumber), nil
}

// CompleteMultipartUpload assembles the listed parts, in ascending part
// number order, into the object. Parts not listed are deleted. The ETag is
// the MD5 of the parts' binary MD5s followed by "-" and the part count.
// ifMatch and ifNoneMatch make it conditional as in PutOptions.
func (s *Store) CompleteMultipartUpload(bucket, key, uploadID string, parts []CompletePart, ifMatch, ifNoneMatch string) (ObjectInfo, error) {
	if len(parts) == 0 {
		return ObjectInfo{}, s3api.ErrInvalidRequest.WithMessage("You must specify at least one part.")
	}
	for i := 1; i < len(parts); i++ {
		if parts[i].PartNumber <= parts[i-1].PartNumber {
			return ObjectInfo{}, s3api.ErrInvalidPartOrder
		}
	}
	cond := writeCondition(ifMatch, ifNoneMatch)
	now := s.now().UnixNano()
	var rec *objectRecord
	var released []string
	err := s.commits.update(func(tx *bolt.Tx) error {
		released = nil
		up, err := getUpload(tx, bucket, key, uploadID)
		if err != nil {
			return err
		}
		all, err := uploadParts(tx, uploadID)
		if err != nil {
			return err
		}
		sums := md5.New()
		rec = &objectRecord{Modified: now, Meta: up.Meta, Tags: up.Tags, PartsCount: len(parts)}
		for i, p := range parts {
			pr, ok := all[p.PartNumber]
			if !ok || pr.ETag != trimETag(p.ETag) {
				return s3api.ErrInvalidPart.WithMessage("One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag: part %d.", p.PartNumber)
			}
			if i < len(parts)-1 && pr.Size < s.minPartSize {
				return s3api.ErrEntityTooSmall.WithMessage("Your proposed upload is smaller than the minimum allowed object size: part %d has %d bytes.", p.PartNumber, pr.Size)
			}
			raw, err := hex.DecodeString(pr.ETag)
			if err != nil {
				return fmt.Errorf("store: corrupt part ETag %q", pr.ETag)
			}
			sums.Write(raw)
			rec.Size += pr.Size
			rec.Segments = append(rec.Segments, segment{ID: pr.ID, Size: pr.Size})
			delete(all, p.PartNumber)
		}
		rec.ETag = fmt.Sprintf("%x-%d", sums.Sum(nil), len(parts))
		objects, err := objectsOf(tx, bucket)
		if err != nil {
			return err
		}
		if released, err = putObjectRecord(objects, key, rec, cond); err != nil {
			return err
		}
		for _, pr := range all {
			released = append(released, pr.ID)
		}
		if _, err := deleteParts(tx, uploadID); err != nil {
			return err
		}
		uploads, _ := uploadsOf(tx, bucket)
		return uploads.Delete(uploadKey(key, uploadID))
	})
	if err != nil {
		return ObjectInfo{}, err
	}
	_ = s.step(stepCommitted)
	s.release(released)
	return rec.info(bucket, key), nil
}

// AbortMultipartUpload deletes an upload and its parts.
func (s *Store) AbortMultipartUpload(bucket, key, uploadID string) error {
	var released []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		if _, err := getUpload(tx, bucket, key, uploadID); err != nil {
			return err
		}
		ids, err := deleteParts(tx, uploadID)
		if err != nil {
			return err
		}
		released = ids
		uploads, _ := uploadsOf(tx, bucket)
		return uploads.Delete(uploadKey(key, uploadID))
	})
	if err != nil {
		return err
	}
	s.release(released)
	return nil
}

// checkUpload fails with NoSuchUpload unless the upload exists.
func (s *Store) checkUpload(bucket, key, uploadID string) error {
	return s.db.View(func(tx *bolt.Tx) error {
		_, err := getUpload(tx, bucket, key, uploadID)
		return err
	})
}

func checkPartNumber(n int) error {
	if n < 1 || n > maxPartNumber {
		return s3api.ErrInvalidArgument.WithMessage("Part number must be an integer between 1 and %d, inclusive.", maxPartNumber)
	}
	return nil
}

// getUpload reads an upload record, or fails with NoSuchBucket or
// NoSuchUpload.
func getUpload(tx *bolt.Tx, bucket, key, uploadID string) (uploadRecord, error) {
	var rec uploadRecord
	b, err := uploadsOf(tx, bucket)
	if err != nil {
		return rec, err
	}
	if !validUploadID(uploadID) {
		return rec, s3api.ErrNoSuchUpload
	}
	v := b.Get(uploadKey(key, uploadID))
	if v == nil {
		return rec, s3api.ErrNoSuchUpload
	}
	return rec, decode(v, &rec)
}

// uploadParts returns every part of an upload by number.
func uploadParts(tx *bolt.Tx, uploadID string) (map[int]partRecord, error) {
	parts := make(map[int]partRecord)
	c := tx.Bucket([]byte(partsTable)).Cursor()
	prefix := []byte(uploadID)
	for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), uploadID); k, v = c.Next() {
		var rec partRecord
		if err := decode(v, &rec); err != nil {
			return nil, err
		}
		parts[int(binary.BigEndian.Uint32(k[len(prefix):]))] = rec
	}
	return parts, nil
}

// deleteParts deletes the part records of an upload and returns their
// data ids.
func deleteParts(tx *bolt.Tx, uploadID string) ([]string, error) {
	var ids []string
	c := tx.Bucket([]byte(partsTable)).Cursor()
	for k, v := c.Seek([]byte(uploadID)); k != nil && strings.HasPrefix(string(k), uploadID); k, v = c.Seek([]byte(uploadID)) {
		var rec partRecord
		if err := decode(v, &rec); err != nil {
			return nil, err
		}
		ids = append(ids, rec.ID)
		if err := c.Delete(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func validUploadID(id string) bool {
	if len(id) != uploadIDLength {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// uploadKey is the key of an upload record: the object key, NUL, the id.
func uploadKey(key, uploadID string) []byte {
	return []byte(key + "\x00" + uploadID)
}

// splitUploadKey inverts uploadKey.
func splitUploadKey(k []byte) (key, uploadID string) {
	i := len(k) - uploadIDLength - 1
	if i < 0 {
		return "", ""
	}
	return string(k[:i]), string(k[i+1:])
}

// partKey is the key of a part record: the upload id, then the part
// number as a big-endian uint32 so parts sort by number.
func partKey(uploadID string, n int) []byte {
	k := make([]byte, len(uploadID)+4)
	copy(k, uploadID)
	binary.BigEndian.PutUint32(k[len(uploadID):], uint32(n))
	return k
}

func (rec partRecord) info(n int) PartInfo {
	pi := PartInfo{PartNumber: n, ETag: `"` + rec.ETag + `"`, Size: rec.Size, LastModified: time.Unix(0, rec.Modified).UTC()}
	if rec.Checksum != nil {
		pi.Checksum = *rec.Checksum
	}
	return pi
}
