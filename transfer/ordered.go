package transfer

import (
	"context"
	"io"
	"sync"
)

// ordered fetches a large object in parallel ranged parts and writes them
// to w in order.
func (d *downloader) ordered(ctx context.Context, size int64, w io.Writer) error {
	ow := &orderedWriter{
		w:      w,
		free:   d.m.bufs.free,
		window: make(chan struct{}, d.m.cfg.MaxConcurrency),
		ready:  make(map[int]*[]byte),
	}
	defer ow.drop()
	return d.parallel(ctx, size, ow.reserve, func(ctx context.Context, i int, off, n int64) error {
		buf := d.m.bufs.alloc(n)
		err := d.get(ctx, off, n, true, func(p []byte, at int64) error {
			copy((*buf)[at-off:], p)
			return nil
		})
		if err != nil {
			d.m.bufs.free(buf)
			return err
		}
		return ow.deliver(i, buf)
	})
}

// orderedWriter receives parts out of order and writes them to w in
// order. A part may start only after reserve, and its place in the window
// is given back once it has been written, so at most cap(window) parts
// are held at once; the part at the write position always has a place,
// so the window cannot stall. Whichever goroutine delivers the part at
// the write position writes it and every ready part after it; writes
// happen outside the lock, one goroutine at a time.
type orderedWriter struct {
	w      io.Writer
	free   func(*[]byte)
	window chan struct{}

	mu    sync.Mutex // guards the fields below
	next  int        // index of the next part to write
	ready map[int]*[]byte
	busy  bool // a goroutine is writing
	err   error
}

func (o *orderedWriter) reserve(ctx context.Context) error {
	select {
	case o.window <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// deliver hands over part i.
func (o *orderedWriter) deliver(i int, b *[]byte) error {
	o.mu.Lock()
	if o.err != nil {
		err := o.err
		o.mu.Unlock()
		o.free(b)
		return err
	}
	o.ready[i] = b
	if o.busy {
		o.mu.Unlock()
		return nil
	}
	o.busy = true
	for {
		b, ok := o.ready[o.next]
		if !ok {
			o.busy = false
			o.mu.Unlock()
			return nil
		}
		delete(o.ready, o.next)
		o.next++
		o.mu.Unlock()

		_, err := o.w.Write(*b)
		o.free(b)
		<-o.window

		o.mu.Lock()
		if err != nil {
			o.err = &fatalError{err}
			o.busy = false
			o.mu.Unlock()
			return &fatalError{err}
		}
	}
}

// drop frees the parts that were never written.
func (o *orderedWriter) drop() {
	o.mu.Lock()
	ready := o.ready
	o.ready = nil
	o.mu.Unlock()
	for _, b := range ready {
		o.free(b)
	}
}
