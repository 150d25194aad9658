package server

import (
	"io"
	"sync"
	"time"
)

// Defaults of a LogBuffer.
const (
	// LogBufferSize is the most a LogBuffer holds before it writes.
	LogBufferSize = 64 << 10
	// LogFlushInterval is the longest a buffered line waits to be written.
	LogFlushInterval = 100 * time.Millisecond
)

// LogBuffer batches the lines of a busy log, the access log, into fewer
// writes: one write system call per request cost a small GET 12–36 µs of
// CPU, more than its SigV4 verification.
//
// It is an io.Writer for log handlers that write one whole record per
// call (slog's text and JSON handlers do): records are never split or
// interleaved, and come out in the order of the calls. Lines written
// through Write wait up to LogFlushInterval, or until LogBufferSize bytes
// are buffered; lines written through Direct (errors, the start-up
// summary) go out at once, after every line buffered before them, so the
// two logs sharing one output stay in order. Flush and Close write what
// is buffered: call Close at shutdown, after the server has stopped, so
// that no line is lost. Writes after Close go straight to the output.
//
// A failed write of the output is not retried (a log that cannot be
// written has nowhere to report it); Flush and Close return the first
// such failure. Safe for concurrent use.
type LogBuffer struct {
	out      io.Writer
	size     int
	interval time.Duration

	// wmu serialises writes to out, so that flushes and direct lines
	// leave in the order they took the buffer's contents. Taken before mu.
	wmu sync.Mutex

	mu sync.Mutex
	// Guarded by mu:
	buf    []byte
	spare  []byte      // the other buffer, while buf is written
	timer  *time.Timer // nil until the first buffered line
	armed  bool        // timer will flush
	closed bool
	err    error // first failed write of out
}

// NewLogBuffer returns a LogBuffer writing to out, holding up to size
// bytes (0 = LogBufferSize) for up to interval (0 = LogFlushInterval).
func NewLogBuffer(out io.Writer, size int, interval time.Duration) *LogBuffer {
	if size <= 0 {
		size = LogBufferSize
	}
	if interval <= 0 {
		interval = LogFlushInterval
	}
	return &LogBuffer{out: out, size: size, interval: interval, buf: make([]byte, 0, size)}
}

// Write buffers one record. It writes the buffer out when it is full,
// which holds the caller for that write (so that a slow output slows the
// log down instead of growing the buffer without bound).
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return b.direct(p)
	}
	b.buf = append(b.buf, p...)
	full := len(b.buf) >= b.size
	if !full && !b.armed {
		b.armed = true
		if b.timer == nil {
			b.timer = time.AfterFunc(b.interval, b.flushOnTimer)
		} else {
			b.timer.Reset(b.interval)
		}
	}
	b.mu.Unlock()
	if full {
		_ = b.Flush()
	}
	return len(p), nil
}

func (b *LogBuffer) flushOnTimer() {
	b.mu.Lock()
	b.armed = false
	b.mu.Unlock()
	_ = b.Flush()
}

// Flush writes what is buffered. It returns the first failed write of
// the output, if any ever failed.
func (b *LogBuffer) Flush() error {
	b.direct(nil)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// direct writes what is buffered, then p, in one write of the output, and
// returns that write's failure.
func (b *LogBuffer) direct(p []byte) (int, error) {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	b.mu.Lock()
	out := p
	pending := b.buf
	if len(pending) > 0 {
		b.buf, b.spare = b.spare[:0], nil
		if b.buf == nil {
			b.buf = make([]byte, 0, b.size)
		}
		out = append(pending, p...)
	}
	b.mu.Unlock()
	if len(out) == 0 {
		return 0, nil
	}
	_, err := b.out.Write(out)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(pending) > 0 && cap(out) <= 2*b.size { // an outsized buffer is not kept
		b.spare = out[:0]
	}
	if err != nil {
		if b.err == nil {
			b.err = err
		}
		return 0, err
	}
	return len(p), nil
}

// Direct returns a writer whose records go out at once, after what is
// buffered.
func (b *LogBuffer) Direct() io.Writer { return directWriter{b} }

type directWriter struct{ b *LogBuffer }

func (w directWriter) Write(p []byte) (int, error) { return w.b.direct(p) }

// Close writes what is buffered and stops buffering: later writes go
// straight to the output.
func (b *LogBuffer) Close() error {
	b.mu.Lock()
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
		b.armed = false
	}
	b.mu.Unlock()
	return b.Flush()
}
