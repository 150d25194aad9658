package limits

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// opsFleet is a leasing Breaker with a Read:ops/s limit and a share of
// share whose burst is full.
func opsFleet(t *testing.T, limit, share int64) *Breaker {
	t.Helper()
	b := fleetBreaker(t, `{"global":{"enabled":true,"actions":{"Read:ops/s":`+strconv.FormatInt(limit, 10)+`}}}`)
	d := demandOf(t, b, "global/Read:ops/s")
	b.GrantBurst(&d, share, 0)
	b.global[0].tat.Store(-int64(time.Hour)) // idle: the burst is full
	return b
}

// Burst moves with the share: a lowered share gives up what is above one
// second of it (reported once, as Handed, for the fleet to pass on), a
// share that grows keeps what it has plus what it is passed, up to one
// second of the new share. Grant without burst drops what it takes.
func TestFleetOpsBurstMovesWithTheShare(t *testing.T) {
	for _, tc := range []struct {
		name            string
		share, newShare int64
		burst           int64
		keepBurst       bool // GrantBurst (else Grant)
		wantHanded      int64
		wantAtOnce      int
	}{
		{name: "lowered hands over the rest", share: 20, newShare: 5, keepBurst: true, wantHanded: 15, wantAtOnce: 5},
		{name: "lowered by Grant drops the rest", share: 20, newShare: 5, wantHanded: 0, wantAtOnce: 5},
		{name: "lowered to nothing hands over all", share: 20, newShare: 0, keepBurst: true, wantHanded: 20, wantAtOnce: 0},
		{name: "grown keeps its burst", share: 5, newShare: 20, keepBurst: true, wantAtOnce: 5},
		{name: "grown with burst passed on", share: 5, newShare: 20, burst: 10, keepBurst: true, wantAtOnce: 15},
		{name: "burst capped at one second of the share", share: 5, newShare: 20, burst: 40, keepBurst: true, wantAtOnce: 20},
		{name: "same share with burst passed on", share: 20, newShare: 20, burst: 5, keepBurst: true, wantAtOnce: 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := opsFleet(t, 60, tc.share)
			d := demandOf(t, b, "global/Read:ops/s")
			if d.Avail != tc.share || d.Handed != 0 {
				t.Fatalf("before: %+v, want avail %d, handed 0", d, tc.share)
			}
			if tc.keepBurst {
				b.GrantBurst(&d, tc.newShare, tc.burst)
			} else {
				b.Grant(&d, tc.newShare)
			}
			d = demandOf(t, b, "global/Read:ops/s")
			if d.Share != tc.newShare || d.Handed != tc.wantHanded {
				t.Fatalf("after: %+v, want share %d, handed %d", d, tc.newShare, tc.wantHanded)
			}
			if d = demandOf(t, b, "global/Read:ops/s"); d.Handed != 0 {
				t.Fatalf("handed %d reported twice", d.Handed)
			}
			if n := admitAtOnce(b, 100); n != tc.wantAtOnce {
				t.Fatalf("admitted %d at once, want %d", n, tc.wantAtOnce)
			}
		})
	}
}

// Shares moving back and forth make no burst: whatever the order of the
// changes, the burst admitted at once plus what was handed over never
// exceeds the burst there was plus what was passed on.
func TestFleetOpsShareMovesMakeNoBurst(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	for run := range 200 {
		b := opsFleet(t, 60, 1+rng.Int64N(60))
		d := demandOf(t, b, "global/Read:ops/s")
		budget := d.Avail // burst there was and was passed on
		var handed int64
		for range 1 + rng.IntN(8) {
			share := rng.Int64N(61)
			var burst int64
			if rng.IntN(3) == 0 {
				burst = rng.Int64N(20)
			}
			budget += burst
			b.GrantBurst(&d, share, burst)
			d = demandOf(t, b, "global/Read:ops/s")
			handed += d.Handed
			if rng.IntN(2) == 0 {
				budget -= int64(admitAtOnce(b, int(rng.Int64N(10))))
			}
		}
		// A few microseconds pass in the run: at most one request refills.
		if n := int64(admitAtOnce(b, 200)); n+handed > budget+1 {
			t.Fatalf("run %d: %d admitted at once and %d handed over from a burst of %d", run, n, handed, budget)
		}
	}
}

// A configuration that lowers an ops/s limit clamps the share to the new
// limit ÷ servers at once, with its burst; one that leaves the limit as
// it was keeps the share.
func TestFleetOpsShareClampedOnInstall(t *testing.T) {
	b := opsFleet(t, 60, 60)
	b.SetFleetSize(3)
	set := func(doc string) {
		t.Helper()
		cfg, err := ParseConfig([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
	}
	// Another limit changes: the ops/s share stays.
	set(`{"global":{"enabled":true,"actions":{"Read:ops/s":60,"Write:count":5}}}`)
	if d := demandOf(t, b, "global/Read:ops/s"); d.Share != 60 || d.Avail != 60 {
		t.Fatalf("after an unrelated change: %+v, want share 60, avail 60", d)
	}
	set(`{"global":{"enabled":true,"actions":{"Read:ops/s":30,"Write:count":5}}}`)
	d := demandOf(t, b, "global/Read:ops/s")
	if d.Share != 10 || d.Handed != 0 {
		t.Fatalf("after lowering the limit to 30 with 3 servers: %+v, want share 10, nothing handed", d)
	}
	if n := admitAtOnce(b, 100); n != 10 {
		t.Fatalf("admitted %d at once after the limit was lowered, want the clamped share's burst 10", n)
	}
}

// Count and bytes shares are clamped only when their limit is lowered.
func TestFleetCountShareClampedOnlyWhenLowered(t *testing.T) {
	b := fleetBreaker(t, `{"global":{"enabled":true,"actions":{"Read:count":6}}}`)
	b.SetFleetSize(3)
	d := demandOf(t, b, "global/Read:count")
	b.Grant(&d, 6)
	set := func(doc string) {
		t.Helper()
		cfg, err := ParseConfig([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
	}
	set(`{"global":{"enabled":true,"actions":{"Read:count":6,"Write:count":1}}}`)
	if d = demandOf(t, b, "global/Read:count"); d.Share != 6 {
		t.Fatalf("share %d after an unrelated change, want 6", d.Share)
	}
	set(`{"global":{"enabled":true,"actions":{"Read:count":3,"Write:count":1}}}`)
	if d = demandOf(t, b, "global/Read:count"); d.Share != 1 {
		t.Fatalf("share %d after lowering the limit to 3 with 3 servers, want 1", d.Share)
	}
	// A section disabled and enabled again: the shares of long ago are
	// stale, clamped whatever the limit.
	b.Grant(&d, 3)
	set(`{"global":{"enabled":false,"actions":{"Read:count":3}}}`)
	set(`{"global":{"enabled":true,"actions":{"Read:count":3}}}`)
	if d = demandOf(t, b, "global/Read:count"); d.Share != 1 {
		t.Fatalf("share %d after the section was enabled again, want 1 (limit 3 ÷ 3 servers)", d.Share)
	}
}
