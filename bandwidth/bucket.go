package bandwidth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RequestToken identifies one requester across the calls it makes to a
// [Bucket]: a request refused with a [RequestExceededError] is retried with
// the same token, and the bucket recognises it by the pointer. A
// [LimitedStream] uses one token for its whole life.
//
// The amount and time recorded in a token are informational; buckets charge
// the amount passed to Consume. A token is immutable and may be shared
// between goroutines, but two concurrent requests must not share one.
type RequestToken struct {
	// The fields make the struct non-zero-size: distinct tokens never share
	// an address, which buckets rely on to tell requesters apart.
	amount        int64
	timeRequested time.Time
}

// NewRequestToken returns a new token for a request of amount bytes made at
// timeRequested. Every call returns a distinct token.
func NewRequestToken(amount int64, timeRequested time.Time) *RequestToken {
	return &RequestToken{amount: amount, timeRequested: timeRequested}
}

// Amount returns the number of bytes the token was created for.
func (t *RequestToken) Amount() int64 { return t.amount }

// TimeRequested returns the time the token was created for.
func (t *RequestToken) TimeRequested() time.Time { return t.timeRequested }

// RequestExceededError is returned by [Bucket.Consume] when a request may not
// pass yet. The caller waits RetryTime and then calls Consume again with the
// same amount and the same token; the bucket has already scheduled the
// request, so the retry is not charged twice.
type RequestExceededError struct {
	// RequestedAmt is the number of bytes that were requested.
	RequestedAmt int64
	// RetryTime is how long to wait before retrying, measured from the
	// moment of the refusal.
	RetryTime time.Duration
}

func (e *RequestExceededError) Error() string {
	return fmt.Sprintf("bandwidth: request for %d bytes exceeds the rate limit; retry in %v",
		e.RequestedAmt, e.RetryTime)
}

// Bucket decides when bytes may pass. A [LimitedStream] consumes from one.
// Implementations must be safe for concurrent use.
type Bucket interface {
	// Consume asks for amt bytes on behalf of token. It returns nil when the
	// bytes may pass now, a *RequestExceededError when the caller must wait
	// and retry with the same token, or another error when the request
	// cannot be served (for example a nil token).
	Consume(amt int64, token *RequestToken) error
}

// Canceler is implemented by buckets that can give back the reservation of a
// request that was refused and will never be retried, such as a stream whose
// context was cancelled while it waited. [LeakyBucket] and [PacingBucket]
// implement it; a [LimitedStream] calls it when its wait is cancelled.
type Canceler interface {
	Cancel(token *RequestToken)
}

// Pacer is implemented by buckets that admit bytes by making the caller wait
// rather than by refusing, in small steps. [PacingBucket] implements it.
//
// A [LimitedStream] over a Pacer uses WaitN instead of the Consume-and-retry
// loop, charges the bytes it has read once they reach Quantum() (unless the
// stream was given its own threshold), and reads at most that many bytes per
// Read, so that no single Read releases a burst.
type Pacer interface {
	Bucket
	// WaitN blocks until n bytes may pass or ctx is done. It returns nil when
	// the bytes were admitted and ctx.Err() otherwise; a cancelled wait gives
	// its reservation back.
	WaitN(ctx context.Context, n int64) error
	// Quantum is the preferred number of bytes per admission, or zero or less
	// when the bucket has no preference (for example when it is unlimited).
	Quantum() int64
}

// errNilToken is returned by the buckets' Consume for a nil token: a refused
// request could never be recognised when it is retried.
var errNilToken = errors.New("bandwidth: Consume needs a non-nil *RequestToken")
