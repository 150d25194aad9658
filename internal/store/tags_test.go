package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
)

func TestParseTaggingHeader(t *testing.T) {
	tests := []struct {
		in   string
		want []Tag
		err  *s3api.Error
	}{
		{"", nil, nil},
		{"a=1", []Tag{{"a", "1"}}, nil},
		{"a=1&b=", []Tag{{"a", "1"}, {"b", ""}}, nil},
		{"k%20x=v+w&z=%C3%A9", []Tag{{"k x", "v w"}, {"z", "é"}}, nil},
		{"a=1&a=2", nil, s3api.ErrInvalidTag},
		{"=v", nil, s3api.ErrInvalidTag},
		{"a=%zz", nil, s3api.ErrInvalidArgument},
		{"aws:cost=1", nil, s3api.ErrInvalidTag},
		{"k=v%3Cscript%3E", nil, s3api.ErrInvalidTag},
		{strings.Repeat("k", maxTagKeyLength) + "=v", []Tag{{strings.Repeat("k", maxTagKeyLength), "v"}}, nil},
		{strings.Repeat("k", maxTagKeyLength+1) + "=v", nil, s3api.ErrInvalidTag},
		{"k=" + strings.Repeat("é", maxTagValueLength), []Tag{{"k", strings.Repeat("é", maxTagValueLength)}}, nil},
		{"k=" + strings.Repeat("v", maxTagValueLength+1), nil, s3api.ErrInvalidTag},
		{"k=a:b/c@d.e_f-g+h", []Tag{{"k", "a:b/c@d.e_f-g h"}}, nil},
	}
	for _, tc := range tests {
		got, err := parseTaggingHeader(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%.40q: error %v, want %s", tc.in, err, tc.err.Code)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%.40q: %v, %v", tc.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%.40q: tag %d = %+v, want %+v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}
