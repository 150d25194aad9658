// Package servertest starts a complete s3limit server on a loopback port
// for end-to-end tests, and builds aws-sdk-go-v2 clients for it.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server"
)

// Credentials of the identities every test server has.
const (
	AdminAccessKey  = "AKIAADMINTEST0000000"
	AdminSecretKey  = "adminSecretKeyForTests0000000000000000000"
	ReaderAccessKey = "AKIAREADERTEST000000"
	ReaderSecretKey = "readerSecretKeyForTests000000000000000000"
)

// Options adjust the test server. The zero value is a server on the
// embedded store in a temporary directory with no limits.
type Options struct {
	// Limits configures the limiter. ConfigPath "" means
	// <Dir>/circuit_breaker.json.
	Limits limits.Options
	// CircuitBreaker, when non-nil, is written to the config file before
	// the server starts.
	CircuitBreaker *limits.Config
	// Backend replaces the embedded store (gateway tests).
	Backend http.Handler
	// Dir is the data directory; "" = t.TempDir().
	Dir string
	// Identities replaces the default admin + reader identities.
	Identities *s3api.IdentityConfig
	// IdentitiesFile, when set, is the identities file the server reads
	// and follows (server.Config.IdentitiesFile) instead of Identities.
	IdentitiesFile string
	// MetricsNamespace; "" = "s3limit".
	MetricsNamespace string
	// Log receives the server log; nil = discarded.
	Log io.Writer
	// Now is the server's clock for signature checks; nil = time.Now.
	Now func() time.Time
	// DomainName enables virtual-hosted-style buckets; "" = path style only.
	DomainName string
	// IdleTimeout and MinTransferRate as in server.Config; 0 = the
	// default idle timeout and no minimum rate.
	IdleTimeout     time.Duration
	MinTransferRate int64
	// Wrap, when non-nil, wraps the server's handler, so a test can see
	// or hold requests as they arrive; nil = the server alone.
	Wrap func(http.Handler) http.Handler
	// AccessLog receives the access log in slog's text format, health
	// probes included (level Debug); nil = none.
	AccessLog io.Writer
	// ProbeInterval as in server.Config, except that 0 means no probes,
	// so that gateway tests see exactly the requests they send upstream.
	ProbeInterval time.Duration
}

// Server is a running test server.
type Server struct {
	*server.Server
	URL        string // http://127.0.0.1:port
	Dir        string
	ConfigPath string // circuit-breaker file
	AccessKey  string // an identity with every action, Admin included
	SecretKey  string
	HTTP       *http.Server
}

// DefaultIdentities: "admin" may do everything; "reader" may Read and
// List the bucket "public" only.
func DefaultIdentities() *s3api.IdentityConfig {
	return &s3api.IdentityConfig{Identities: []s3api.Identity{
		{Name: "admin", Credentials: []s3api.Credential{{AccessKey: AdminAccessKey, SecretKey: AdminSecretKey}},
			Actions: []string{"Admin", "Read", "Write", "List", "Tagging"}},
		{Name: "reader", Credentials: []s3api.Credential{{AccessKey: ReaderAccessKey, SecretKey: ReaderSecretKey}},
			Actions: []string{"Read:public", "List:public"}},
	}}
}

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	dir := opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	ids := opts.Identities
	if ids == nil && opts.IdentitiesFile == "" {
		ids = DefaultIdentities()
	}
	lopts := opts.Limits
	if lopts.ConfigPath == "" {
		lopts.ConfigPath = filepath.Join(dir, "circuit_breaker.json")
	}
	if opts.CircuitBreaker != nil {
		if err := limits.WriteConfigFile(lopts.ConfigPath, opts.CircuitBreaker); err != nil {
			t.Fatalf("servertest: %v", err)
		}
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	accessLog := slog.New(slog.DiscardHandler)
	if opts.AccessLog != nil {
		accessLog = slog.New(slog.NewTextHandler(opts.AccessLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	probeInterval := opts.ProbeInterval
	if probeInterval == 0 {
		probeInterval = -1
	}
	srv, err := server.New(server.Config{
		Dir:              dir,
		DomainName:       opts.DomainName,
		IdleTimeout:      opts.IdleTimeout,
		MinTransferRate:  opts.MinTransferRate,
		Identities:       ids,
		IdentitiesFile:   opts.IdentitiesFile,
		Limits:           lopts,
		MetricsNamespace: opts.MetricsNamespace,
		Backend:          opts.Backend,
		Logger:           log,
		AccessLog:        accessLog,
		ProbeInterval:    probeInterval,
		Now:              opts.Now,
	})
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatalf("servertest: %v", err)
	}
	var handler http.Handler = srv
	if opts.Wrap != nil {
		handler = opts.Wrap(srv)
	}
	hs := server.NewHTTPServer(ln.Addr().String(), handler, log)
	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = srv.Run(runCtx)
	}()
	serveDone := make(chan struct{})
	go func() {
		defer close(serveDone)
		_ = hs.Serve(server.Listener(ln))
	}()
	s := &Server{
		Server:     srv,
		URL:        "http://" + ln.Addr().String(),
		Dir:        dir,
		ConfigPath: lopts.ConfigPath,
		AccessKey:  AdminAccessKey,
		SecretKey:  AdminSecretKey,
		HTTP:       hs,
	}
	t.Cleanup(func() {
		_ = hs.Close()
		<-serveDone
		stopRun()
		<-runDone
		_ = srv.Close()
	})
	return s
}

// Client returns an aws-sdk-go-v2 S3 client for the admin identity,
// path-style, with the SDK's retries off so tests see every response.
func (s *Server) Client() *s3.Client {
	return s.ClientFor(s.AccessKey, s.SecretKey)
}

// ClientFor returns a client with the given credentials.
func (s *Server) ClientFor(accessKey, secretKey string, optFns ...func(*s3.Options)) *s3.Client {
	return NewClient(s.URL, accessKey, secretKey, optFns...)
}

// NewClient builds a path-style client for any S3 endpoint without
// reading the environment (so AWS_CA_BUNDLE and profiles do not apply).
func NewClient(endpoint, accessKey, secretKey string, optFns ...func(*s3.Options)) *s3.Client {
	opts := s3.Options{
		BaseEndpoint:     aws.String(endpoint),
		Region:           "us-east-1",
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:       &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		RetryMaxAttempts: 1,
	}
	return s3.New(opts, optFns...)
}

// GetObject returns the body of an object, failing the test on an error.
func GetObject(t testing.TB, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject %s/%s: reading the body: %v", bucket, key, err)
	}
	return b
}
