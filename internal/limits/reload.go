package limits

import (
	"context"
	"fmt"

	"github.com/s3limit/s3limit/internal/filewatch"
)

// Run follows the configuration file until ctx ends, then returns nil.
// ReloadDelay after the last change it reads the file (see
// filewatch.Watch for what counts as a change): a valid new version is
// put in force, an invalid one is logged and counted and the last good
// configuration stays, and a deleted file removes all limits. Without
// ConfigPath Run just waits for ctx.
// With a Fleet, Run runs the Fleet instead and does not watch the file.
//
// Run returns an error only when the watch cannot be set up. Call it once.
func (l *Limits) Run(ctx context.Context) error {
	if l.opts.Fleet != nil {
		// The fleet's document is in force; the file is its cache.
		return l.opts.Fleet.Run(ctx)
	}
	if l.opts.ConfigPath == "" {
		<-ctx.Done()
		return nil
	}
	err := filewatch.Watch(ctx, l.opts.ConfigPath, l.opts.ReloadDelay, l.reload, func(err error) {
		l.log.Warn("circuit breaker file watch error", "path", l.opts.ConfigPath, "err", err)
	})
	if err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	return nil
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

// Reload re-reads the configuration file now, as Run does after a change
// (the server calls it on SIGHUP), and logs the outcome even when the file
// did not change: an operator who asked wants an answer. changed reports
// whether a new configuration was put in force. err is why the file, as
// it is now, is not in force (FileError), whether or not that was
// reported before; nil when it is in force or there is no ConfigPath.
// With a Fleet it reads nothing: the fleet's document is in force.
func (l *Limits) Reload() (changed bool, err error) {
	if l.opts.Fleet != nil {
		// The file is the cache of the fleet's document: re-reading it
		// could only put an edit of the cache in force on this server.
		l.log.Info("circuit breaker configuration comes from the fleet; the file is its cache and is not re-read (change it with the shell or the admin API)",
			"path", l.opts.ConfigPath)
		return false, nil
	}
	if l.opts.ConfigPath == "" {
		return false, nil
	}
	l.mu.Lock()
	changed, err = l.reloadLocked()
	l.mu.Unlock()
	if changed || err != nil {
		return changed, err // logged by reloadLocked
	}
	if err := l.FileError(); err != nil {
		l.log.Error("circuit breaker file unchanged and still rejected; keeping the last good one", "path", l.opts.ConfigPath, "err", err)
		return false, err
	}
	l.log.Info("circuit breaker file unchanged; its configuration is in force", "path", l.opts.ConfigPath)
	return false, nil
}
