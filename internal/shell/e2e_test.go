package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// holdingStore is a backend that keeps PUTs of keys starting with "hold"
// in flight until release is closed, reporting each arrival, and answers
// everything else at once. A request that reaches it has been admitted by
// the circuit breaker.
type holdingStore struct {
	arrived chan string
	release chan struct{}
}

func (h *holdingStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/hold") {
		select {
		case h.arrived <- r.URL.Path:
		case <-r.Context().Done():
			return
		}
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
	w.WriteHeader(http.StatusOK)
}

func put(ctx context.Context, c *s3.Client, bucket, key string) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte("0123456789"))})
	return err
}

// throttled reports whether err is the breaker's 429 SlowDown.
func throttled(err error) bool {
	var re *awshttp.ResponseError
	var ae smithy.APIError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusTooManyRequests &&
		errors.As(err, &ae) && ae.ErrorCode() == "SlowDown"
}

// TestSeedSequenceAgainstServer runs the documented commands through the
// shell against a live server, checking after every step the shell's
// output, the configuration in force and the file, and that the server
// enforces a limit the sequence sets (a 429 appears) and lifts it (the
// 429 goes away).
func TestSeedSequenceAgainstServer(t *testing.T) {
	store := &holdingStore{arrived: make(chan string), release: make(chan struct{})}
	srv := servertest.Start(t, servertest.Options{Backend: store})
	client := srv.Client()
	ctx := context.Background()

	backend, err := NewAdminBackend(srv.URL, aws.Credentials{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sh := &Shell{Backend: backend, Stdout: &out, Stderr: &out}

	// Before any limit, a write goes through.
	if err := put(ctx, client, "critical-bucket", "free"); err != nil {
		t.Fatalf("PUT before any limit: %v", err)
	}

	const held = 10 // the Write:count limit the sequence gives critical-bucket
	results := make(chan error, held)
	released := false
	defer func() {
		if !released {
			close(store.release)
		}
	}()

	for i, step := range seedSteps {
		out.Reset()
		if err := sh.Exec(ctx, step.cmd); err != nil {
			t.Fatalf("%s: %v", step.cmd, err)
		}
		if got, want := out.String(), pretty(t, step.want); got != want {
			t.Fatalf("%s: printed\n%s\nwant\n%s", step.cmd, got, want)
		}
		inForce, _ := srv.Limits().Config()
		if got := compact(t, inForce); got != step.want {
			t.Fatalf("%s: server enforces %s, want %s", step.cmd, got, step.want)
		}
		onDisk, err := limits.LoadConfigFile(srv.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		if got := compact(t, onDisk); got != step.want {
			t.Fatalf("%s: file holds %s, want %s", step.cmd, got, step.want)
		}

		switch {
		case strings.Contains(step.cmd, "critical-bucket -type count -actions Write -values 10"):
			// Fill critical-bucket's 10 write slots, then one more is refused.
			for k := range held {
				go func() { results <- put(ctx, client, "critical-bucket", fmt.Sprintf("hold-%d", k)) }()
			}
			for range held {
				select {
				case <-store.arrived:
				case err := <-results:
					t.Fatalf("a write meant to stay in flight finished: %v", err)
				}
			}
			if err := put(ctx, client, "critical-bucket", "free"); !throttled(err) {
				t.Fatalf("after %q with %d writes in flight: err = %v, want 429 SlowDown", step.cmd, held, err)
			}
			if err := put(ctx, client, "otherbucket", "free"); err != nil {
				t.Fatalf("a write to another bucket: %v", err)
			}
		case i > 5 && i < len(seedSteps)-1:
			// Disabling and deleting other sections leaves critical-bucket's limit in force.
			if err := put(ctx, client, "critical-bucket", "free"); !throttled(err) {
				t.Fatalf("after %q: err = %v, want 429 SlowDown", step.cmd, err)
			}
		case i == len(seedSteps)-1:
			// Everything cleared: the same write goes through although 10 are still in flight.
			if err := put(ctx, client, "critical-bucket", "free"); err != nil {
				t.Fatalf("after %q: %v, want success", step.cmd, err)
			}
		}
	}

	close(store.release)
	released = true
	for range held {
		if err := <-results; err != nil {
			t.Errorf("held write: %v", err)
		}
	}
}

func TestAdminBackendAgainstServer(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	ctx := context.Background()

	reader, err := NewAdminBackend(srv.URL, aws.Credentials{AccessKeyID: servertest.ReaderAccessKey, SecretAccessKey: servertest.ReaderSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	var ae *AdminError
	if _, _, err := reader.Load(ctx); !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden || ae.Code != "AccessDenied" {
		t.Errorf("non-admin Load: err = %v, want 403 AccessDenied", err)
	}

	admin, err := NewAdminBackend(srv.URL, aws.Credentials{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	_, stale, err := admin.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := &limits.Config{Global: &limits.Section{Enabled: true, Actions: map[string]int64{"List:count": 1}}}
	if _, _, err := admin.Save(ctx, first, stale); err != nil {
		t.Fatal(err)
	}
	if _, _, err := admin.Save(ctx, &limits.Config{}, stale); !errors.Is(err, ErrConflict) {
		t.Errorf("Save with a stale ETag: err = %v, want ErrConflict", err)
	}
	bad := &limits.Config{Global: &limits.Section{Actions: map[string]int64{"List:count": -1}}}
	if _, _, err := admin.Save(ctx, bad, ""); !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest {
		t.Errorf("Save of an invalid configuration: err = %v, want 400", err)
	}
	inForce, _ := srv.Limits().Config()
	if compact(t, inForce) != compact(t, first) {
		t.Errorf("server enforces %s, want %s", compact(t, inForce), compact(t, first))
	}
}
