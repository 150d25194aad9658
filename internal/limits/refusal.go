package limits

import (
	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

// Refusal names the limit behind a refusal, for the access log. Its
// strings are constants: looking one up does not allocate.
type Refusal struct {
	// Scope is metrics.ScopeGlobal, ScopeBucket or ScopeUser (the section
	// of the request's bucket or user), or ScopeUpload (the upload queue's
	// -concurrentUploadMaxWait).
	Scope string
	// Type is TypeCount, TypeBytes, TypeOpsPerSec or TypeBytesPerSec;
	// "wait" for the upload queue.
	Type string
	// Reason is RefusalFull, RefusalBlocked or RefusalTooLarge.
	Reason string
}

// Reasons of a Refusal.
const (
	RefusalFull     = "reached"   // the limit is reached (after the section's wait, if any)
	RefusalBlocked  = "blocked"   // the limit is 0
	RefusalTooLarge = "too large" // the request alone exceeds a bytes limit
)

var reasonNames = [numReasons]string{RefusalFull, RefusalBlocked, RefusalTooLarge}

// RefusalOf tells which limit refused a request of action with e, the
// error the middleware wrote; ok is false when e is not a limit's refusal.
// It compares e with the refusals built ahead of time, so it costs a few
// dozen pointer comparisons and no allocation.
func (l *Limits) RefusalOf(action s3api.Action, e *s3api.Error) (r Refusal, ok bool) {
	if e == nil {
		return Refusal{}, false
	}
	if e == l.refusal {
		return Refusal{Scope: metrics.ScopeUpload, Type: "wait", Reason: RefusalFull}, true
	}
	b := l.breaker
	ai := actionIndex(action)
	if ai < 0 {
		return Refusal{}, false
	}
	for sc := range b.refusals[ai] {
		for ty := range b.refusals[ai][sc] {
			for re, built := range b.refusals[ai][sc][ty] {
				if built == e {
					return Refusal{Scope: scopeNames[sc], Type: typeNames[ty], Reason: reasonNames[re]}, true
				}
			}
		}
		// An ops/s refusal carries its retry hint, to the millisecond: it
		// is kept under that hint.
		if ms := e.RetryAfter.Milliseconds(); ms >= 0 && ms <= maxRetryMillis && b.opsRefusals[ai][sc][ms].Load() == e {
			return Refusal{Scope: scopeNames[sc], Type: TypeOpsPerSec, Reason: RefusalFull}, true
		}
	}
	return Refusal{}, false
}
