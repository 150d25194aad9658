package store

import (
	"encoding/binary"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// UploadInfo describes an in-progress multipart upload.
type UploadInfo struct {
	Key       string
	UploadID  string
	Initiated time.Time
	Initiator string // "" when unknown
}

// PartList is a page of ListParts.
type PartList struct {
	Upload      UploadInfo
	Parts       []PartInfo
	IsTruncated bool
	NextMarker  int // last part number of the page when truncated
}

// ListParts lists the parts of an upload with numbers above marker, at
// most max (capped at 1000; 0 returns none).
func (s *Store) ListParts(bucket, key, uploadID string, marker, max int) (PartList, error) {
	max = min(max, maxListKeys)
	var pl PartList
	err := s.db.View(func(tx *bolt.Tx) error {
		up, err := getUpload(tx, bucket, key, uploadID)
		if err != nil {
			return err
		}
		pl.Upload = UploadInfo{Key: key, UploadID: uploadID, Initiated: time.Unix(0, up.Initiated).UTC(), Initiator: up.Initiator}
		c := tx.Bucket([]byte(partsTable)).Cursor()
		start := partKey(uploadID, max1(marker+1))
		for k, v := c.Seek(start); k != nil && strings.HasPrefix(string(k), uploadID); k, v = c.Next() {
			if len(pl.Parts) == max {
				pl.IsTruncated = max > 0
				break
			}
			var rec partRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			n := int(binary.BigEndian.Uint32(k[len(uploadID):]))
			pl.Parts = append(pl.Parts, rec.info(n))
			pl.NextMarker = n
		}
		return nil
	})
	if !pl.IsTruncated {
		pl.NextMarker = 0
	}
	return pl, err
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return min(n, maxPartNumber+1)
}

// UploadListOptions select a page of ListMultipartUploads.
type UploadListOptions struct {
	Prefix    string
	Delimiter string
	// KeyMarker and UploadIDMarker start the page: uploads of keys after
	// KeyMarker or, when UploadIDMarker is set, also the uploads of
	// KeyMarker itself initiated after UploadIDMarker.
	KeyMarker, UploadIDMarker string
	MaxUploads                int // capped at 1000; 0 returns none
}

// UploadList is a page of ListMultipartUploads, by key, then initiation.
type UploadList struct {
	Uploads        []UploadInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextKeyMarker and NextUploadIDMarker start the next page when
	// IsTruncated.
	NextKeyMarker, NextUploadIDMarker string
}

// ListMultipartUploads lists the in-progress uploads of a bucket.
func (s *Store) ListMultipartUploads(bucket string, opts UploadListOptions) (UploadList, error) {
	max := min(opts.MaxUploads, maxListKeys)
	var ul UploadList
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := uploadsOf(tx, bucket)
		if err != nil || max <= 0 {
			return err
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(opts.Prefix)); k != nil; k, v = c.Next() {
			key, id := splitUploadKey(k)
			if !strings.HasPrefix(key, opts.Prefix) {
				if key > opts.Prefix {
					break
				}
				continue
			}
			switch {
			case opts.KeyMarker == "":
			case key < opts.KeyMarker:
				continue
			case key == opts.KeyMarker && (opts.UploadIDMarker == "" || id <= opts.UploadIDMarker):
				continue
			}
			if opts.Delimiter != "" {
				if i := strings.Index(key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
					cp := key[:len(opts.Prefix)+i+len(opts.Delimiter)]
					if cp <= opts.KeyMarker || (len(ul.CommonPrefixes) > 0 && ul.CommonPrefixes[len(ul.CommonPrefixes)-1] == cp) {
						continue
					}
					if len(ul.Uploads)+len(ul.CommonPrefixes) == max {
						ul.IsTruncated = true
						break
					}
					ul.CommonPrefixes = append(ul.CommonPrefixes, cp)
					ul.NextKeyMarker, ul.NextUploadIDMarker = cp, ""
					continue
				}
			}
			if len(ul.Uploads)+len(ul.CommonPrefixes) == max {
				ul.IsTruncated = true
				break
			}
			var rec uploadRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			ul.Uploads = append(ul.Uploads, UploadInfo{Key: key, UploadID: id, Initiated: time.Unix(0, rec.Initiated).UTC(), Initiator: rec.Initiator})
			ul.NextKeyMarker, ul.NextUploadIDMarker = key, id
		}
		return nil
	})
	if !ul.IsTruncated {
		ul.NextKeyMarker, ul.NextUploadIDMarker = "", ""
	}
	return ul, err
}
