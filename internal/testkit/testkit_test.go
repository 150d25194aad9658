package testkit

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestSyncBufferConcurrentWriters(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte(strconv.Itoa(i)))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Fatalf("%d bytes, want 800", n)
	}
	b.Reset()
	if b.String() != "" {
		t.Fatal("Reset left content")
	}
}

func TestPoll(t *testing.T) {
	calls := 0
	if why := Poll(time.Second, func() string {
		calls++
		if calls < 3 {
			return "not yet"
		}
		return ""
	}); why != "" || calls != 3 {
		t.Fatalf("Poll = %q after %d calls, want done after 3", why, calls)
	}
	start := time.Now()
	if why := Poll(20*time.Millisecond, func() string { return "never" }); why != "never" {
		t.Fatalf("Poll = %q, want the last explanation", why)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("Poll gave up before its deadline")
	}
}
