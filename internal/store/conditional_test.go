package store

import (
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

func TestConditionsCheck(t *testing.T) {
	mod := time.Date(2024, 1, 2, 3, 4, 5, 600_000_000, time.UTC) // sub-second part ignored
	sec := mod.Truncate(time.Second)
	const etag = `"abc"`
	tests := []struct {
		name string
		c    Conditions
		want error
	}{
		{"none", Conditions{}, nil},
		{"if-match", Conditions{IfMatch: `"abc"`}, nil},
		{"if-match weak", Conditions{IfMatch: `W/"abc"`}, nil},
		{"if-match other", Conditions{IfMatch: `"abd"`}, s3api.ErrPreconditionFailed},
		{"if-none-match", Conditions{IfNoneMatch: `"abc"`}, s3api.ErrNotModified},
		{"if-none-match list", Conditions{IfNoneMatch: `"x", "abc"`}, s3api.ErrNotModified},
		{"if-modified-since same second", Conditions{IfModifiedSince: sec}, s3api.ErrNotModified},
		{"if-modified-since a second before", Conditions{IfModifiedSince: sec.Add(-time.Second)}, nil},
		{"if-unmodified-since same second", Conditions{IfUnmodifiedSince: sec}, nil},
		{"if-unmodified-since a second before", Conditions{IfUnmodifiedSince: sec.Add(-time.Second)}, s3api.ErrPreconditionFailed},
		{"if-match overrides if-unmodified-since", Conditions{IfMatch: "*", IfUnmodifiedSince: sec.Add(-time.Hour)}, nil},
		{"if-none-match overrides if-modified-since", Conditions{IfNoneMatch: `"x"`, IfModifiedSince: sec}, nil},
	}
	for _, tc := range tests {
		if got := tc.c.Check(etag, mod); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
