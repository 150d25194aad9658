package transfer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s3limit/s3limit/bandwidth"
)

// ErrClosed is the cause of transfers stopped by Close and the error of
// transfers submitted after Shutdown or Close.
var ErrClosed = errors.New("transfer: manager is closed")

// Manager runs uploads and downloads against one S3 client under one
// bandwidth budget and one adaptive request window. Create it with
// NewManager; its methods are safe for concurrent use. Call Shutdown (wait
// for the transfers) or Close (cancel them) when done with it.
type Manager struct {
	client Client
	cfg    Config           // resolved: no zero fields but MaxBandwidth and BandwidthLimiter
	bucket bandwidth.Bucket // nil: unlimited
	step   int              // most bytes per paced read; see paceStep
	gov    *governor
	bufs   *bufferPool
	int64n func(int64) int64 // jitter source; nil = math/rand/v2

	ctx  context.Context // ends with ErrClosed on Close
	stop context.CancelCauseFunc

	mu     sync.Mutex // guards closed, the Add side of active and watchers, markFinished
	closed bool
	active sync.WaitGroup
	nact   atomic.Int64

	retries  atomic.Int64
	copyBufs sync.Pool // of *[]byte, for response bodies

	tally tally // every transfer since NewManager
	// finished ends once the manager is closed and its transfers are
	// done; progress watchers then make their last call.
	finished     context.Context
	markFinished context.CancelFunc
	watchers     sync.WaitGroup
}

// NewManager returns a Manager that sends requests through client,
// usually an *s3.Client. The manager sets, per request, its own retry
// policy (the client's retryer is bypassed so that throttling is handled
// here), request checksums only when S3 requires them (so a body is not
// read an extra time for a CRC), and an HTTP client wrapper that paces
// request and response bodies; see Client. Invalid cfg fields are
// reported as errors wrapping ErrInvalidConfig.
func NewManager(client Client, cfg Config) (*Manager, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil Client", ErrInvalidConfig)
	}
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	m := &Manager{
		client: client,
		cfg:    cfg,
		bucket: cfg.BandwidthLimiter,
		gov:    newGovernor(cfg.MaxConcurrency),
		bufs:   newBufferPool(cfg.MaxConcurrency),
	}
	if m.bucket == nil && cfg.MaxBandwidth > 0 {
		m.bucket = bandwidth.NewPacingBucket(cfg.MaxBandwidth, ownBurst(cfg.MaxBandwidth), cfg.Clock)
	}
	m.step = paceStep(m.bucket, cfg.MaxBandwidth)
	m.ctx, m.stop = context.WithCancelCause(context.Background())
	m.finished, m.markFinished = context.WithCancel(context.Background())
	return m, nil
}

// WatchProgress calls fn every interval with a snapshot of all the
// manager's transfers since NewManager (Total counts their sizes, Objects
// the transfers), until ctx ends, or until Shutdown or Close has seen
// every transfer finish: then fn is called a last time with Done set,
// before Shutdown or Close returns. It returns at once. Calls are never
// concurrent. An interval of zero or less is an error.
func (m *Manager) WatchProgress(ctx context.Context, interval time.Duration, fn func(Progress)) error {
	if interval <= 0 {
		return fmt.Errorf("transfer: WatchProgress interval %v is not positive", interval)
	}
	if fn == nil {
		return errors.New("transfer: WatchProgress needs a function")
	}
	clock := m.cfg.Clock
	pm := newProgressMeter(&m.tally, clock.Now())
	m.mu.Lock() // orders Add before wait's Wait
	if m.finished.Err() != nil {
		m.mu.Unlock()
		fn(pm.snapshot(clock.Now(), true))
		return nil
	}
	m.watchers.Add(1)
	m.mu.Unlock()
	wctx, cancel := context.WithCancel(ctx)
	unlink := context.AfterFunc(m.finished, cancel)
	go func() {
		defer m.watchers.Done()
		defer unlink()
		tick(wctx, clock, pm.start, interval, func(now time.Time) { fn(pm.snapshot(now, false)) })
		if m.finished.Err() != nil {
			fn(pm.snapshot(clock.Now(), true))
		}
	}()
	return nil
}

// ownBurst is the idle credit of the manager's own pacing bucket: 20 ms
// of the rate, one pacing step. With each read paid for before it is
// sent, the bytes on the wire over any interval T are at most
// rate·(T + 20 ms) plus the step in hand, so rate·(T + 40 ms), however
// many requests run at once.
func ownBurst(rate int64) int64 { return max(rate/50, 1) }

// Stats is a snapshot of a manager's request window and counters.
type Stats struct {
	// MaxConcurrency is the configured ceiling of the request window.
	MaxConcurrency int
	// ConcurrencyLimit is the current window: how many requests may be in
	// flight now. It halves when the server throttles and grows back by
	// about one per round of successful requests.
	ConcurrencyLimit int
	// MinConcurrencyLimit is the smallest window since NewManager.
	MinConcurrencyLimit int
	// InFlight is the number of requests in flight; Waiting the number
	// queued for a place in the window.
	InFlight, Waiting int
	// Requests counts requests sent, Throttled the throttling answers
	// received (SlowDown, RequestBytesExceed, 429, 503), Retries the
	// attempts repeated after any retryable failure.
	Requests, Throttled, Retries int64
	// Transfers is the number of transfers not yet done.
	Transfers int
}

// Stats returns the manager's current state.
func (m *Manager) Stats() Stats {
	g := m.gov.stats()
	return Stats{
		MaxConcurrency:      m.cfg.MaxConcurrency,
		ConcurrencyLimit:    g.limit,
		MinConcurrencyLimit: g.minLimit,
		InFlight:            g.inFlight,
		Waiting:             g.waiting,
		Requests:            g.requests,
		Throttled:           g.throttles,
		Retries:             m.retries.Load(),
		Transfers:           int(m.nact.Load()),
	}
}

// Shutdown stops the manager from accepting transfers and waits for the
// ones in progress to finish. It returns ctx's error if ctx ends first;
// the transfers then keep running in the background (call Close to stop
// them). Calling Shutdown more than once, or after Close, is allowed.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.refuseNew()
	return m.wait(ctx)
}

// Close stops the manager from accepting transfers, cancels the ones in
// progress (their error matches ErrClosed) and waits until they have
// wound down: when Close returns, every multipart upload they had begun
// has been aborted on the server (or has reported an AbortError). Each
// abort is bounded by its own 30 s timeout. Calling Close more than once
// is allowed.
func (m *Manager) Close() error {
	m.refuseNew()
	m.stop(ErrClosed)
	return m.wait(context.Background())
}

func (m *Manager) refuseNew() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
}

// wait waits for every transfer to finish (and then for the progress
// watchers' last calls), or for ctx to end. The manager must refuse new
// transfers already.
func (m *Manager) wait(ctx context.Context) error {
	idle := make(chan struct{})
	go func() {
		m.active.Wait()
		m.mu.Lock()
		m.markFinished()
		m.mu.Unlock()
		m.watchers.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// start registers a transfer, announces it and runs it on its own
// goroutine.
func (m *Manager) start(ctx context.Context, kind Kind, bucket, key string, o options,
	run func(ctx context.Context, f *Future) (Result, error)) *Future {
	tallies := []*tally{&m.tally}
	if o.group != nil {
		tallies = append(tallies, o.group)
	}
	var pw *progressWatch
	if o.progressFn != nil {
		own := &tally{}
		tallies = append(tallies, own)
		pw = m.watch(own, o.progressEvery, o.progressFn)
	}
	f := newFuture(kind, bucket, key, o.subs, tallies...)
	m.mu.Lock()
	closed := m.closed
	if !closed {
		m.active.Add(1)
		m.nact.Add(1)
	}
	m.mu.Unlock()

	tctx, cancel := context.WithCancelCause(ctx)
	f.cancel = cancel
	for _, s := range f.subs {
		s.OnQueued(f)
	}
	end := func(res Result, err error) {
		res.Bucket, res.Key = bucket, key
		err = m.wrapErr(f, err)
		f.settle(err)
		if pw != nil {
			pw.stop()
		}
		f.finish(res, err)
	}
	if closed {
		cancel(ErrClosed)
		end(Result{}, ErrClosed)
		return f
	}
	unlink := context.AfterFunc(m.ctx, func() { cancel(context.Cause(m.ctx)) })
	go func() {
		defer m.active.Done()
		var res Result
		err := o.err
		if err == nil {
			err = validateTarget(bucket, key)
		}
		if err == nil {
			res, err = run(tctx, f)
		}
		unlink()
		if err != nil && tctx.Err() != nil && !errors.Is(err, context.Cause(tctx)) {
			// Report why the transfer stopped, not what the stop broke.
			err = context.Cause(tctx)
		}
		m.nact.Add(-1)
		end(res, err)
		cancel(context.Canceled)
	}()
	return f
}

// wrapErr turns the cause of a failed transfer into its *Error.
func (m *Manager) wrapErr(f *Future, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: f.kind, Bucket: f.bucket, Key: f.key, Err: asNoBucket(err, f.bucket)}
}

func validateTarget(bucket, key string) error {
	switch {
	case bucket == "":
		return errors.New("empty bucket name")
	case key == "":
		return errors.New("empty object key")
	}
	return nil
}

// call runs one S3 request with the manager's retry policy: op names it in
// errors; transient is the attempt budget for transient failures; fn makes
// one attempt with a context that ends when the attempt does. Every
// attempt holds a place in the request window.
func (m *Manager) call(ctx context.Context, op string, transient int, fn func(ctx context.Context) error) error {
	var throttled, failed int
	for attempt := 1; ; attempt++ {
		s, err := m.gov.acquire(ctx)
		if err != nil {
			return err
		}
		actx, cancel := context.WithCancel(ctx)
		err = fn(actx)
		cancel()
		class := classify(ctx, err)
		switch class {
		case classOK:
			m.gov.release(s, outcomeOK)
			return nil
		case classThrottle:
			m.gov.release(s, outcomeThrottled)
			throttled++
			if throttled >= throttleAttempts {
				return attemptsError(op, attempt, err)
			}
		case classTransient:
			m.gov.release(s, outcomeFailed)
			failed++
			if failed >= transient {
				return attemptsError(op, attempt, err)
			}
		default:
			m.gov.release(s, outcomeFailed)
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("%s: %w", op, err)
		}
		m.retries.Add(1)
		wait := backoff(attempt, retryAfter(err, m.cfg.Clock.Now()), m.int64n)
		if m.cfg.Clock.Sleep(ctx, wait) != nil {
			return context.Cause(ctx)
		}
	}
}
