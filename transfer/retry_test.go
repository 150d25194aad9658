package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func responseError(status int, code string, header http.Header) error {
	if header == nil {
		header = http.Header{}
	}
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: header}}
	var inner error = errors.New("no code")
	if code != "" {
		inner = &smithy.GenericAPIError{Code: code, Message: "m"}
	}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "Op",
		Err: &smithyhttp.ResponseError{Response: resp, Err: inner}}
}

func TestClassify(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want errorClass
	}{
		{"nil", context.Background(), nil, classOK},
		{"SlowDown 429", context.Background(), responseError(429, "SlowDown", nil), classThrottle},
		{"RequestBytesExceed", context.Background(), responseError(429, "RequestBytesExceed", nil), classThrottle},
		{"bare 503", context.Background(), responseError(503, "", nil), classThrottle},
		{"bare 429", context.Background(), responseError(429, "", nil), classThrottle},
		{"500 InternalError", context.Background(), responseError(500, "InternalError", nil), classTransient},
		{"502", context.Background(), responseError(502, "", nil), classTransient},
		{"403 AccessDenied", context.Background(), responseError(403, "AccessDenied", nil), classFatal},
		{"404", context.Background(), responseError(404, "NoSuchKey", nil), classFatal},
		{"412", context.Background(), responseError(412, "PreconditionFailed", nil), classFatal},
		{"send error", context.Background(), &smithyhttp.RequestSendError{Err: errors.New("dial tcp: refused")}, classTransient},
		{"send error inside a status-0 response error", context.Background(), &smithy.OperationError{ServiceID: "S3", OperationName: "UploadPart",
			Err: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{}},
				Err: &smithyhttp.RequestSendError{Err: errors.New("write: connection reset by peer")}}}, classTransient},
		{"body cut", context.Background(), fmt.Errorf("read: %w", io.ErrUnexpectedEOF), classTransient},
		{"short body", context.Background(), errShortBody, classTransient},
		{"net error", context.Background(), &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, classTransient},
		{"caller's writer", context.Background(), &fatalError{io.ErrUnexpectedEOF}, classFatal},
		{"cancelled context wins", cancelled, responseError(503, "SlowDown", nil), classFatal},
		{"context error", context.Background(), context.Canceled, classFatal},
		{"anything else", context.Background(), errors.New("boom"), classFatal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.ctx, tc.err); got != tc.want {
				t.Fatalf("classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	h := func(kv ...string) http.Header {
		x := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			x.Set(kv[i], kv[i+1])
		}
		return x
	}
	tests := []struct {
		name string
		err  error
		want time.Duration
	}{
		{"none", responseError(503, "SlowDown", nil), 0},
		{"milliseconds preferred", responseError(503, "SlowDown", h("x-amz-retry-after", "1500", "Retry-After", "9")), 1500 * time.Millisecond},
		{"seconds", responseError(429, "SlowDown", h("Retry-After", "3")), 3 * time.Second},
		{"http date", responseError(429, "SlowDown", h("Retry-After", now.Add(7*time.Second).Format(http.TimeFormat))), 7 * time.Second},
		{"capped", responseError(429, "SlowDown", h("Retry-After", "86400")), maxRetryAfter},
		{"garbage ignored", responseError(429, "SlowDown", h("Retry-After", "soon")), 0},
		{"not an HTTP error", errors.New("x"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryAfter(tc.err, now); got != tc.want {
				t.Fatalf("retryAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBackoffFullJitter(t *testing.T) {
	top := func(n int64) int64 { return n - 1 } // the largest draw
	for attempt, want := range map[int]time.Duration{
		1: baseBackoff, 2: 2 * baseBackoff, 3: 4 * baseBackoff, 10: maxBackoff, 60: maxBackoff,
	} {
		if got := backoff(attempt, 0, top); got != want-1 {
			t.Errorf("backoff(%d) max draw = %v, want %v", attempt, got, want-1)
		}
	}
	if got := backoff(1, 0, func(int64) int64 { return 0 }); got != 0 {
		t.Errorf("full jitter should reach 0, got %v", got)
	}
	if got := backoff(1, 2*time.Second, func(int64) int64 { return 0 }); got != 2*time.Second {
		t.Errorf("Retry-After floor ignored: %v", got)
	}
	for range 100 {
		if d := backoff(3, 0, nil); d < 0 || d >= 4*baseBackoff {
			t.Fatalf("backoff(3) = %v out of [0, %v)", d, 4*baseBackoff)
		}
	}
}
