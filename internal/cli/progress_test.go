package cli

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/s3limit/s3limit/internal/testkit"
	"github.com/s3limit/s3limit/transfer"
)

func TestFormatETAAndElapsed(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-1:                      "--",
		0:                       "0s",
		100 * time.Millisecond:  "0.10s",
		7 * time.Second:         "7.0s",
		65 * time.Second:        "1m05s",
		3723 * time.Second:      "1h02m",
		59*time.Second + 999e6:  "60.0s",
		time.Hour - time.Second: "59m59s",
	} {
		if got := formatETA(d); got != want {
			t.Errorf("formatETA(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestRenderStatus(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name  string
		p     transfer.Progress
		file  string
		tty   bool
		width int
		want  string
	}{
		{
			name:  "one file on a terminal",
			p:     transfer.Progress{Bytes: 10 * mib, Total: 40 * mib, Rate: 4 * mib, ETA: 7500 * time.Millisecond, Objects: 1},
			file:  "big.bin",
			tty:   true,
			width: 120,
			want:  " 25% [=======>                      ] 10.0 MiB/40.0 MiB  4.0 MiB/s  ETA 7.5s  big.bin",
		},
		{
			name: "one file of unknown size",
			p:    transfer.Progress{Bytes: 8 * mib, Total: -1, Rate: 4 * mib, ETA: -1, Objects: 1},
			tty:  true,
			want: "8.0 MiB  4.0 MiB/s",
		},
		{
			name: "many files on a terminal",
			p:    transfer.Progress{Bytes: 20 * mib, Total: 40 * mib, Rate: 4 * mib, ETA: 5 * time.Second, Objects: 8, ObjectsDone: 3},
			tty:  true,
			want: "Completed 20.0 MiB/40.0 MiB (50%), 4.0 MiB/s, ETA 5.0s, 5 of 8 file(s) remaining",
		},
		{
			name: "plain line for logs",
			p:    transfer.Progress{Bytes: 20 * mib, Total: 40 * mib, Rate: 4 * mib, ETA: 5 * time.Second, Objects: 1},
			want: "progress: 20.0 MiB/40.0 MiB (50%), 4.0 MiB/s, ETA 5.0s",
		},
		{
			name:  "cut to the terminal width",
			p:     transfer.Progress{Bytes: 20 * mib, Total: 40 * mib, Rate: 4 * mib, ETA: 5 * time.Second, Objects: 8, ObjectsDone: 3},
			tty:   true,
			width: 30,
			want:  "Completed 20.0 MiB/40.0 MiB (",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := renderStatus(tc.p, tc.file, tc.tty, tc.width); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// In plain mode each snapshot is a line; messages go between them; the
// last (Done) snapshot becomes the summary.
func TestReporterPlainLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stdout, stderr testkit.SyncBuffer
		r := newReporter(&stdout, &stderr, progressPlain, "")
		r.update(transfer.Progress{Total: 20 << 20, ETA: -1, Objects: 2})
		synctest.Wait()
		r.update(transfer.Progress{Bytes: 5 << 20, Total: 20 << 20, Rate: 1 << 20, ETA: 15 * time.Second, Objects: 2})
		synctest.Wait()
		r.println("upload: a to s3://b/a", false)
		r.println("upload failed: b to s3://b/b: boom", true)
		r.update(transfer.Progress{Bytes: 5 << 20, Total: 20 << 20, Objects: 2, ObjectsDone: 2, ObjectsFailed: 1, Elapsed: 5 * time.Second, Done: true})
		synctest.Wait()
		r.close()

		if got := stdout.String(); got != "upload: a to s3://b/a\n" {
			t.Fatalf("stdout %q", got)
		}
		want := strings.Join([]string{
			"progress: 0 B/20.0 MiB (0%), 0 B/s, ETA --, 2 of 2 file(s) remaining",
			"progress: 5.0 MiB/20.0 MiB (25%), 1.0 MiB/s, ETA 15.0s, 2 of 2 file(s) remaining",
			"upload failed: b to s3://b/b: boom",
			"2 file(s), 5.0 MiB in 5.0s (1.0 MiB/s)",
		}, "\n") + "\n"
		if got := stderr.String(); got != want {
			t.Fatalf("stderr:\n%s\nwant:\n%s", got, want)
		}
	})
}

func TestReporterTTYRedrawsInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var stdout, stderr testkit.SyncBuffer
		r := newReporter(&stdout, &stderr, progressTTY, "f")
		r.update(transfer.Progress{Total: 4 << 20, ETA: -1, Objects: 1})
		synctest.Wait()
		r.update(transfer.Progress{Bytes: 1 << 20, Total: 4 << 20, Rate: 1 << 20, ETA: 3 * time.Second, Objects: 1})
		synctest.Wait()
		r.update(transfer.Progress{Bytes: 4 << 20, Total: 4 << 20, Objects: 1, ObjectsDone: 1, Elapsed: 4 * time.Second, Done: true})
		r.println("upload: f to s3://b/f", false)
		r.close()
		got := stderr.String()
		// Each redraw returns to the start of the line and clears its
		// rest; before a message the status line is wiped.
		if strings.Count(got, "\r") < 3 || !strings.Contains(got, "\r 25% [") || !strings.Contains(got, "\x1b[K") {
			t.Fatalf("stderr %q", got)
		}
		if stdout.String() != "upload: f to s3://b/f\n" {
			t.Fatalf("stdout %q", stdout.String())
		}
		if !strings.HasSuffix(got, "\r\x1b[K1 file(s), 4.0 MiB in 4.0s (1.0 MiB/s)\n") {
			t.Fatalf("no summary at the end: %q", got)
		}
	})
}

func TestReporterOffPrintsOnlyMessages(t *testing.T) {
	var stdout, stderr testkit.SyncBuffer
	r := newReporter(&stdout, &stderr, progressOff, "f")
	r.update(transfer.Progress{Bytes: 10, Total: 10, Objects: 1})
	r.println("upload: f to s3://b/f", false)
	r.close()
	if stdout.String() != "upload: f to s3://b/f\n" || stderr.String() != "" {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

func TestBitsWarning(t *testing.T) {
	for _, tc := range []struct {
		in   string
		rate int64
		want string
	}{
		{"8mb/s", 1 << 20, "warning: --max-bandwidth 8mb/s: a lower-case b means bits, so the cap is 1.0 MiB/s (1048576 bytes/s); write 8MB/s for bytes"},
		{"500kb/s", 64000, "write 500KB/s for bytes"},
		{"1.5 gb/s", 201326592, "write 1.5 GB/s for bytes"},
		{"8MB/s", 8 << 20, ""},
		{"10Mb/s", 1310720, ""}, // the usual spelling of bits
		{"8388608", 8 << 20, ""},
	} {
		got := bitsWarning(tc.in, tc.rate)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("bitsWarning(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
