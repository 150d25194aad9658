package bandwidth

import (
	"math"
	"time"
)

// DefaultAlpha is the weight a [RateTracker] gives the newest sample when
// NewRateTracker is passed an alpha outside (0, 1].
const DefaultAlpha = 0.8

// RateTracker estimates a consumption rate in bytes per second as an
// exponential moving average of the rates between consecutive records:
//
//	rate = alpha*sample + (1-alpha)*rate, sample = amt / (at - previous at)
//
// The first record only stores its time, so CurrentRate stays 0 until the
// second one.
//
// Records whose time is not after the previous record (a repeated timestamp,
// or a clock that stepped backwards) do not enter the average: their bytes
// are carried into the next record with a positive gap. A zero or negative
// gap therefore cannot leave an infinite rate behind, which would otherwise
// make every later projection infinite. A projection over such a gap is
// still +Inf, since the bytes would pass in no time.
//
// The zero value is an empty tracker with alpha [DefaultAlpha]. A RateTracker
// is not safe for concurrent use; [LeakyBucket] serialises its calls.
type RateTracker struct {
	alpha   float64   // weight of the newest sample; 0 means DefaultAlpha
	last    time.Time // time of the latest record that entered the average
	started bool      // whether last is set
	current float64   // bytes per second
	carried int64     // bytes recorded at or before last, not yet averaged
}

// NewRateTracker returns a tracker that gives weight alpha to the newest
// sample. An alpha outside (0, 1], or NaN, selects [DefaultAlpha].
func NewRateTracker(alpha float64) *RateTracker {
	if !(alpha > 0 && alpha <= 1) {
		alpha = DefaultAlpha
	}
	return &RateTracker{alpha: alpha}
}

// CurrentRate returns the average rate in bytes per second; 0 before two
// records.
func (t *RateTracker) CurrentRate() float64 {
	if !t.started {
		return 0
	}
	return t.current
}

// ProjectedRate returns the average rate, in bytes per second, that
// recording amt bytes at time at would produce, without recording them. It
// is 0 before any record and +Inf when at is not after the latest record.
func (t *RateTracker) ProjectedRate(amt int64, at time.Time) float64 {
	if !t.started {
		return 0
	}
	return t.average(amt+t.carried, at)
}

// RecordConsumptionRate records that amt bytes were consumed at time at.
func (t *RateTracker) RecordConsumptionRate(amt int64, at time.Time) {
	if !t.started {
		t.last, t.started, t.current = at, true, 0
		return
	}
	if !at.After(t.last) {
		t.carried += amt
		return
	}
	t.current = t.average(amt+t.carried, at)
	t.last, t.carried = at, 0
}

// average returns the moving average after a sample of amt bytes at time at.
func (t *RateTracker) average(amt int64, at time.Time) float64 {
	gap := at.Sub(t.last)
	if gap <= 0 {
		return math.Inf(1)
	}
	alpha := t.alpha
	if alpha == 0 {
		alpha = DefaultAlpha
	}
	sample := float64(amt) / gap.Seconds()
	// The conversions round each product on its own (no fused multiply-add),
	// so results match the reference bit for bit: records (1,1s), (1,2s),
	// (1,3s) average to exactly 0.96.
	return float64(alpha*sample) + float64((1-alpha)*t.current)
}
