package store

import (
	"strings"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Conditions are the HTTP preconditions of a read (RFC 7232) or the
// x-amz-copy-source-if-* preconditions of a copy. Zero fields are absent.
type Conditions struct {
	IfMatch           string // "*" or a list of entity tags
	IfNoneMatch       string // "*" or a list of entity tags
	IfModifiedSince   time.Time
	IfUnmodifiedSince time.Time
}

// Check evaluates c against an object with the given ETag (quoted or
// not) and modification time, in the order of RFC 7232 section 6: a false
// If-Match, or else a false If-Unmodified-Since, is PreconditionFailed; a
// matching If-None-Match, or else an unmet If-Modified-Since, is
// NotModified (which a GET or HEAD answers with 304). Times compare at
// one-second resolution, the resolution of HTTP dates.
func (c Conditions) Check(etag string, modified time.Time) error {
	modified = modified.Truncate(time.Second)
	if c.IfMatch != "" {
		if !etagMatches(c.IfMatch, etag) {
			return s3api.ErrPreconditionFailed
		}
	} else if !c.IfUnmodifiedSince.IsZero() && modified.After(c.IfUnmodifiedSince) {
		return s3api.ErrPreconditionFailed
	}
	if c.IfNoneMatch != "" {
		if etagMatches(c.IfNoneMatch, etag) {
			return s3api.ErrNotModified
		}
	} else if !c.IfModifiedSince.IsZero() && !modified.After(c.IfModifiedSince) {
		return s3api.ErrNotModified
	}
	return nil
}

// etagMatches reports whether a If-Match/If-None-Match list matches etag
// ("*" matches any). Quotes and weak prefixes are ignored: S3 ETags are
// strong and some clients send them unquoted.
func etagMatches(list, etag string) bool {
	etag = trimETag(etag)
	for cand := range strings.SplitSeq(list, ",") {
		cand = strings.TrimSpace(cand)
		if cand == "*" || trimETag(strings.TrimPrefix(cand, "W/")) == etag {
			return true
		}
	}
	return false
}

// trimETag removes surrounding white space and quotes from an ETag.
func trimETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, `"`)
	s = strings.TrimSuffix(s, `"`)
	return s
}

// writeCondition returns the precondition of a conditional write
// (If-Match / If-None-Match on PutObject or CompleteMultipartUpload),
// checked inside the commit transaction against the current object (nil
// when there is none); nil when the request has none.
func writeCondition(ifMatch, ifNoneMatch string) func(old *objectRecord) error {
	if ifMatch == "" && ifNoneMatch == "" {
		return nil
	}
	return func(old *objectRecord) error {
		if ifNoneMatch != "" && old != nil && etagMatches(ifNoneMatch, old.ETag) {
			return s3api.ErrPreconditionFailed
		}
		if ifMatch != "" {
			if old == nil {
				return s3api.ErrNoSuchKey
			}
			if !etagMatches(ifMatch, old.ETag) {
				return s3api.ErrPreconditionFailed
			}
		}
		return nil
	}
}
