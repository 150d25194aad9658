package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recordingOutput is a log output that keeps what it was given and counts
// its writes.
type recordingOutput struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	fail   error // returned by every write when set
}

func (o *recordingOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return 0, o.fail
	}
	o.writes++
	return o.buf.Write(p)
}

func (o *recordingOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *recordingOutput) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writes
}

// TestLogBufferKeepsEveryLineInOrder: lines from many writers, buffered
// and direct, with flushes by size, by timer and by hand going on, all
// come out once, whole, each writer's in the order it wrote them.
func TestLogBufferKeepsEveryLineInOrder(t *testing.T) {
	out := &recordingOutput{}
	b := NewLogBuffer(out, 512, time.Millisecond)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			direct := b.Direct()
			for i := range lines {
				line := fmt.Sprintf("writer=%d line=%d %s\n", w, i, strings.Repeat("x", (w*lines+i)%97))
				dst := io.Writer(b)
				if i%50 == 0 { // an error line now and then
					dst = direct
				}
				if n, err := dst.Write([]byte(line)); err != nil || n != len(line) {
					t.Errorf("write: %d, %v", n, err)
					return
				}
				if i%100 == 0 {
					if err := b.Flush(); err != nil {
						t.Errorf("flush: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, line := range got {
		var w, i int
		if _, err := fmt.Sscanf(line, "writer=%d line=%d", &w, &i); err != nil {
			t.Fatalf("line %q was split or mixed up: %v", line, err)
		}
		if want := fmt.Sprintf("writer=%d line=%d %s", w, i, strings.Repeat("x", (w*lines+i)%97)); line != want {
			t.Fatalf("line %q, want %q", line, want)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d came after line %d", w, i, next[w]-1)
		}
		next[w]++
	}
	if len(got) != writers*lines {
		t.Fatalf("%d lines out, %d written", len(got), writers*lines)
	}
	if n := out.count(); n >= writers*lines {
		t.Errorf("%d writes of the output for %d lines: nothing was batched", n, writers*lines)
	}
}

// TestLogBufferDirectLineFollowsBufferedOnes: a line written directly
// goes out at once, after the lines buffered before it.
func TestLogBufferDirectLineFollowsBufferedOnes(t *testing.T) {
	out := &recordingOutput{}
	b := NewLogBuffer(out, 0, time.Hour)
	defer b.Close()
	io.WriteString(b, "access 1\n")
	io.WriteString(b, "access 2\n")
	if got := out.String(); got != "" {
		t.Fatalf("buffered lines written before a flush: %q", got)
	}
	io.WriteString(b.Direct(), "error\n")
	if got, want := out.String(), "access 1\naccess 2\nerror\n"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
	if n := out.count(); n != 1 {
		t.Errorf("%d writes of the output, want 1", n)
	}
}

// TestLogBufferWritesWhenFull: a buffer that reaches its size is written
// without waiting for the timer.
func TestLogBufferWritesWhenFull(t *testing.T) {
	out := &recordingOutput{}
	b := NewLogBuffer(out, 64, time.Hour)
	defer b.Close()
	line := strings.Repeat("y", 31) + "\n"
	io.WriteString(b, line)
	if got := out.String(); got != "" {
		t.Fatalf("written before the buffer was full: %q", got)
	}
	io.WriteString(b, line)
	if got := out.String(); got != line+line {
		t.Fatalf("output %q after the buffer filled, want both lines", got)
	}
}

// TestLogBufferWritesAfterTheInterval: a buffered line goes out within
// the flush interval, without more lines or a Flush.
func TestLogBufferWritesAfterTheInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &recordingOutput{}
		b := NewLogBuffer(out, 0, 100*time.Millisecond)
		defer b.Close()
		io.WriteString(b, "one\n")
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if got := out.String(); got != "" {
			t.Fatalf("written before the interval: %q", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := out.String(); got != "one\n" {
			t.Fatalf("output %q after the interval, want the line", got)
		}
		// The timer is armed again by the next line.
		io.WriteString(b, "two\n")
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got := out.String(); got != "one\ntwo\n" {
			t.Fatalf("output %q after a second interval", got)
		}
	})
}

// TestLogBufferCloseWritesEverything: Close loses no line, and lines
// written after it (a request finishing late) still reach the output.
func TestLogBufferCloseWritesEverything(t *testing.T) {
	out := &recordingOutput{}
	b := NewLogBuffer(out, 0, time.Hour)
	log := slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	for i := range 100 {
		log.Info("request", "n", i)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 100 {
		fmt.Fprintf(&want, "level=INFO msg=request n=%d\n", i)
	}
	if got := out.String(); got != want.String() {
		t.Fatalf("after Close:\n%s\nwant:\n%s", got, want.String())
	}
	log.Info("late")
	if got := out.String(); !strings.HasSuffix(got, "level=INFO msg=late\n") {
		t.Fatalf("a line after Close did not go straight out: %q", got)
	}
}

// TestLogBufferReportsAFailedOutput: a failed write of the output comes
// back from Flush and Close, and from a direct write.
func TestLogBufferReportsAFailedOutput(t *testing.T) {
	broken := errors.New("disk full")
	out := &recordingOutput{fail: broken}
	b := NewLogBuffer(out, 0, time.Hour)
	if _, err := io.WriteString(b, "lost\n"); err != nil {
		t.Fatalf("a buffered write failed before any output: %v", err)
	}
	if err := b.Flush(); !errors.Is(err, broken) {
		t.Fatalf("Flush: %v, want %v", err, broken)
	}
	if _, err := io.WriteString(b.Direct(), "error\n"); !errors.Is(err, broken) {
		t.Fatalf("direct write: %v, want %v", err, broken)
	}
	if err := b.Close(); !errors.Is(err, broken) {
		t.Fatalf("Close: %v, want %v", err, broken)
	}
}

func BenchmarkLogBufferWrite(b *testing.B) {
	lb := NewLogBuffer(io.Discard, 0, 0)
	defer lb.Close()
	line := []byte(strings.Repeat("z", 200) + "\n")
	b.ReportAllocs()
	for b.Loop() {
		lb.Write(line)
	}
}
