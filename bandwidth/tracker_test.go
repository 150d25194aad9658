package bandwidth

import (
	"math"
	"testing"
	"time"
)

// at returns the time s seconds after a fixed origin.
func at(s float64) time.Time {
	return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s * float64(time.Second)))
}

type record struct {
	amt int64
	at  float64 // seconds
}

func TestRateTrackerAverage(t *testing.T) {
	tests := []struct {
		name    string
		alpha   float64
		records []record
		want    float64
	}{
		{name: "no records", alpha: 0.8, want: 0},
		{name: "first record only stores the time", alpha: 0.8, records: []record{{100, 1}}, want: 0},
		{name: "second record", alpha: 0.8, records: []record{{1, 1}, {1, 2}}, want: 0.8},
		// 1-alpha is computed at run time, as in the reference: exactly 0.96.
		{name: "reference value", alpha: 0.8, records: []record{{1, 1}, {1, 2}, {1, 3}}, want: 0.96},
		{name: "alpha 1 keeps the newest sample", alpha: 1, records: []record{{1, 1}, {10, 2}, {4, 4}}, want: 2},
		{name: "alpha 0.5", alpha: 0.5, records: []record{{0, 0}, {8, 1}, {2, 2}}, want: 3},
		{name: "half-second gap", alpha: 0.8, records: []record{{0, 0}, {5, 0.5}}, want: 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewRateTracker(tc.alpha)
			for _, r := range tc.records {
				tr.RecordConsumptionRate(r.amt, at(r.at))
			}
			if got := tr.CurrentRate(); got != tc.want {
				t.Errorf("CurrentRate() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRateTrackerProjectedRate(t *testing.T) {
	tests := []struct {
		name    string
		records []record
		amt     int64
		at      float64
		want    float64
	}{
		{name: "before any record", amt: 100, at: 5, want: 0},
		{name: "after first record", records: []record{{1, 1}}, amt: 10, at: 2, want: 8},
		{name: "blends the current rate", records: []record{{1, 1}, {1, 2}}, amt: 1, at: 3, want: 0.96},
		{name: "zero gap is infinite", records: []record{{1, 1}}, amt: 1, at: 1, want: math.Inf(1)},
		{name: "negative gap is infinite", records: []record{{1, 2}}, amt: 1, at: 1, want: math.Inf(1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewRateTracker(0.8)
			for _, r := range tc.records {
				tr.RecordConsumptionRate(r.amt, at(r.at))
			}
			before := tr.CurrentRate()
			if got := tr.ProjectedRate(tc.amt, at(tc.at)); got != tc.want {
				t.Errorf("ProjectedRate() = %v, want %v", got, tc.want)
			}
			if tr.CurrentRate() != before {
				t.Error("ProjectedRate changed the current rate")
			}
		})
	}
}

// The reference turns a repeated timestamp into an infinite sample that
// never decays: every later projection is infinite.
func TestRateTrackerRepeatedTimestampDoesNotPoisonAverage(t *testing.T) {
	tr := NewRateTracker(0.8)
	tr.RecordConsumptionRate(1, at(1))
	tr.RecordConsumptionRate(1, at(2)) // 0.8
	tr.RecordConsumptionRate(100, at(2))
	if got := tr.CurrentRate(); got != 0.8 {
		t.Fatalf("after a repeated timestamp CurrentRate() = %v, want 0.8", got)
	}
	// The carried 100 bytes count in the next sample: 0.8*101 + 0.2*0.8.
	if got, want := tr.ProjectedRate(1, at(3)), 0.8*101+(1-0.8)*0.8; math.Abs(got-want) > 1e-9 {
		t.Errorf("ProjectedRate() = %v, want %v", got, want)
	}
	tr.RecordConsumptionRate(1, at(3))
	for i := 4; i < 20; i++ {
		tr.RecordConsumptionRate(1, at(float64(i)))
	}
	if got := tr.CurrentRate(); math.IsInf(got, 0) || math.Abs(got-1) > 1e-6 {
		t.Errorf("CurrentRate() = %v, want about 1 after steady 1 B/s", got)
	}
}

func TestRateTrackerBackwardsClockDoesNotPoisonAverage(t *testing.T) {
	tr := NewRateTracker(0.8)
	tr.RecordConsumptionRate(0, at(10))
	tr.RecordConsumptionRate(10, at(11))   // 8
	tr.RecordConsumptionRate(10, at(5))    // clock stepped back: carried
	tr.RecordConsumptionRate(10, at(10.5)) // still before the latest record
	if got := tr.CurrentRate(); got != 8 {
		t.Fatalf("CurrentRate() = %v after a backwards step, want 8", got)
	}
	tr.RecordConsumptionRate(10, at(12)) // 30 bytes over 1 s
	if got, want := tr.CurrentRate(), 0.8*30+(1-0.8)*8; math.Abs(got-want) > 1e-9 {
		t.Errorf("CurrentRate() = %v, want %v", got, want)
	}
}

func TestRateTrackerAlphaDefault(t *testing.T) {
	for _, alpha := range []float64{0, -1, 1.5, math.NaN(), math.Inf(1)} {
		tr := NewRateTracker(alpha)
		tr.RecordConsumptionRate(1, at(1))
		tr.RecordConsumptionRate(1, at(2))
		tr.RecordConsumptionRate(1, at(3))
		if got := tr.CurrentRate(); got != 0.96 {
			t.Errorf("NewRateTracker(%v): CurrentRate() = %v, want 0.96 (alpha %v)", alpha, got, DefaultAlpha)
		}
	}
	var zero RateTracker
	zero.RecordConsumptionRate(1, at(1))
	zero.RecordConsumptionRate(1, at(2))
	if got := zero.CurrentRate(); got != 0.8 {
		t.Errorf("zero RateTracker: CurrentRate() = %v, want 0.8", got)
	}
}
