package transfer

import "testing"

// TestCopySourceHeader: the copy source is escaped as the AWS SDKs escape
// it. A bare '+' reached versitygw as a space and the copy failed with
// "not found".
func TestCopySourceHeader(t *testing.T) {
	for _, tc := range []struct {
		src  copySource
		want string
	}{
		{copySource{bucket: "src", key: "dir/a b+c.csv"}, "src/dir/a%20b%2Bc.csv"},
		{copySource{bucket: "src", key: "ü/~x_y-z.1"}, "src/%C3%BC/~x_y-z.1"},
		{copySource{bucket: "src", key: "q?a=1&b#c%"}, "src/q%3Fa%3D1%26b%23c%25"},
		{copySource{bucket: "src", key: "k", version: "v+1"}, "src/k?versionId=v%2B1"},
	} {
		if got := tc.src.header(); got != tc.want {
			t.Errorf("header(%q) = %q, want %q", tc.src.key, got, tc.want)
		}
	}
}
