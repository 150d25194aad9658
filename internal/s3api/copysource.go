package s3api

import (
	"net/url"
	"strings"
)

// ParseCopySource splits an x-amz-copy-source header ("bucket/key",
// optionally with a leading '/', URL-encoded, optionally followed by
// "?versionId=...") into the source bucket and key. The query, if any, is
// returned unparsed for the backend to check.
func ParseCopySource(h string) (bucket, key, query string, err error) {
	bad := ErrInvalidArgument.WithMessage("Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")
	path, query, _ := strings.Cut(h, "?")
	p, err := url.PathUnescape(path)
	if err != nil {
		return "", "", "", bad
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !ok || bucket == "" || key == "" {
		return "", "", "", bad
	}
	return bucket, key, query, nil
}
