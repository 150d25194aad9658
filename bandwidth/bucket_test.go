package bandwidth

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestRequestTokenIdentity(t *testing.T) {
	if size := unsafe.Sizeof(RequestToken{}); size == 0 {
		t.Fatal("RequestToken is zero-size: distinct tokens could share an address")
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := NewRequestToken(10, at), NewRequestToken(10, at)
	if a == b {
		t.Fatal("NewRequestToken returned the same token twice")
	}
	if a.Amount() != 10 || !a.TimeRequested().Equal(at) {
		t.Errorf("token = (%d, %v), want (10, %v)", a.Amount(), a.TimeRequested(), at)
	}
	// Tokens are told apart by identity, not by value.
	s := NewConsumptionScheduler()
	s.ScheduleConsumption(10, a, time.Second)
	if s.IsScheduled(b) {
		t.Error("an equal but distinct token counts as scheduled")
	}
}

func TestRequestExceededError(t *testing.T) {
	var err error = &RequestExceededError{RequestedAmt: 262144, RetryTime: 250 * time.Millisecond}
	msg := err.Error()
	for _, want := range []string{"bandwidth: ", "262144 bytes", "250ms"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Error() = %q, want it to contain %q", msg, want)
		}
	}
	var got *RequestExceededError
	if !errors.As(fmt.Errorf("upload: %w", err), &got) || got.RetryTime != 250*time.Millisecond {
		t.Errorf("errors.As on a wrapped error = %v", got)
	}
}
