package bandwidth

import (
	"testing"
	"time"
)

func TestConsumptionScheduler(t *testing.T) {
	a, b, c := NewRequestToken(1, at(0)), NewRequestToken(2, at(0)), NewRequestToken(3, at(0))
	s := NewConsumptionScheduler()
	steps := []struct {
		name      string
		do        func() time.Duration
		wantTotal time.Duration
		scheduled []*RequestToken
	}{
		{"schedule a", func() time.Duration { return s.ScheduleConsumption(1, a, time.Second) }, time.Second, []*RequestToken{a}},
		{"schedule b", func() time.Duration { return s.ScheduleConsumption(2, b, 2*time.Second) }, 3 * time.Second, []*RequestToken{a, b}},
		{"process a", func() time.Duration { s.ProcessScheduledConsumption(a); return s.TotalWait() }, 2 * time.Second, []*RequestToken{b}},
		{"process unknown", func() time.Duration { s.ProcessScheduledConsumption(c); return s.TotalWait() }, 2 * time.Second, []*RequestToken{b}},
		{"reschedule b replaces it", func() time.Duration { return s.ScheduleConsumption(2, b, 500*time.Millisecond) }, 500 * time.Millisecond, []*RequestToken{b}},
		{"process b", func() time.Duration { s.ProcessScheduledConsumption(b); return s.TotalWait() }, 0, nil},
	}
	for _, st := range steps {
		if got := st.do(); got != st.wantTotal {
			t.Fatalf("%s: total wait = %v, want %v", st.name, got, st.wantTotal)
		}
		if s.Len() != len(st.scheduled) {
			t.Fatalf("%s: %d scheduled, want %d", st.name, s.Len(), len(st.scheduled))
		}
		for _, tok := range st.scheduled {
			if !s.IsScheduled(tok) {
				t.Fatalf("%s: token %d not scheduled", st.name, tok.Amount())
			}
		}
	}
}

func TestConsumptionSchedulerTotalNeverNegative(t *testing.T) {
	var s ConsumptionScheduler // the zero value is usable
	a, b := NewRequestToken(1, at(0)), NewRequestToken(1, at(0))
	s.ScheduleConsumption(1, a, time.Second)
	s.ScheduleConsumption(1, b, time.Second)
	s.totalWait = 500 * time.Millisecond // as if waits had been shortened
	s.ProcessScheduledConsumption(a)
	if got := s.TotalWait(); got != 0 {
		t.Errorf("TotalWait() = %v, want 0", got)
	}
	if !s.IsScheduled(b) || s.IsScheduled(a) {
		t.Error("wrong tokens scheduled")
	}
}
