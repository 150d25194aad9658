package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
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

// Credentials of the identity "alice" in TestUsersRatesShadowAgainstServer.
const (
	aliceAccessKey = "AKIAALICETEST0000000"
	aliceSecretKey = "aliceSecretKeyForTests00000000000000000000"
)

// metricValue returns the value of the counter or gauge
// s3limit_s3_<name> whose labels include want, from the server's registry.
func metricValue(t *testing.T, srv *servertest.Server, name string, want map[string]string) (float64, bool) {
	t.Helper()
	families, err := srv.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "s3limit_s3_"+name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// TestUsersRatesShadowAgainstServer drives -users, -type ops/s and MB/s
// and -shadow through the shell against a live server and checks that
// the server applies each: an ops/s limit on one identity refuses it
// with SlowDown and a retry hint while another identity goes through,
// -shadow lets everything through and counts what would have been
// refused, -shadow=false enforces again, and an MB/s limit shapes the
// user's uploads.
func TestUsersRatesShadowAgainstServer(t *testing.T) {
	ids := servertest.DefaultIdentities()
	ids.Identities = append(ids.Identities, s3api.Identity{
		Name:        "alice",
		Credentials: []s3api.Credential{{AccessKey: aliceAccessKey, SecretKey: aliceSecretKey}},
		Actions:     []string{"Read", "Write", "List"},
	})
	srv := servertest.Start(t, servertest.Options{Identities: ids})
	admin, alice := srv.Client(), srv.ClientFor(aliceAccessKey, aliceSecretKey)
	ctx := context.Background()
	if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}

	backend, err := NewAdminBackend(srv.URL, aws.Credentials{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sh := &Shell{Backend: backend, Stdout: &out, Stderr: &out}
	run := func(cmd, want string) {
		t.Helper()
		out.Reset()
		if err := sh.Exec(ctx, cmd); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if got := out.String(); got != pretty(t, want) {
			t.Fatalf("%s: printed\n%s\nwant\n%s", cmd, got, pretty(t, want))
		}
		inForce, _ := srv.Limits().Config()
		if got := compact(t, inForce); got != want {
			t.Fatalf("%s: server enforces %s, want %s", cmd, got, want)
		}
		onDisk, err := limits.LoadConfigFile(srv.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		if got := compact(t, onDisk); got != want {
			t.Fatalf("%s: file holds %s, want %s", cmd, got, want)
		}
	}
	userOps := map[string]string{"action": "Write", "scope": "user", "type": "ops/s"}

	// One write a second for alice: the first goes through, a quick run
	// of further writes meets a refusal (GCRA without burst at 1/s).
	run(`s3.circuitBreaker -users alice -type ops/s -actions Write -values 1 -apply`,
		`{"users":{"alice":{"enabled":true,"actions":{"Write:ops/s":1}}}}`)
	if v, ok := metricValue(t, srv, "user_limit", map[string]string{"user": "alice", "action": "Write", "type": "ops/s"}); !ok || v != 1 {
		t.Errorf("s3limit_s3_user_limit{user=alice,action=Write,type=ops/s} = %v (present %v), want 1", v, ok)
	}
	if err := put(ctx, alice, "data", "first"); err != nil {
		t.Fatalf("alice's first write under Write:ops/s 1: %v", err)
	}
	var refused error
	for i := 0; i < 50 && refused == nil; i++ {
		refused = put(ctx, alice, "data", fmt.Sprintf("k%d", i))
	}
	if !throttled(refused) {
		t.Fatalf("50 writes by alice under Write:ops/s 1: err = %v, want 429 SlowDown", refused)
	}
	var re *awshttp.ResponseError
	errors.As(refused, &re)
	if ra := re.Response.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1 (second, rounded up)", ra)
	}
	if ms, err := strconv.Atoi(re.Response.Header.Get("x-amz-retry-after")); err != nil || ms < 1 || ms > 1000 {
		t.Errorf("x-amz-retry-after = %q, want 1..1000 ms", re.Response.Header.Get("x-amz-retry-after"))
	}
	if v, _ := metricValue(t, srv, "throttled_total", userOps); v != 1 {
		t.Errorf("s3limit_s3_throttled_total{Write,user,ops/s} = %v, want 1", v)
	}
	if err := put(ctx, admin, "data", "admin"); err != nil {
		t.Errorf("admin's write while alice is limited: %v", err)
	}

	// Shadow: nothing is refused; what would have been is counted.
	run(`s3.circuitBreaker -users alice -shadow -apply`,
		`{"users":{"alice":{"enabled":true,"shadow":true,"actions":{"Write:ops/s":1}}}}`)
	const shadowWrites = 20
	for i := range shadowWrites {
		if err := put(ctx, alice, "data", fmt.Sprintf("s%d", i)); err != nil {
			t.Fatalf("write %d by alice in shadow mode: %v", i, err)
		}
	}
	if v, _ := metricValue(t, srv, "shadow_refusals_total", userOps); v < 1 || v > shadowWrites {
		t.Errorf("s3limit_s3_shadow_refusals_total{Write,user,ops/s} = %v after %d quick writes at 1/s, want 1..%d", v, shadowWrites, shadowWrites)
	}
	if v, _ := metricValue(t, srv, "throttled_total", userOps); v != 1 {
		t.Errorf("s3limit_s3_throttled_total{Write,user,ops/s} = %v in shadow mode, want still 1", v)
	}

	// -shadow=false enforces again; 0 blocks.
	run(`s3.circuitBreaker -users alice -shadow=false -type ops/s -actions Write -values 0 -apply`,
		`{"users":{"alice":{"enabled":true,"actions":{"Write:ops/s":0}}}}`)
	if err := put(ctx, alice, "data", "blocked"); !throttled(err) {
		t.Fatalf("alice's write under Write:ops/s 0: err = %v, want 429 SlowDown", err)
	}
	if err := put(ctx, admin, "data", "admin"); err != nil {
		t.Errorf("admin's write while alice is blocked: %v", err)
	}

	// MB/s shapes alice's uploads and refuses nothing; a bucket's MB/s is
	// exported in bytes/s.
	run(`s3.circuitBreaker -users alice -actions Write -type ops/s -delete -apply`,
		`{"users":{"alice":{"enabled":true}}}`)
	run(`s3.circuitBreaker -users alice -type MB/s -actions Write -values 1 -apply`,
		`{"users":{"alice":{"enabled":true,"actions":{"Write:bytes/s":1048576}}}}`)
	run(`s3.circuitBreaker -buckets data -type MB/s -actions Write -values 200 -apply`,
		`{"buckets":{"data":{"enabled":true,"actions":{"Write:bytes/s":209715200}}},"users":{"alice":{"enabled":true,"actions":{"Write:bytes/s":1048576}}}}`)
	if v, ok := metricValue(t, srv, "circuit_breaker_limit", map[string]string{"scope": "bucket", "bucket": "data", "action": "Write", "type": "bytes/s"}); !ok || v != 200<<20 {
		t.Errorf("s3limit_s3_circuit_breaker_limit{bucket=data,Write,bytes/s} = %v (present %v), want %d", v, ok, 200<<20)
	}
	body := make([]byte, 64<<10)
	if _, err := alice.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("shaped"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("alice's upload under Write:bytes/s: %v", err)
	}
	if v, _ := metricValue(t, srv, "shaped_bytes_total", map[string]string{"action": "Write", "scope": "user"}); v != float64(len(body)) {
		t.Errorf("s3limit_s3_shaped_bytes_total{Write,user} = %v, want %d", v, len(body))
	}

	run(`s3.circuitBreaker -users alice -delete -apply`,
		`{"buckets":{"data":{"enabled":true,"actions":{"Write:bytes/s":209715200}}}}`)
	if err := put(ctx, alice, "data", "free"); err != nil {
		t.Errorf("alice's write after her section is deleted: %v", err)
	}
}
