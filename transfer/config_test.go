package transfer

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigDefaultsAndValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" = valid
	}{
		{name: "zero value is valid", cfg: Config{}},
		{name: "explicit values", cfg: Config{MaxBandwidth: 1, MultipartThreshold: 1, MultipartChunkSize: MinPartSize, MaxConcurrency: 1, MaxAttempts: 1}},
		{name: "negative bandwidth", cfg: Config{MaxBandwidth: -1}, wantErr: "MaxBandwidth"},
		{name: "negative threshold", cfg: Config{MultipartThreshold: -1}, wantErr: "MultipartThreshold"},
		{name: "negative chunk", cfg: Config{MultipartChunkSize: -1}, wantErr: "MultipartChunkSize"},
		{name: "chunk below 5 MiB", cfg: Config{MultipartChunkSize: MinPartSize - 1}, wantErr: "minimum part size"},
		{name: "chunk above 5 GiB", cfg: Config{MultipartChunkSize: MaxPartSize + 1}, wantErr: "maximum part size"},
		{name: "negative concurrency", cfg: Config{MaxConcurrency: -3}, wantErr: "MaxConcurrency"},
		{name: "negative attempts", cfg: Config{MaxAttempts: -1}, wantErr: "MaxAttempts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewManager(newFakeS3().client(), tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewManager: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("NewManager error = %v, want ErrInvalidConfig mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestConfigZeroFieldsTakeDefaults(t *testing.T) {
	m := newTestManager(t, newFakeS3().client(), Config{})
	c := m.cfg
	if c.MultipartThreshold != 8*MiB || c.MultipartChunkSize != 8*MiB || c.MaxConcurrency != 10 || c.MaxAttempts != 5 {
		t.Fatalf("defaults = %+v", c)
	}
	if m.bucket != nil {
		t.Fatalf("MaxBandwidth 0 without Bucket should not limit")
	}
	if NewManagerNil := func() error { _, err := NewManager(nil, Config{}); return err }(); !errors.Is(NewManagerNil, ErrInvalidConfig) {
		t.Fatalf("NewManager(nil) error = %v", NewManagerNil)
	}
}

func TestPartSize(t *testing.T) {
	tests := []struct {
		name        string
		chunk, size int64
		want        int64
	}{
		{"unknown size keeps chunk", 8 * MiB, -1, 8 * MiB},
		{"small object keeps chunk", 8 * MiB, 100 * MiB, 8 * MiB},
		{"exactly 10000 parts keeps chunk", 5 * MiB, 10000 * 5 * MiB, 5 * MiB},
		{"one byte more raises to whole MiB", 5 * MiB, 10000*5*MiB + 1, 6 * MiB},
		{"5 TiB fits", 8 * MiB, MaxObjectSize, 525 * MiB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := partSize(tc.chunk, tc.size)
			if got != tc.want {
				t.Fatalf("partSize(%d, %d) = %d, want %d", tc.chunk, tc.size, got, tc.want)
			}
			if tc.size > 0 && numParts(tc.size, got) > MaxParts {
				t.Fatalf("%d parts exceed the limit", numParts(tc.size, got))
			}
		})
	}
}
