package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/s3limit/s3limit/bandwidth"
	"github.com/s3limit/s3limit/internal/fleet"
	"github.com/s3limit/s3limit/internal/gateway"
	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server"
)

// serveFlags are the flags of `s3limit serve`, named as `weed s3` names them.
type serveFlags struct {
	bind, dir, config, domainName string
	port                          int

	uploadLimitMB    int64
	fileUploadLimit  int64
	uploadMaxWait    time.Duration
	circuitBreaker   string
	throttleStatus   int
	metricsPort      int
	metricsIP        string
	metricsNamespace string
	shutdownDelay    time.Duration
	shutdownTimeout  time.Duration
	quiet            bool
	logFormat        string
	logLevel         string
	idleTimeout      time.Duration
	minTransferRate  string

	upstream, upstreamRegion          string
	upstreamAccessKey, upstreamSecret string
	upstreamVirtualHost               bool
	upstreamTimeout                   time.Duration

	redisURL, redisPrefix string
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.bind, "ip.bind", "127.0.0.1", "IP address to listen on")
	fs.IntVar(&f.port, "port", 8333, "S3 API port")
	fs.StringVar(&f.dir, "dir", "./data", "data directory, in both modes: generated credentials, the circuit breaker file and its last good copy, and the embedded store's objects")
	fs.StringVar(&f.config, "config", "", "identities JSON file (SeaweedFS s3.json shape), reloaded on change and on SIGHUP; default: S3LIMIT_ACCESS_KEY/S3LIMIT_SECRET_KEY or generated credentials")
	fs.StringVar(&f.domainName, "domainName", "", "domain for virtual-hosted-style buckets (<bucket>.<domainName>)")
	fs.Int64Var(&f.uploadLimitMB, "concurrentUploadLimitMB", 128, "limit total concurrent upload size in MiB; uploads beyond it wait (0 = unlimited)")
	fs.Int64Var(&f.fileUploadLimit, "concurrentFileUploadLimit", 0, "limit number of concurrent uploads; uploads beyond it wait (0 = unlimited)")
	fs.DurationVar(&f.uploadMaxWait, "concurrentUploadMaxWait", 0, "answer SlowDown to an upload that waited this long (0 = wait as long as the client does)")
	fs.StringVar(&f.circuitBreaker, "circuitBreaker", "", "circuit breaker JSON file, reloaded on change and on SIGHUP (default <dir>/circuit_breaker.json)")
	fs.IntVar(&f.throttleStatus, "throttleStatus", http.StatusTooManyRequests, "HTTP status of circuit-breaker rejections: 429 or 503")
	fs.IntVar(&f.metricsPort, "metricsPort", 0, "Prometheus metrics port (0 = off)")
	fs.StringVar(&f.metricsIP, "metricsIp", "", "Prometheus metrics listen address (default: -ip.bind)")
	fs.StringVar(&f.metricsNamespace, "metricsNamespace", "s3limit", "prefix of metric names (seaweedfs gives SeaweedFS's names)")
	fs.DurationVar(&f.shutdownDelay, "shutdownDelay", 5*time.Second, "on SIGINT/SIGTERM, how long to go on serving with the readiness probe answering 503 before the port closes, so load balancers move traffic away (0 = none)")
	fs.DurationVar(&f.shutdownTimeout, "shutdownTimeout", 30*time.Second, "on SIGINT/SIGTERM, once the port is closed, how long in-flight requests may finish")
	fs.BoolVar(&f.quiet, "quiet", false, "no access log")
	fs.StringVar(&f.logFormat, "logFormat", "text", "log format: text (key=value) or json (one object per line)")
	fs.StringVar(&f.logLevel, "logLevel", "info", "least level logged: debug (adds health probes to the access log), info, warn or error")
	fs.DurationVar(&f.idleTimeout, "idleTimeout", server.DefaultIdleTimeout, "longest a request body or response may make no progress while the server waits on the client")
	fs.StringVar(&f.minTransferRate, "minTransferRate", "1KB/s", "least average `rate` a client must keep over each -idleTimeout it is waited on: 1KB/s, 1048576, 0 = off")
	fs.StringVar(&f.upstream, "upstream", "", "gateway mode: URL of the S3-compatible store to front (e.g. http://127.0.0.1:9000) instead of the embedded store")
	fs.StringVar(&f.upstreamRegion, "upstreamRegion", "us-east-1", "region requests to the upstream are signed for")
	fs.StringVar(&f.upstreamAccessKey, "upstreamAccessKey", "", "upstream access key (default $S3LIMIT_UPSTREAM_ACCESS_KEY)")
	fs.StringVar(&f.upstreamSecret, "upstreamSecretKey", "", "upstream secret key (default $S3LIMIT_UPSTREAM_SECRET_KEY)")
	fs.BoolVar(&f.upstreamVirtualHost, "upstreamVirtualHost", false, "address upstream buckets virtual-hosted style (<bucket>.<host>) instead of path style")
	fs.DurationVar(&f.upstreamTimeout, "upstreamTimeout", gateway.DefaultResponseHeaderTimeout, "how long to wait for the upstream's response headers after sending a request (negative = no limit)")
	fs.StringVar(&f.redisURL, "redis", "", "share the circuit-breaker configuration and every limit with the other servers using this Redis: redis://[user:pass@]host:port/db or rediss:// (default $S3LIMIT_REDIS_URL; none: limits are per server)")
	fs.StringVar(&f.redisPrefix, "redisPrefix", fleet.DefaultPrefix, "prefix of the fleet's Redis keys, so several fleets can share one Redis")
}

func (f *serveFlags) validate() error {
	switch {
	case f.port < 0 || f.port > 65535:
		return fmt.Errorf("-port %d: must be 0..65535", f.port)
	case f.metricsPort < 0 || f.metricsPort > 65535:
		return fmt.Errorf("-metricsPort %d: must be 0..65535", f.metricsPort)
	case f.uploadLimitMB < 0:
		return fmt.Errorf("-concurrentUploadLimitMB %d: must be >= 0", f.uploadLimitMB)
	case f.uploadLimitMB > 1<<43:
		return fmt.Errorf("-concurrentUploadLimitMB %d: too large", f.uploadLimitMB)
	case f.fileUploadLimit < 0:
		return fmt.Errorf("-concurrentFileUploadLimit %d: must be >= 0", f.fileUploadLimit)
	case f.uploadMaxWait < 0:
		return fmt.Errorf("-concurrentUploadMaxWait %s: must be >= 0", f.uploadMaxWait)
	case f.throttleStatus != http.StatusTooManyRequests && f.throttleStatus != http.StatusServiceUnavailable:
		return fmt.Errorf("-throttleStatus %d: must be 429 or 503", f.throttleStatus)
	case f.idleTimeout <= 0:
		return fmt.Errorf("-idleTimeout %s: must be > 0", f.idleTimeout)
	case f.shutdownTimeout < 0:
		return fmt.Errorf("-shutdownTimeout %s: must be >= 0", f.shutdownTimeout)
	case f.shutdownDelay < 0:
		return fmt.Errorf("-shutdownDelay %s: must be >= 0", f.shutdownDelay)
	case net.ParseIP(f.bind) == nil && f.bind != "" && f.bind != "localhost":
		return fmt.Errorf("-ip.bind %q: not an IP address", f.bind)
	}
	if _, err := f.minRate(); err != nil {
		return err
	}
	if err := metrics.CheckNamespace(f.metricsNamespace); err != nil {
		return fmt.Errorf("-metricsNamespace %q: %v", f.metricsNamespace, err)
	}
	if _, err := f.newLogger(io.Discard); err != nil {
		return err
	}
	if f.metricsPort != 0 && f.metricsPort == f.port && sameListenIP(f.bind, f.metricsIPOrBind()) {
		return fmt.Errorf("-metricsPort %d is the S3 API's -port: the metrics listener needs a port of its own", f.metricsPort)
	}
	return nil
}

// metricsIPOrBind is the metrics listener's address: -metricsIp, else -ip.bind.
func (f *serveFlags) metricsIPOrBind() string {
	if f.metricsIP != "" {
		return f.metricsIP
	}
	return f.bind
}

// sameListenIP reports whether listeners on a and b with the same port
// would collide: the same address, or either one all addresses.
func sameListenIP(a, b string) bool {
	unspecified := func(s string) bool {
		ip := net.ParseIP(s)
		return s == "" || ip != nil && ip.IsUnspecified()
	}
	if unspecified(a) || unspecified(b) {
		return true
	}
	ipa, ipb := net.ParseIP(a), net.ParseIP(b)
	if ipa != nil && ipb != nil {
		return ipa.Equal(ipb)
	}
	return a == b
}

// minRate parses -minTransferRate: a rate in the ParseRate grammar, or 0.
func (f *serveFlags) minRate() (int64, error) {
	if strings.TrimSpace(f.minTransferRate) == "0" {
		return 0, nil
	}
	rate, err := bandwidth.ParseRate(f.minTransferRate)
	if err != nil {
		return 0, fmt.Errorf("-minTransferRate %q: %v", f.minTransferRate, err)
	}
	return rate, nil
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var f serveFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &ExitError{Code: ExitUsage, Err: errSilent}
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	if err := f.validate(); err != nil {
		return usageError("%v", err)
	}
	// The access log is buffered (a write per request costs more CPU
	// than verifying its signature); other lines go out at once, after
	// the access log lines before them. Closed last: after shutdown.
	logs := server.NewLogBuffer(env.Stderr, 0, 0)
	defer logs.Close()
	log, _ := f.newLogger(logs.Direct()) // validated above
	accessLog, _ := f.newLogger(logs)
	if f.quiet {
		accessLog = slog.New(slog.DiscardHandler)
	}

	// The data directory holds the generated credentials and the watched
	// circuit-breaker file in both modes.
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return fmt.Errorf("-dir: %w", err)
	}
	ids, err := loadIdentities(env, &f)
	if err != nil {
		return err
	}
	cbPath := f.circuitBreaker
	if cbPath == "" {
		cbPath = filepath.Join(f.dir, "circuit_breaker.json")
	}
	minRate, _ := f.minRate() // validated above
	cfg := server.Config{
		IdleTimeout:      f.idleTimeout,
		MinTransferRate:  minRate,
		Dir:              f.dir,
		DomainName:       f.domainName,
		Identities:       ids,
		MetricsNamespace: f.metricsNamespace,
		Logger:           log,
		AccessLog:        accessLog,
		Limits: limits.Options{
			ConcurrentUploadLimitBytes: f.uploadLimitMB << 20,
			ConcurrentFileUploadLimit:  f.fileUploadLimit,
			UploadMaxWait:              f.uploadMaxWait,
			ThrottleStatus:             f.throttleStatus,
			ConfigPath:                 cbPath,
			LastGoodPath:               filepath.Join(f.dir, lastGoodFile),
		},
	}
	if f.config != "" {
		// Checked above for a clear usage error; the server reads the
		// file itself, and again on each change.
		cfg.Identities, cfg.IdentitiesFile = nil, f.config
	}
	if f.upstream != "" {
		ak, sk := f.upstreamAccessKey, f.upstreamSecret
		if ak == "" {
			ak = env.Getenv("S3LIMIT_UPSTREAM_ACCESS_KEY")
		}
		if sk == "" {
			sk = env.Getenv("S3LIMIT_UPSTREAM_SECRET_KEY")
		}
		if ak == "" || sk == "" {
			return usageError("-upstream needs credentials: -upstreamAccessKey/-upstreamSecretKey or S3LIMIT_UPSTREAM_ACCESS_KEY/S3LIMIT_UPSTREAM_SECRET_KEY")
		}
		gw, err := gateway.New(gateway.Config{
			Upstream:              f.upstream,
			Region:                f.upstreamRegion,
			AccessKey:             ak,
			SecretKey:             sk,
			VirtualHost:           f.upstreamVirtualHost,
			ResponseHeaderTimeout: f.upstreamTimeout,
			Logger:                log,
		})
		if err != nil {
			return usageError("-upstream: %v", err)
		}
		cfg.Backend = gw
	}
	if u := cmp.Or(f.redisURL, env.Getenv("S3LIMIT_REDIS_URL")); u != "" {
		fl, err := fleet.New(fleet.Options{URL: u, Prefix: f.redisPrefix, Logger: log})
		if err != nil {
			return usageError("-redis: %v", err)
		}
		defer fl.Close()
		cfg.Limits.Fleet = fl
	}
	srv, err := server.New(cfg)
	var cerr *limits.ConfigError
	if errors.As(err, &cerr) {
		// An invalid circuit-breaker file and no last good configuration:
		// bad input, as `s3limit check` reports it.
		return &ExitError{Code: ExitUsage, Err: err}
	}
	if err != nil {
		return err
	}
	defer srv.Close()
	srv.Metrics().SetBuildInfo(version())
	si := startInfo{identities: ids, identitiesFrom: identitiesSource(env, &f), limitsFile: cbPath}
	return serveUntilDone(ctx, log, &f, si, srv)
}

// lastGoodFile is the name, inside the data directory, of the copy of the
// last circuit-breaker configuration put in force, which a restart with an
// invalid file starts with.
const lastGoodFile = "circuit_breaker.last-good.json"

func loadIdentities(env *Env, f *serveFlags) (*s3api.IdentityConfig, error) {
	if f.config != "" {
		ids, err := s3api.LoadIdentityFile(f.config)
		if err != nil {
			return nil, usageError("-config: %v", err)
		}
		return ids, nil
	}
	ids, created, err := server.DefaultIdentities(f.dir, env.Getenv("S3LIMIT_ACCESS_KEY"), env.Getenv("S3LIMIT_SECRET_KEY"))
	if err != nil {
		return nil, err
	}
	if created {
		c := ids.Identities[0].Credentials[0]
		fmt.Fprintf(env.Stderr, "Generated credentials (stored in %s, shown only now):\n  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s\n",
			filepath.Join(f.dir, server.CredentialsFile), c.AccessKey, c.SecretKey)
	}
	return ids, nil
}

// serveUntilDone listens, serves until ctx is cancelled (SIGINT/SIGTERM),
// then shuts down in three steps: for -shutdownDelay it goes on serving
// while the readiness probe answers 503 (and responses close their
// connections), so that load balancers move traffic away while clients
// can still reach the server (a multipart abort after a cancelled upload);
// then it stops accepting connections and lets the requests in flight
// finish for up to -shutdownTimeout; what is still running then is cut
// off.
func serveUntilDone(ctx context.Context, log *slog.Logger, f *serveFlags, si startInfo, srv *server.Server) error {
	addr := net.JoinHostPort(f.bind, strconv.Itoa(f.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-port %d (the S3 API listener): %w", f.port, err)
	}
	hs := server.NewHTTPServer(addr, srv, log)
	servers := []*http.Server{hs}
	listeners := []net.Listener{server.Listener(ln)}
	metricsURL := ""
	if f.metricsPort > 0 {
		maddr := net.JoinHostPort(f.metricsIPOrBind(), strconv.Itoa(f.metricsPort))
		mln, err := net.Listen("tcp", maddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("-metricsPort %d (the metrics listener): %w", f.metricsPort, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", srv.Metrics().Handler())
		servers = append(servers, server.NewHTTPServer(maddr, mux, log))
		listeners = append(listeners, mln)
		metricsURL = "http://" + mln.Addr().String() + "/metrics"
	}
	defer reloadOnHangup(srv, log)()
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	errc := make(chan error, len(servers)+1)
	go func() { _ = srv.Run(runCtx) }() // Run logs a watch it cannot set up
	for i, s := range servers {
		go func() { errc <- s.Serve(listeners[i]) }()
	}
	logStart(log, f, si, srv, "http://"+ln.Addr().String(), metricsURL)

	select {
	case err := <-errc:
		for _, s := range servers {
			s.Close()
		}
		return err
	case <-ctx.Done():
	}
	srv.Drain()
	if f.shutdownDelay > 0 {
		log.Info("draining: the readiness probe answers 503; still serving", "delay", f.shutdownDelay)
		t := time.NewTimer(f.shutdownDelay)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			for _, s := range servers {
				s.Close()
			}
			return err
		}
	}
	log.Info("shutting down: no new connections; waiting for the requests in flight", "timeout", f.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	var firstErr error
	for _, s := range servers { // the S3 API first: metrics stay up while it drains
		if err := s.Shutdown(sctx); err != nil {
			if s == hs {
				srv.CutOff()
			}
			s.Close()
			if firstErr == nil {
				firstErr = fmt.Errorf("shutdown: %w (requests still in flight after -shutdownTimeout %s were cut off)", err, f.shutdownTimeout)
			}
		}
	}
	if firstErr == nil {
		log.Info("stopped")
	}
	return firstErr
}
