package limits

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/s3limit/s3limit/bandwidth"
	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

// Shaping: a bytes/s limit paces the body bytes a request moves — the
// request body of an upload, the response body of a download or a
// listing — through one pacing bucket per scope and action, shared by
// every request of that scope (bandwidth.PacingBucket: FIFO, so
// concurrent transfers share the rate evenly). Bytes pass in quanta of
// about 20 ms of the lowest rate; a request waits for its quantum on each
// of its scopes' buckets before the quantum moves. A response sent from a
// file or a socket still goes through sendfile or splice: each quantum is
// handed on as an io.LimitedReader of the source, never copied through
// user space for pacing. The counts of the ticket are held meanwhile, so
// count and bytes limits still hold for a request being shaped.

// minShapeQuantum keeps quanta from shrinking to a few bytes at low rates.
const minShapeQuantum = 4 << 10

// shaper paces one request's body bytes.
type shaper struct {
	ctx    context.Context
	pacers [numScopes]*bandwidth.PacingBucket
	bytes  [numScopes]prometheus.Counter
	wait   [numScopes]prometheus.Counter
	// fleet receives the bytes paced under a leased rate, by scope (the
	// fleet's measure of demand); nil without a fleet.
	fleet [numScopes]*fleetSlot
}

func (l *Limits) newShaper(ctx context.Context, ai int, t *Ticket) *shaper {
	sh := &shaper{ctx: ctx, pacers: t.pacers}
	for sc, p := range t.pacers {
		if p != nil {
			sh.bytes[sc], sh.wait[sc] = l.shapeCounters[ai][sc][0], l.shapeCounters[ai][sc][1]
			if sl := t.slots[sc]; sl != nil {
				sh.fleet[sc] = sl.fleet.Load()
			}
		}
	}
	return sh
}

// quantum is the most bytes to move before the next wait.
func (sh *shaper) quantum() int64 {
	q := int64(0)
	for _, p := range sh.pacers {
		if p == nil {
			continue
		}
		if pq := p.Quantum(); pq > 0 && (q == 0 || pq < q) {
			q = pq
		}
	}
	if q == 0 {
		return 1 << 20 // every bucket unlimited just now
	}
	return max(q, minShapeQuantum)
}

// pace waits until n bytes may move under every bucket.
func (sh *shaper) pace(n int64) error {
	for sc, p := range sh.pacers {
		if p == nil {
			continue
		}
		start := time.Now()
		if err := p.WaitN(sh.ctx, n); err != nil {
			return err
		}
		d := time.Since(start)
		if d > time.Millisecond {
			if c := sh.wait[sc]; c != nil {
				c.Add(d.Seconds())
			}
		}
		if f := sh.fleet[sc]; f != nil {
			f.shaped.Add(n)
			if d > time.Millisecond {
				f.shapeWaits.Add(1)
			}
		}
	}
	return nil
}

// credit is the bytes one direction of a request has paid for and not yet
// moved: a quantum is paid for at once, so that the buckets are asked
// once per quantum, not once per read or write. One goroutine uses it.
type credit struct {
	sh   *shaper
	left int64
}

// moved counts n bytes moved under the shaping.
func (c *credit) moved(n int) {
	c.left -= int64(n)
	if n <= 0 {
		return
	}
	for sc, p := range c.sh.pacers {
		if p != nil && c.sh.bytes[sc] != nil {
			c.sh.bytes[sc].Add(float64(n))
		}
	}
}

// take returns how many of want bytes may move now, paying for the next
// quantum when nothing is left.
func (c *credit) take(want int64) (int64, error) {
	if c.left == 0 {
		q := c.sh.quantum()
		if err := c.sh.pace(q); err != nil {
			return 0, err
		}
		c.left = q
	}
	return min(want, c.left), nil
}

// shapedBody paces reads of a request body.
type shapedBody struct {
	io.ReadCloser
	c credit
}

func (b *shapedBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return b.ReadCloser.Read(p)
	}
	n, err := b.c.take(int64(len(p)))
	if err != nil {
		return 0, err
	}
	m, err := b.ReadCloser.Read(p[:n])
	b.c.moved(m)
	return m, err
}

// shapedWriter paces the bytes of a response. It stays transparent:
// Unwrap reaches the connection, ReadFrom keeps sendfile and splice.
type shapedWriter struct {
	http.ResponseWriter
	c credit
}

func (w *shapedWriter) Write(p []byte) (int, error) {
	var written int
	for len(p) > 0 {
		n, err := w.c.take(int64(len(p)))
		if err != nil {
			return written, err
		}
		m, err := w.ResponseWriter.Write(p[:n])
		written += m
		w.c.moved(m)
		if err != nil {
			return written, err
		}
		p = p[m:]
	}
	return written, nil
}

func (w *shapedWriter) ReadFrom(r io.Reader) (int64, error) {
	dst, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{w}, r)
	}
	// The pieces wrap what a caller's LimitedReader wraps, so that
	// sendfile and splice, which look through one LimitedReader, still see
	// the file or socket.
	src, remaining := r, int64(-1)
	if lr, ok := r.(*io.LimitedReader); ok {
		src, remaining = lr.R, lr.N
		defer func() { lr.N = remaining }()
	}
	var total int64
	for remaining != 0 {
		want := int64(1 << 62)
		if remaining > 0 {
			want = remaining
		}
		piece, err := w.c.take(want)
		if err != nil {
			return total, err
		}
		n, err := dst.ReadFrom(&io.LimitedReader{R: src, N: piece})
		w.c.moved(int(n))
		total += n
		if remaining > 0 {
			remaining -= n
		}
		if err != nil || n < piece {
			return total, err
		}
	}
	return total, nil
}

func (w *shapedWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *shapedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type writerOnly struct{ io.Writer }

// shapeCounterTable resolves the shaping counters once.
func shapeCounterTable(m *metrics.Metrics) (t [numActions][numScopes][2]prometheus.Counter) {
	for ai, a := range s3api.Actions {
		for sc := range numScopes {
			t[ai][sc][0], t[ai][sc][1] = m.Shaping(string(a), scopeNames[sc])
		}
	}
	return t
}
