package transfer

import (
	"errors"
	"fmt"

	"github.com/s3limit/s3limit/bandwidth"
)

// Sizes and counts fixed by the S3 multipart upload API.
const (
	MiB = 1 << 20
	GiB = 1 << 30

	// MinPartSize is the smallest part S3 accepts other than the last one.
	MinPartSize = 5 * MiB
	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize = 5 * GiB
	// MaxParts is the largest number of parts in one multipart upload.
	MaxParts = 10000
	// MaxObjectSize is the largest object S3 stores (5 TiB).
	MaxObjectSize = 5 * 1024 * GiB
)

// Defaults used for zero Config fields. They match the AWS CLI's.
const (
	DefaultMultipartThreshold = 8 * MiB
	DefaultMultipartChunkSize = 8 * MiB
	DefaultMaxConcurrency     = 10
	DefaultMaxAttempts        = 5
)

// ErrInvalidConfig is wrapped by every error NewManager returns for a
// Config field it cannot use.
var ErrInvalidConfig = errors.New("transfer: invalid config")

// Config tunes a Manager. The zero value is a usable configuration: no
// bandwidth cap, 8 MiB threshold and parts, 10 concurrent requests.
type Config struct {
	// MaxBandwidth is the cap in bytes per second shared by every upload
	// and download of the manager, charged as bytes move on the wire.
	// 0 means unlimited (unless BandwidthLimiter is set). Negative is
	// invalid.
	MaxBandwidth int64

	// MultipartThreshold is the object size in bytes at or above which
	// uploads use a multipart upload and downloads use parallel ranged
	// GETs. 0 means DefaultMultipartThreshold.
	MultipartThreshold int64

	// MultipartChunkSize is the part size in bytes, for uploads and
	// ranged downloads. 0 means DefaultMultipartChunkSize. Values below
	// MinPartSize or above MaxPartSize are invalid. For an upload of known
	// size it is raised (to a whole MiB) so the object fits in MaxParts.
	MultipartChunkSize int64

	// MaxConcurrency is the most S3 requests the manager has in flight at
	// once, across all its transfers. It is the ceiling of the adaptive
	// window that shrinks while the server throttles. It also bounds the
	// part buffers held for uploads from plain io.Readers (at most
	// MaxConcurrency buffers of MultipartChunkSize bytes). 0 means
	// DefaultMaxConcurrency.
	MaxConcurrency int

	// MaxAttempts is how many times one request (of an upload, a
	// download, a copy or a delete) is attempted when it fails with a
	// transient error: a 5xx other than 503, a dropped connection, or a
	// body that ends early. Throttling answers have their own, larger
	// budget (see the package documentation). 0 means DefaultMaxAttempts.
	MaxAttempts int

	// BandwidthLimiter, if set, is the bandwidth budget the manager
	// consumes from instead of its own; share one between managers to cap
	// them together (a bandwidth.PacingBucket is the usual choice). When
	// it is set, MaxBandwidth only sizes the pacing step for limiters that
	// do not choose their own. nil means a pacing bucket of the manager's
	// own at MaxBandwidth (none when MaxBandwidth is 0).
	BandwidthLimiter bandwidth.Bucket

	// Clock paces bandwidth and times retry back-off. nil means
	// bandwidth.SystemClock().
	Clock bandwidth.Clock
}

// resolved returns cfg with defaults filled in, or an error naming the
// first invalid field.
func (cfg Config) resolved() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case cfg.MaxBandwidth < 0:
		return bad("MaxBandwidth %d is negative (use 0 for unlimited)", cfg.MaxBandwidth)
	case cfg.MultipartThreshold < 0:
		return bad("MultipartThreshold %d is negative (use 0 for the default of 8 MiB)", cfg.MultipartThreshold)
	case cfg.MultipartChunkSize < 0:
		return bad("MultipartChunkSize %d is negative (use 0 for the default of 8 MiB)", cfg.MultipartChunkSize)
	case cfg.MultipartChunkSize != 0 && cfg.MultipartChunkSize < MinPartSize:
		return bad("MultipartChunkSize %d is below the S3 minimum part size of 5 MiB (%d)", cfg.MultipartChunkSize, MinPartSize)
	case cfg.MultipartChunkSize > MaxPartSize:
		return bad("MultipartChunkSize %d is above the S3 maximum part size of 5 GiB (%d)", cfg.MultipartChunkSize, int64(MaxPartSize))
	case cfg.MaxConcurrency < 0:
		return bad("MaxConcurrency %d is negative (use 0 for the default of 10)", cfg.MaxConcurrency)
	case cfg.MaxAttempts < 0:
		return bad("MaxAttempts %d is negative (use 0 for the default of 5)", cfg.MaxAttempts)
	}
	if cfg.MultipartThreshold == 0 {
		cfg.MultipartThreshold = DefaultMultipartThreshold
	}
	if cfg.MultipartChunkSize == 0 {
		cfg.MultipartChunkSize = DefaultMultipartChunkSize
	}
	if cfg.MaxConcurrency == 0 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Clock == nil {
		cfg.Clock = bandwidth.SystemClock()
	}
	return cfg, nil
}

// partSize returns the part size for an upload of size bytes (-1 when
// unknown): chunk, raised to a whole MiB when size would need more than
// MaxParts parts.
func partSize(chunk, size int64) int64 {
	if size <= 0 || (size+chunk-1)/chunk <= MaxParts {
		return chunk
	}
	min := (size + MaxParts - 1) / MaxParts
	return (min + MiB - 1) / MiB * MiB
}

// numParts returns how many parts of partSize bytes hold size bytes.
func numParts(size, partSize int64) int {
	if size <= 0 {
		return 1
	}
	return int((size + partSize - 1) / partSize)
}
