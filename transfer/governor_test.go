package transfer

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
)

func TestGovernorAIMD(t *testing.T) {
	g := newGovernor(8)
	// A burst of throttles from requests admitted in the same round halves
	// the window once.
	var slots []slot
	for range 8 {
		s, err := g.acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, s)
	}
	for _, s := range slots {
		g.release(s, outcomeThrottled)
	}
	if st := g.stats(); st.limit != 4 || st.throttles != 8 || st.minLimit != 4 {
		t.Fatalf("after one round of throttles: %+v, want limit 4", st)
	}
	// Each new round of throttles halves again, down to 1.
	for _, want := range []int{2, 1, 1} {
		s, _ := g.acquire(context.Background())
		g.release(s, outcomeThrottled)
		if got := g.stats().limit; got != want {
			t.Fatalf("limit = %d, want %d", got, want)
		}
	}
	// Additive increase: about one per round of limit successes.
	rounds := 0
	for g.stats().limit < 8 {
		lim := g.stats().limit
		for range lim {
			s, _ := g.acquire(context.Background())
			g.release(s, outcomeOK)
		}
		rounds++
		if rounds > 20 {
			t.Fatalf("window did not recover: %+v", g.stats())
		}
	}
	if rounds < 5 {
		t.Fatalf("window recovered from 1 to 8 in %d rounds; want additive growth", rounds)
	}
	// Other failures leave the window alone.
	s, _ := g.acquire(context.Background())
	g.release(s, outcomeFailed)
	if got := g.stats().limit; got != 8 {
		t.Fatalf("limit after a plain failure = %d, want 8", got)
	}
}

func TestGovernorFIFOAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGovernor(1)
		first, _ := g.acquire(context.Background())

		order := make(chan int, 3)
		ctx2, cancel2 := context.WithCancel(context.Background())
		errs := make(chan error, 1)
		go func() {
			s, err := g.acquire(context.Background())
			order <- 1
			if err == nil {
				g.release(s, outcomeOK)
			}
		}()
		synctest.Wait()
		go func() {
			_, err := g.acquire(ctx2)
			errs <- err
		}()
		synctest.Wait()
		go func() {
			s, err := g.acquire(context.Background())
			order <- 3
			if err == nil {
				g.release(s, outcomeOK)
			}
		}()
		synctest.Wait()
		if st := g.stats(); st.waiting != 3 {
			t.Fatalf("waiting = %d, want 3", st.waiting)
		}
		cancel2()
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled acquire returned %v", err)
		}
		g.release(first, outcomeOK)
		if a, b := <-order, <-order; a != 1 || b != 3 {
			t.Fatalf("admission order %d, %d; want 1, 3", a, b)
		}
		synctest.Wait()
		if st := g.stats(); st.inFlight != 0 || st.waiting != 0 {
			t.Fatalf("leaked: %+v", st)
		}
	})
}
