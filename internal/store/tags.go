package store

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Tag limits of Amazon S3.
const (
	maxObjectTags     = 10
	maxBucketTags     = 50
	maxTagKeyLength   = 128 // Unicode characters
	maxTagValueLength = 256 // Unicode characters
)

// validateTags checks tag count, key and value lengths and characters,
// duplicate keys and the reserved "aws:" prefix.
func validateTags(tags []Tag, max int) error {
	if len(tags) > max {
		return s3api.ErrInvalidTag.WithMessage("Object tags cannot be greater than %d", max)
	}
	seen := make(map[string]struct{}, len(tags))
	for _, t := range tags {
		switch {
		case t.Key == "" || utf8.RuneCountInString(t.Key) > maxTagKeyLength || !validTagText(t.Key):
			return s3api.ErrInvalidTag.WithMessage("The TagKey you have provided is invalid: %q.", t.Key)
		case utf8.RuneCountInString(t.Value) > maxTagValueLength || !validTagText(t.Value):
			return s3api.ErrInvalidTag.WithMessage("The TagValue you have provided is invalid: %q.", t.Value)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return s3api.ErrInvalidTag.WithMessage("Your TagKey cannot be prefixed with aws: %q.", t.Key)
		}
		if _, dup := seen[t.Key]; dup {
			return s3api.ErrInvalidTag.WithMessage("Cannot provide multiple Tags with the same key: %q.", t.Key)
		}
		seen[t.Key] = struct{}{}
	}
	return nil
}

// validTagText reports whether s holds only the characters S3 allows in
// tags: letters, digits, white space and + - = . _ : / @.
func validTagText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsSpace(r) || strings.ContainsRune("+-=._:/@", r) {
			continue
		}
		return false
	}
	return true
}

// parseTaggingHeader parses x-amz-tagging, a URL query string
// ("k1=v1&k2=v2"), into validated object tags. An empty header is no tags.
func parseTaggingHeader(h string) ([]Tag, error) {
	if h == "" {
		return nil, nil
	}
	var tags []Tag
	for part := range strings.SplitSeq(h, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, s3api.ErrInvalidArgument.WithMessage("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
		}
		tags = append(tags, Tag{Key: key, Value: val})
	}
	if err := validateTags(tags, maxObjectTags); err != nil {
		return nil, err
	}
	return tags, nil
}
