package transfer

import (
	"context"
	"sync/atomic"
)

// Kind says what a transfer does.
type Kind int

const (
	KindUpload   Kind = iota + 1 // local bytes to S3
	KindDownload                 // S3 bytes to a local writer
	KindCopy                     // an object copied on the server
	KindDelete                   // an object deleted
)

func (k Kind) String() string {
	switch k {
	case KindUpload:
		return "upload"
	case KindDownload:
		return "download"
	case KindCopy:
		return "copy"
	case KindDelete:
		return "delete"
	}
	return "unknown"
}

// Result describes a finished transfer.
type Result struct {
	// Bucket and Key name the object uploaded, downloaded, written by a
	// copy, or deleted.
	Bucket string
	Key    string
	// Size is the object size in bytes (for a ranged download, the
	// length of the range; 0 for a delete).
	Size int64
	// ETag is the object's entity tag as S3 returned it (quoted). For a
	// multipart upload it is the multipart ETag ("...-N").
	ETag string
	// VersionID is the object version, when the bucket is versioned (for
	// a delete, the version deleted or the delete marker created).
	VersionID string
	// Parts is how many parts were uploaded or copied, or ranged GETs
	// made; 0 for a single request.
	Parts int
}

// Subscriber receives the events of a transfer. Events of one Future are
// ordered OnQueued, then any number of OnProgress, then exactly one
// OnDone; OnProgress calls may come from several goroutines at once when
// parts move in parallel, so implementations must be safe for concurrent
// use and quick (they run on the transfer's goroutines). OnQueued runs on
// the goroutine that called Upload or Download.
type Subscriber interface {
	// OnQueued is called once when the transfer is submitted.
	OnQueued(f *Future)
	// OnProgress reports bytes moved on the wire since the last call. It
	// is negative when a failed attempt is retried and its bytes will be
	// sent again.
	OnProgress(f *Future, bytes int64)
	// OnDone is called once when the transfer has finished, before Done
	// is closed; err is the error Result will return. It must not wait
	// for this Future (Result would deadlock).
	OnDone(f *Future, err error)
}

// SubscriberFuncs adapts functions to Subscriber; nil fields are skipped.
type SubscriberFuncs struct {
	Queued   func(f *Future)
	Progress func(f *Future, bytes int64)
	Done     func(f *Future, err error)
}

func (s SubscriberFuncs) OnQueued(f *Future) {
	if s.Queued != nil {
		s.Queued(f)
	}
}

func (s SubscriberFuncs) OnProgress(f *Future, n int64) {
	if s.Progress != nil {
		s.Progress(f, n)
	}
}

func (s SubscriberFuncs) OnDone(f *Future, err error) {
	if s.Done != nil {
		s.Done(f, err)
	}
}

// Future is a submitted transfer. Its methods are safe for concurrent use.
type Future struct {
	kind   Kind
	bucket string
	key    string
	subs   []Subscriber

	cancel context.CancelCauseFunc // ends the transfer's context

	size        atomic.Int64 // -1 until known
	transferred atomic.Int64
	tallies     []*tally // groups the transfer counts in (manager, directory, own)

	done chan struct{}
	// Written once before done is closed.
	res Result
	err error
}

func newFuture(kind Kind, bucket, key string, subs []Subscriber, tallies ...*tally) *Future {
	f := &Future{kind: kind, bucket: bucket, key: key, subs: subs, tallies: tallies, done: make(chan struct{})}
	f.size.Store(-1)
	for _, t := range tallies {
		t.addObject()
	}
	return f
}

// Kind reports what the transfer does.
func (f *Future) Kind() Kind { return f.kind }

// Bucket is the S3 bucket of the transfer.
func (f *Future) Bucket() string { return f.bucket }

// Key is the S3 object key of the transfer.
func (f *Future) Key() string { return f.key }

// Size is the object size in bytes, or -1 while it is not known (an
// upload from a stream of unknown length, or a download before the
// object's metadata has arrived).
func (f *Future) Size() int64 { return f.size.Load() }

// Transferred is the net number of bytes moved so far (the sum of all
// OnProgress values).
func (f *Future) Transferred() int64 { return f.transferred.Load() }

// Done is closed when the transfer has finished, successfully or not.
func (f *Future) Done() <-chan struct{} { return f.done }

// Result waits for the transfer to finish and returns its outcome. A
// cancelled transfer returns an error that matches context.Canceled (or
// ErrClosed after Manager.Close). A multipart upload that failed or was
// cancelled has been aborted on the server by the time Result returns; if
// the abort itself failed, the error also holds an *AbortError.
func (f *Future) Result() (Result, error) {
	<-f.done
	return f.res, f.err
}

// Wait is Result with a deadline: it returns ctx's error if ctx ends
// first, without cancelling the transfer.
func (f *Future) Wait(ctx context.Context) (Result, error) {
	select {
	case <-f.done:
		return f.res, f.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Cancel stops the transfer. A multipart upload in progress is aborted
// on the server. Cancel does not wait; use Result or Done for that.
// Cancelling a finished transfer does nothing.
func (f *Future) Cancel() {
	if f.cancel != nil {
		f.cancel(context.Canceled)
	}
}

func (f *Future) setSize(n int64) {
	old := f.size.Swap(n)
	for _, t := range f.tallies {
		t.sized(old, n)
	}
}

// progress reports n bytes (possibly negative) to the subscribers.
func (f *Future) progress(n int64) {
	if n == 0 {
		return
	}
	f.transferred.Add(n)
	for _, t := range f.tallies {
		t.bytes.Add(n)
	}
	for _, s := range f.subs {
		s.OnProgress(f, n)
	}
}

// settle counts the transfer as finished in its groups; a size never
// learned counts as the bytes moved.
func (f *Future) settle(err error) {
	if f.Size() < 0 {
		f.setSize(f.Transferred())
	}
	for _, t := range f.tallies {
		t.finished(err, false)
	}
}

// finish records the outcome, tells the subscribers and closes done. The
// transfer must have been settled.
func (f *Future) finish(res Result, err error) {
	f.res, f.err = res, err
	for _, s := range f.subs {
		s.OnDone(f, err)
	}
	close(f.done)
}
