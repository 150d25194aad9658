package server_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

// TestUserOpsPerSecond: a user's ops/s limit refuses the request over its
// burst with SlowDown and says when a request would conform; other users
// are not affected.
func TestUserOpsPerSecond(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "rated")
	if _, err := s.Limits().Apply(&limits.Config{Users: map[string]*limits.Section{
		"admin": {Enabled: true, Actions: map[string]int64{"Write:ops/s": 2}},
	}}, ""); err != nil {
		t.Fatal(err)
	}
	put := func(key string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rated"), Key: aws.String(key), Body: bytes.NewReader([]byte("x"))})
		return err
	}
	var refused error
	start := time.Now()
	for i := range 3 {
		if err := put("k" + strconv.Itoa(i)); err != nil {
			refused = err
			break
		}
	}
	if refused == nil {
		t.Fatal("three PUTs at once passed a burst of 2")
	}
	wantThrottled(t, refused, http.StatusTooManyRequests, "SlowDown")
	ms, _ := strconv.Atoi(errorHeader(refused, "x-amz-retry-after"))
	// 2/s: a request conforms within 500 ms of the burst's start.
	// The hint is computed: 500 ms from the first admission, less the time
	// since, rounded up to the millisecond.
	elapsed := time.Since(start)
	if wait := time.Duration(ms) * time.Millisecond; wait > 501*time.Millisecond || wait < 499*time.Millisecond-elapsed {
		t.Fatalf("x-amz-retry-after %d ms, want between %v and 500 ms", ms, 500*time.Millisecond-elapsed)
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
	if err := put("after-wait"); err != nil {
		t.Fatalf("a request after the advised wait was refused: %v", err)
	}
	// The reader identity has no user section.
	reader := s.ClientFor(servertest.ReaderAccessKey, servertest.ReaderSecretKey)
	for range 5 {
		if _, err := reader.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("public")}); err != nil && errorCode(err) == "SlowDown" {
			t.Fatal("another user was throttled")
		}
	}
	m := scrape(t, s)
	if got := m.value("s3limit_s3_throttled_total", "action", "Write", "scope", "user", "type", "ops/s"); got != 1 {
		t.Errorf(`s3_throttled_total{scope="user",type="ops/s"} = %v, want 1`, got)
	}
	if got := m.value("s3limit_s3_user_limit", "user", "admin", "action", "Write", "type", "ops/s"); got != 2 {
		t.Errorf(`s3_user_limit{user="admin",type="ops/s"} = %v, want 2`, got)
	}
}

// TestShadowSectionEndToEnd: a shadow section refuses nothing and counts
// every request it would have refused.
func TestShadowSectionEndToEnd(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	createBucket(t, c, "shadowed")
	if _, err := s.Limits().Apply(&limits.Config{Buckets: map[string]*limits.Section{
		"shadowed": {Enabled: true, Shadow: true, Actions: map[string]int64{"Write:ops/s": 1, "Read:count": 0}},
	}}, ""); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		putObject(t, c, "shadowed", "k"+strconv.Itoa(i), []byte("x"))
		servertest.GetObject(t, c, "shadowed", "k"+strconv.Itoa(i))
	}
	m := scrape(t, s)
	if got := m.value("s3limit_s3_shadow_refusals_total", "action", "Write", "scope", "bucket", "type", "ops/s"); got != 3 {
		t.Errorf("shadow ops/s refusals = %v, want 3", got)
	}
	if got := m.value("s3limit_s3_shadow_refusals_total", "action", "Read", "scope", "bucket", "type", "count"); got != 4 {
		t.Errorf("shadow count refusals = %v, want 4", got)
	}
	if got := m.sum("s3limit_s3_throttled_total"); got != 0 {
		t.Errorf("%v requests throttled by a shadow section", got)
	}
}

// TestBucketBandwidthShaping: a bucket's Read:bytes/s paces its downloads
// through the SDK; other buckets are not slowed.
func TestBucketBandwidthShaping(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	createBucket(t, c, "media")
	createBucket(t, c, "fast")
	data := randomBytes(5, 1<<20)
	putObject(t, c, "media", "clip", data)
	putObject(t, c, "fast", "clip", data)
	if _, err := s.Limits().Apply(&limits.Config{Buckets: map[string]*limits.Section{
		"media": {Enabled: true, Actions: map[string]int64{"Read:bytes/s": 2 << 20}},
	}}, ""); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got := servertest.GetObject(t, c, "media", "clip"); !bytes.Equal(got, data) {
		t.Fatal("shaped download returned wrong bytes")
	}
	// 1 MiB at 2 MiB/s: 0.5 s less the 50 ms burst, never faster.
	if d := time.Since(start); d < 430*time.Millisecond || d > 3*time.Second {
		t.Fatalf("1 MiB at 2 MiB/s took %v, want about 0.45 s", d)
	}
	// The other bucket is not shaped: its download adds nothing to the
	// shaped bytes (a wall-clock bound here would fail on a loaded machine).
	if got := servertest.GetObject(t, c, "fast", "clip"); !bytes.Equal(got, data) {
		t.Fatal("unshaped download returned wrong bytes")
	}
	m := scrape(t, s)
	if got := m.value("s3limit_s3_shaped_bytes_total", "action", "Read", "scope", "bucket"); got != 1<<20 {
		t.Errorf("shaped bytes %v, want exactly the 1 MiB shaped download", got)
	}
}

// TestWaitInsteadOfRefusing: "at most 2 uploads to backups" with a wait
// slows clients down instead of failing them: ten parallel uploads all
// succeed, never more than two at once.
func TestWaitInsteadOfRefusing(t *testing.T) {
	s, g := startGated(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "backups")
	if _, err := s.Limits().Apply(&limits.Config{Buckets: map[string]*limits.Section{
		"backups": {Enabled: true, Wait: limits.Duration(10 * time.Second), Actions: map[string]int64{"Write:count": 2}},
	}}, ""); err != nil {
		t.Fatal(err)
	}
	var done []<-chan error
	for i := range 10 {
		done = append(done, goPut(ctx, c, "backups", "hold/"+strconv.Itoa(i), []byte("backup")))
	}
	// Two are admitted and held; the other eight wait for room.
	testkit.Eventually(t, 10*time.Second, func() string {
		if n := scrape(t, s).value("s3limit_s3_limit_waiting", "scope", "bucket"); n != 8 {
			return "waiting " + strconv.FormatFloat(n, 'f', -1, 64) + ", want 8"
		}
		return ""
	})
	for range 10 {
		g.await(t)
		if n, _ := s.Limits().Breaker().BucketInflight("Write", "backups"); n > 2 {
			t.Fatalf("%d uploads in flight, limit 2", n)
		}
		g.releaseOne(t)
	}
	for i, d := range done {
		if err := result(t, d); err != nil {
			t.Fatalf("upload %d failed instead of waiting: %v", i, err)
		}
	}
	m := scrape(t, s)
	if got := m.sum("s3limit_s3_throttled_total"); got != 0 {
		t.Errorf("%v refusals, want none", got)
	}
	if got := m.value("s3limit_s3_limit_wait_seconds_count", "scope", "bucket"); got < 8 {
		t.Errorf("%v waits recorded, want at least 8", got)
	}
}
