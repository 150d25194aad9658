package bandwidth

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string // substring of the error; "" for success
	}{
		{in: "1048576", want: 1048576},
		{in: "+5", want: 5},
		{in: "1MB/s", want: 1 << 20},
		{in: "10Mb/s", want: 1310720},
		{in: "10KiB/s", want: 10240},
		{in: "10Kib/s", want: 1280},
		{in: "512KB/s", want: 512 << 10},
		{in: "512kB/s", want: 512 << 10},
		{in: "2GB/s", want: 2 << 30},
		{in: "1TiB/s", want: 1 << 40},
		{in: "100B/s", want: 100},
		{in: "100b/s", want: 12},
		{in: "1.5MB/s", want: 1572864},
		{in: "0.5KiB/s", want: 512},
		{in: " 10 MB/s ", want: 10 << 20},
		{in: "9223372036854775807", want: math.MaxInt64},
		{in: "8191PB/s", wantErr: "expected"},
		{in: "", wantErr: "empty"},
		{in: "   ", wantErr: "empty"},
		{in: "0", wantErr: "at least 1 byte per second"},
		{in: "0MB/s", wantErr: "at least 1 byte per second"},
		{in: "1b/s", wantErr: "at least 1 byte per second"},
		{in: "-1", wantErr: "greater than zero"},
		{in: "-10MB/s", wantErr: "greater than zero"},
		{in: "abc", wantErr: "expected a whole number of bytes per second"},
		{in: "10MB", wantErr: "expected"},
		{in: "10M/s", wantErr: "B/s (bytes) or b/s (bits)"},
		{in: "10iB/s", wantErr: `"i" must follow a prefix`},
		{in: "MB/s", wantErr: "expected"},
		{in: "1.5", wantErr: "expected"},
		{in: ".5MB/s", wantErr: "expected"},
		{in: "5.MB/s", wantErr: "expected"},
		{in: "1e3B/s", wantErr: "expected"},
		{in: "1,5MB/s", wantErr: "expected"},
		{in: "10 M B/s", wantErr: "expected"},
		{in: "9223372036854775808", wantErr: "too large"},
		{in: "8388608TB/s", wantErr: "too large"},
		{in: strings.Repeat("1", 65) + "B/s", wantErr: "longer than 64"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ParseRate(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseRate(%q) = %d, want an error", tc.in, got)
			}
			if !errors.Is(err, ErrInvalidRate) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRate(%q) error = %q, want ErrInvalidRate mentioning %q", tc.in, err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tc.in)) {
				t.Errorf("error %q does not quote the input", err)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "5MB", want: 5 << 20},
		{in: "5MiB", want: 5 << 20},
		{in: "5M", want: 5 << 20},
		{in: "5Mi", want: 5 << 20},
		{in: "1.5GiB", want: 3 << 29},
		{in: "10B", want: 10},
		{in: "8 KB", want: 8 << 10},
		{in: "-1", wantErr: true},
		{in: "5MB/s", wantErr: true},
		{in: "5Mb", wantErr: true},
		{in: "five", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if tc.wantErr {
			if err == nil || !errors.Is(err, ErrInvalidSize) {
				t.Errorf("ParseSize(%q) = %d, %v; want ErrInvalidSize", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"1048576", "1MB/s", "10Mb/s", "10KiB/s", "1.5GB/s", "0", "-1",
		" 7 kB/s", "1iB/s", "99999999999999999999", "0.125b/s", "+3TiB/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseRate(s)
		if err != nil {
			if v != 0 || !errors.Is(err, ErrInvalidRate) {
				t.Fatalf("ParseRate(%q) = %d, %v: an error must wrap ErrInvalidRate and return 0", s, v, err)
			}
			return
		}
		if v < 1 {
			t.Fatalf("ParseRate(%q) = %d, want at least 1", s, v)
		}
		// A parsed rate written as a plain number parses to itself.
		if back, err := ParseRate(strconv.FormatInt(v, 10)); err != nil || back != v {
			t.Fatalf("ParseRate(%d) = %d, %v after ParseRate(%q)", v, back, err, s)
		}
		// Bytes and bits agree: the same number in bits is an eighth, rounded down.
		if trimmed := strings.TrimSpace(s); strings.HasSuffix(trimmed, "B/s") {
			bits := strings.TrimSuffix(trimmed, "B/s") + "b/s"
			if b, err := ParseRate(bits); (err == nil && b != v/8) || (err != nil && v/8 >= 1) {
				t.Fatalf("ParseRate(%q) = %d, %v; want %d as ParseRate(%q) = %d", bits, b, err, v/8, s, v)
			}
		}
	})
}
