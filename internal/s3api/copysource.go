package s3api

import (
	"net/url"
	"strconv"
	"strings"
)

// CopySource is the source object of a CopyObject or UploadPartCopy, from
// its x-amz-copy-source header.
type CopySource struct {
	Bucket, Key string
	// VersionID is the versionId the header names, "" when none.
	VersionID string
	// HasRange is set when an UploadPartCopy names the bytes First to
	// Last (inclusive) of the source in x-amz-copy-source-range.
	HasRange    bool
	First, Last int64
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

// ParseCopySourceRange parses x-amz-copy-source-range, which must be
// "bytes=first-last" with both ends given. ok is false when absent.
func ParseCopySourceRange(h string) (first, last int64, ok bool, err error) {
	if h == "" {
		return 0, 0, false, nil
	}
	bad := ErrInvalidArgument.WithMessage("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy: %q.", h)
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found {
		return 0, 0, false, bad
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false, bad
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, false, bad
	}
	return first, last, true, nil
}
