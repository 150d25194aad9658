package sigv4

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		raw, omit string
		sdk, s3   string // "!" = ErrMalformedQuery
	}{
		{raw: "", sdk: "", s3: ""},
		{raw: "x-id=GetObject", sdk: "x-id=GetObject", s3: "x-id=GetObject"},
		{raw: "uploads", sdk: "uploads=", s3: "uploads="},
		{raw: "b=2&a=1", sdk: "a=1&b=2", s3: "a=1&b=2"},
		{raw: "a=2&a=1&A=3", sdk: "A=3&a=1&a=2", s3: "A=3&a=1&a=2"},
		{raw: "a-b=1&a=2", sdk: "a=2&a-b=1", s3: "a=2&a-b=1"}, // sorted after encoding
		{raw: "list-type=2&prefix=a+b%2F%C3%BC&delimiter=%2F", sdk: "delimiter=%2F&list-type=2&prefix=a%20b%2F%C3%BC", s3: "delimiter=%2F&list-type=2&prefix=a%20b%2F%C3%BC"},
		{raw: "k%20ey=v+al&~-_.=*", sdk: "k%20ey=v%20al&~-_.=%2A", s3: "k%20ey=v%20al&~-_.=%2A"},
		{raw: "k=a%2bb", sdk: "k=a%2Bb", s3: "k=a%2Bb"},
		{raw: "k=%7E~", sdk: "k=~~", s3: "k=~~"},
		{raw: "k=%2F/", sdk: "k=%2F%2F", s3: "k=%2F%2F"},
		{raw: "k=a~&k=a%C3%BF", sdk: "k=a%C3%BF&k=a~", s3: "k=a%C3%BF&k=a~"},
		{raw: "&&a=1&", sdk: "a=1", s3: "a=1"},
		{raw: "tagging&versionId=v%201", sdk: "tagging=&versionId=v%201", s3: "tagging=&versionId=v%201"},
		{raw: "a=1;b=2&d=%41", sdk: "d=A", s3: "a=1%3Bb%3D2&d=A"},
		{raw: "c=%zz&d=1", sdk: "d=1", s3: "!"},
		{raw: "c=%4", sdk: "", s3: "!"},
		{raw: "a=1&b=2&=f&e", sdk: "=f&a=1&b=2&e=", s3: "=f&a=1&b=2&e="},
		{raw: "X-Amz-Signature=abc&X-Amz-Date=1", omit: "X-Amz-Signature", sdk: "X-Amz-Date=1", s3: "X-Amz-Date=1"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			for _, d := range []struct {
				dialect dialect
				want    string
			}{{dialectSDK, tc.sdk}, {dialectS3, tc.s3}} {
				var b builder
				got, err := b.appendQuery(nil, tc.raw, tc.omit, d.dialect)
				switch {
				case d.want == "!" && !errors.Is(err, ErrMalformedQuery):
					t.Errorf("dialect %d: %q, %v; want ErrMalformedQuery", d.dialect, got, err)
				case d.want != "!" && (err != nil || string(got) != d.want):
					t.Errorf("dialect %d: %q, %v; want %q", d.dialect, got, err, d.want)
				}
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
		var b builder
		if got, _ := b.appendQuery(nil, strings.Join(raw, "&"), "", dialectSDK); string(got) != strings.Join(want, "&") {
			t.Errorf("got %q", got)
		}
	})
	t.Run("reused memory does not allocate", func(t *testing.T) {
		var b builder
		raw := "partNumber=3&uploadId=abc-123&x-id=UploadPart"
		dst, _ := b.appendQuery(nil, raw, "", dialectSDK) // sizes the memory
		if n := testing.AllocsPerRun(100, func() { b.appendQuery(dst[:0], raw, "", dialectSDK) }); n != 0 {
			t.Errorf("appendQuery allocates %v times", n)
		}
	})
}

func TestAppendValue(t *testing.T) {
	tests := []struct{ in, sdk, s3 string }{
		{"", "", ""},
		{"a", "a", "a"},
		{"  a  ", "a", "a"},
		{"a   b    c", "a b c", "a b c"},
		{"a\t\tb", "a\t\tb", "a b"},
		{"\ta\t b\t", "a\t b", "a b"},
		{"\"a   b\"   ", "\"a b\"", "\"a b\""},
		{"\u0085a\n", "a", "\u0085a\n"},
	}
	for _, tc := range tests {
		if got := string(appendValue(nil, tc.in, dialectSDK)); got != tc.sdk {
			t.Errorf("SDK dialect: appendValue(%q) = %q, want %q", tc.in, got, tc.sdk)
		}
		if got := string(appendValue(nil, tc.in, dialectS3)); got != tc.s3 {
			t.Errorf("S3 dialect: appendValue(%q) = %q, want %q", tc.in, got, tc.s3)
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	tests := []struct {
		in        string
		keepSlash bool
		want      string
	}{
		{"/b/a b/ü+~.txt", true, "/b/a%20b/%C3%BC%2B~.txt"},
		{"/b/a b", false, "%2Fb%2Fa%20b"},
		{"AZaz09-._~", false, "AZaz09-._~"},
		{"!*'();:@&=$,?#[]%", true, "%21%2A%27%28%29%3B%3A%40%26%3D%24%2C%3F%23%5B%5D%25"},
	}
	for _, tc := range tests {
		if got := string(appendEscaped(nil, tc.in, tc.keepSlash)); got != tc.want {
			t.Errorf("appendEscaped(%q, %t) = %q, want %q", tc.in, tc.keepSlash, got, tc.want)
		}
	}
}

func TestCheckSignedHeaders(t *testing.T) {
	tests := []struct {
		in, wantErr string
	}{
		{"host", ""},
		{"content-type;host;x-amz-date", ""},
		{"", "empty"},
		{"host;", "empty name"},
		{"a;;host", "empty name"},
		{"Host", "lower-case"},
		{"host;x amz", "lower-case"},
		{"x-amz-date;host", "sorted"},
		{"host;host", "sorted"},
		{"x-amz-date", "include host"},
	}
	for _, tc := range tests {
		err := CheckSignedHeaders(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckSignedHeaders(%q) = %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("CheckSignedHeaders(%q) = %v, want an error about %q", tc.in, err, tc.wantErr)
		}
	}
	if !SignedHeadersInclude("host;x-amz-content-sha256", "X-Amz-Content-Sha256") || SignedHeadersInclude("host;x-amz-date", "X-Amz-Content-Sha256") {
		t.Error("SignedHeadersInclude")
	}
}

func TestCanonicalHeaderKey(t *testing.T) {
	for in, want := range map[string]string{
		"x-amz-date":     "X-Amz-Date",
		"content-md5":    "Content-Md5",
		"host":           "Host",
		"x-amz-meta-a_b": "X-Amz-Meta-A_b",
		"x amz":          "x amz", // not a token: net/http keeps such keys as sent
	} {
		if got := string(canonicalHeaderKey(nil, in)); got != want {
			t.Errorf("canonicalHeaderKey(%q) = %q, want %q", in, got, want)
		}
	}
}
