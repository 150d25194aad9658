package s3api

import (
	"net/url"
	"strings"
)

// CopySource is the source object of a CopyObject or UploadPartCopy, from
// its x-amz-copy-source header.
type CopySource struct {
	Bucket, Key string
	// VersionID is the versionId the header names, "" when none.
	VersionID string
}

// ParseCopySource parses an x-amz-copy-source header ("bucket/key",
// optionally with a leading '/', URL-encoded, optionally followed by
// "?versionId=...").
func ParseCopySource(h string) (CopySource, error) {
	bad := ErrInvalidArgument.WithMessage("Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")
	path, query, _ := strings.Cut(h, "?")
	p, err := url.PathUnescape(path)
	if err != nil {
		return CopySource{}, bad
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !ok || bucket == "" || key == "" {
		return CopySource{}, bad
	}
	src := CopySource{Bucket: bucket, Key: key}
	if query != "" {
		v, err := url.ParseQuery(query)
		if err != nil {
			return CopySource{}, bad
		}
		src.VersionID = v.Get("versionId")
	}
	return src, nil
}
