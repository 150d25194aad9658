package limits

import (
	"math"
	"time"
)

// A leased ops/s limit is a share (requests per second) and a burst.
//
// The share is this instance's part of the rate; the fleet keeps the
// shares within the limit. The burst is what the instance could admit at
// once: GCRA tokens, refilled at the share up to one second of it, as for
// a local limit. Burst is never made by a share change; it moves with the
// share instead. When a share is lowered, the tokens above one second of
// the new share leave the instance (Demand.Handed) and the fleet keeps
// them for the instances whose shares grow (GrantBurst); a share that
// grows keeps the tokens it had and receives what the fleet passes on.
// So the burst of every instance plus what the fleet keeps never exceeds
// one second of the limit, and the fleet admits at most the rate plus one
// second of it, however often the shares move.

// opsTokens returns the burst of a GCRA state: how many requests (with
// fractions) tat admits at once at now under the emission interval and
// tolerance of a share; 0 without a share.
func opsTokens(tat, now, interval, tolerance int64) float64 {
	if interval <= 0 {
		return 0
	}
	backlog := max(tat-now, 0)
	return max(float64(tolerance+interval-backlog)/float64(interval), 0)
}

// opsParams returns the GCRA parameters of a share of share requests per
// second; 0, 0 for no share.
func opsParams(share int64) (interval, tolerance int64) {
	if share <= 0 {
		return 0, 0
	}
	interval = max(int64(time.Second)/share, 1)
	return interval, (share - 1) * interval
}

// setOpsShare installs an ops/s share and adds burst whole requests to
// the slot's burst, which it caps at one second of the share. With hand,
// the burst a lowered share takes is kept for the next Demands to report;
// without, it is dropped.
func (b *Breaker) setOpsShare(sl *slot, f *fleetSlot, share, burst int64, hand bool) {
	f.opsMu.Lock()
	defer f.opsMu.Unlock()
	b.setOpsShareLocked(sl, f, share, burst, hand)
}

// setOpsShareLocked is setOpsShare with f.opsMu held.
func (b *Breaker) setOpsShareLocked(sl *slot, f *fleetSlot, share, burst int64, hand bool) {
	if f.opsShare.Load() == share && burst == 0 {
		return
	}
	oldInterval, oldTol := f.opsInterval.Load(), f.opsTolerance.Load()
	interval, tol := opsParams(share)
	f.opsShare.Store(share)
	f.opsInterval.Store(interval)
	f.opsTolerance.Store(tol)
	now := b.nowNanos()
	for {
		tat := sl.tat.Load()
		have := opsTokens(tat, now, oldInterval, oldTol)
		keep := min(have, float64(share))
		next := now
		if share > 0 {
			// Rounded up: a share change never adds a fraction of a
			// request.
			next += int64(math.Ceil((float64(share) - min(keep+float64(burst), float64(share))) * float64(interval)))
		}
		if sl.tat.CompareAndSwap(tat, next) {
			if hand && have > keep {
				f.opsHanded.Add(int64((have - keep) * 1000))
			}
			return
		}
	}
}

// clampOpsShare lowers the ops/s share of a slot to most if it is above,
// dropping the burst above one second of it.
func (b *Breaker) clampOpsShare(sl *slot, f *fleetSlot, most int64) {
	f.opsMu.Lock()
	defer f.opsMu.Unlock()
	if f.opsShare.Load() > most {
		b.setOpsShareLocked(sl, f, most, 0, false)
	}
}
