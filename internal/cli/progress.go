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

// Progress intervals: how often the transfer package delivers a snapshot,
// and so how often the status is drawn.
const (
	ttyInterval   = 200 * time.Millisecond
	plainInterval = 5 * time.Second
)

// interval is the snapshot interval of the mode; 0 for no periodic
// snapshots.
func (m progressMode) interval() time.Duration {
	switch m {
	case progressTTY:
		return ttyInterval
	case progressPlain:
		return plainInterval
	}
	return 0
}

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

// reporter owns the terminal of a cp run: one goroutine (run) writes
// every status line and every message, so status redraws and
// "upload: ..." lines never interleave. The status shows the latest
// transfer.Progress snapshot handed to update (a WithProgress function).
type reporter struct {
	stdout, stderr io.Writer
	mode           progressMode
	width          int    // terminal columns; 0 = unknown
	name           string // the file of a one-file run, shown on a terminal

	msgs   chan message
	redraw chan struct{} // a new snapshot is waiting; capacity 1
	quit   chan struct{}
	done   chan struct{}

	mu   sync.Mutex // guards last
	last transfer.Progress
}

// message is a line for stdout or stderr.
type message struct {
	text   string
	stderr bool
}

// newReporter returns a running reporter. name is the file of a one-file
// run ("" for several).
func newReporter(stdout, stderr io.Writer, mode progressMode, name string) *reporter {
	r := &reporter{
		stdout: stdout, stderr: stderr, mode: mode, name: name,
		msgs: make(chan message, 64), redraw: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}),
		last: transfer.Progress{Total: -1, ETA: -1},
	}
	if mode == progressTTY {
		r.width = terminalWidth(stderr)
	}
	go r.run()
	return r
}

// update records a snapshot and asks for a redraw. It never blocks.
func (r *reporter) update(p transfer.Progress) {
	r.mu.Lock()
	r.last = p
	r.mu.Unlock()
	select {
	case r.redraw <- struct{}{}:
	default:
	}
}

func (r *reporter) snapshot() transfer.Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// println queues a line for stdout (or stderr).
func (r *reporter) println(text string, toStderr bool) {
	select {
	case r.msgs <- message{text: text, stderr: toStderr}:
	case <-r.done:
	}
}

// close stops the reporter after writing every queued line and, in the
// progress modes, a summary of the last snapshot.
func (r *reporter) close() {
	close(r.quit)
	<-r.done
}

func (r *reporter) run() {
	defer close(r.done)
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
				io.WriteString(r.stderr, renderStatus(r.snapshot(), r.name, true, r.width))
				drawn = true
			}
		case <-r.redraw:
			p := r.snapshot()
			if p.Done {
				continue // the summary says it
			}
			switch r.mode {
			case progressTTY:
				io.WriteString(r.stderr, "\r"+renderStatus(p, r.name, true, r.width)+"\x1b[K")
				drawn = true
			case progressPlain:
				io.WriteString(r.stderr, renderStatus(p, r.name, false, 0)+"\n")
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
				io.WriteString(r.stderr, summary(r.snapshot())+"\n")
			}
			return
		}
	}
}

// summary is the last line of a run: files, bytes, time, average rate.
func summary(p transfer.Progress) string {
	return fmt.Sprintf("%d file(s), %s in %s (%s)", p.ObjectsDone, transfer.FormatBytes(p.Bytes),
		formatElapsed(p.Elapsed), formatRate(rateOf(p.Bytes, p.Elapsed)))
}

// renderStatus formats a status line. tty lines have a bar when the total
// is known, name the file of a one-file run, and fit in width columns
// (when width > 0).
func renderStatus(p transfer.Progress, name string, tty bool, width int) string {
	known := p.Total >= 0
	var b strings.Builder
	if p.Objects <= 1 && tty {
		// One file: percentage, bar, bytes, rate, ETA.
		if known && p.Total > 0 {
			pct := min(max(float64(p.Bytes)/float64(p.Total), 0), 1)
			fmt.Fprintf(&b, "%3d%% ", int(pct*100))
			barWidth := 30
			if width > 0 {
				barWidth = min(barWidth, max(width-60, 10))
			}
			b.WriteString(progressBar(pct, barWidth))
			fmt.Fprintf(&b, " %s/%s", transfer.FormatBytes(p.Bytes), transfer.FormatBytes(p.Total))
		} else {
			b.WriteString(transfer.FormatBytes(p.Bytes))
		}
		fmt.Fprintf(&b, "  %s", formatRate(p.Rate))
		if known {
			fmt.Fprintf(&b, "  ETA %s", formatETA(p.ETA))
		}
		if name != "" && width > 0 && b.Len()+2+len(name) < width {
			b.WriteString("  " + name)
		}
	} else {
		if tty {
			b.WriteString("Completed ")
		} else {
			b.WriteString("progress: ")
		}
		if known {
			fmt.Fprintf(&b, "%s/%s", transfer.FormatBytes(p.Bytes), transfer.FormatBytes(p.Total))
			if p.Total > 0 {
				fmt.Fprintf(&b, " (%d%%)", min(max(p.Bytes*100/p.Total, 0), 100))
			}
		} else {
			b.WriteString(transfer.FormatBytes(p.Bytes))
		}
		fmt.Fprintf(&b, ", %s", formatRate(p.Rate))
		if known {
			fmt.Fprintf(&b, ", ETA %s", formatETA(p.ETA))
		}
		if p.Objects > 1 {
			fmt.Fprintf(&b, ", %d of %d file(s) remaining", p.Objects-p.ObjectsDone, p.Objects)
		}
	}
	line := b.String()
	if tty && width > 0 && len(line) >= width {
		line = line[:width-1]
	}
	return line
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

func formatRate(bps float64) string {
	return transfer.FormatBytes(int64(bps)) + "/s"
}

// formatETA formats the time left, "--" when it is not known (negative).
func formatETA(d time.Duration) string {
	if d < 0 {
		return "--"
	}
	if d == 0 {
		return "0s"
	}
	return formatElapsed(d)
}

// formatElapsed rounds d for display: 7.0s, 1m05s, 2h03m, or 0.35s below
// a second.
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
