package limits_test

import (
	"context"
	"testing"

	"github.com/s3limit/s3limit/internal/fleet"
	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/testpeer"
)

// TestNoLeakUnderChaosWithFleet is the chaos leak test with the limits
// leased from a fleet in a real redis-server, whose second, idle member
// holds part of every limit: the shares move under the chaos, and every
// counter and gauge still ends at 0.
func TestNoLeakUnderChaosWithFleet(t *testing.T) {
	r := testpeer.StartRedis(t)
	idle, err := fleet.New(fleet.Options{URL: r.URL(), ID: "idle"})
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	l, err := limits.New(limits.Options{Fleet: idle})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- l.Run(ctx) }()
	defer func() {
		cancel()
		<-runDone
	}()

	busy, err := fleet.New(fleet.Options{URL: r.URL(), ID: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	limits.RunChaosLeak(t, busy)
	if st := busy.State(); st.Degraded || st.Instances != 2 {
		t.Errorf("fleet state after the chaos: %+v, want 2 instances, not degraded", st)
	}
}
