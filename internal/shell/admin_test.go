package shell

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/shell/shelltest"
)

func adminCreds() aws.Credentials {
	return aws.Credentials{AccessKeyID: shelltest.AdminAccessKey, SecretAccessKey: shelltest.AdminSecretKey}
}

func TestAdminBackendLoadSave(t *testing.T) {
	srv := shelltest.NewAdminServer(t)
	initial := &limits.Config{Global: &limits.Section{Enabled: true, Actions: map[string]int64{"Read:count": 4}}}
	srv.SetConfig(initial)
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
	srv := shelltest.NewAdminServer(t)
	tests := []struct {
		name   string
		creds  aws.Credentials
		status int
		want   string
	}{
		{"non-admin", aws.Credentials{AccessKeyID: shelltest.ReaderAccessKey, SecretAccessKey: shelltest.ReaderSecretKey},
			http.StatusForbidden, "403 Forbidden: AccessDenied: the admin API needs an identity with the Admin action"},
		{"wrong secret", aws.Credentials{AccessKeyID: shelltest.AdminAccessKey, SecretAccessKey: "nope"},
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
	srv := shelltest.NewAdminServer(t)
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
	srv := shelltest.NewAdminServer(t)
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
