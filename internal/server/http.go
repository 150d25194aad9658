package server

import (
	"log/slog"
	"net/http"
	"time"
)

// HTTP server limits. Bodies are bounded by the transfer rule
// (progress.go) instead of a whole-request ReadTimeout or WriteTimeout, so
// large transfers are not cut off while stalled clients are.
const (
	ReadHeaderTimeout = 15 * time.Second
	IdleTimeout       = 2 * time.Minute
	// MaxHeaderBytes leaves room for S3's 2 KiB of user metadata, long
	// presigned URLs and SigV4 headers, and little more.
	MaxHeaderBytes = 64 << 10
)

// NewHTTPServer returns an http.Server for h with the timeouts above.
func NewHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           releaseAfter(h),
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
