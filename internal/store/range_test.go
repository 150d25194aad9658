package store

import (
	"errors"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		h             string
		size          int64
		start, length int64
		ok            bool
		err           error
	}{
		{"bytes=0-0", 1, 0, 1, true, nil},
		{"bytes=0-", 5, 0, 5, true, nil},
		{"bytes=4-4", 5, 4, 1, true, nil},
		{"bytes=-1", 5, 4, 1, true, nil},
		{"bytes=-9", 5, 0, 5, true, nil},
		{"bytes=3-1000", 5, 3, 2, true, nil},
		{"bytes=5-", 5, 0, 0, false, s3api.ErrInvalidRange},
		{"bytes=-0", 5, 0, 0, false, s3api.ErrInvalidRange},
		{"bytes=0-", 0, 0, 0, false, s3api.ErrInvalidRange},
		{"bytes=0-0", 0, 0, 0, false, s3api.ErrInvalidRange},
		{"bytes=-1", 0, 0, 0, false, nil}, // a tail read of an empty object gets it whole
		{"bytes=-0", 0, 0, 0, false, s3api.ErrInvalidRange},
		{"bytes=-", 5, 0, 0, false, nil},
		{"bytes=1", 5, 0, 0, false, nil},
		{"bytes=-1-2", 5, 0, 0, false, nil},
		{"bytes=2-1", 5, 0, 0, false, nil},
		{"bytes=0-1,2-3", 5, 0, 0, false, nil},
		{"bytes=99999999999999999999-", 5, 0, 0, false, nil},
		{"", 5, 0, 0, false, nil},
	}
	for _, tc := range tests {
		r, ok, err := parseRange(tc.h, tc.size)
		if !errors.Is(err, tc.err) && !(err == nil && tc.err == nil) {
			t.Errorf("%q/%d: error %v, want %v", tc.h, tc.size, err, tc.err)
			continue
		}
		if ok != tc.ok || (ok && (r.start != tc.start || r.length != tc.length)) {
			t.Errorf("%q/%d: %+v %v, want %d+%d %v", tc.h, tc.size, r, ok, tc.start, tc.length, tc.ok)
		}
	}
}
