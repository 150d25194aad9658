package store

import (
	"bytes"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
	bolt "go.etcd.io/bbolt"
)

// CreateBucket creates a bucket. It fails with InvalidBucketName (the
// rules of s3api.ValidBucketName) or BucketAlreadyOwnedByYou (a store has
// one owner).
func (s *Store) CreateBucket(name string) error {
	if !s3api.ValidBucketName(name) {
		return s3api.ErrInvalidBucketName.WithMessage("The specified bucket is not valid: %q.", name)
	}
	now := s.now()
	return s.db.Update(func(tx *bolt.Tx) error {
		buckets := tx.Bucket([]byte(bucketsTable))
		if buckets.Get([]byte(name)) != nil {
			return s3api.ErrBucketAlreadyOwnedByYou
		}
		if err := buckets.Put([]byte(name), encode(bucketRecord{Created: now.UnixNano()})); err != nil {
			return err
		}
		if _, err := tx.Bucket([]byte(objectsTable)).CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
		_, err := tx.Bucket([]byte(uploadsTable)).CreateBucketIfNotExists([]byte(name))
		return err
	})
}

// HeadBucket reports whether a bucket exists (nil) or not (NoSuchBucket).
func (s *Store) HeadBucket(name string) error {
	return s.db.View(func(tx *bolt.Tx) error {
		_, err := getBucket(tx, name)
		return err
	})
}

// DeleteBucket deletes an empty bucket, aborting its multipart uploads.
// It fails with BucketNotEmpty while the bucket holds objects.
func (s *Store) DeleteBucket(name string) error {
	var released []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		released = released[:0]
		if _, err := getBucket(tx, name); err != nil {
			return err
		}
		objects := tx.Bucket([]byte(objectsTable))
		if k, _ := objects.Bucket([]byte(name)).Cursor().First(); k != nil {
			return s3api.ErrBucketNotEmpty
		}
		uploads := tx.Bucket([]byte(uploadsTable))
		c := uploads.Bucket([]byte(name)).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			_, id := splitUploadKey(k)
			ids, err := deleteParts(tx, id)
			if err != nil {
				return err
			}
			released = append(released, ids...)
		}
		if err := objects.DeleteBucket([]byte(name)); err != nil {
			return err
		}
		if err := uploads.DeleteBucket([]byte(name)); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketsTable)).Delete([]byte(name))
	})
	if err != nil {
		return err
	}
	s.release(released)
	return nil
}

// ListBuckets returns the buckets whose names begin with prefix and sort
// after after, in name order, at most max of them (max <= 0: all). more
// reports whether buckets were left out.
func (s *Store) ListBuckets(prefix, after string, max int) (list []BucketInfo, more bool, err error) {
	return s.listBuckets(prefix, after, max, nil)
}

// listBuckets is ListBuckets over the buckets visible accepts (nil: all).
func (s *Store) listBuckets(prefix, after string, max int, visible func(name string) bool) (list []BucketInfo, more bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketsTable)).Cursor()
		k, v := c.Seek([]byte(prefix))
		for ; k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			if string(k) <= after || visible != nil && !visible(string(k)) {
				continue
			}
			if max > 0 && len(list) == max {
				more = true
				break
			}
			var rec bucketRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			list = append(list, BucketInfo{Name: string(k), Created: time.Unix(0, rec.Created).UTC()})
		}
		return nil
	})
	return list, more, err
}

// BucketTags returns a bucket's tags, or NoSuchTagSet when it has none.
func (s *Store) BucketTags(name string) ([]Tag, error) {
	var tags []Tag
	err := s.db.View(func(tx *bolt.Tx) error {
		rec, err := getBucket(tx, name)
		if err != nil {
			return err
		}
		if rec.Tags == nil {
			return s3api.ErrNoSuchTagSet
		}
		tags = rec.Tags
		return nil
	})
	return tags, err
}

// SetBucketTags replaces a bucket's tags; nil removes the tag set.
func (s *Store) SetBucketTags(name string, tags []Tag) error {
	if tags != nil {
		if err := validateTags(tags, maxBucketTags); err != nil {
			return err
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		rec, err := getBucket(tx, name)
		if err != nil {
			return err
		}
		rec.Tags = tags
		return tx.Bucket([]byte(bucketsTable)).Put([]byte(name), encode(rec))
	})
}

// getBucket reads a bucket record or fails with NoSuchBucket.
func getBucket(tx *bolt.Tx, name string) (bucketRecord, error) {
	var rec bucketRecord
	v := tx.Bucket([]byte(bucketsTable)).Get([]byte(name))
	if v == nil {
		return rec, s3api.ErrNoSuchBucket
	}
	return rec, decode(v, &rec)
}

// objectsOf returns the object table of a bucket or NoSuchBucket.
func objectsOf(tx *bolt.Tx, bucket string) (*bolt.Bucket, error) {
	if bucket == "" {
		return nil, s3api.ErrNoSuchBucket
	}
	b := tx.Bucket([]byte(objectsTable)).Bucket([]byte(bucket))
	if b == nil {
		return nil, s3api.ErrNoSuchBucket
	}
	return b, nil
}

// uploadsOf returns the upload table of a bucket or NoSuchBucket.
func uploadsOf(tx *bolt.Tx, bucket string) (*bolt.Bucket, error) {
	if bucket == "" {
		return nil, s3api.ErrNoSuchBucket
	}
	b := tx.Bucket([]byte(uploadsTable)).Bucket([]byte(bucket))
	if b == nil {
		return nil, s3api.ErrNoSuchBucket
	}
	return b, nil
}
