package bandwidth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recordingBucket records every Consume and answers from a script.
type recordingBucket struct {
	mu      sync.Mutex
	amounts []int64
	tokens  []*RequestToken
	answers []error // answer i is given to call i; nil afterwards
	cancels []*RequestToken
}

func (b *recordingBucket) Consume(amt int64, token *RequestToken) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.amounts = append(b.amounts, amt)
	b.tokens = append(b.tokens, token)
	if i := len(b.amounts) - 1; i < len(b.answers) {
		return b.answers[i]
	}
	return nil
}

func (b *recordingBucket) Cancel(token *RequestToken) {
	b.mu.Lock()
	b.cancels = append(b.cancels, token)
	b.mu.Unlock()
}

func (b *recordingBucket) Amounts() []int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int64(nil), b.amounts...)
}

// trackingReader is an io.ReadSeekCloser over data that records Close and
// returns at most maxRead bytes per Read.
type trackingReader struct {
	*bytes.Reader
	maxRead int
	closes  int
}

func newTrackingReader(data []byte, maxRead int) *trackingReader {
	return &trackingReader{Reader: bytes.NewReader(data), maxRead: maxRead}
}

func (r *trackingReader) Read(p []byte) (int, error) {
	if r.maxRead > 0 && len(p) > r.maxRead {
		p = p[:r.maxRead]
	}
	return r.Reader.Read(p)
}

func (r *trackingReader) Close() error { r.closes++; return nil }

// readAll reads s to the end with reads of size chunk.
func readAll(t *testing.T, s io.Reader, chunk int) int64 {
	t.Helper()
	buf := make([]byte, chunk)
	var total int64
	for {
		n, err := s.Read(buf)
		total += int64(n)
		if err == io.EOF {
			return total
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLimitedStreamConsumesAtThreshold(t *testing.T) {
	tests := []struct {
		name        string
		size        int
		maxRead     int // underlying reader's largest Read; 0 is unlimited
		chunk       int
		threshold   int
		wantReads   []int64 // consumed while reading
		wantOnClose []int64 // consumed by Close
	}{
		{name: "threshold reached in steps", size: 30, chunk: 4, threshold: 10,
			wantReads: []int64{12, 12}, wantOnClose: []int64{6}},
		{name: "exact multiple", size: 20, chunk: 10, threshold: 10, wantReads: []int64{10, 10}},
		{name: "small object is charged on Close", size: 100, chunk: 4096, threshold: 1000,
			wantOnClose: []int64{100}},
		{name: "default threshold is 256 KiB", size: 600 << 10, chunk: 32 << 10,
			wantReads: []int64{256 << 10, 256 << 10}, wantOnClose: []int64{88 << 10}},
		// The reference charges what was asked for: a 1-byte object costs
		// 512 KiB with 256 KiB reads. Only delivered bytes count.
		{name: "short reads charge what they delivered", size: 1, chunk: 256 << 10, threshold: 256 << 10,
			wantOnClose: []int64{1}},
		{name: "short underlying reads", size: 25, maxRead: 3, chunk: 100, threshold: 10,
			wantReads: []int64{12, 12}, wantOnClose: []int64{1}},
		{name: "empty reader costs nothing", size: 0, chunk: 1024, threshold: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bucket := &recordingBucket{}
			r := newTrackingReader(bytes.Repeat([]byte("x"), tc.size), tc.maxRead)
			s := NewLimitedStream(t.Context(), r, bucket, newFakeClock(), tc.threshold)
			if got := readAll(t, s, tc.chunk); got != int64(tc.size) {
				t.Fatalf("read %d bytes, want %d", got, tc.size)
			}
			if got := bucket.Amounts(); !equalInts(got, tc.wantReads) {
				t.Errorf("consumed while reading %v, want %v", got, tc.wantReads)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			want := append(append([]int64(nil), tc.wantReads...), tc.wantOnClose...)
			if got := bucket.Amounts(); !equalInts(got, want) {
				t.Errorf("consumed in all %v, want %v", got, want)
			}
			if r.closes != 1 {
				t.Errorf("underlying reader closed %d times, want 1", r.closes)
			}
		})
	}
}

// The reference adds the requested amount before reading: an end-of-file
// read of 256 KiB costs 256 KiB, and a 1-byte download costs 512 KiB.
func TestLimitedStreamChargesDeliveredBytesOnly(t *testing.T) {
	const threshold = 256 << 10
	tests := []struct {
		name string
		size int
		want int64 // bytes charged in all, including Close
	}{
		{name: "1-byte object", size: 1, want: 1},
		{name: "object of exactly the threshold", size: threshold, want: threshold},
		{name: "empty object", size: 0, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bucket := &recordingBucket{}
			s := NewLimitedStream(t.Context(), bytes.NewReader(make([]byte, tc.size)), bucket, nil, threshold)
			buf := make([]byte, threshold)
			for {
				if _, err := s.Read(buf); err != nil {
					break
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := sum(bucket.Amounts()); got != tc.want {
				t.Errorf("charged %d bytes (%v), want %d", got, bucket.Amounts(), tc.want)
			}
		})
	}
}

func TestLimitedStreamRetriesWithTheSameToken(t *testing.T) {
	clock := newFakeClock()
	bucket := &recordingBucket{answers: []error{
		&RequestExceededError{RequestedAmt: 8, RetryTime: 250 * time.Millisecond},
		&RequestExceededError{RequestedAmt: 8, RetryTime: 100 * time.Millisecond},
	}}
	s := NewLimitedStream(t.Context(), strings.NewReader("abcdefghijkl"), bucket, clock, 8)
	buf := make([]byte, 8)
	n, err := s.Read(buf)
	if n != 8 || err != nil || string(buf) != "abcdefgh" {
		t.Fatalf("Read = %d, %v (%q)", n, err, buf[:n])
	}
	if got := bucket.Amounts(); !equalInts(got, []int64{8, 8, 8}) {
		t.Errorf("consumed %v, want three tries of 8", got)
	}
	for i, tok := range bucket.tokens {
		if tok != bucket.tokens[0] || tok == nil {
			t.Errorf("try %d used another token", i)
		}
	}
	if got := clock.Sleeps(); len(got) != 2 || got[0] != 250*time.Millisecond || got[1] != 100*time.Millisecond {
		t.Errorf("slept %v, want [250ms 100ms]", got)
	}
	// The same token serves the stream for its whole life.
	if _, err := s.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if last := bucket.tokens[len(bucket.tokens)-1]; last != bucket.tokens[0] {
		t.Error("Close used another token")
	}
}

func TestLimitedStreamBucketError(t *testing.T) {
	boom := errors.New("boom")
	bucket := &recordingBucket{answers: []error{boom}}
	s := NewLimitedStream(t.Context(), strings.NewReader("abcdef"), bucket, newFakeClock(), 2)
	if n, err := s.Read(make([]byte, 4)); n != 0 || !errors.Is(err, boom) {
		t.Fatalf("Read = %d, %v; want 0, boom", n, err)
	}
}

// The reference raises from the final consume and leaves the file open.
func TestLimitedStreamCloseClosesReaderWhenConsumeFails(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		bucket  Bucket
		cancel  bool
		wantErr error
	}{
		{name: "bucket error", bucket: &recordingBucket{answers: []error{boom}}, wantErr: boom},
		{name: "context cancelled while refused", cancel: true, wantErr: context.Canceled,
			bucket: &recordingBucket{answers: []error{&RequestExceededError{RequestedAmt: 3, RetryTime: time.Second}}}},
		{name: "context cancelled with a pacing bucket", cancel: true, wantErr: context.Canceled,
			bucket: NewPacingBucket(1, 0, newFakeClock())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			r := newTrackingReader([]byte("abc"), 0)
			s := NewLimitedStream(ctx, r, tc.bucket, newFakeClock(), 1000)
			if got := readAll(t, s, 10); got != 3 {
				t.Fatalf("read %d bytes, want 3", got)
			}
			if tc.cancel {
				cancel()
			}
			if err := s.Close(); !errors.Is(err, tc.wantErr) {
				t.Errorf("Close() = %v, want %v", err, tc.wantErr)
			}
			if r.closes != 1 {
				t.Errorf("underlying reader closed %d times, want 1", r.closes)
			}
			if err := s.Close(); err != nil || r.closes != 1 {
				t.Errorf("second Close() = %v, underlying closes %d", err, r.closes)
			}
			if _, err := s.Read(make([]byte, 1)); !errors.Is(err, ErrClosed) {
				t.Errorf("Read after Close = %v, want ErrClosed", err)
			}
		})
	}
}

// The reference sleeps through cancellation and leaves the reservation in
// the queue; a cancelled stream must wake at once and give it back.
func TestLimitedStreamCancelWhileWaitingWakesAndGivesReservationBack(t *testing.T) {
	tests := []struct {
		name   string
		bucket func() Bucket
		queued func(Bucket) time.Duration // what later requests would wait
	}{
		{name: "leaky bucket",
			bucket: func() Bucket { return NewLeakyBucket(1000, nil) },
			queued: func(b Bucket) time.Duration { return b.(*LeakyBucket).QueuedWait() }},
		{name: "pacing bucket",
			bucket: func() Bucket { return NewPacingBucket(1000, 1, nil) },
			queued: func(b Bucket) time.Duration { return b.(*PacingBucket).Delay(1) }},
		{name: "pacing bucket through Consume",
			bucket: func() Bucket { return consumeOnly{NewPacingBucket(1000, 1, nil)} },
			queued: func(b Bucket) time.Duration { return b.(consumeOnly).p.Delay(1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bucket := tc.bucket()
				// Fill the bucket: 1000 bytes pass, the next second is taken.
				first := NewLimitedStream(t.Context(), infiniteReader{}, bucket, nil, 1000)
				if _, err := io.ReadFull(first, make([]byte, 1000)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Millisecond)
				before := tc.queued(bucket)

				ctx, cancel := context.WithCancel(t.Context())
				s := NewLimitedStream(ctx, infiniteReader{}, bucket, nil, 1000)
				type result struct {
					n   int
					err error
				}
				done := make(chan result, 1)
				go func() {
					n, err := s.Read(make([]byte, 1000))
					done <- result{n, err}
				}()
				synctest.Wait()
				select {
				case r := <-done:
					t.Fatalf("Read returned %d, %v without waiting", r.n, r.err)
				default:
				}
				start := time.Now()
				cancel()
				r := <-done
				if r.n != 0 || !errors.Is(r.err, context.Canceled) {
					t.Errorf("Read = %d, %v; want 0, context.Canceled", r.n, r.err)
				}
				if took := time.Since(start); took != 0 {
					t.Errorf("Read returned %v after the cancel, want at once", took)
				}
				if after := tc.queued(bucket); after > before {
					t.Errorf("queued wait grew from %v to %v: the reservation was kept", before, after)
				}
				if _, err := s.Read(make([]byte, 1)); !errors.Is(err, context.Canceled) {
					t.Errorf("Read after cancel = %v", err)
				}
			})
		})
	}
}

func TestLimitedStreamCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, bucket := range []Bucket{nil, &recordingBucket{}, NewPacingBucket(1, 0, nil)} {
		s := NewLimitedStream(ctx, strings.NewReader("abc"), bucket, nil, 0)
		if n, err := s.Read(make([]byte, 3)); n != 0 || !errors.Is(err, context.Canceled) {
			t.Errorf("bucket %T: Read = %d, %v; want 0, context.Canceled", bucket, n, err)
		}
	}
}

func TestLimitedStreamDisableBandwidthLimiting(t *testing.T) {
	bucket := &recordingBucket{}
	s := NewLimitedStream(t.Context(), strings.NewReader(strings.Repeat("x", 100)), bucket, nil, 10)
	buf := make([]byte, 10)
	steps := []struct {
		toggle func()
		want   []int64
	}{
		{func() {}, []int64{10}},
		{s.DisableBandwidthLimiting, []int64{10}},
		{s.SignalTransferring, []int64{10, 10}},
		{s.SignalNotTransferring, []int64{10, 10}},
		{s.EnableBandwidthLimiting, []int64{10, 10, 10}},
	}
	for i, st := range steps {
		st.toggle()
		if _, err := s.Read(buf); err != nil {
			t.Fatal(err)
		}
		if got := bucket.Amounts(); !equalInts(got, st.want) {
			t.Fatalf("step %d: consumed %v, want %v", i, got, st.want)
		}
	}
	// Bytes read while disabled are not charged on Close either.
	s.DisableBandwidthLimiting()
	if s.BandwidthLimitingEnabled() {
		t.Error("BandwidthLimitingEnabled() after Disable")
	}
	if _, err := s.Read(buf[:5]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := bucket.Amounts(); len(got) != 3 {
		t.Errorf("Close consumed while disabled: %v", got)
	}
}

func TestLimitedStreamSeek(t *testing.T) {
	s := NewLimitedStream(t.Context(), strings.NewReader("abcdef"), nil, nil, 0)
	if pos, err := s.Seek(4, io.SeekStart); pos != 4 || err != nil {
		t.Fatalf("Seek = %d, %v", pos, err)
	}
	if b, _ := io.ReadAll(s); string(b) != "ef" {
		t.Errorf("read %q after Seek, want \"ef\"", b)
	}
	if _, ok := s.ReadCloser().(io.Seeker); !ok {
		t.Error("ReadCloser() of a seekable stream is not an io.Seeker")
	}

	ns := NewLimitedStream(t.Context(), io.MultiReader(strings.NewReader("abc")), nil, nil, 0)
	if _, err := ns.Seek(0, io.SeekStart); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Seek on a non-seeker = %v, want errors.ErrUnsupported", err)
	}
	rc := ns.ReadCloser()
	if _, ok := rc.(io.Seeker); ok {
		t.Error("ReadCloser() of a non-seekable stream is an io.Seeker")
	}
	if b, err := io.ReadAll(rc); string(b) != "abc" || err != nil {
		t.Errorf("ReadCloser read %q, %v", b, err)
	}
	if err := rc.Close(); err != nil {
		t.Error(err)
	}
}

func TestLimitedStreamOverPacerReadsInQuanta(t *testing.T) {
	bucket := NewPacingBucket(10_000, 0, newFakeClock()) // quantum 512
	s := NewLimitedStream(t.Context(), infiniteReader{}, bucket, nil, 0)
	for range 20 {
		if n, err := s.Read(make([]byte, 32<<10)); n != 512 || err != nil {
			t.Fatalf("Read = %d, %v; want 512 bytes", n, err)
		}
	}
	// An explicit threshold replaces the quantum.
	s = NewLimitedStream(t.Context(), infiniteReader{}, bucket, nil, 2048)
	if n, _ := s.Read(make([]byte, 32<<10)); n != 2048 {
		t.Errorf("Read with threshold 2048 = %d bytes", n)
	}
	// An unlimited pacing bucket does not cut reads.
	s = NewLimitedStream(t.Context(), infiniteReader{}, NewPacingBucket(0, 0, nil), nil, 0)
	if n, _ := s.Read(make([]byte, 32<<10)); n != 32<<10 {
		t.Errorf("Read over an unlimited bucket = %d bytes", n)
	}
}

func TestLimiter(t *testing.T) {
	bucket := &recordingBucket{}
	l := NewLimiter(bucket, newFakeClock())
	if l.Bucket() != bucket {
		t.Error("Bucket() is not the limiter's bucket")
	}
	a := l.LimitedStream(t.Context(), strings.NewReader(strings.Repeat("a", 300<<10)))
	b := l.LimitedStream(t.Context(), strings.NewReader("b"))
	readAll(t, a, 64<<10)
	readAll(t, b, 64<<10)
	if err := errors.Join(a.Close(), b.Close()); err != nil {
		t.Fatal(err)
	}
	if got, want := bucket.Amounts(), []int64{256 << 10, 44 << 10, 1}; !equalInts(got, want) {
		t.Errorf("shared bucket consumed %v, want %v", got, want)
	}
	if bucket.tokens[0] == bucket.tokens[2] {
		t.Error("two streams share a token")
	}

	var nilLimiter *Limiter
	if nilLimiter.Bucket() != nil {
		t.Error("nil Limiter has a bucket")
	}
	s := nilLimiter.LimitedStream(t.Context(), strings.NewReader("abc"))
	if got := readAll(t, s, 2); got != 3 {
		t.Errorf("nil Limiter stream read %d bytes", got)
	}
	//lint:ignore SA1012 a nil context is documented to mean context.Background
	if err := NewLimitedStream(nil, nil, nil, nil, 0).Close(); err != nil {
		t.Errorf("Close of a stream without a reader = %v", err)
	}
	//lint:ignore SA1012 a nil context is documented to mean context.Background
	if _, err := NewLimitedStream(nil, nil, nil, nil, 0).Read(nil); err == nil {
		t.Error("Read of a stream without a reader succeeded")
	}
}

func TestLimitedStreamReadDoesNotAllocate(t *testing.T) {
	for name, bucket := range map[string]Bucket{
		"pacing": NewPacingBucket(1<<50, 0, nil),
		"leaky":  NewLeakyBucket(1<<50, &fakeClock{step: time.Millisecond}),
	} {
		s := NewLimitedStream(t.Context(), infiniteReader{}, bucket, nil, 0)
		buf := make([]byte, 32<<10)
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := s.Read(buf); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Read allocates %v times per call, want 0", name, allocs)
		}
	}
}

func BenchmarkLimitedStreamRead(b *testing.B) {
	// A rate no link reaches: the cost of limiting without waits. With a
	// threshold of one buffer, every Read consumes from the bucket.
	for _, bc := range []struct {
		name      string
		bucket    Bucket
		threshold int
	}{
		{"pacing", NewPacingBucket(1<<50, 0, nil), 0},
		{"pacing/consume-every-read", NewPacingBucket(1<<50, 0, nil), 32 << 10},
		{"leaky", NewLeakyBucket(1<<50, nil), 0},
		{"leaky/consume-every-read", NewLeakyBucket(1<<50, nil), 32 << 10},
		{"none", nil, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(32 << 10)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				s := NewLimitedStream(context.Background(), infiniteReader{}, bc.bucket, nil, bc.threshold)
				buf := make([]byte, 32<<10)
				for pb.Next() {
					if _, err := s.Read(buf); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// infiniteReader delivers as many bytes as asked for, at no cost.
type infiniteReader struct{}

func (infiniteReader) Read(p []byte) (int, error) { return len(p), nil }

// consumeOnly hides the Pacer methods of a PacingBucket, to exercise the
// Consume-and-retry path of a stream.
type consumeOnly struct{ p *PacingBucket }

func (c consumeOnly) Consume(amt int64, token *RequestToken) error { return c.p.Consume(amt, token) }
func (c consumeOnly) Cancel(token *RequestToken)                   { c.p.Cancel(token) }
