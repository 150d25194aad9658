package bandwidth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// DefaultBytesThreshold is the number of bytes a [LimitedStream] over a
// bucket that is not a [Pacer] lets pile up before it consumes them from the
// bucket, when NewLimitedStream is passed a threshold of zero.
const DefaultBytesThreshold = 256 << 10

// ErrClosed is returned by Read on a closed [LimitedStream].
var ErrClosed = errors.New("bandwidth: read from a closed stream")

// Limiter hands out bandwidth-limited streams that share one bucket and
// clock. It is safe for concurrent use; a nil *Limiter hands out streams
// that are not limited.
type Limiter struct {
	bucket Bucket
	clock  Clock
}

// NewLimiter returns a Limiter whose streams consume from bucket. A nil
// bucket means no limit; a nil clock means [SystemClock].
func NewLimiter(bucket Bucket, clock Clock) *Limiter {
	return &Limiter{bucket: bucket, clock: orSystem(clock)}
}

// LimitedStream wraps r in a stream that consumes from the limiter's bucket,
// with the default threshold. The stream stops with ctx's error when ctx is
// done.
func (l *Limiter) LimitedStream(ctx context.Context, r io.Reader) *LimitedStream {
	if l == nil {
		return NewLimitedStream(ctx, r, nil, nil, 0)
	}
	return NewLimitedStream(ctx, r, l.bucket, l.clock, 0)
}

// Bucket returns the limiter's bucket, nil when it does not limit.
func (l *Limiter) Bucket() Bucket {
	if l == nil {
		return nil
	}
	return l.bucket
}

// LimitedStream is an [io.ReadCloser] that charges the bytes it delivers to a
// [Bucket] and waits when the bucket says so. Its Seek passes through to the
// underlying reader.
//
// Bytes are charged after they are read and before Read returns them, so a
// Read that comes back short or at end of file is charged only for what it
// delivered, and end of file costs nothing. Delivered bytes pile up in the
// stream and are consumed from the bucket once they reach the threshold, and
// the remainder on Close. One [RequestToken] serves the stream for its whole
// life.
//
// The threshold is the one given to [NewLimitedStream]; when that is zero it
// is the bucket's [Pacer.Quantum] for a Pacer (such as [PacingBucket]), and
// [DefaultBytesThreshold] otherwise. Over a Pacer, Read also stops short of
// the threshold, so that every admission is at most one threshold's worth,
// and waits through [Pacer.WaitN]: traffic leaves in small, evenly spaced
// steps. Over other buckets, a refused consumption sleeps the
// bucket's RetryTime on the stream's clock and retries with the same token.
//
// When the stream's context is done, Read returns the context's error, also
// while it is waiting; the wait's reservation is given back to a bucket that
// implements [Canceler], and the bytes read but not yet paid for are not
// returned.
//
// While limiting is disabled, reads pass through uncounted. Read, Seek and
// Close must not be called concurrently with each other, as for most
// readers; the Enable/Disable and Signal methods may be called from any
// goroutine at any time.
type LimitedStream struct {
	ctx       context.Context
	r         io.Reader
	bucket    Bucket // nil: not limited
	pacer     Pacer  // bucket as a Pacer, or nil
	clock     Clock
	token     *RequestToken
	threshold int64 // bytes as given; zero selects automatically
	enabled   atomic.Bool
	bytesSeen int64 // delivered bytes not yet consumed from the bucket
	closed    bool
}

// NewLimitedStream wraps r in a stream that consumes from bucket. A nil
// bucket means no limit, a nil clock means [SystemClock], and a nil ctx means
// [context.Background]. bytesThreshold is the number of bytes to let pile up
// before consuming them; zero or less selects it automatically (see
// [LimitedStream]). Limiting starts enabled.
func NewLimitedStream(ctx context.Context, r io.Reader, bucket Bucket, clock Clock, bytesThreshold int) *LimitedStream {
	if ctx == nil {
		ctx = context.Background()
	}
	clock = orSystem(clock)
	s := &LimitedStream{
		ctx:       ctx,
		r:         r,
		bucket:    bucket,
		clock:     clock,
		token:     NewRequestToken(0, clock.Now()),
		threshold: int64(max(bytesThreshold, 0)),
	}
	s.pacer, _ = bucket.(Pacer)
	s.enabled.Store(true)
	return s
}

// Read reads up to len(p) bytes from the underlying reader and returns them
// once the bucket admits them. See [LimitedStream] for how it waits.
func (s *LimitedStream) Read(p []byte) (int, error) {
	if s.closed {
		return 0, ErrClosed
	}
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	if s.r == nil {
		return 0, errNilReader
	}
	if s.bucket == nil || !s.enabled.Load() {
		return s.r.Read(p)
	}
	threshold := s.threshold
	if s.pacer != nil {
		if threshold == 0 {
			threshold = s.pacer.Quantum()
		}
		// Read no further than the threshold, so that each admission is at
		// most one threshold's worth.
		if room := threshold - s.bytesSeen; threshold > 0 && int64(len(p)) > room {
			p = p[:max(room, 1)]
		}
	}
	if threshold <= 0 {
		threshold = DefaultBytesThreshold
	}
	n, err := s.r.Read(p)
	if n <= 0 {
		return n, err
	}
	s.bytesSeen += int64(n)
	if s.bytesSeen >= threshold {
		if werr := s.consume(); werr != nil {
			// These bytes are not delivered, so they are not owed.
			s.bytesSeen -= int64(n)
			return 0, werr
		}
	}
	return n, err
}

// consume charges the bytes seen to the bucket, waiting as needed.
func (s *LimitedStream) consume() error {
	amt := s.bytesSeen
	if s.pacer != nil {
		if err := s.pacer.WaitN(s.ctx, amt); err != nil {
			return err
		}
		s.bytesSeen = 0
		return nil
	}
	for {
		err := s.bucket.Consume(amt, s.token)
		if err == nil {
			s.bytesSeen = 0
			return nil
		}
		var exceeded *RequestExceededError
		if !errors.As(err, &exceeded) {
			return err
		}
		if err := s.clock.Sleep(s.ctx, exceeded.RetryTime); err != nil {
			if c, ok := s.bucket.(Canceler); ok {
				c.Cancel(s.token)
			}
			return err
		}
	}
}

// Close consumes the bytes delivered but not yet charged (when limiting is
// enabled), then closes the underlying reader if it is an [io.Closer] - also
// when the consumption fails, for example because the context is done. It
// returns the errors of both steps joined. Calls after the first return nil.
func (s *LimitedStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.bucket != nil && s.enabled.Load() && s.bytesSeen > 0 {
		err = s.consume()
	}
	if c, ok := s.r.(io.Closer); ok {
		err = errors.Join(err, c.Close())
	}
	return err
}

// Seek calls the underlying reader's Seek. When the underlying reader is not
// an [io.Seeker] it returns an error wrapping [errors.ErrUnsupported]; see
// [LimitedStream.ReadCloser] for consumers that probe for io.Seeker.
func (s *LimitedStream) Seek(offset int64, whence int) (int64, error) {
	sk, ok := s.r.(io.Seeker)
	if !ok {
		return 0, fmt.Errorf("bandwidth: cannot seek a %T: %w", s.r, errors.ErrUnsupported)
	}
	return sk.Seek(offset, whence)
}

// ReadCloser returns s when its underlying reader is an [io.Seeker], and
// otherwise a view of s without a Seek method. Hand it to consumers that
// treat every io.Seeker as rewindable, such as HTTP clients and SDKs that
// retry a request body.
func (s *LimitedStream) ReadCloser() io.ReadCloser {
	if _, ok := s.r.(io.Seeker); ok {
		return s
	}
	return readCloser{s}
}

// readCloser hides the Seek method of a LimitedStream.
type readCloser struct{ s *LimitedStream }

func (r readCloser) Read(p []byte) (int, error) { return r.s.Read(p) }
func (r readCloser) Close() error               { return r.s.Close() }

// EnableBandwidthLimiting makes later reads count against the bucket.
func (s *LimitedStream) EnableBandwidthLimiting() { s.enabled.Store(true) }

// DisableBandwidthLimiting makes later reads pass through uncounted, for
// example while a payload is read to compute a checksum rather than sent.
func (s *LimitedStream) DisableBandwidthLimiting() { s.enabled.Store(false) }

// SignalTransferring reports that reads now go to the network: it enables
// limiting.
func (s *LimitedStream) SignalTransferring() { s.EnableBandwidthLimiting() }

// SignalNotTransferring reports that reads do not go to the network (for
// example while a checksum is computed): it disables limiting.
func (s *LimitedStream) SignalNotTransferring() { s.DisableBandwidthLimiting() }

// BandwidthLimitingEnabled reports whether reads count against the bucket.
func (s *LimitedStream) BandwidthLimitingEnabled() bool { return s.enabled.Load() }

var errNilReader = errors.New("bandwidth: LimitedStream has a nil reader")
