package cli

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		40 << 20: "40.0 MiB", 3 << 30: "3.0 GiB", 5 << 40: "5.0 TiB", 2048 << 40: "2048.0 TiB",
		-2048: "-2.0 KiB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFormatETAAndElapsed(t *testing.T) {
	tests := []struct {
		left int64
		rate float64
		want string
	}{
		{0, 100, "0s"},
		{100, 0, "--"},
		{100, 1000, "0.10s"},
		{7000, 1000, "7.0s"},
		{65 * 1000, 1000, "1m05s"},
		{3723 * 1000, 1000, "1h02m"},
	}
	for _, tc := range tests {
		if got := formatETA(tc.left, tc.rate); got != tc.want {
			t.Errorf("formatETA(%d, %v) = %q, want %q", tc.left, tc.rate, got, tc.want)
		}
	}
}

func TestRenderStatus(t *testing.T) {
	t0 := time.Unix(1000, 0)
	samples := []sample{{t0, 0}, {t0.Add(2 * time.Second), 8 << 20}}
	tests := []struct {
		name  string
		st    progressState
		tty   bool
		width int
		want  string
	}{
		{
			name:  "one file on a terminal",
			st:    progressState{start: t0, files: 1, total: 40 << 20, moved: 10 << 20, samples: samples, singleName: "big.bin"},
			tty:   true,
			width: 120,
			want:  " 25% [=======>                      ] 10.0 MiB/40.0 MiB  4.0 MiB/s  ETA 7.5s  big.bin",
		},
		{
			name: "one file of unknown size",
			st:   progressState{start: t0, files: 1, unknown: 1, moved: 8 << 20, samples: samples},
			tty:  true,
			want: "8.0 MiB  4.0 MiB/s",
		},
		{
			name: "many files on a terminal",
			st:   progressState{start: t0, files: 8, finished: 3, total: 40 << 20, moved: 20 << 20, samples: samples},
			tty:  true,
			want: "Completed 20.0 MiB/40.0 MiB (50%), 4.0 MiB/s, ETA 5.0s, 5 of 8 file(s) remaining",
		},
		{
			name: "plain line for logs",
			st:   progressState{start: t0, files: 1, total: 40 << 20, moved: 20 << 20, samples: samples},
			want: "progress: 20.0 MiB/40.0 MiB (50%), 4.0 MiB/s, ETA 5.0s",
		},
		{
			name:  "cut to the terminal width",
			st:    progressState{start: t0, files: 8, finished: 3, total: 40 << 20, moved: 20 << 20, samples: samples},
			tty:   true,
			width: 30,
			want:  "Completed 20.0 MiB/40.0 MiB (",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := renderStatus(tc.st, t0.Add(2*time.Second), tc.tty, tc.width)
			if got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the reporter's goroutine and the
// test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// progressClock is a clock the test advances.
type progressClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *progressClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *progressClock) add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func TestReporterPlainLines(t *testing.T) {
	synctest.Test(t, testReporterPlainLines)
}

// testReporterPlainLines runs in a synctest bubble: synctest.Wait after a
// tick lets the reporter finish drawing before the counters change.
func testReporterPlainLines(t *testing.T) {
	clock := &progressClock{t: time.Unix(0, 0)}
	tick := make(chan time.Time)
	var stdout, stderr syncBuffer
	r := newReporter(&stdout, &stderr, progressPlain, clock.now, tick)
	r.addFile("a", 10<<20)
	r.addFile("b", -1)
	r.learnSize(10 << 20)
	tick <- time.Time{} // first sample at t=0
	synctest.Wait()
	clock.add(5 * time.Second)
	r.OnProgress(nil, 5<<20)
	tick <- time.Time{}
	synctest.Wait()
	r.println("upload: a to s3://b/a", false)
	r.fileDone()
	r.println("upload failed: b to s3://b/b: boom", true)
	r.fileDone()
	r.close()

	if got := stdout.String(); got != "upload: a to s3://b/a\n" {
		t.Fatalf("stdout %q", got)
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	want := []string{
		"progress: 0 B/20.0 MiB (0%), 0 B/s, ETA --, 2 of 2 file(s) remaining",
		"progress: 5.0 MiB/20.0 MiB (25%), 1.0 MiB/s, ETA 15.0s, 2 of 2 file(s) remaining",
		"upload failed: b to s3://b/b: boom",
		"2 file(s), 5.0 MiB in 5.0s (1.0 MiB/s)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stderr lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestReporterTTYRedrawsInPlace(t *testing.T) {
	synctest.Test(t, testReporterTTY)
}

func testReporterTTY(t *testing.T) {
	clock := &progressClock{t: time.Unix(0, 0)}
	tick := make(chan time.Time)
	var stdout, stderr syncBuffer
	r := newReporter(&stdout, &stderr, progressTTY, clock.now, tick)
	r.addFile("f", 4<<20)
	tick <- time.Time{}
	synctest.Wait()
	clock.add(time.Second)
	r.OnProgress(nil, 1<<20)
	tick <- time.Time{}
	synctest.Wait()
	r.fileDone()
	r.println("upload: f to s3://b/f", false)
	r.close()
	got := stderr.String()
	// Each redraw returns to the start of the line and clears its rest;
	// before a message the status line is wiped.
	if strings.Count(got, "\r") < 3 || !strings.Contains(got, "\r 25% [") || !strings.Contains(got, "\x1b[K") {
		t.Fatalf("stderr %q", got)
	}
	if stdout.String() != "upload: f to s3://b/f\n" {
		t.Fatalf("stdout %q", stdout.String())
	}
	if !strings.HasSuffix(got, "\r\x1b[K1 file(s), 1.0 MiB in 1.0s (1.0 MiB/s)\n") {
		t.Fatalf("no summary at the end: %q", got)
	}
}

func TestReporterOffPrintsOnlyMessages(t *testing.T) {
	var stdout, stderr syncBuffer
	r := newReporter(&stdout, &stderr, progressOff, time.Now, nil)
	r.addFile("f", 10)
	r.OnProgress(nil, 10)
	r.println("upload: f to s3://b/f", false)
	r.close()
	if stdout.String() != "upload: f to s3://b/f\n" || stderr.String() != "" {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}
