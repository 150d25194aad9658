package bandwidth

import "time"

// ConsumptionScheduler keeps the queue of requests that a [LeakyBucket]
// refused: each scheduled request adds its time to consume to a total wait,
// and the total is what the next refused request is told to wait.
//
// The zero value is an empty scheduler. A ConsumptionScheduler is not safe
// for concurrent use; [LeakyBucket] serialises its calls.
type ConsumptionScheduler struct {
	scheduled map[*RequestToken]time.Duration // time to consume per token
	totalWait time.Duration
}

// NewConsumptionScheduler returns an empty scheduler.
func NewConsumptionScheduler() *ConsumptionScheduler {
	return &ConsumptionScheduler{}
}

// IsScheduled reports whether token has a scheduled consumption.
func (s *ConsumptionScheduler) IsScheduled(token *RequestToken) bool {
	_, ok := s.scheduled[token]
	return ok
}

// ScheduleConsumption schedules the request of token, which takes
// timeToConsume, and returns the total wait of the queue including it: how
// long the requester should wait before retrying. amt, in bytes, is
// informational. Scheduling a token that is already
// scheduled replaces its entry (its earlier time to consume leaves the
// total), so a token is never counted twice.
func (s *ConsumptionScheduler) ScheduleConsumption(amt int64, token *RequestToken, timeToConsume time.Duration) time.Duration {
	if s.scheduled == nil {
		s.scheduled = make(map[*RequestToken]time.Duration)
	}
	if old, ok := s.scheduled[token]; ok {
		s.totalWait = max(s.totalWait-old, 0)
	}
	s.scheduled[token] = timeToConsume
	s.totalWait += timeToConsume
	return s.totalWait
}

// ProcessScheduledConsumption removes token from the schedule and takes its
// time to consume off the total wait, which never goes below zero. It does
// nothing for a token that is not scheduled.
func (s *ConsumptionScheduler) ProcessScheduledConsumption(token *RequestToken) {
	ttc, ok := s.scheduled[token]
	if !ok {
		return
	}
	delete(s.scheduled, token)
	s.totalWait = max(s.totalWait-ttc, 0)
}

// TotalWait returns the total wait of the queue.
func (s *ConsumptionScheduler) TotalWait() time.Duration { return s.totalWait }

// Len returns the number of scheduled tokens.
func (s *ConsumptionScheduler) Len() int { return len(s.scheduled) }
