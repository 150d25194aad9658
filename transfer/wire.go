package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/bandwidth"
)

// How bytes are charged on the wire.
//
// The manager hands the SDK a seekable body (a buffer or a section of a
// file). The SDK may read it before sending, to compute a SHA-256 payload
// hash on plain-HTTP endpoints (on HTTPS the payload is sent unsigned) or
// a checksum when S3 requires one. Those reads are not charged: pacing is
// applied by wireClient, which sits where the SDK hands the finished
// *http.Request to its HTTP client, and wraps the request body the
// transport is about to send and the response body of a GET. So the
// budget is consumed only by bytes the transport reads to put on the
// connection, and by bytes of an object as they arrive.

// wireClient is the HTTP client one request attempt runs through.
type wireClient struct {
	next s3.HTTPClient
	// up, if set, wraps a non-empty request body.
	up func(ctx context.Context, body io.ReadCloser) io.ReadCloser
	// down, if set, wraps a successful response body.
	down func(ctx context.Context, body io.ReadCloser) io.ReadCloser
}

func (c *wireClient) Do(req *http.Request) (*http.Response, error) {
	if req.ProtoMajor == 0 {
		// The SDK builds requests without a protocol version, and
		// net/http honours "Expect: 100-continue" (which the SDK sets on
		// large PUTs) only on requests that claim HTTP/1.1. With it, a
		// part the server refuses (throttling, auth) is not sent at all:
		// no budget is spent on it, and the refusal arrives as a status
		// rather than as a connection reset in mid-body.
		req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.1", 1, 1
	}
	if c.up != nil && req.Body != nil && req.Body != http.NoBody {
		req.Body = c.up(req.Context(), req.Body)
		// The body can be read once; a transport-level replay would
		// bypass the accounting, so leave retries to the manager.
		req.GetBody = nil
	}
	resp, err := c.next.Do(req)
	if err == nil && c.down != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 && resp.Body != nil {
		resp.Body = c.down(req.Context(), resp.Body)
	}
	return resp, err
}

// requestOptions returns the per-request client options of the manager,
// with the given body wrappers.
func (m *Manager) requestOptions(up, down func(context.Context, io.ReadCloser) io.ReadCloser) func(*s3.Options) {
	return func(o *s3.Options) {
		o.Retryer = aws.NopRetryer{}
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		// Ranged GETs carry no whole-object checksum; that is expected,
		// not worth a log line per part.
		o.DisableLogOutputChecksumValidationSkipped = true
		if up != nil || down != nil {
			o.HTTPClient = &wireClient{next: o.HTTPClient, up: up, down: down}
		}
	}
}

// pace wraps body so that each of its reads is paid for from the
// manager's budget before it is returned, stopping with ctx's error when
// ctx ends. Without a budget body is returned as it is.
//
// Paying before returning matters for request bodies: the transport puts
// the bytes on the wire as soon as Read returns them. A stream that let
// bytes pile up and paid for them later (as bandwidth.LimitedStream does
// below its threshold) would let every parallel request run one step
// ahead of the budget, and would let a body smaller than one step go
// unpaid when the answer arrives before the transport closes the body.
func (m *Manager) pace(ctx context.Context, body io.ReadCloser) io.ReadCloser {
	if m.bucket == nil {
		return body
	}
	if p, ok := m.bucket.(bandwidth.Pacer); ok {
		return &pacedBody{ctx: ctx, rc: body, pacer: p, step: m.step}
	}
	// Any other Bucket: a LimitedStream with a threshold of one byte pays
	// for every read before returning it, through the bucket's
	// Consume-and-retry protocol; reads are cut to one step.
	ls := bandwidth.NewLimitedStream(ctx, body, m.bucket, m.cfg.Clock, 1)
	return &pacedBody{ctx: ctx, rc: ls, step: m.step}
}

// pacedBody reads at most step bytes at a time from rc and, when pacer
// is set, waits for them before returning them.
type pacedBody struct {
	ctx   context.Context
	rc    io.ReadCloser
	pacer bandwidth.Pacer
	step  int
}

func (b *pacedBody) Read(p []byte) (int, error) {
	if len(p) > b.step {
		p = p[:b.step]
	}
	n, err := b.rc.Read(p)
	if n > 0 && b.pacer != nil {
		if werr := b.pacer.WaitN(b.ctx, int64(n)); werr != nil {
			// Not delivered, so not owed: WaitN gave its slot back.
			return 0, werr
		}
	}
	return n, err
}

func (b *pacedBody) Close() error { return b.rc.Close() }

// paceStep is the most bytes one read of a paced body takes: the
// bucket's own Quantum for a Pacer (20 ms of its rate for a
// PacingBucket), else about 25 ms of MaxBandwidth between 4 KiB and
// 256 KiB, else bandwidth.DefaultBytesThreshold.
func paceStep(bucket bandwidth.Bucket, maxBandwidth int64) int {
	if p, ok := bucket.(bandwidth.Pacer); ok && p.Quantum() > 0 {
		return int(min(p.Quantum(), 1<<30))
	}
	if maxBandwidth > 0 {
		return int(min(max(maxBandwidth/40, 4<<10), 256<<10))
	}
	return bandwidth.DefaultBytesThreshold
}

// meter counts the bytes the transport takes from one upload attempt's
// body and reports them as progress. finish stops it and waits for reads
// in progress, so no progress is reported after finish returns.
type meter struct {
	f *Future

	mu     sync.Mutex // guards the fields below and those of its bodies
	cond   sync.Cond  // signalled when active drops to zero
	active int        // Reads in progress
	closed bool       // no more Reads are counted
	total  int64      // bytes reported
}

func newMeter(f *Future) *meter {
	mt := &meter{f: f}
	mt.cond.L = &mt.mu
	return mt
}

// wrap returns body with its reads counted.
func (mt *meter) wrap(body io.ReadCloser) io.ReadCloser {
	return &meteredBody{rc: body, mt: mt}
}

// finish stops counting and returns the bytes reported for the attempt.
func (mt *meter) finish() int64 {
	mt.mu.Lock()
	mt.closed = true
	for mt.active > 0 {
		mt.cond.Wait()
	}
	n := mt.total
	mt.mu.Unlock()
	return n
}

// meteredBody is a request body as the transport sees it. net/http may
// call Close while a Read is in progress on another goroutine; the
// wrapped stream is closed only once no Read is running.
type meteredBody struct {
	rc io.ReadCloser
	mt *meter
	// Guarded by mt.mu.
	reading              int
	closeWanted, closing bool
}

var errAttemptOver = errors.New("transfer: request attempt is over")

func (b *meteredBody) Read(p []byte) (int, error) {
	mt := b.mt
	mt.mu.Lock()
	if mt.closed || b.closeWanted {
		mt.mu.Unlock()
		return 0, errAttemptOver
	}
	mt.active++
	b.reading++
	mt.mu.Unlock()

	n, err := b.rc.Read(p)
	if n > 0 {
		mt.f.progress(int64(n))
	}

	mt.mu.Lock()
	mt.total += int64(n)
	mt.active--
	b.reading--
	if mt.active == 0 {
		mt.cond.Broadcast()
	}
	doClose := b.closeWanted && b.reading == 0 && !b.closing
	if doClose {
		b.closing = true
	}
	mt.mu.Unlock()
	if doClose {
		b.rc.Close()
	}
	return n, err
}

func (b *meteredBody) Close() error {
	mt := b.mt
	mt.mu.Lock()
	b.closeWanted = true
	doClose := b.reading == 0 && !b.closing
	if doClose {
		b.closing = true
	}
	mt.mu.Unlock()
	if doClose {
		return b.rc.Close()
	}
	return nil
}

// endUpload ends one upload attempt that returned err: it stops the meter,
// takes back the progress of a failed attempt, and turns a failure of the
// caller's data source into a final error.
func endUpload(mt *meter, src *partReader, err error) error {
	n := mt.finish()
	if err != nil && n != 0 {
		mt.f.progress(-n)
	}
	if serr := src.failure(); serr != nil {
		return &fatalError{serr}
	}
	return err
}

// partReader is the body of one upload request: a section of the source
// with a known length. It records a failure of the source (an error other
// than EOF, or EOF before the declared length) so that the attempt is not
// retried, and it is seekable so the SDK can rewind it.
type partReader struct {
	sr *io.SectionReader

	mu  sync.Mutex // guards err
	err error
}

func newPartReader(ra io.ReaderAt, off, n int64) *partReader {
	return &partReader{sr: io.NewSectionReader(ra, off, n)}
}

func (r *partReader) Read(p []byte) (int, error) {
	n, err := r.sr.Read(p)
	if err != nil && err != io.EOF {
		r.fail(err)
	} else if err == io.EOF {
		if pos, _ := r.sr.Seek(0, io.SeekCurrent); pos < r.sr.Size() {
			err = fmt.Errorf("source ended %d bytes early", r.sr.Size()-pos)
			r.fail(err)
		}
	}
	return n, err
}

func (r *partReader) Seek(off int64, whence int) (int64, error) { return r.sr.Seek(off, whence) }

func (r *partReader) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

func (r *partReader) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
