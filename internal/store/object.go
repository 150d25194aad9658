package store

import (
	"context"
	"errors"
	"io"

	"github.com/s3limit/s3limit/internal/s3api"
	bolt "go.etcd.io/bbolt"
)

// PutOptions describe the body and metadata of a PutObject.
type PutOptions struct {
	// Size is the declared body length in bytes; negative means unknown
	// (read to EOF). A body of another length fails with IncompleteBody.
	Size int64
	// ContentMD5 is the expected MD5 digest (16 bytes); nil skips the check.
	ContentMD5 []byte
	// ChecksumAlgorithm names an additional checksum to compute and store
	// (CRC32, CRC32C, CRC64NVME, SHA1, SHA256); "" for none.
	ChecksumAlgorithm string
	// ChecksumValue returns the expected base64 checksum; it is called
	// after the body ended, so it may read a trailer. nil or "" stores the
	// computed value unchecked.
	ChecksumValue func() string
	Metadata      Metadata
	Tags          []Tag
	// IfMatch and IfNoneMatch make the write conditional on the current
	// object: If-None-Match "*" fails with PreconditionFailed when the key
	// exists, If-Match when its ETag differs (NoSuchKey when it is absent).
	IfMatch, IfNoneMatch string
}

// PutObject stores body as bucket/key, replacing any object there. The
// object becomes visible only once completely written and synced.
func (s *Store) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts PutOptions) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	if err := validateTags(opts.Tags, maxObjectTags); err != nil {
		return ObjectInfo{}, err
	}
	cond := writeCondition(opts.IfMatch, opts.IfNoneMatch)
	// Fail before reading the body when the write cannot succeed.
	if err := s.checkObject(bucket, key, cond); err != nil {
		return ObjectInfo{}, err
	}
	d, err := s.writeObjectData(ctx, body, writeSpec{
		size:         opts.Size,
		maxSize:      maxPutSize,
		contentMD5:   opts.ContentMD5,
		checksumAlg:  opts.ChecksumAlgorithm,
		checksumWant: opts.ChecksumValue,
	})
	if err != nil {
		return ObjectInfo{}, err
	}
	rec := &objectRecord{
		Size:     d.size,
		ETag:     d.etag(),
		Modified: s.now().UnixNano(),
		Segments: []segment{d.segment()},
		Meta:     opts.Metadata,
		Tags:     opts.Tags,
		Checksum: d.checksum,
	}
	if err := s.commitObject(bucket, key, rec, cond, d); err != nil {
		return ObjectInfo{}, err
	}
	return rec.info(bucket, key), nil
}

// checkObject runs cond against the current object without writing.
func (s *Store) checkObject(bucket, key string, cond func(*objectRecord) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b, err := objectsOf(tx, bucket)
		if err != nil || cond == nil {
			return err
		}
		old, err := currentObject(b, key)
		if err != nil {
			return err
		}
		return cond(old)
	})
}

// commitObject makes rec, whose data is d, the object at bucket/key after
// cond (may be nil) accepted the current one, then removes the replaced
// object's files. On failure it discards d.
func (s *Store) commitObject(bucket, key string, rec *objectRecord, cond func(*objectRecord) error, d dataFile) error {
	var replaced []string
	err := s.commits.update(func(tx *bolt.Tx) error {
		b, err := objectsOf(tx, bucket)
		if err != nil {
			return err
		}
		if replaced, err = putObjectRecord(b, key, rec, cond); err != nil {
			return err
		}
		if d.inline != nil {
			return tx.Bucket([]byte(inlineTable)).Put([]byte(d.id), d.inline)
		}
		return nil
	})
	if err != nil {
		s.discard(d)
		return err
	}
	_ = s.step(stepCommitted) // the object exists; a hook error changes nothing
	s.release(replaced)
	return nil
}

// StatObject returns an object's description (HeadObject).
func (s *Store) StatObject(bucket, key string) (ObjectInfo, error) {
	var oi ObjectInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := objectsOf(tx, bucket)
		if err != nil {
			return err
		}
		rec, err := getObject(b, key)
		if err != nil {
			return err
		}
		oi = rec.info(bucket, key)
		return nil
	})
	return oi, err
}

// currentObject is getObject that returns nil, not NoSuchKey, for a key
// without an object.
func currentObject(b *bolt.Bucket, key string) (*objectRecord, error) {
	rec, err := getObject(b, key)
	if errors.Is(err, s3api.ErrNoSuchKey) {
		return nil, nil
	}
	return rec, err
}

// putObjectRecord makes rec the object at key of the bucket's objects b,
// after cond (may be nil) accepted the current object, deletes the
// replaced object's inline data and returns the ids of its data files,
// which the caller releases once the transaction committed.
func putObjectRecord(b *bolt.Bucket, key string, rec *objectRecord, cond func(*objectRecord) error) (replaced []string, err error) {
	old, err := currentObject(b, key)
	if err != nil {
		return nil, err
	}
	if cond != nil {
		if err := cond(old); err != nil {
			return nil, err
		}
	}
	if old != nil {
		if replaced, err = dropSegments(b.Tx(), old.Segments); err != nil {
			return nil, err
		}
	}
	return replaced, b.Put([]byte(key), encode(rec))
}

// getObject reads and decodes an object record or fails with NoSuchKey.
func getObject(b *bolt.Bucket, key string) (*objectRecord, error) {
	if key == "" {
		return nil, s3api.ErrNoSuchKey
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil, s3api.ErrNoSuchKey
	}
	var rec objectRecord
	if err := decode(v, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// DeleteObject removes an object. A missing key is not an error; a
// missing bucket is NoSuchBucket.
func (s *Store) DeleteObject(bucket, key string) error {
	errs, err := s.DeleteObjects(bucket, []string{key})
	if err != nil {
		return err
	}
	return errs[0]
}

// DeleteObjects removes several objects in one transaction. It returns
// one error per key (nil when deleted or absent), or an error for the
// whole request.
func (s *Store) DeleteObjects(bucket string, keys []string) ([]error, error) {
	errs := make([]error, len(keys))
	var released []string
	err := s.commits.update(func(tx *bolt.Tx) error {
		released = released[:0]
		b, err := objectsOf(tx, bucket)
		if err != nil {
			return err
		}
		for i, key := range keys {
			if errs[i] = checkKey(key); errs[i] != nil {
				continue
			}
			old, err := currentObject(b, key)
			if err != nil {
				return err
			}
			if old == nil {
				continue
			}
			ids, err := dropSegments(tx, old.Segments)
			if err != nil {
				return err
			}
			released = append(released, ids...)
			if err := b.Delete([]byte(key)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.release(released)
	return errs, nil
}

// ObjectTags returns an object's tags (possibly none).
func (s *Store) ObjectTags(bucket, key string) ([]Tag, error) {
	oi, err := s.StatObject(bucket, key)
	return oi.Tags, err
}

// SetObjectTags replaces an object's tags; nil removes them. Data,
// ETag and Last-Modified do not change.
func (s *Store) SetObjectTags(bucket, key string, tags []Tag) error {
	if err := validateTags(tags, maxObjectTags); err != nil {
		return err
	}
	return s.updateObject(bucket, key, func(rec *objectRecord) error {
		rec.Tags = tags
		return nil
	})
}

// updateObject changes an object's record in place; fn must not change
// its segments.
func (s *Store) updateObject(bucket, key string, fn func(*objectRecord) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := objectsOf(tx, bucket)
		if err != nil {
			return err
		}
		rec, err := getObject(b, key)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
		return b.Put([]byte(key), encode(rec))
	})
}

// checkKey rejects keys S3 would not accept.
func checkKey(key string) error {
	if key == "" {
		return s3api.ErrInvalidArgument.WithMessage("An object key must not be empty.")
	}
	if len(key) > maxKeyLength {
		return s3api.ErrKeyTooLong
	}
	return nil
}
