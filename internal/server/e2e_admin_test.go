package server_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

const adminURLPath = s3api.AdminCircuitBreakerPath

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	initial := &limits.Config{
		// Admin:count 0 blocks every bucket administration request, but
		// never the admin API, so an operator can always lift it.
		Global: section(map[string]int64{"Admin:count": 0, "Read:count": 50}),
	}
	s := servertest.Start(t, servertest.Options{
		CircuitBreaker: initial,
		Limits:         limits.Options{AdminMaxBodyBytes: 4096},
	})
	c := s.Client()
	ctx := context.Background()
	hc := &http.Client{}
	url := s.URL + adminURLPath
	admin := func(method string, body []byte, ifMatch string) (int, http.Header, []byte) {
		t.Helper()
		r, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ifMatch != "" {
			r.Header.Set("If-Match", ifMatch)
		}
		signRequest(t, r, s.AccessKey, s.SecretKey, sha256Hex(body), time.Time{})
		return do(t, hc, r)
	}

	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("blocked")})
	wantThrottled(t, err, http.StatusTooManyRequests, "SlowDown")

	status, h, body := admin(http.MethodGet, nil, "")
	if status != http.StatusOK {
		t.Fatalf("GET circuit breaker: %d %s", status, body)
	}
	got, err := limits.ParseConfig(body)
	if err != nil {
		t.Fatalf("GET returned an unusable document: %v\n%s", err, body)
	}
	if got.Global == nil || !got.Global.Enabled || got.Global.Actions["Admin:count"] != 0 || got.Global.Actions["Read:count"] != 50 || len(got.Global.Actions) != 2 {
		t.Fatalf("GET returned %s, want the initial configuration", body)
	}
	etag := h.Get("ETag")
	if etag == "" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("GET ETag %q, want a quoted entity tag", etag)
	}

	// Lift the block through the admin API, conditionally.
	next := &limits.Config{Global: section(map[string]int64{"Read:count": 50})}
	doc, _ := next.Marshal()
	status, h, body = admin(http.MethodPut, doc, etag)
	if status != http.StatusOK {
		t.Fatalf("PUT with the current ETag: %d %s", status, body)
	}
	newETag := h.Get("ETag")
	if newETag == "" || newETag == etag {
		t.Fatalf("PUT answered ETag %q (old %q); want a new one", newETag, etag)
	}
	createBucket(t, c, "unblocked") // in force at once, no reload needed
	onDisk, err := limits.LoadConfigFile(s.ConfigPath)
	if err != nil || onDisk.Global == nil || len(onDisk.Global.Actions) != 1 || onDisk.Global.Actions["Read:count"] != 50 {
		t.Fatalf("the file after PUT holds %+v (%v), want the new configuration", onDisk, err)
	}
	status, h, _ = admin(http.MethodGet, nil, "")
	if status != http.StatusOK || h.Get("ETag") != newETag {
		t.Fatalf("GET after PUT: %d ETag %q, want 200 %q", status, h.Get("ETag"), newETag)
	}

	t.Run("StaleIfMatch", func(t *testing.T) {
		block, _ := initial.Marshal()
		status, _, body := admin(http.MethodPut, block, etag)
		if status != http.StatusPreconditionFailed || s3ErrorCode(body) != "PreconditionFailed" {
			t.Fatalf("PUT with a stale If-Match: %d %s, want 412 PreconditionFailed", status, body)
		}
		createBucket(t, c, "still-unblocked")
	})
	t.Run("InvalidJSON", func(t *testing.T) {
		status, _, body := admin(http.MethodPut, []byte(`{"global": {`), "")
		if status != http.StatusBadRequest || s3ErrorCode(body) == "" {
			t.Fatalf("PUT of broken JSON: %d %s, want 400", status, body)
		}
		status, _, body = admin(http.MethodPut, []byte(`{"global": {"enabled": true, "actions": {"Fly:count": 1}}}`), "")
		if status != http.StatusBadRequest || !strings.Contains(string(body), "Fly") {
			t.Fatalf("PUT with an unknown action: %d %s, want 400 naming the action", status, body)
		}
		status, h, _ := admin(http.MethodGet, nil, "")
		if status != http.StatusOK || h.Get("ETag") != newETag {
			t.Fatalf("a rejected PUT changed the configuration: ETag %q, want %q", h.Get("ETag"), newETag)
		}
	})
	t.Run("Oversize", func(t *testing.T) {
		big := []byte(`{"global": {"enabled": true, "actions": {"Read:count": 1}}}` + strings.Repeat(" ", 5000))
		status, _, body := admin(http.MethodPut, big, "")
		if status < 400 || status >= 500 {
			t.Fatalf("PUT of %d bytes (limit 4096): %d %s, want 4xx", len(big), status, body)
		}
	})
	t.Run("Unauthenticated", func(t *testing.T) {
		for _, method := range []string{http.MethodGet, http.MethodPut} {
			r, _ := http.NewRequest(method, url, bytes.NewReader([]byte(`{}`)))
			status, _, body := do(t, hc, r)
			if status != http.StatusForbidden {
				t.Fatalf("anonymous %s: %d %s, want 403", method, status, body)
			}
		}
		r := newSignedRequest(t, ctx, http.MethodPut, url, []byte(`{}`), servertest.AdminAccessKey, "not-the-secret")
		if status, _, body := do(t, hc, r); status != http.StatusForbidden || s3ErrorCode(body) != "SignatureDoesNotMatch" {
			t.Fatalf("PUT with a wrong secret: %d %s, want 403 SignatureDoesNotMatch", status, body)
		}
	})
	t.Run("Reader", func(t *testing.T) {
		for _, method := range []string{http.MethodGet, http.MethodPut} {
			r := newSignedRequest(t, ctx, method, url, []byte(`{}`), servertest.ReaderAccessKey, servertest.ReaderSecretKey)
			status, _, body := do(t, hc, r)
			if status != http.StatusForbidden || s3ErrorCode(body) != "AccessDenied" {
				t.Fatalf("reader %s: %d %s, want 403 AccessDenied", method, status, body)
			}
		}
		status, h, _ := admin(http.MethodGet, nil, "")
		if status != http.StatusOK || h.Get("ETag") != newETag {
			t.Fatalf("denied requests changed the configuration")
		}
	})
	t.Run("UnknownPath", func(t *testing.T) {
		r := newSignedRequest(t, ctx, http.MethodGet, s.URL+s3api.AdminPrefix+"nothing", nil, s.AccessKey, s.SecretKey)
		if status, _, body := do(t, hc, r); status != http.StatusNotFound {
			t.Fatalf("GET of an unknown admin path: %d %s, want 404", status, body)
		}
	})
	t.Run("NotLimitedByAdminCount", func(t *testing.T) {
		// Block Admin again through the API, and prove the API still answers.
		status, h, body := admin(http.MethodGet, nil, "")
		if status != http.StatusOK {
			t.Fatal(status, string(body))
		}
		block, _ := initial.Marshal()
		status, _, body = admin(http.MethodPut, block, h.Get("ETag"))
		if status != http.StatusOK {
			t.Fatalf("PUT Admin:count 0: %d %s", status, body)
		}
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("blocked-again")})
		wantThrottled(t, err, http.StatusTooManyRequests, "SlowDown")
		status, h, body = admin(http.MethodGet, nil, "")
		if status != http.StatusOK {
			t.Fatalf("GET with Admin:count 0: %d %s", status, body)
		}
		status, _, body = admin(http.MethodPut, []byte(`{}`), h.Get("ETag"))
		if status != http.StatusOK {
			t.Fatalf("PUT {} with Admin:count 0: %d %s", status, body)
		}
		createBucket(t, c, "blocked-again")
	})
}
