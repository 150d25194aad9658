package store

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// ListOptions select a page of a bucket listing.
type ListOptions struct {
	Prefix string // only keys beginning with Prefix
	// Delimiter groups keys that contain it after Prefix into one common
	// prefix (up to and including the delimiter). "" groups nothing.
	Delimiter string
	// After starts the page after this key or common prefix (marker,
	// start-after or a continuation token). "" starts at the beginning.
	After string
	// MaxKeys is the most keys plus common prefixes returned, capped at
	// 1000. 0 returns an empty, untruncated page.
	MaxKeys int
}

// ListResult is a page of a listing, in UTF-8 binary key order.
type ListResult struct {
	Objects        []ObjectInfo // Metadata and Tags are not filled in
	CommonPrefixes []string
	IsTruncated    bool
	// Next, when IsTruncated, is the last key or common prefix of the
	// page: the After of the next page.
	Next string
}

// ListObjects lists a bucket. A common prefix counts once toward
// MaxKeys, and a page that ends on a common prefix resumes after every
// key under it.
func (s *Store) ListObjects(bucket string, opts ListOptions) (ListResult, error) {
	var res ListResult
	max := min(opts.MaxKeys, maxListKeys)
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := objectsOf(tx, bucket)
		if err != nil || max <= 0 {
			return err
		}
		c := b.Cursor()
		prefix, delim := []byte(opts.Prefix), []byte(opts.Delimiter)
		var k, v []byte
		if opts.After >= opts.Prefix {
			k, v = c.Seek([]byte(opts.After))
			if string(k) == opts.After {
				k, v = c.Next()
			}
		} else {
			k, v = c.Seek(prefix)
		}
		for k != nil && bytes.HasPrefix(k, prefix) {
			if len(delim) > 0 {
				if i := bytes.Index(k[len(prefix):], delim); i >= 0 {
					cp := k[:len(prefix)+i+len(delim)]
					// A common prefix at or before After was returned on
					// an earlier page (or After lies inside it).
					if string(cp) > opts.After {
						if len(res.Objects)+len(res.CommonPrefixes) == max {
							res.IsTruncated = true
							break
						}
						res.CommonPrefixes = append(res.CommonPrefixes, string(cp))
						res.Next = string(cp)
					}
					next := successor(cp)
					if next == nil {
						break
					}
					k, v = c.Seek(next)
					continue
				}
			}
			if len(res.Objects)+len(res.CommonPrefixes) == max {
				res.IsTruncated = true
				break
			}
			var rec objectRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			oi := rec.info(bucket, string(k))
			oi.Metadata, oi.Tags, oi.segs = Metadata{}, nil, nil
			res.Objects = append(res.Objects, oi)
			res.Next = oi.Key
			k, v = c.Next()
		}
		return nil
	})
	if !res.IsTruncated {
		res.Next = ""
	}
	return res, err
}

// successor returns the smallest byte string greater than every string
// that begins with p, or nil when there is none (p is all 0xff).
func successor(p []byte) []byte {
	s := bytes.Clone(p)
	for len(s) > 0 && s[len(s)-1] == 0xff {
		s = s[:len(s)-1]
	}
	if len(s) == 0 {
		return nil
	}
	s[len(s)-1]++
	return s
}
