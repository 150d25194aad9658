// Package filewatch tells a configuration's owner when its file changes,
// so that the file can be re-read without a restart.
package filewatch

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch follows the file at path until ctx ends, then returns nil.
//
// It calls changed once as soon as the watch is in place (the file may
// have changed since its owner last read it), then once per burst of
// changes: delay after the last event that names the file, because
// editors and atomic writers touch a file several times for one save.
// It watches the file's directory, so a new version renamed over the file
// (temporary file + rename), an edit in place, a creation and a deletion
// are all seen; events of other files in the directory are ignored. A
// watch error (such as an overflowed event queue, which may hide a change)
// is passed to onError, when set, and leads to a call as well.
//
// changed and onError run on Watch's goroutine, one call at a time. Watch
// returns an error only when the watch cannot be set up, for example when
// the directory does not exist. delay must be positive.
func Watch(ctx context.Context, path string, delay time.Duration, changed func(), onError func(error)) error {
	if delay <= 0 {
		return fmt.Errorf("filewatch: delay %v must be positive", delay)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("filewatch: watch %s: %w", path, err)
	}
	defer w.Close()
	dir, base := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("filewatch: watch %s: %w", dir, err)
	}
	changed()

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
				debounce.Reset(delay)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			if onError != nil {
				onError(err)
			}
			debounce.Reset(delay)
		case <-debounce.C:
			changed()
		}
	}
}
