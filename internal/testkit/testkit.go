// Package testkit holds what the tests of several packages share: a
// buffer that goroutines (a logger, a child process) may write while a
// test reads it, and polling for a condition with a deadline. Helpers for
// S3 clients live with the test server, in internal/server/servertest.
package testkit

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers.
// The zero value is empty and ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer // guarded by mu
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Reset empties the buffer.
func (s *SyncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// Eventually polls cond until it returns "" (done) or within has passed,
// then fails the test with cond's last explanation. For what a test
// cannot hold in place with a channel: a server releasing its counters
// just after the client read the last byte, a file watcher, a child
// process.
func Eventually(t testing.TB, within time.Duration, cond func() string) {
	t.Helper()
	if why := Poll(within, cond); why != "" {
		t.Fatalf("condition not met within %v: %s", within, why)
	}
}

// Poll calls cond every few milliseconds until it returns "" or within
// has passed, and returns cond's last answer.
func Poll(within time.Duration, cond func() string) string {
	deadline := time.Now().Add(within)
	for {
		why := cond()
		if why == "" || time.Now().After(deadline) {
			return why
		}
		time.Sleep(2 * time.Millisecond)
	}
}
