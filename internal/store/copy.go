package store

import (
	"context"
	"errors"

	"github.com/s3limit/s3limit/internal/s3api"
)

// CopyOptions describe a CopyObject.
type CopyOptions struct {
	// ReplaceMetadata stores Metadata instead of the source's
	// (x-amz-metadata-directive: REPLACE).
	ReplaceMetadata bool
	Metadata        Metadata
	// ReplaceTags stores Tags instead of the source's
	// (x-amz-tagging-directive: REPLACE).
	ReplaceTags bool
	Tags        []Tag
	// SourceConditions are the x-amz-copy-source-if-* preconditions;
	// any that fails is PreconditionFailed.
	SourceConditions Conditions
}

// errCopyToItself is S3's answer to a copy that would change nothing.
var errCopyToItself = s3api.ErrInvalidRequest.WithMessage("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")

// CopyObject copies srcBucket/srcKey to dstBucket/dstKey. A copy onto
// itself must replace the metadata and only updates the record; other
// copies write a new data file (the copy's ETag is the MD5 of its data).
func (s *Store) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, opts CopyOptions) (ObjectInfo, error) {
	if err := checkKey(dstKey); err != nil {
		return ObjectInfo{}, err
	}
	if opts.ReplaceTags {
		if err := validateTags(opts.Tags, maxObjectTags); err != nil {
			return ObjectInfo{}, err
		}
	}
	if srcBucket == dstBucket && srcKey == dstKey {
		return s.copyInPlace(srcBucket, srcKey, opts)
	}
	src, err := s.OpenObject(srcBucket, srcKey)
	if err != nil {
		return ObjectInfo{}, err
	}
	defer src.Close()
	if err := checkCopySource(opts.SourceConditions, src.Info); err != nil {
		return ObjectInfo{}, err
	}
	if src.Info.Size > maxPutSize {
		return ObjectInfo{}, s3api.ErrInvalidRequest.WithMessage("The specified copy source is larger than the maximum allowable size for a copy source: %d", int64(maxPutSize))
	}
	if err := s.HeadBucket(dstBucket); err != nil {
		return ObjectInfo{}, err
	}
	rd := src.NewReader(0, src.Info.Size)
	defer rd.Close()
	d, err := s.writeObjectData(ctx, rd, writeSpec{size: src.Info.Size, maxSize: maxPutSize})
	if err != nil {
		return ObjectInfo{}, err
	}
	rec := &objectRecord{
		Size:     d.size,
		ETag:     d.etag(),
		Modified: s.now().UnixNano(),
		Segments: []segment{d.segment()},
		Meta:     src.Info.Metadata,
		Tags:     src.Info.Tags,
	}
	if src.Info.Checksum.Algorithm != "" {
		c := src.Info.Checksum
		rec.Checksum = &c
	}
	if opts.ReplaceMetadata {
		rec.Meta = opts.Metadata
	}
	if opts.ReplaceTags {
		rec.Tags = opts.Tags
	}
	if err := s.commitObject(dstBucket, dstKey, rec, nil, d); err != nil {
		return ObjectInfo{}, err
	}
	return rec.info(dstBucket, dstKey), nil
}

// copyInPlace replaces the metadata (and tags) of an object, keeping its
// data and ETag and setting Last-Modified.
func (s *Store) copyInPlace(bucket, key string, opts CopyOptions) (ObjectInfo, error) {
	if !opts.ReplaceMetadata {
		// Make a missing source NoSuchKey rather than InvalidRequest.
		if _, err := s.StatObject(bucket, key); err != nil {
			return ObjectInfo{}, err
		}
		return ObjectInfo{}, errCopyToItself
	}
	var out ObjectInfo
	now := s.now().UnixNano()
	err := s.updateObject(bucket, key, func(rec *objectRecord) error {
		if err := checkCopySource(opts.SourceConditions, rec.info(bucket, key)); err != nil {
			return err
		}
		rec.Meta = opts.Metadata
		if opts.ReplaceTags {
			rec.Tags = opts.Tags
		}
		rec.Modified = now
		out = rec.info(bucket, key)
		return nil
	})
	return out, err
}

// checkCopySource evaluates copy-source preconditions; for a copy every
// failure, including "not modified", is PreconditionFailed.
func checkCopySource(c Conditions, src ObjectInfo) error {
	err := c.Check(src.ETag, src.LastModified)
	if errors.Is(err, s3api.ErrNotModified) {
		return s3api.ErrPreconditionFailed
	}
	return err
}
