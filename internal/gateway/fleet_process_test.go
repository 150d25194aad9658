package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redis/go-redis/v9"

	"github.com/s3limit/s3limit/internal/fleet"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
	"github.com/s3limit/s3limit/internal/testpeer"
)

const (
	processAccessKey = "AKIAFLEETPROCESS0000"
	processSecretKey = "fleetProcessSecret0000000000000000000000"
)

// gatewayProcess is a running `s3limit serve -upstream ... -redis ...`.
type gatewayProcess struct {
	cmd    *exec.Cmd
	url    string
	out    *testkit.SyncBuffer
	exited chan struct{}
}

// startGatewayProcess runs bin as a gateway to upstream sharing its
// limits through redisURL, with the circuit breaker file cb ("" = none),
// and waits until it answers.
func startGatewayProcess(t *testing.T, bin, upstream, redisURL, cb string) *gatewayProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	args := []string{"serve", "-ip.bind", "127.0.0.1", "-port", strconv.Itoa(port), "-dir", dir, "-quiet",
		"-upstream", upstream, "-redis", redisURL, "-shutdownDelay", "0"}
	if cb != "" {
		args = append(args, "-circuitBreaker", cb)
	}
	p := &gatewayProcess{
		cmd:    exec.Command(bin, args...),
		url:    "http://127.0.0.1:" + strconv.Itoa(port),
		out:    &testkit.SyncBuffer{},
		exited: make(chan struct{}),
	}
	p.cmd.Env = append(os.Environ(),
		"S3LIMIT_ACCESS_KEY="+processAccessKey, "S3LIMIT_SECRET_KEY="+processSecretKey,
		"S3LIMIT_UPSTREAM_ACCESS_KEY="+upstreamAccessKey, "S3LIMIT_UPSTREAM_SECRET_KEY="+upstreamSecretKey)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting s3limit serve: %v", err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	c := p.client()
	testkit.Eventually(t, 15*time.Second, func() string {
		select {
		case <-p.exited:
			t.Fatalf("s3limit serve exited:\n%s", p.out)
		default:
		}
		if _, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{}); err != nil {
			return "gateway not answering: " + err.Error()
		}
		return ""
	})
	return p
}

// kill stops the process as kill -9 does and waits for it.
func (p *gatewayProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func (p *gatewayProcess) client() *s3.Client {
	return servertest.NewClient(p.url, processAccessKey, processSecretKey)
}

// fleetID is the prefix of the fleet id of the process: host name and
// process id (a random suffix follows).
func (p *gatewayProcess) fleetID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-", host, p.cmd.Process.Pid)
}

// heldGet is a GET whose body is not read: with an object larger than
// the socket buffers the gateway cannot finish it, so it stays in flight
// and holds its place in the count limit until closed.
type heldGet struct {
	body io.ReadCloser
	err  error
}

func startHeldGets(c *s3.Client, bucket, key string, n int) <-chan heldGet {
	out := make(chan heldGet, n)
	for range n {
		go func() {
			res, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
				func(o *s3.Options) { o.RetryMaxAttempts = 1 })
			if err != nil {
				out <- heldGet{err: err}
				return
			}
			out <- heldGet{body: res.Body}
		}()
	}
	return out
}

// leaseShares reads the shares recorded for a limit: id → share.
func leaseShares(t *testing.T, rdb *redis.Client, key string) map[string]int64 {
	t.Helper()
	h, err := rdb.HGetAll(context.Background(), "{"+fleet.DefaultPrefix+"}:lease:"+key).Result()
	if err != nil {
		t.Fatal(err)
	}
	shares := map[string]int64{}
	for k, v := range h {
		if id, ok := strings.CutPrefix(k, "h:"); ok {
			shares[id], _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return shares
}

// TestGatewayFleetProcessKilledGivesBackItsShares runs three `s3limit
// serve -upstream -redis` processes in front of one versitygw and kills
// one with SIGKILL while it holds most of a count limit for requests in
// flight: its share is not given to the others before its lease expires
// (5 s after its last round), and then within a round or two, so that
// the whole limit is again there for the live servers.
func TestGatewayFleetProcessKilledGivesBackItsShares(t *testing.T) {
	const limit, key = 6, "global/Read:count"
	bin := testkit.BuildS3limit(t)
	up := startVersitygw(t)
	r := testpeer.StartRedis(t)
	cb := filepath.Join(t.TempDir(), "circuit_breaker.json")
	if err := os.WriteFile(cb, []byte(`{"global":{"enabled":true,"wait":"10s","actions":{"Read:count":6}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var procs []*gatewayProcess
	for i := range 3 {
		file := ""
		if i == 0 {
			file = cb // the first server seeds the fleet's configuration
		}
		procs = append(procs, startGatewayProcess(t, bin, up.URL, r.URL(), file))
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer rdb.Close()
	idOf := func(shares map[string]int64, p *gatewayProcess) string {
		for id := range shares {
			if strings.HasPrefix(id, p.fleetID()) {
				return id
			}
		}
		return ""
	}
	testkit.Eventually(t, 5*time.Second, func() string {
		shares := leaseShares(t, rdb, key)
		var sum int64
		for _, p := range procs {
			id := idOf(shares, p)
			if id == "" || shares[id] == 0 {
				return fmt.Sprintf("not every server has a share: %v", shares)
			}
			sum += shares[id]
		}
		if sum != limit {
			return fmt.Sprintf("shares %v do not add up to %d", shares, limit)
		}
		return ""
	})

	c := procs[0].client()
	mustCreateBucket(t, c, "fleet-kill")
	mustPut(t, c, "fleet-kill", "big", bytes.Repeat([]byte("k"), 32<<20))

	// The victim takes 4 of the 6 for GETs it cannot finish.
	victim := procs[2]
	held := startHeldGets(victim.client(), "fleet-kill", "big", 4)
	var bodies []io.ReadCloser
	defer func() {
		for _, b := range bodies {
			b.Close()
		}
	}()
	for range 4 {
		select {
		case g := <-held:
			if g.err != nil {
				t.Fatalf("GET through the victim: %v", g.err)
			}
			bodies = append(bodies, g.body)
		case <-time.After(5 * time.Second):
			t.Fatalf("4 GETs through one server were not all admitted within 5 s: shares %v", leaseShares(t, rdb, key))
		}
	}
	victimID := idOf(leaseShares(t, rdb, key), victim)
	if s := leaseShares(t, rdb, key)[victimID]; s < 4 {
		t.Fatalf("the victim's share %d with 4 GETs in flight, want at least 4", s)
	}

	victim.kill()
	killed := time.Now()
	for _, b := range bodies {
		b.Close()
	}
	bodies = nil

	// Until its lease expires the victim's share stays recorded, so the
	// others cannot admit more than the rest: 2 GETs through the first
	// server get in, the third waits.
	live := startHeldGets(c, "fleet-kill", "big", limit)
	for range limit - 4 {
		select {
		case g := <-live:
			if g.err != nil {
				t.Fatalf("GET through a live server: %v", g.err)
			}
			bodies = append(bodies, g.body)
		case <-time.After(5 * time.Second):
			t.Fatalf("the live servers' 2 of the limit were not admitted within 5 s: shares %v", leaseShares(t, rdb, key))
		}
	}
	var freed time.Duration
	for len(bodies) < limit {
		select {
		case g := <-live:
			if g.err != nil {
				t.Fatalf("GET through a live server: %v", g.err)
			}
			bodies = append(bodies, g.body)
			if len(bodies) == limit-4+1 {
				freed = time.Since(killed)
			}
		case <-time.After(fleet.DefaultLeaseTTL + 3*time.Second):
			t.Fatalf("%d of %d GETs admitted %v after the kill: the dead server's share was not freed; shares %v",
				len(bodies), limit, time.Since(killed), leaseShares(t, rdb, key))
		}
	}
	t.Logf("the killed server's share reached the others %v after the kill (lease TTL %v)", freed, fleet.DefaultLeaseTTL)
	if freed < fleet.DefaultLeaseTTL-500*time.Millisecond {
		t.Errorf("the killed server's share was given out %v after the kill, before its lease of %v expired", freed, fleet.DefaultLeaseTTL)
	}
	if freed > fleet.DefaultLeaseTTL+2*time.Second {
		t.Errorf("the killed server's share reached the others %v after the kill, more than its lease of %v and two seconds", freed, fleet.DefaultLeaseTTL)
	}
	shares := leaseShares(t, rdb, key)
	if _, ok := shares[victimID]; ok {
		t.Errorf("the killed server is still recorded: %v", shares)
	}
	n, err := rdb.ZCard(context.Background(), "{"+fleet.DefaultPrefix+"}:instances").Result()
	if err != nil || n != 2 {
		t.Errorf("live instances in Redis: %d, %v; want 2", n, err)
	}
}
