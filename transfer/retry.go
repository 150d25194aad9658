package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Retry timing. Back-off is "full jitter": attempt n waits a uniformly
// random time in [0, min(maxBackoff, baseBackoff·2^(n-1))), and never
// less than the server's Retry-After / x-amz-retry-after.
const (
	baseBackoff = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
	// maxRetryAfter bounds how long a server-supplied retry hint may
	// delay one attempt.
	maxRetryAfter = time.Minute
	// throttleAttempts is how many times one request is attempted while
	// the server keeps throttling it. It is larger than the transient
	// error budget because throttling says "later", not "broken".
	throttleAttempts = 30
)

// errorClass is what the retry loop does with an error.
type errorClass int

const (
	classOK        errorClass = iota
	classThrottle             // retry after back-off; shrink the window
	classTransient            // retry after back-off, within MaxAttempts
	classFatal                // give up now
)

// throttleCodes are S3 error codes that mean "slow down".
var throttleCodes = map[string]bool{
	"SlowDown":               true,
	"RequestBytesExceed":     true,
	"TooManyRequests":        true,
	"Throttling":             true,
	"ThrottlingException":    true,
	"RequestLimitExceeded":   true,
	"ServiceUnavailable":     true,
	"RequestThrottled":       true,
	"BandwidthLimitExceeded": true,
}

// transientCodes are S3 error codes worth another attempt.
var transientCodes = map[string]bool{
	"InternalError":  true,
	"RequestTimeout": true,
}

// fatalError marks an error that must not be retried even though it looks
// transient, such as a failure of the caller's reader or writer.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// classify sorts err for the retry loop. ctx is the request's context: an
// error after ctx ended is final whatever it looks like.
func classify(ctx context.Context, err error) errorClass {
	if err == nil {
		return classOK
	}
	if ctx.Err() != nil {
		return classFatal
	}
	var fe *fatalError
	if errors.As(err, &fe) {
		return classFatal
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classFatal
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if throttleCodes[apiErr.ErrorCode()] {
			return classThrottle
		}
		if transientCodes[apiErr.ErrorCode()] {
			return classTransient
		}
	}
	// A request that never got an answer (refused connection, reset while
	// sending) is wrapped in a ResponseError with status 0: look for the
	// send error first.
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		return classTransient
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil && re.HTTPStatusCode() != 0 {
		switch code := re.HTTPStatusCode(); {
		case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
			return classThrottle
		case code >= 500:
			return classTransient
		default:
			return classFatal
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errShortBody) {
		return classTransient
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return classTransient
	}
	if strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe") {
		return classTransient
	}
	return classFatal
}

// errShortBody is a response body that ended before its Content-Length.
var errShortBody = errors.New("transfer: response body ended early")

// retryAfter returns the server's retry hint in err, or 0. It prefers
// x-amz-retry-after (milliseconds) over Retry-After (seconds or an HTTP
// date relative to now).
func retryAfter(err error, now time.Time) time.Duration {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil {
		return 0
	}
	h := re.Response.Header
	if v := h.Get("x-amz-retry-after"); v != "" {
		if ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && ms > 0 {
			return min(time.Duration(ms)*time.Millisecond, maxRetryAfter)
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && s > 0 {
			return min(time.Duration(s)*time.Second, maxRetryAfter)
		}
		if t, err := http.ParseTime(v); err == nil && t.After(now) {
			return min(t.Sub(now), maxRetryAfter)
		}
	}
	return 0
}

// backoff returns the wait before attempt+1 after attempt failed: full
// jitter drawn with int64n (rand.Int64N when nil), at least hint.
func backoff(attempt int, hint time.Duration, int64n func(int64) int64) time.Duration {
	if int64n == nil {
		int64n = rand.Int64N
	}
	ceiling := maxBackoff
	if attempt < 16 {
		ceiling = min(maxBackoff, baseBackoff<<(attempt-1))
	}
	d := time.Duration(int64n(int64(ceiling)))
	return max(d, hint)
}

// attemptsError wraps the last error of a request that ran out of
// attempts.
func attemptsError(op string, attempts int, err error) error {
	return fmt.Errorf("transfer: %s failed after %d attempts: %w", op, attempts, err)
}
