package store

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/s3limit/s3limit/internal/s3api"
)

// listQuery is what ListObjects and ListObjectsV2 share.
type listQuery struct {
	prefix, delimiter string
	maxKeys           int
	urlEncode         bool // encoding-type=url
}

func parseListQuery(q url.Values) (listQuery, error) {
	lq := listQuery{prefix: q.Get("prefix"), delimiter: q.Get("delimiter")}
	var err error
	if lq.maxKeys, err = queryInt(q, "max-keys", maxListKeys, maxListKeys); err != nil {
		return lq, err
	}
	switch et := q.Get("encoding-type"); et {
	case "":
	case "url":
		lq.urlEncode = true
	default:
		return lq, s3api.ErrInvalidArgument.WithMessage("Invalid Encoding Method specified in Request: %q.", et)
	}
	return lq, nil
}

// encoder returns the function that writes keys into the response:
// identity, or S3's URL encoding for encoding-type=url.
func (lq listQuery) encoder() func(string) string {
	if lq.urlEncode {
		return urlEncodeKey
	}
	return func(s string) string { return s }
}

// urlEncodeKey percent-encodes every byte of s except unreserved
// characters and '/', as S3 does for encoding-type=url. Clients decode
// with a URL query unescape, so '+' must be encoded.
func urlEncodeKey(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// fillListing copies a ListResult into the XML document.
func (s *Store) fillListing(res *listBucketResult, lr ListResult, enc func(string) string, withOwner bool) {
	res.Contents = make([]objectEntry, len(lr.Objects))
	for i, o := range lr.Objects {
		res.Contents[i] = objectEntry{Key: enc(o.Key), LastModified: xmlTime(o.LastModified), ETag: o.ETag, Size: o.Size, StorageClass: "STANDARD"}
		if withOwner {
			res.Contents[i].Owner = &s.owner
		}
	}
	res.CommonPrefixes = make([]commonPrefix, len(lr.CommonPrefixes))
	for i, p := range lr.CommonPrefixes {
		res.CommonPrefixes[i] = commonPrefix{Prefix: enc(p)}
	}
	res.IsTruncated = lr.IsTruncated
}

func (s *Store) handleListObjects(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	q := r.URL.Query()
	lq, err := parseListQuery(q)
	if err != nil {
		return err
	}
	marker := q.Get("marker")
	lr, err := s.ListObjects(info.Bucket, ListOptions{Prefix: lq.prefix, Delimiter: lq.delimiter, After: marker, MaxKeys: lq.maxKeys})
	if err != nil {
		return err
	}
	enc := lq.encoder()
	res := listBucketResult{Name: info.Bucket, Prefix: enc(lq.prefix), Delimiter: enc(lq.delimiter), MaxKeys: lq.maxKeys}
	m := enc(marker)
	res.Marker = &m
	if lq.urlEncode {
		res.EncodingType = "url"
	}
	s.fillListing(&res, lr, enc, true)
	if lr.IsTruncated {
		res.NextMarker = enc(lr.Next)
	}
	s3api.WriteXML(w, r, http.StatusOK, res)
	return nil
}

func (s *Store) handleListObjectsV2(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	q := r.URL.Query()
	lq, err := parseListQuery(q)
	if err != nil {
		return err
	}
	token, startAfter := q.Get("continuation-token"), q.Get("start-after")
	after := startAfter
	if q.Has("continuation-token") {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || token == "" {
			return s3api.ErrInvalidArgument.WithMessage("The continuation token provided is incorrect.")
		}
		after = string(b)
	}
	lr, err := s.ListObjects(info.Bucket, ListOptions{Prefix: lq.prefix, Delimiter: lq.delimiter, After: after, MaxKeys: lq.maxKeys})
	if err != nil {
		return err
	}
	enc := lq.encoder()
	n := len(lr.Objects) + len(lr.CommonPrefixes)
	res := listBucketResult{
		Name:              info.Bucket,
		Prefix:            enc(lq.prefix),
		Delimiter:         enc(lq.delimiter),
		MaxKeys:           lq.maxKeys,
		KeyCount:          &n,
		ContinuationToken: token,
		StartAfter:        enc(startAfter),
	}
	if lq.urlEncode {
		res.EncodingType = "url"
	}
	s.fillListing(&res, lr, enc, q.Get("fetch-owner") == "true")
	if lr.IsTruncated {
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(lr.Next))
	}
	s3api.WriteXML(w, r, http.StatusOK, res)
	return nil
}

func (s *Store) handleListMultipartUploads(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	q := r.URL.Query()
	lq, err := parseListQuery(q)
	if err != nil {
		return err
	}
	max, err := queryInt(q, "max-uploads", maxListKeys, maxListKeys)
	if err != nil {
		return err
	}
	opts := UploadListOptions{
		Prefix:         lq.prefix,
		Delimiter:      lq.delimiter,
		KeyMarker:      q.Get("key-marker"),
		UploadIDMarker: q.Get("upload-id-marker"),
		MaxUploads:     max,
	}
	ul, err := s.ListMultipartUploads(info.Bucket, opts)
	if err != nil {
		return err
	}
	enc := lq.encoder()
	res := listMultipartUploadsResult{
		Bucket:             info.Bucket,
		KeyMarker:          enc(opts.KeyMarker),
		UploadIDMarker:     opts.UploadIDMarker,
		NextKeyMarker:      enc(ul.NextKeyMarker),
		NextUploadIDMarker: ul.NextUploadIDMarker,
		Delimiter:          enc(opts.Delimiter),
		Prefix:             enc(opts.Prefix),
		MaxUploads:         max,
		IsTruncated:        ul.IsTruncated,
		Uploads:            make([]uploadEntry, len(ul.Uploads)),
		CommonPrefixes:     make([]commonPrefix, len(ul.CommonPrefixes)),
	}
	if lq.urlEncode {
		res.EncodingType = "url"
	}
	for i, u := range ul.Uploads {
		res.Uploads[i] = uploadEntry{Key: enc(u.Key), UploadID: u.UploadID, Initiator: s.initiator(u.Initiator), Owner: s.owner, StorageClass: "STANDARD", Initiated: xmlTime(u.Initiated)}
	}
	for i, p := range ul.CommonPrefixes {
		res.CommonPrefixes[i] = commonPrefix{Prefix: enc(p)}
	}
	s3api.WriteXML(w, r, http.StatusOK, res)
	return nil
}

// initiator is the owner element of an upload's initiator.
func (s *Store) initiator(name string) owner {
	if name == "" {
		return s.owner
	}
	return owner{ID: name, DisplayName: name}
}
