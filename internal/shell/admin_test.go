package shell

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

func adminCreds() aws.Credentials {
	return aws.Credentials{AccessKeyID: servertest.AdminAccessKey, SecretAccessKey: servertest.AdminSecretKey}
}

func readerCreds() aws.Credentials {
	return aws.Credentials{AccessKeyID: servertest.ReaderAccessKey, SecretAccessKey: servertest.ReaderSecretKey}
}

// adminServer is a real s3limit server whose admin API the shell talks
// to. It counts the PUTs of the configuration the server accepted and can
// run a function as each such PUT arrives, before the server sees it.
type adminServer struct {
	*servertest.Server

	mu        sync.Mutex
	puts      int    // guarded by mu: PUTs answered 200
	beforePut func() // guarded by mu
}

// startAdminServer starts a server with servertest's identities: the
// admin identity holds the Admin action, the reader does not.
func startAdminServer(t *testing.T) *adminServer {
	t.Helper()
	s := &adminServer{}
	s.Server = servertest.Start(t, servertest.Options{Wrap: s.observe})
	return s
}

func (s *adminServer) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.URL.Path != s3api.AdminCircuitBreakerPath {
			next.ServeHTTP(w, r)
			return
		}
		s.mu.Lock()
		hook := s.beforePut
		s.mu.Unlock()
		if hook != nil {
			hook()
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusOK {
			s.mu.Lock()
			s.puts++
			s.mu.Unlock()
		}
	})
}

// Puts returns how many PUTs of the configuration the server accepted.
func (s *adminServer) Puts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

// BeforePut sets a function run as each PUT to the admin API arrives
// (e.g. another admin changing the configuration first). It runs on the
// server's goroutine: report failures with t.Error, not t.Fatal.
func (s *adminServer) BeforePut(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beforePut = f
}

// Config returns the configuration in force.
func (s *adminServer) Config() *limits.Config {
	cfg, _ := s.Limits().Config()
	return cfg
}

// SetConfig puts cfg in force as another admin would, without going
// through the admin API (so Puts does not count it).
func (s *adminServer) SetConfig(t *testing.T, cfg *limits.Config) {
	if _, err := s.Limits().Apply(cfg, ""); err != nil {
		t.Errorf("SetConfig: %v", err)
	}
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestAdminBackendLoadSave(t *testing.T) {
	srv := startAdminServer(t)
	initial := &limits.Config{Global: &limits.Section{Enabled: true, Actions: map[string]int64{"Read:count": 4}}}
	srv.SetConfig(t, initial)
	b, err := NewAdminBackend(srv.URL+"/", adminCreds())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg, etag, err := b.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if etag == "" || compact(t, cfg) != compact(t, initial) {
		t.Fatalf("Load = %s, etag %q", compact(t, cfg), etag)
	}
	next := &limits.Config{Buckets: map[string]*limits.Section{"abc": {Enabled: true, Actions: map[string]int64{"Write:bytes": 10}}}}
	saved, etag2, err := b.Save(ctx, next, etag)
	if err != nil {
		t.Fatal(err)
	}
	if etag2 == "" || etag2 == etag {
		t.Errorf("new etag %q (old %q)", etag2, etag)
	}
	if compact(t, saved) != compact(t, next) || compact(t, srv.Config()) != compact(t, next) {
		t.Errorf("saved %s, server has %s, want %s", compact(t, saved), compact(t, srv.Config()), compact(t, next))
	}
	// The old ETag is stale now.
	_, _, err = b.Save(ctx, initial, etag)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "PreconditionFailed") {
		t.Errorf("Save with a stale ETag: err = %v, want ErrConflict from PreconditionFailed", err)
	}
	if compact(t, srv.Config()) != compact(t, next) {
		t.Errorf("stale save changed the server: %s", compact(t, srv.Config()))
	}
}

func TestAdminBackendErrors(t *testing.T) {
	srv := startAdminServer(t)
	tests := []struct {
		name   string
		creds  aws.Credentials
		status int
		want   string
	}{
		{"non-admin", readerCreds(),
			http.StatusForbidden, "403 Forbidden: AccessDenied: the admin API needs an identity with the Admin action"},
		{"wrong secret", aws.Credentials{AccessKeyID: servertest.AdminAccessKey, SecretAccessKey: "nope"},
			http.StatusForbidden, "SignatureDoesNotMatch"},
		{"unknown key", aws.Credentials{AccessKeyID: "AKIANOBODY", SecretAccessKey: "x"},
			http.StatusForbidden, "InvalidAccessKeyId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewAdminBackend(srv.URL, tc.creds)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = b.Load(context.Background())
			var ae *AdminError
			if !errors.As(err, &ae) || ae.StatusCode != tc.status || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want status %d containing %q", err, tc.status, tc.want)
			}
		})
	}
}

func TestAdminBackendInvalidConfigRejected(t *testing.T) {
	srv := startAdminServer(t)
	b, err := NewAdminBackend(srv.URL, adminCreds())
	if err != nil {
		t.Fatal(err)
	}
	bad := &limits.Config{Global: &limits.Section{Actions: map[string]int64{"Reed:count": 1}}}
	_, _, err = b.Save(context.Background(), bad, "")
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request: InvalidArgument") || !strings.Contains(err.Error(), "Reed") {
		t.Errorf("err = %v, want the server's 400 InvalidArgument naming the bad key", err)
	}
	if srv.Puts() != 0 {
		t.Errorf("server stored %d configurations", srv.Puts())
	}
}

func TestAdminBackendUnreachable(t *testing.T) {
	srv := startAdminServer(t)
	url := srv.URL
	b, err := NewAdminBackend(url, adminCreds())
	if err != nil {
		t.Fatal(err)
	}
	b.Endpoint = "http://127.0.0.1:1"
	if _, _, err := b.Load(context.Background()); err == nil || strings.ContainsAny(err.Error(), "\n") {
		t.Errorf("err = %v, want a one-line connection error", err)
	}
}

func TestNewAdminBackendChecksInput(t *testing.T) {
	tests := []struct {
		endpoint string
		creds    aws.Credentials
		want     string
	}{
		{"127.0.0.1:8333", adminCreds(), "is not a URL"},
		{"ftp://host", adminCreds(), "is not a URL"},
		{"http://", adminCreds(), "is not a URL"},
		{"http://h?x=1", adminCreds(), "is not a URL"},
		{"http://127.0.0.1:8333", aws.Credentials{}, "needs credentials"},
		{"http://127.0.0.1:8333", aws.Credentials{AccessKeyID: "AK"}, "needs credentials"},
	}
	for _, tc := range tests {
		_, err := NewAdminBackend(tc.endpoint, tc.creds)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewAdminBackend(%q): err = %v, want usage error containing %q", tc.endpoint, err, tc.want)
		}
	}
}

func TestParseAdminError(t *testing.T) {
	tests := []struct {
		body string
		want string
	}{
		{`<?xml version="1.0"?><Error><Code>InvalidArgument</Code><Message>bad
key</Message></Error>`, `server answered 400 Bad Request: InvalidArgument: bad\nkey`},
		{"plain text\nsecond line", "server answered 400 Bad Request: plain text"},
		{"", "server answered 400 Bad Request"},
	}
	for _, tc := range tests {
		if got := parseAdminError(400, []byte(tc.body)).Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestAdminBackendNotS3limit: a server that is not s3limit (a web page,
// the metrics port) gets an error that says so, whatever it answers.
func TestAdminBackendNotS3limit(t *testing.T) {
	page := "<!DOCTYPE html>\n<html><body>Welcome</body></html>"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"web page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(page))
		}, `answered 200 OK with text/html; charset=utf-8 "<!DOCTYPE html>"`},
		{"web server 404", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(page))
		}, "answered 404 Not Found with text/html"},
		{"metrics port", http.NotFound, `answered 404 Not Found with text/plain; charset=utf-8 "404 page not found"`},
		{"some JSON API", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status": "ok"}`))
		}, "answered 200 OK with application/json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			b, err := NewAdminBackend(srv.URL, adminCreds())
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = b.Load(context.Background())
			if err == nil {
				t.Fatal("Load succeeded against a server that is not s3limit")
			}
			msg := err.Error()
			for _, want := range []string{"server " + srv.URL + " does not look like s3limit: GET /_s3limit/circuit-breaker " + tc.want,
				"point -server at the S3 port of s3limit serve"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
		})
	}
}
