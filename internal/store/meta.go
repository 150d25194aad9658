package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Tag is one object or bucket tag.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Metadata is the HTTP metadata stored with an object and returned on GET
// and HEAD. Empty strings are not sent.
type Metadata struct {
	ContentType        string `json:"ct,omitempty"` // "" reads as binary/octet-stream
	ContentEncoding    string `json:"ce,omitempty"`
	ContentDisposition string `json:"cd,omitempty"`
	CacheControl       string `json:"cc,omitempty"`
	ContentLanguage    string `json:"cl,omitempty"`
	Expires            string `json:"ex,omitempty"` // kept verbatim
	// User holds x-amz-meta-* values by lower-case name, without the prefix.
	User map[string]string `json:"u,omitempty"`
}

// Checksum is an additional checksum of an object's data (x-amz-checksum-*).
type Checksum struct {
	Algorithm string `json:"a"` // CRC32, CRC32C, CRC64NVME, SHA1 or SHA256
	Value     string `json:"v"` // base64 of the digest
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Bucket, Key  string
	Size         int64 // bytes
	ETag         string
	LastModified time.Time
	Metadata     Metadata
	Tags         []Tag
	// PartsCount is the number of parts of a multipart object; 0 for an
	// object written in one piece.
	PartsCount int
	// Checksum is the verified additional checksum; zero when none.
	Checksum Checksum

	segs []segment
}

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name    string
	Created time.Time
}

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

// segment is one piece of an object's data, in order: a data file, or
// an entry of the inline table.
type segment struct {
	ID     string `json:"id"`
	Size   int64  `json:"n"`
	Inline bool   `json:"i,omitempty"` // data in the inline table under ID
}

type bucketRecord struct {
	Created int64 `json:"c"`           // unix nanoseconds
	Tags    []Tag `json:"t,omitempty"` // nil: no tag set
}

type objectRecord struct {
	Size       int64     `json:"n"`
	ETag       string    `json:"e"` // hex, "-N" for multipart; unquoted
	Modified   int64     `json:"m"` // unix nanoseconds
	Segments   []segment `json:"s"`
	PartsCount int       `json:"p,omitempty"`
	Meta       Metadata  `json:"h"`
	Tags       []Tag     `json:"t,omitempty"`
	Checksum   *Checksum `json:"x,omitempty"`
}

type uploadRecord struct {
	Initiated int64    `json:"i"` // unix nanoseconds
	Meta      Metadata `json:"h"`
	Tags      []Tag    `json:"t,omitempty"`
	Initiator string   `json:"o,omitempty"`
}

type partRecord struct {
	ID       string    `json:"id"`
	Size     int64     `json:"n"`
	ETag     string    `json:"e"` // hex MD5, unquoted
	Modified int64     `json:"m"`
	Checksum *Checksum `json:"x,omitempty"`
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// The record types hold only strings, numbers, slices and maps.
		panic(fmt.Sprintf("store: encode %T: %v", v, err))
	}
	return b
}

func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store: corrupt record: %w", err)
	}
	return nil
}

func (rec *objectRecord) info(bucket, key string) ObjectInfo {
	oi := ObjectInfo{
		Bucket:       bucket,
		Key:          key,
		Size:         rec.Size,
		ETag:         `"` + rec.ETag + `"`,
		LastModified: time.Unix(0, rec.Modified).UTC(),
		Metadata:     rec.Meta,
		Tags:         rec.Tags,
		PartsCount:   rec.PartsCount,
		segs:         rec.Segments,
	}
	if rec.Checksum != nil {
		oi.Checksum = *rec.Checksum
	}
	return oi
}

// sameSegments reports whether a and b name the same files.
func sameSegments(a, b []segment) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

// segmentIDs returns the ids of segs' data files (not of inline data).
func segmentIDs(segs []segment) []string {
	var ids []string // nil for an object kept inline
	for _, s := range segs {
		if !s.Inline {
			if ids == nil {
				ids = make([]string, 0, len(segs))
			}
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// dropSegments deletes the inline data of segs in tx and returns the ids
// of their data files, which the caller releases once tx committed.
func dropSegments(tx *bolt.Tx, segs []segment) ([]string, error) {
	for _, seg := range segs {
		if seg.Inline {
			if err := tx.Bucket([]byte(inlineTable)).Delete([]byte(seg.ID)); err != nil {
				return nil, err
			}
		}
	}
	return segmentIDs(segs), nil
}
