package transfer

import (
	"context"
	"sync"
)

// bufferPool hands out part buffers for uploads from plain readers and
// in-order downloads. At most max buffers are out at once across the
// manager; returned buffers are reused.
type bufferPool struct {
	sem  chan struct{}
	pool sync.Pool // of *[]byte
}

func newBufferPool(max int) *bufferPool {
	return &bufferPool{sem: make(chan struct{}, max)}
}

// get waits for a free buffer and returns one of length n. It returns
// ctx's cause if ctx ends first.
func (p *bufferPool) get(ctx context.Context, n int64) (*[]byte, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if b, ok := p.pool.Get().(*[]byte); ok && int64(cap(*b)) >= n {
		*b = (*b)[:n]
		return b, nil
	}
	b := make([]byte, n)
	return &b, nil
}

// put returns a buffer obtained from get.
func (p *bufferPool) put(b *[]byte) {
	p.pool.Put(b)
	<-p.sem
}

// alloc returns a buffer of length n outside the count of get: for memory
// bounded by its user (an in-order download window), where waiting for the
// shared count could deadlock.
func (p *bufferPool) alloc(n int64) *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok && int64(cap(*b)) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n)
	return &b
}

// free returns a buffer obtained from alloc.
func (p *bufferPool) free(b *[]byte) { p.pool.Put(b) }
