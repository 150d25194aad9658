package fleet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/redis/go-redis/v9"

	"github.com/s3limit/s3limit/internal/fleet"
	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/store"
	"github.com/s3limit/s3limit/internal/testkit"
	"github.com/s3limit/s3limit/internal/testpeer"
)

// gate holds GETs of keys under hold/ at the backend, shared by every
// server of a fleet, and records how many are held at once fleet-wide.
type gate struct {
	next    http.Handler
	entered chan string
	release chan struct{}
	held    atomic.Int64
	maxHeld atomic.Int64
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := s3api.FromContext(r.Context())
	if info != nil && r.Method == http.MethodGet && strings.HasPrefix(info.Key, "slow/") {
		// Counted like held requests, but each lasts 5 ms.
		n := g.held.Add(1)
		for {
			m := g.maxHeld.Load()
			if n <= m || g.maxHeld.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		g.held.Add(-1)
	}
	if info != nil && r.Method == http.MethodGet && strings.HasPrefix(info.Key, "hold/") {
		n := g.held.Add(1)
		for {
			m := g.maxHeld.Load()
			if n <= m || g.maxHeld.CompareAndSwap(m, n) {
				break
			}
		}
		g.entered <- info.Key
		select {
		case <-g.release:
		case <-r.Context().Done():
		}
		g.held.Add(-1)
	}
	g.next.ServeHTTP(w, r)
}

func (g *gate) await(t testing.TB) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatalf("no request reached the backend within 10s (%d held)", g.held.Load())
	}
}

// none checks that no further request reaches the backend for d.
func (g *gate) none(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case k := <-g.entered:
		t.Fatalf("request for %s reached the backend: %d held at once fleet-wide", k, g.held.Load())
	case <-time.After(d):
	}
}

func (g *gate) releaseOne(t testing.TB) {
	t.Helper()
	select {
	case g.release <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("no held request to release within 10s")
	}
}

type testFleet struct {
	redis   *testpeer.Redis
	servers []*servertest.Server
	fleets  []*fleet.Fleet
	gate    *gate
}

type fleetOpts struct {
	n        int
	cb       *limits.Config
	leaseTTL time.Duration
	prefix   string
}

// startFleet starts a Redis (or uses r) and n servers sharing it, in
// front of one store behind a gate.
func startFleet(t testing.TB, r *testpeer.Redis, o fleetOpts) *testFleet {
	t.Helper()
	if r == nil {
		r = testpeer.StartRedis(t)
	}
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tf := &testFleet{redis: r, gate: &gate{next: st, entered: make(chan string, 1024), release: make(chan struct{})}}
	for i := range o.n {
		fl, err := fleet.New(fleet.Options{URL: r.URL(), ID: fmt.Sprintf("server%d", i), LeaseTTL: o.leaseTTL, Prefix: o.prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fl.Close() })
		opts := servertest.Options{Backend: tf.gate, Limits: limits.Options{Fleet: fl}}
		if i == 0 {
			opts.CircuitBreaker = o.cb // the first server seeds the fleet
		}
		tf.servers = append(tf.servers, servertest.Start(t, opts))
		tf.fleets = append(tf.fleets, fl)
	}
	c := tf.servers[0].Client()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("fleet")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"hold/x", "free", "slow/x"} {
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("fleet"), Key: aws.String(k), Body: bytes.NewReader([]byte("data"))}); err != nil {
			t.Fatal(err)
		}
	}
	return tf
}

// settle waits until every server sees the whole fleet and the shares
// of the limit key (as in Demand.Key) are spread over all of them and
// add up to limit.
func (tf *testFleet) settle(t testing.TB, key string, limit int64) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: tf.redis.Addr()})
	defer rdb.Close()
	testkit.Eventually(t, 3*time.Second, func() string {
		for i, f := range tf.fleets {
			if st := f.State(); st.Instances != int64(len(tf.fleets)) || st.Degraded {
				return fmt.Sprintf("server%d: %+v", i, st)
			}
		}
		h, err := rdb.HGetAll(context.Background(), "{s3limit}:lease:"+key).Result()
		if err != nil {
			return err.Error()
		}
		sum, holders := int64(0), 0
		for k, v := range h {
			if strings.HasPrefix(k, "h:") {
				n, _ := strconv.ParseInt(v, 10, 64)
				sum += n
				if n > 0 {
					holders++
				}
			}
		}
		if sum != limit || holders != len(tf.fleets) {
			return fmt.Sprintf("shares of %s: %v", key, h)
		}
		return ""
	})
}

// get starts a GET of key through server i.
func (tf *testFleet) get(i int, key string) <-chan error {
	done := make(chan error, 1)
	go func() {
		out, err := tf.servers[i].Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("fleet"), Key: aws.String(key)})
		if err == nil {
			_, err = io.Copy(io.Discard, out.Body)
			out.Body.Close()
		}
		done <- err
	}()
	return done
}

func section(wait time.Duration, actions map[string]int64) *limits.Config {
	return &limits.Config{Global: &limits.Section{Enabled: true, Wait: limits.Duration(wait), Actions: actions}}
}

func throttled(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "SlowDown"
}

func TestConfigurationChangeReachesEveryServerWithin1s(t *testing.T) {
	tf := startFleet(t, nil, fleetOpts{n: 3, cb: section(0, map[string]int64{"Read:count": 5})})
	_, etag0 := tf.servers[0].Limits().Config()
	for i, s := range tf.servers {
		if _, e := s.Limits().Config(); e != etag0 {
			t.Fatalf("server%d starts with ETag %s, server0 with %s: the fleet has one configuration", i, e, etag0)
		}
	}
	// A change through server 1 (as the admin API applies it).
	start := time.Now()
	etag, err := tf.servers[1].Limits().Apply(section(0, map[string]int64{"Read:count": 7}), etag0)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range tf.servers {
		testkit.Eventually(t, time.Second-time.Since(start), func() string {
			if _, e := s.Limits().Config(); e != etag {
				return fmt.Sprintf("server%d has ETag %s, want %s", i, e, etag)
			}
			return ""
		})
	}
	// If-Match is fleet-wide: server 2 refuses the ETag server 1 replaced.
	if _, err := tf.servers[2].Limits().Apply(section(0, nil), etag0); !errors.Is(err, limits.ErrPreconditionFailed) {
		t.Fatalf("Apply with a stale If-Match through another server: %v, want ErrPreconditionFailed", err)
	}
	// A change nobody announced (as if the message were lost) is seen by
	// the periodic check.
	cfg := section(0, map[string]int64{"Read:count": 9})
	doc, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := tf.redis.Do("HSET", "{s3limit}:config", "doc", string(doc), "etag", "quiet"); got != ":0" {
		t.Fatalf("HSET: %s", got)
	}
	start = time.Now()
	for i, s := range tf.servers {
		testkit.Eventually(t, time.Second-time.Since(start), func() string {
			if c, _ := s.Limits().Config(); c.Global.Actions["Read:count"] != 9 {
				return fmt.Sprintf("server%d has Read:count %d, want 9", i, c.Global.Actions["Read:count"])
			}
			return ""
		})
	}
	// The local file is the cache of the fleet's document.
	want, _ := tf.servers[2].Limits().Document()
	got, err := limits.LoadConfigFile(tf.servers[2].ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if gotDoc, _ := got.Marshal(); !bytes.Equal(gotDoc, want) {
		t.Errorf("local cache %s holds %s, want %s", tf.servers[2].ConfigPath, gotDoc, want)
	}
}

func TestCountLimitHoldsFleetWideUnderUnevenLoad(t *testing.T) {
	tf := startFleet(t, nil, fleetOpts{n: 3, cb: section(20*time.Second, map[string]int64{"Read:count": 6})})
	// 9 requests through server 0, 3 through each of the others.
	var results []<-chan error
	for i, n := range []int{9, 3, 3} {
		for range n {
			results = append(results, tf.get(i, "hold/x"))
		}
	}
	for range 6 {
		tf.gate.await(t)
	}
	tf.gate.none(t, 300*time.Millisecond)
	for range len(results) - 6 {
		tf.gate.releaseOne(t)
		tf.gate.await(t)
	}
	for range 6 {
		tf.gate.releaseOne(t)
	}
	for _, r := range results {
		if err := <-r; err != nil {
			t.Errorf("GET: %v", err)
		}
	}
	if m := tf.gate.maxHeld.Load(); m != 6 {
		t.Errorf("at most %d requests in flight fleet-wide, want exactly the limit 6", m)
	}
}

func TestWholeLimitGoesToTheOnlyBusyServer(t *testing.T) {
	tf := startFleet(t, nil, fleetOpts{n: 3, cb: section(20*time.Second, map[string]int64{"Read:count": 6})})
	var results []<-chan error
	for range 6 {
		results = append(results, tf.get(0, "hold/x"))
	}
	for range 6 {
		tf.gate.await(t) // all six through server 0, though it is one of three
	}
	// The limit is spent: a request through another server waits.
	results = append(results, tf.get(2, "hold/x"))
	tf.gate.none(t, 300*time.Millisecond)
	tf.gate.releaseOne(t)
	tf.gate.await(t)
	for range 6 {
		tf.gate.releaseOne(t)
	}
	for _, r := range results {
		if err := <-r; err != nil {
			t.Errorf("GET: %v", err)
		}
	}
	if m := tf.gate.maxHeld.Load(); m != 6 {
		t.Errorf("at most %d requests in flight fleet-wide, want 6", m)
	}
}

// TestOpsPerSecondIsFleetWide offers three times a fleet-wide rate
// through one server of three for 8 s after the fleet was idle (every
// burst full): the fleet admits the rate plus one second of it, as one
// server does — not three times it, and not less than 95 % of it: the
// burst of the idle servers moves with their shares to the busy one.
// (What is lost is the refill of the idle servers' full bursts until
// their shares move, about a quarter of a second of the rate: 3 % of the
// target here, whatever the length.)
func TestOpsPerSecondIsFleetWide(t *testing.T) {
	const limit, seconds = 20, 8
	tf := startFleet(t, nil, fleetOpts{n: 3, cb: section(0, map[string]int64{"Read:ops/s": limit})})
	tf.settle(t, "global/Read:ops/s", limit)
	time.Sleep(1100 * time.Millisecond) // idle: every burst full
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), seconds*time.Second)
	defer cancel()
	for i, perSec := range []int{60, 0, 0} {
		c := tf.servers[i].Client()
		if perSec == 0 {
			continue
		}
		wg.Go(func() {
			tick := time.NewTicker(time.Second / time.Duration(perSec))
			defer tick.Stop()
			var inner sync.WaitGroup
			defer inner.Wait()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				inner.Go(func() {
					out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("fleet"), Key: aws.String("free")},
						func(o *s3.Options) { o.RetryMaxAttempts = 1 })
					switch {
					case err == nil:
						_, _ = io.Copy(io.Discard, out.Body)
						out.Body.Close()
						ok.Add(1)
					case throttled(err):
						refused.Add(1)
					default:
						t.Errorf("GET: %v", err)
					}
				})
			}
		})
	}
	wg.Wait()
	got := ok.Load()
	t.Logf("admitted %d, refused %d over %ds at %d/s fleet-wide", got, refused.Load(), seconds, limit)
	target := int64(limit*seconds + limit)
	if maxOK := target; got > maxOK {
		t.Errorf("admitted %d requests in %ds, more than the fleet-wide %d/s and its burst allow (at most %d)", got, seconds, limit, maxOK)
	}
	if minOK := target * 95 / 100; got < minOK {
		t.Errorf("admitted %d requests in %ds, fewer than %d: the fleet does not use its limit and burst (%d)", got, seconds, minOK, target)
	}
}

func TestRedisDownServesAtLocalSharesThenConverges(t *testing.T) {
	tf := startFleet(t, nil, fleetOpts{n: 3, cb: section(0, map[string]int64{"Read:count": 6})})
	tf.settle(t, "global/Read:count", 6)
	tf.redis.Stop()
	for i, f := range tf.fleets {
		testkit.Eventually(t, 3*time.Second, func() string {
			if st := f.State(); !st.Degraded || st.Instances != 3 {
				return fmt.Sprintf("server%d: %+v, want degraded with 3 instances seen", i, st)
			}
			return ""
		})
	}
	// The configuration cannot change while its store is down: 503, and
	// nothing changes.
	var se *s3api.Error
	if _, err := tf.servers[0].Limits().Apply(section(0, map[string]int64{"Read:count": 5}), ""); !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("Apply while Redis is down: %v, want a 503 S3 error", err)
	}
	// Each server admits its local share, 6 / 3, and refuses at once above it.
	held := []<-chan error{tf.get(0, "hold/x"), tf.get(0, "hold/x")}
	tf.gate.await(t)
	tf.gate.await(t)
	start := time.Now()
	if err := <-tf.get(0, "free"); !throttled(err) {
		t.Fatalf("third GET through server 0 while Redis is down: %v, want SlowDown", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("refusal took %v while Redis is down", d)
	}
	if err := <-tf.get(1, "free"); err != nil {
		t.Fatalf("GET through server 1 while Redis is down: %v", err)
	}
	tf.gate.releaseOne(t)
	tf.gate.releaseOne(t)
	for _, r := range held {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}

	// Redis comes back empty: the fleet stores its configuration again
	// and shares the whole limit within 5 s.
	tf.redis.Restart()
	for i, f := range tf.fleets {
		testkit.Eventually(t, 5*time.Second, func() string {
			if st := f.State(); st.Degraded {
				return fmt.Sprintf("server%d still degraded", i)
			}
			return ""
		})
	}
	if got := tf.redis.Do("HEXISTS", "{s3limit}:config", "doc"); got != ":1" {
		t.Errorf("after the restart Redis has no configuration (HEXISTS: %s)", got)
	}
	var results []<-chan error
	for range 6 {
		results = append(results, tf.get(0, "hold/x"))
	}
	// The busy server gets the whole limit again (its requests retry
	// until the shares moved).
	deadline := time.Now().Add(5 * time.Second)
	admitted := 0
	for admitted < 6 && time.Now().Before(deadline) {
		select {
		case <-tf.gate.entered:
			admitted++
		case err := <-results[0]:
			if !throttled(err) {
				t.Fatalf("GET: %v", err)
			}
			results[0] = tf.get(0, "hold/x")
		case <-time.After(50 * time.Millisecond):
		}
		for j := 1; j < len(results); j++ {
			select {
			case err := <-results[j]:
				if !throttled(err) {
					t.Fatalf("GET: %v", err)
				}
				results[j] = tf.get(0, "hold/x")
			default:
			}
		}
	}
	if admitted != 6 {
		t.Fatalf("%d of 6 requests through one server admitted within 5s of Redis' return", admitted)
	}
	for range 6 {
		tf.gate.releaseOne(t)
	}
	for _, r := range results {
		if err := <-r; err != nil {
			t.Error(err)
		}
	}
}

// A server that dies without giving back its shares (kill -9: it stops
// reporting) loses them after the lease TTL.
func TestDeadServerSharesAreFreed(t *testing.T) {
	const ttl = time.Second
	tf := startFleet(t, nil, fleetOpts{n: 2, leaseTTL: ttl, cb: section(20*time.Second, map[string]int64{"Read:count": 6})})
	// A third member joins and takes its share.
	dead, err := fleet.New(fleet.Options{URL: tf.redis.URL(), ID: "dead", LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	l, err := limits.New(limits.Options{Fleet: dead})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- l.Run(ctx) }()
	tf.fleets = append(tf.fleets, dead)
	tf.settle(t, "global/Read:count", 6)
	tf.fleets = tf.fleets[:2]
	// It dies: no more reports, nothing given back.
	fleet.Kill(dead)
	cancel()
	<-runDone
	died := time.Now()
	rdb := redis.NewClient(&redis.Options{Addr: tf.redis.Addr()})
	defer rdb.Close()
	deadHeld, err := rdb.HGet(context.Background(), "{s3limit}:lease:global/Read:count", "h:dead").Int()
	if err != nil || deadHeld < 1 {
		t.Fatalf("the dead member's share: %d, %v; want at least 1", deadHeld, err)
	}

	var results []<-chan error
	for range 6 {
		results = append(results, tf.get(0, "hold/x"))
	}
	for range 6 - deadHeld {
		tf.gate.await(t) // the shares of the live servers
	}
	select {
	case <-tf.gate.entered:
		if time.Since(died) < ttl*3/4 {
			t.Fatalf("request %d was admitted %v after the member died: its share of %d was not held until the lease TTL %v",
				7-deadHeld, time.Since(died), deadHeld, ttl)
		}
	case <-time.After(ttl / 2):
		tf.gate.await(t)
	}
	for range deadHeld - 1 {
		tf.gate.await(t)
	}
	if d := time.Since(died); d > ttl+2*time.Second {
		t.Errorf("the dead member's share came back %v after it died (lease TTL %v)", d, ttl)
	}
	for range 6 {
		tf.gate.releaseOne(t)
	}
	for _, r := range results {
		if err := <-r; err != nil {
			t.Error(err)
		}
	}
}

// Redis that answers slowly does not slow requests: they never call it.
func TestSlowRedisDoesNotDelayRequests(t *testing.T) {
	tf := startFleet(t, nil, fleetOpts{n: 2, cb: section(0, map[string]int64{"Read:count": 6, "Read:ops/s": 1000})})
	tf.settle(t, "global/Read:count", 6)
	sleeping := make(chan string, 1)
	go func() { sleeping <- tf.redis.Do("DEBUG", "SLEEP", "1.5") }()
	time.Sleep(100 * time.Millisecond) // let the sleep begin
	for i := range 20 {
		start := time.Now()
		if err := <-tf.get(i%2, "free"); err != nil {
			t.Fatalf("GET while Redis is slow: %v", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("GET took %v while Redis is slow", d)
		}
	}
	if got := <-sleeping; got != "+OK" {
		t.Fatalf("DEBUG SLEEP: %s", got)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opts fleet.Options
		want string
	}{
		{fleet.Options{}, "no Redis URL"},
		{fleet.Options{URL: "http://127.0.0.1:6379"}, "want redis://"},
		{fleet.Options{URL: "redis://u:secret@127.0.0.1:6379/x"}, "invalid"},
		{fleet.Options{URL: "redis://127.0.0.1:6379", Prefix: "a{b}"}, "must not contain"},
		{fleet.Options{URL: "redis://127.0.0.1:6379", Interval: -1}, "negative interval"},
	} {
		_, err := fleet.New(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want an error containing %q", tc.opts, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("New(%+v): the error shows the password: %v", tc.opts, err)
		}
	}
}

// TestBytesPerSecondIsFleetWide downloads through three servers at once
// under a fleet-wide 256 KiB/s: together they move the rate, not three
// times it; then through one server alone, which gets (nearly) all of it.
func TestBytesPerSecondIsFleetWide(t *testing.T) {
	const rate = 256 << 10
	tf := startFleet(t, nil, fleetOpts{n: 3, cb: section(0, map[string]int64{"Read:bytes/s": rate})})
	c := tf.servers[0].Client()
	body := bytes.Repeat([]byte("x"), rate)
	for _, k := range []string{"quarter", "half"} {
		b := body
		if k == "half" {
			b = bytes.Repeat(body, 2)
		}
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("fleet"), Key: aws.String(k), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
	}
	tf.settle(t, "global/Read:bytes/s", rate)

	start := time.Now()
	var results []<-chan error
	for i := range 3 {
		results = append(results, tf.get(i, "quarter"))
	}
	for _, r := range results {
		if err := <-r; err != nil {
			t.Fatal(err)
		}
	}
	together := time.Since(start)
	// Three seconds' worth of the fleet's rate; three servers each with
	// the whole rate would take one.
	if together < 2500*time.Millisecond || together > 4*time.Second {
		t.Errorf("3 × %d KiB through three servers took %v, want about 3s at %d KiB/s fleet-wide", rate>>10, together, rate>>10)
	}

	start = time.Now()
	if err := <-tf.get(1, "half"); err != nil {
		t.Fatal(err)
	}
	alone := time.Since(start)
	// Two seconds' worth; a third of the rate would take six.
	if alone < 1800*time.Millisecond || alone > 3500*time.Millisecond {
		t.Errorf("%d KiB through one server of three took %v, want about 2s: the busy server gets the fleet's rate", 2*rate>>10, alone)
	}
	t.Logf("3 × %d KiB through three servers: %v; %d KiB through one: %v", rate>>10, together, 2*rate>>10, alone)
}
