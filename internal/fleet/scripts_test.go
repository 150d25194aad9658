package fleet

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/s3limit/s3limit/internal/testpeer"
)

// The lease script keeps an ops/s limit's burst with its shares: in any
// order of rounds, with shares and demand moving at random, the shares
// recorded plus the burst Redis keeps never exceed the limit, nor do the
// servers' shares plus their burst given up and not yet reported plus
// what Redis keeps, so the burst the servers have and Redis keeps is at
// most one second of the rate. Servers are modelled as Breaker.GrantBurst
// behaves: a lowered share gives up the burst above it, reported at the
// next round; a grown one adds what it receives, up to its share.
func TestLeaseScriptBurstNeverExceedsTheLimit(t *testing.T) {
	const limit, key = 60, "{t}:lease:global/Read:ops/s"
	r := testpeer.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	type server struct {
		id            string
		share, tokens float64 // tokens ≤ share
		handed        int64   // given up, not yet reported
	}
	rng := rand.New(rand.NewPCG(13, 2))
	var servers []*server
	for i := range 3 {
		servers = append(servers, &server{id: "s" + strconv.Itoa(i)})
	}
	var passed int64
	for step := range 3000 {
		s := servers[rng.IntN(len(servers))]
		// Time passes for everyone: spend some, refill some (never above
		// the share: that is the Breaker's cap).
		for _, o := range servers {
			o.tokens = max(o.tokens-float64(rng.IntN(4)), 0)
			o.tokens = min(o.tokens+o.share*rng.Float64()*0.1, o.share)
		}
		want := rng.Int64N(limit + 1)
		avail := int64(s.tokens)
		res, err := leaseScript.Run(ctx, rdb, []string{"{t}:instances", "{t}:config", key},
			s.id, 60000, limit, int64(s.share), want, 0, avail, s.handed).Slice()
		if err != nil {
			t.Fatal(err)
		}
		s.handed = 0
		grant, burst := float64(res[2].(int64)), res[4].(int64)
		passed += burst
		keep := min(s.tokens, grant)
		s.handed = int64(s.tokens - keep)
		s.tokens = min(keep+float64(burst), grant)
		s.share = grant

		h, err := rdb.HGetAll(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		kept, _ := strconv.ParseInt(h["burst"], 10, 64)
		var recorded int64
		for f, v := range h {
			if strings.HasPrefix(f, "h:") {
				n, _ := strconv.ParseInt(v, 10, 64)
				recorded += n
			}
		}
		if recorded+kept > limit {
			t.Fatalf("step %d: shares recorded %d plus burst kept %d exceed the limit %d: %v", step, recorded, kept, limit, h)
		}
		var shares, inTransit float64
		for _, o := range servers {
			shares += o.share
			inTransit += float64(o.handed)
		}
		if shares+inTransit+float64(kept) > limit {
			t.Fatalf("step %d: shares %.0f, burst given up %.0f and kept %d exceed the limit %d", step, shares, inTransit, kept, limit)
		}
	}
	if passed == 0 {
		t.Fatal("no burst was ever passed on: the test does not exercise it")
	}
}
