package limits

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Run follows the configuration file until ctx ends, then returns nil. It
// watches the file's directory, so a new version written by rename
// (temporary file + rename, as Apply and most editors do), an edit in
// place and a deletion are all seen. ReloadDelay after the last change it
// reads the file: a valid new version is put in force, an invalid one is
// logged and counted and the last good configuration stays, and a deleted
// file removes all limits. Without ConfigPath Run just waits for ctx.
//
// Run returns an error only when the watch cannot be set up. Call it once.
func (l *Limits) Run(ctx context.Context) error {
	if l.opts.ConfigPath == "" {
		<-ctx.Done()
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("limits: watch %s: %w", l.opts.ConfigPath, err)
	}
	defer w.Close()
	dir, base := filepath.Split(filepath.Clean(l.opts.ConfigPath))
	if dir == "" {
		dir = "."
	}
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("limits: watch %s: %w", dir, err)
	}
	// The file may have changed between New and the start of the watch.
	l.reload()

	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if filepath.Base(ev.Name) == base {
				debounce.Reset(l.opts.ReloadDelay)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflowed event queue may have hidden a change: re-read.
			l.log.Warn("circuit breaker file watch error", "path", l.opts.ConfigPath, "err", err)
			debounce.Reset(l.opts.ReloadDelay)
		case <-debounce.C:
			l.reload()
		}
	}
}

// reload re-reads the file under l.mu and reports the result to the test
// hook.
func (l *Limits) reload() {
	l.mu.Lock()
	changed, err := l.reloadLocked()
	l.mu.Unlock()
	if l.reloaded != nil {
		l.reloaded(changed, err)
	}
}
