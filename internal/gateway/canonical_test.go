package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{"", ""},
		{"x-id=GetObject", "x-id=GetObject"},
		{"uploads", "uploads="},
		{"list-type=2&prefix=a+b%2F%C3%BC&delimiter=%2F", "delimiter=%2F&list-type=2&prefix=a%20b%2F%C3%BC"},
		{"a=2&a=1&A=3", "A=3&a=1&a=2"},
		{"k%20ey=v+al&~-_.=*", "k%20ey=v%20al&~-_.=%2A"},
		{"a=1;b=2&c=%zz&d=%41&&e&=f", "=f&d=A&e="},
		{"tagging&versionId=v%201", "tagging=&versionId=v%201"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			var ss signState
			if got := ss.canonicalQuery(tc.raw); got != tc.want {
				t.Errorf("canonicalQuery(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
	t.Run("many parameters", func(t *testing.T) {
		var raw, want []string
		for _, k := range []string{"z", "y", "x", "w", "v", "u", "t", "s"} {
			for _, v := range []string{"2", "1", "1 0", "0", "3", "9", "8", "7", "6"} {
				raw = append(raw, k+"="+url.QueryEscape(v))
			}
		}
		for _, k := range []string{"s", "t", "u", "v", "w", "x", "y", "z"} {
			for _, v := range []string{"0", "1", "1%200", "2", "3", "6", "7", "8", "9"} {
				want = append(want, k+"="+v)
			}
		}
		var ss signState
		if got := ss.canonicalQuery(strings.Join(raw, "&")); got != strings.Join(want, "&") {
			t.Errorf("got %q", got)
		}
	})
	t.Run("canonical input is returned as is", func(t *testing.T) {
		var ss signState
		raw := "partNumber=3&uploadId=abc-123"
		ss.canonicalQuery(raw) // sizes the scratch space
		if n := testing.AllocsPerRun(100, func() { ss.canonicalQuery(raw) }); n != 0 {
			t.Errorf("canonicalQuery allocates %v times for a canonical query", n)
		}
	})
}

func TestSigningHost(t *testing.T) {
	tests := []struct {
		url, host        string
		want, wantHeader string // wantHeader: req.Host afterwards
	}{
		{"http://s3.test:9000/b", "", "s3.test:9000", ""},
		{"http://s3.test:80/b", "", "s3.test", "s3.test"},
		{"https://s3.test:443/b", "", "s3.test", "s3.test"},
		{"HTTPS://s3.test:443/b", "", "s3.test", "s3.test"},
		{"https://s3.test:80/b", "", "s3.test:80", ""},
		{"http://s3.test/b", "", "s3.test", ""},
		{"http://127.0.0.1:9000/b", "photos.s3.test:80", "photos.s3.test", "photos.s3.test"},
		{"http://[::1]:9000/b", "", "[::1]:9000", ""},
	}
	for _, tc := range tests {
		t.Run(tc.url+" "+tc.host, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			req := &http.Request{URL: u, Host: tc.host}
			if got := signingHost(req); got != tc.want || req.Host != tc.wantHeader {
				t.Errorf("signingHost = %q (Host %q), want %q (Host %q)", got, req.Host, tc.want, tc.wantHeader)
			}
		})
	}
}

func TestAppendStripSpaces(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a", "a"},
		{"  a  ", "a"},
		{"a  b   c", "a b c"},
		{"a\t\tb", "a\t\tb"},
		{" a b ", "a b"},
	}
	for _, tc := range tests {
		if got := string(appendStripSpaces(nil, tc.in)); got != tc.want {
			t.Errorf("appendStripSpaces(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
