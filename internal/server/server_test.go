package server_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// anonymousReaders are the default identities plus unsigned reads, so that
// tests can send plain HTTP requests.
func anonymousReaders() *s3api.IdentityConfig {
	ids := servertest.DefaultIdentities()
	ids.Identities = append(ids.Identities, s3api.Identity{Name: s3api.AnonymousIdentity, Actions: []string{"Read"}})
	return ids
}

func TestBackendPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		backend http.HandlerFunc
		// status and body are what the client reads; broken means reading
		// the body must fail instead of ending cleanly.
		status int
		body   string
		broken bool
	}{
		{
			name:    "panic before the response answers InternalError",
			backend: func(http.ResponseWriter, *http.Request) { panic("boom") },
			status:  http.StatusInternalServerError,
			body:    "<Code>InternalError</Code>",
		},
		{
			name: "panic after the headers aborts the response",
			backend: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(w, "partial")
				_ = http.NewResponseController(w).Flush()
				panic("boom")
			},
			status: http.StatusOK,
			body:   "partial",
			broken: true,
		},
		{
			name: "ErrAbortHandler aborts the response",
			backend: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "partial")
				_ = http.NewResponseController(w).Flush()
				panic(http.ErrAbortHandler)
			},
			status: http.StatusOK,
			body:   "partial",
			broken: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := servertest.Start(t, servertest.Options{Backend: tc.backend, Identities: anonymousReaders()})
			resp, err := http.Get(s.URL + "/bucket/key")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
				t.Fatalf("got %d %q, want %d with %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if tc.broken && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("reading the body of a response cut short by a panic: %v, want io.ErrUnexpectedEOF", err)
			}
			if !tc.broken && err != nil {
				t.Fatalf("reading the body: %v", err)
			}
			// The request is counted whichever way it ended.
			if got := scrape(t, s).sum("s3limit_s3_request_total"); got != 1 {
				t.Fatalf("s3_request_total = %v, want 1", got)
			}
		})
	}
}

func TestRefusedRequestsDoNotNameBucketsInMetrics(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	// Unsigned (no anonymous identity), then signed by an identity that
	// may not read the bucket.
	resp, err := http.Get(s.URL + "/made-up-bucket-1/key")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned request: %d, want 403", resp.StatusCode)
	}
	r := newSignedRequest(t, t.Context(), http.MethodGet, s.URL+"/made-up-bucket-2/key", nil, servertest.ReaderAccessKey, servertest.ReaderSecretKey)
	if status, _, body := do(t, http.DefaultClient, r); status != http.StatusForbidden {
		t.Fatalf("unauthorized request: %d %s, want 403", status, body)
	}
	ms := scrape(t, s)
	for _, smp := range ms {
		if smp.name == "s3limit_s3_request_total" && smp.labels["bucket"] != "" {
			t.Errorf("refused request counted with bucket label %q", smp.labels["bucket"])
		}
	}
	if got := ms.value("s3limit_s3_request_total", "action", "Read", "bucket", "", "status", "403"); got != 2 {
		t.Errorf(`s3_request_total{action="Read",bucket="",status="403"} = %v, want 2`, got)
	}
}

func TestBucketScopedAdminCannotUseAdminAPI(t *testing.T) {
	t.Parallel()
	ids := servertest.DefaultIdentities()
	ids.Identities = append(ids.Identities, s3api.Identity{
		Name:        "tenant",
		Credentials: []s3api.Credential{{AccessKey: "AKIATENANTTEST000000", SecretKey: "tenantSecretKeyForTests00000000000000000"}},
		Actions:     []string{"Admin:photos"},
	})
	s := servertest.Start(t, servertest.Options{Identities: ids})
	url := s.URL + "/_s3limit/circuit-breaker"
	for _, put := range []bool{false, true} {
		method, body := http.MethodGet, []byte(nil)
		if put {
			method, body = http.MethodPut, []byte(`{"global":{"enabled":true,"actions":{"Write:count":0}}}`)
		}
		r := newSignedRequest(t, t.Context(), method, url, body, "AKIATENANTTEST000000", "tenantSecretKeyForTests00000000000000000")
		if status, _, rb := do(t, http.DefaultClient, r); status != http.StatusForbidden || s3ErrorCode(rb) != "AccessDenied" {
			t.Fatalf("%s by an identity with Admin:photos only: %d %s, want 403 AccessDenied", method, status, rb)
		}
	}
	r := newSignedRequest(t, t.Context(), http.MethodGet, url, nil, s.AccessKey, s.SecretKey)
	if status, _, rb := do(t, http.DefaultClient, r); status != http.StatusOK {
		t.Fatalf("GET by the admin: %d %s, want 200", status, rb)
	}
}
