package cli

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/s3limit/s3limit/internal/server"
)

// reloadOnHangup makes SIGHUP re-read the server's configuration files,
// the convention of Unix daemons, instead of ending the process (the
// signal's default action, which would cut off every request in flight).
// Reloads run one at a time on their own goroutine; the server keeps
// serving throughout. stop ends it; call it once the server has stopped.
func reloadOnHangup(srv *server.Server, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-hup:
				log.Info("SIGHUP: reloading the configuration files")
				_ = srv.Reload() // logs the outcome of each file
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
		<-finished
	}
}
