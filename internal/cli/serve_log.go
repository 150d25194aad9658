package cli

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server"
)

// newLogger returns the logger of -logFormat and -logLevel writing to w,
// or an error naming the flag that is wrong.
func (f *serveFlags) newLogger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(f.logLevel) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("-logLevel %q: use debug, info, warn or error", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(f.logFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-logFormat %q: use text or json", f.logFormat)
}

// startInfo is what the start-up summary says of the configuration
// beyond the flags.
type startInfo struct {
	identities     *s3api.IdentityConfig
	identitiesFrom string // the file, variables or stored credentials they came from
	limitsFile     string
}

// identitiesSource says where the identities came from, as loadIdentities
// and server.DefaultIdentities choose them.
func identitiesSource(env *Env, f *serveFlags) string {
	switch {
	case f.config != "":
		return f.config
	case env.Getenv("S3LIMIT_ACCESS_KEY") != "":
		return "S3LIMIT_ACCESS_KEY/S3LIMIT_SECRET_KEY"
	}
	return filepath.Join(f.dir, server.CredentialsFile)
}

// logStart logs the start-up banner, one structured line saying where the
// server serves, then a summary of what is in force.
func logStart(log *slog.Logger, f *serveFlags, si startInfo, srv *server.Server, s3URL, metricsURL string) {
	mode := "embedded store"
	if f.upstream != "" {
		mode = "gateway"
	}
	log.Info("s3limit serving S3", "url", s3URL, "mode", mode, "version", version(), "go", runtime.Version())

	anonymous := false
	for _, id := range si.identities.Identities {
		anonymous = anonymous || id.Name == s3api.AnonymousIdentity
	}
	cfg, _ := srv.Limits().Config()
	if metricsURL == "" {
		metricsURL = "off"
	}
	store := "embedded in " + f.dir
	if f.upstream != "" {
		store = "upstream " + f.upstream
	}
	uploads := "unlimited"
	if f.uploadLimitMB > 0 {
		uploads = fmt.Sprintf("%d MiB", f.uploadLimitMB)
	}
	if f.fileUploadLimit > 0 {
		uploads += fmt.Sprintf(", %d files", f.fileUploadLimit)
	}
	log.Info("configuration in force",
		"identities", len(si.identities.Identities),
		"anonymous", anonymous,
		"identities_from", si.identitiesFrom,
		"limits_file", si.limitsFile,
		"limits", sectionsSummary(cfg),
		"store", store,
		"s3", s3URL,
		"metrics", metricsURL,
		"upload_limit", uploads,
		"throttle_status", f.throttleStatus,
		"shutdown_delay", f.shutdownDelay.String(),
		"shutdown_timeout", f.shutdownTimeout.String(),
		"access_log", !f.quiet,
	)
}

// sectionsSummary names the sections of a circuit-breaker configuration:
// "global, 2 buckets, 1 user", with "(disabled)" or "(shadow)" after a
// global section that is; "none" for no section.
func sectionsSummary(cfg *limits.Config) string {
	if cfg == nil {
		return "none"
	}
	var parts []string
	if g := cfg.Global; g != nil {
		switch {
		case !g.Enabled:
			parts = append(parts, "global (disabled)")
		case g.Shadow:
			parts = append(parts, "global (shadow)")
		default:
			parts = append(parts, "global")
		}
	}
	plural := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	if n := len(cfg.Buckets); n > 0 {
		parts = append(parts, plural(n, "bucket"))
	}
	if n := len(cfg.Users); n > 0 {
		parts = append(parts, plural(n, "user"))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
