package gateway

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

func TestForwardedTrailer(t *testing.T) {
	tests := []struct {
		header   string
		name     string
		valueLen int
	}{
		{"x-amz-checksum-crc32", "x-amz-checksum-crc32", 8},
		{" X-Amz-Checksum-CRC32C ", "x-amz-checksum-crc32c", 8},
		{"x-amz-checksum-crc64nvme", "x-amz-checksum-crc64nvme", 12},
		{"x-amz-checksum-sha1", "x-amz-checksum-sha1", 28},
		{"x-amz-checksum-sha256", "x-amz-checksum-sha256", 44},
		{"x-amz-checksum-md5", "", 0},
		{"x-amz-meta-a", "", 0},
		{"x-amz-checksum-crc32,x-amz-checksum-sha1", "", 0},
		{"", "", 0},
	}
	for _, tc := range tests {
		fwd, ok := forwardedTrailer(http.Header{"X-Amz-Trailer": {tc.header}})
		if ok != (tc.name != "") || fwd.name != tc.name || fwd.valueLen != tc.valueLen {
			t.Errorf("forwardedTrailer(%q) = %+v, %t; want %q, %d", tc.header, fwd, ok, tc.name, tc.valueLen)
		}
	}
}

func TestTrailerBody(t *testing.T) {
	fwd, _ := forwardedTrailer(http.Header{"X-Amz-Trailer": {"x-amz-checksum-crc32"}})
	for _, data := range []string{"", "a", "hello world", strings.Repeat("x", 70000)} {
		trailer := http.Header{}
		src := &endReader{r: strings.NewReader(data), atEnd: func() { trailer.Set("x-amz-checksum-crc32", "AAAAAA==") }}
		b := newTrailerBody(io.NopCloser(src), int64(len(data)), fwd, trailer)
		got, err := io.ReadAll(iotest.OneByteReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var want string
		if data != "" {
			want = strconv.FormatInt(int64(len(data)), 16) + "\r\n" + data + "\r\n"
		}
		want += "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
		if string(got) != want {
			t.Errorf("%d bytes: encoded %q, want %q", len(data), truncate(got), truncate([]byte(want)))
		}
		if n := fwd.encodedLength(int64(len(data))); n != int64(len(got)) {
			t.Errorf("%d bytes: encodedLength %d, encoded %d", len(data), n, len(got))
		}
	}
	// A body whose trailer is missing at its end fails rather than
	// sending a body of the wrong length.
	b := newTrailerBody(io.NopCloser(strings.NewReader("abc")), 3, fwd, http.Header{})
	if _, err := io.ReadAll(b); !errors.Is(err, errTrailerLost) {
		t.Errorf("missing trailer: %v", err)
	}
	// A failing source fails the encoded body.
	boom := errors.New("boom")
	b = newTrailerBody(io.NopCloser(iotest.ErrReader(boom)), 3, fwd, http.Header{})
	if _, err := io.ReadAll(b); !errors.Is(err, boom) {
		t.Errorf("failing source: %v", err)
	}
}

// endReader calls atEnd when r is exhausted, as the aws-chunked decoder
// publishes trailers at the end of the body.
type endReader struct {
	r     io.Reader
	atEnd func()
}

func (e *endReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && e.atEnd != nil {
		e.atEnd()
		e.atEnd = nil
	}
	return n, err
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:40]) + "..." + string(b[len(b)-40:])
	}
	return string(b)
}
