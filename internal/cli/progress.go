package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/s3limit/s3limit/transfer"
)

// progressMode is how a cp run reports its advance.
type progressMode int

const (
	progressOff   progressMode = iota // --quiet or --no-progress
	progressTTY                       // a status line redrawn in place
	progressPlain                     // a line every few seconds, for logs
)

// Redraw intervals.
const (
	ttyInterval   = 200 * time.Millisecond
	plainInterval = 5 * time.Second
	// rateWindow is how far back the displayed rate looks.
	rateWindow = 5 * time.Second
)

// detectProgressMode picks the mode for writes to w: a live line on a
// terminal, plain periodic lines otherwise.
func detectProgressMode(w io.Writer) progressMode {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return progressTTY
	}
	return progressPlain
}

// terminalWidth is the width of w if it is a terminal, else 0.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil {
			return width
		}
	}
	return 0
}

// reporter counts the bytes of a cp run and owns the terminal: one
// goroutine (run) writes every status line and every message, so status
// redraws and "upload: ..." lines never interleave. It implements
// transfer.Subscriber for byte counts.
type reporter struct {
	stdout, stderr io.Writer
	mode           progressMode
	width          int // terminal columns; 0 = unknown
	now            func() time.Time
	tick           <-chan time.Time
	stopTick       func()

	msgs chan message
	quit chan struct{}
	done chan struct{}

	mu sync.Mutex // guards the counters below
	progressState
}

// message is a line for stdout or stderr.
type message struct {
	text   string
	stderr bool
}

// progressState is what a status line shows.
type progressState struct {
	start      time.Time
	files      int   // files registered
	finished   int   // files done (either way)
	total      int64 // sum of known sizes
	unknown    int   // files of unknown size
	moved      int64 // net bytes transferred
	samples    []sample
	singleName string // the file, for a one-file run
}

type sample struct {
	at    time.Time
	bytes int64
}

// newReporter returns a running reporter. tick drives redraws; nil means
// a ticker at the mode's interval.
func newReporter(stdout, stderr io.Writer, mode progressMode, now func() time.Time, tick <-chan time.Time) *reporter {
	r := &reporter{
		stdout: stdout, stderr: stderr, mode: mode, now: now, tick: tick,
		msgs: make(chan message, 64), quit: make(chan struct{}), done: make(chan struct{}),
		stopTick: func() {},
	}
	if mode == progressTTY {
		r.width = terminalWidth(stderr)
	}
	if r.tick == nil && mode != progressOff {
		interval := plainInterval
		if mode == progressTTY {
			interval = ttyInterval
		}
		t := time.NewTicker(interval)
		r.tick, r.stopTick = t.C, t.Stop
	}
	r.start = now()
	go r.run()
	return r
}

// addFile registers a file to transfer, of size bytes (-1 if unknown).
func (r *reporter) addFile(name string, size int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files++
	if r.files == 1 {
		r.singleName = name
	} else {
		r.singleName = ""
	}
	if size < 0 {
		r.unknown++
	} else {
		r.total += size
	}
}

// learnSize records the size of a file registered with an unknown size.
func (r *reporter) learnSize(size int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unknown > 0 && size >= 0 {
		r.unknown--
		r.total += size
	}
}

// fileDone records that a file has finished.
func (r *reporter) fileDone() {
	r.mu.Lock()
	r.finished++
	r.mu.Unlock()
}

func (r *reporter) OnQueued(*transfer.Future) {}

func (r *reporter) OnProgress(_ *transfer.Future, n int64) {
	r.mu.Lock()
	r.moved += n
	r.mu.Unlock()
}

func (r *reporter) OnDone(*transfer.Future, error) {}

// println queues a line for stdout (or stderr).
func (r *reporter) println(text string, toStderr bool) {
	select {
	case r.msgs <- message{text: text, stderr: toStderr}:
	case <-r.done:
	}
}

// close stops the reporter after writing every queued line and a final
// summary (in the progress modes).
func (r *reporter) close() {
	close(r.quit)
	<-r.done
}

func (r *reporter) run() {
	defer close(r.done)
	defer r.stopTick()
	drawn := false // a status line is on the terminal
	clear := func() {
		if drawn {
			io.WriteString(r.stderr, "\r\x1b[K")
			drawn = false
		}
	}
	write := func(m message) {
		clear()
		w := r.stdout
		if m.stderr {
			w = r.stderr
		}
		io.WriteString(w, m.text+"\n")
	}
	for {
		select {
		case m := <-r.msgs:
			write(m)
			if r.mode == progressTTY {
				io.WriteString(r.stderr, r.status(true, false))
				drawn = true
			}
		case <-r.tick:
			switch r.mode {
			case progressTTY:
				io.WriteString(r.stderr, "\r"+r.status(true, true)+"\x1b[K")
				drawn = true
			case progressPlain:
				io.WriteString(r.stderr, r.status(false, true)+"\n")
			}
		case <-r.quit:
		drain:
			for {
				select {
				case m := <-r.msgs:
					write(m)
				default:
					break drain
				}
			}
			clear()
			if r.mode != progressOff {
				io.WriteString(r.stderr, r.summary()+"\n")
			}
			return
		}
	}
}

// status renders the status line; on ticks (onTick) it first records the
// counters for the rate, so the rate is measured at regular intervals.
func (r *reporter) status(tty, onTick bool) string {
	now := r.now()
	r.mu.Lock()
	if onTick {
		r.samples = append(r.samples, sample{now, r.moved})
	}
	// Keep the samples of the last rateWindow, and one before it.
	for len(r.samples) > 2 && now.Sub(r.samples[1].at) >= rateWindow {
		r.samples = r.samples[1:]
	}
	st := r.progressState
	st.samples = append([]sample(nil), r.samples...)
	r.mu.Unlock()
	return renderStatus(st, now, tty, r.width)
}

func (r *reporter) summary() string {
	now := r.now()
	r.mu.Lock()
	moved, files := r.moved, r.finished
	r.mu.Unlock()
	el := now.Sub(r.start)
	return fmt.Sprintf("%d file(s), %s in %s (%s)", files, formatBytes(moved), formatElapsed(el), formatRate(rateOf(moved, el)))
}

// renderStatus formats a status line. tty lines have a bar when the total
// is known and fit in width columns (when width > 0).
func renderStatus(st progressState, now time.Time, tty bool, width int) string {
	rate := currentRate(st.samples, now, st.moved, st.start)
	known := st.unknown == 0
	var b strings.Builder
	remaining := st.files - st.finished
	if st.files <= 1 && tty {
		// One file: percentage, bar, bytes, rate, ETA.
		if known && st.total > 0 {
			pct := float64(st.moved) / float64(st.total)
			fmt.Fprintf(&b, "%3d%% ", int(pct*100))
			barWidth := 30
			if width > 0 {
				barWidth = min(barWidth, max(width-60, 10))
			}
			b.WriteString(progressBar(pct, barWidth))
			fmt.Fprintf(&b, " %s/%s", formatBytes(st.moved), formatBytes(st.total))
		} else {
			b.WriteString(formatBytes(st.moved))
		}
		fmt.Fprintf(&b, "  %s", formatRate(rate))
		if known {
			fmt.Fprintf(&b, "  ETA %s", formatETA(st.total-st.moved, rate))
		}
		if st.singleName != "" && width > 0 && b.Len()+2+len(st.singleName) < width {
			b.WriteString("  " + st.singleName)
		}
	} else {
		if tty {
			b.WriteString("Completed ")
		} else {
			b.WriteString("progress: ")
		}
		if known {
			fmt.Fprintf(&b, "%s/%s", formatBytes(st.moved), formatBytes(st.total))
			if st.total > 0 {
				fmt.Fprintf(&b, " (%d%%)", st.moved*100/st.total)
			}
		} else {
			fmt.Fprintf(&b, "%s", formatBytes(st.moved))
		}
		fmt.Fprintf(&b, ", %s", formatRate(rate))
		if known {
			fmt.Fprintf(&b, ", ETA %s", formatETA(st.total-st.moved, rate))
		}
		if st.files > 1 {
			fmt.Fprintf(&b, ", %d of %d file(s) remaining", remaining, st.files)
		}
	}
	line := b.String()
	if tty && width > 0 && len(line) >= width {
		line = line[:width-1]
	}
	return line
}

// currentRate is the rate over the samples, or since start when there is
// only one.
func currentRate(samples []sample, now time.Time, moved int64, start time.Time) float64 {
	if len(samples) >= 2 {
		first, last := samples[0], samples[len(samples)-1]
		return rateOf(last.bytes-first.bytes, last.at.Sub(first.at))
	}
	return rateOf(moved, now.Sub(start))
}

func rateOf(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / d.Seconds()
}

func progressBar(frac float64, width int) string {
	frac = min(max(frac, 0), 1)
	full := int(frac * float64(width))
	var b strings.Builder
	b.WriteByte('[')
	b.WriteString(strings.Repeat("=", full))
	if full < width {
		b.WriteByte('>')
		b.WriteString(strings.Repeat(" ", width-full-1))
	}
	b.WriteByte(']')
	return b.String()
}

// formatBytes prints n with a binary unit, as the AWS CLI does.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= unit
		if f < unit && f > -unit || u == "TiB" {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return ""
}

func formatRate(bps float64) string {
	return formatBytes(int64(bps)) + "/s"
}

// formatETA is the time left for left bytes at rate, or "--" when unknown.
func formatETA(left int64, rate float64) string {
	if left <= 0 {
		return "0s"
	}
	if rate <= 0 {
		return "--"
	}
	return formatElapsed(time.Duration(float64(left) / rate * float64(time.Second)))
}

// formatElapsed rounds d for display: 7s, 1m05s, 2h03m, or 0.35s below a
// second.
func formatElapsed(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
