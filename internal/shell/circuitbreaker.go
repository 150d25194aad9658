package shell

import (
	"github.com/s3limit/s3limit/internal/limits"
	"time"
)

// CircuitBreakerOp is one s3.circuitBreaker command, checked and
// normalised by ParseCircuitBreaker. The zero value views the
// configuration.
//
// Meaning, applied to the global section (Global), every bucket in
// Buckets and every user in Users (the scope):
//
//   - Values set (upsert): each Actions[i] gets Values[i] under
//     "<Action>:<Type>"; other keys are kept. The section is created if
//     needed and is enabled unless Disable is set.
//   - Neither values nor Delete: the scope's sections are switched on, or
//     off with Disable, keeping their limits. A section that ends up off
//     and without limits is removed, so disabling a scope that has no
//     configuration changes nothing.
//   - Shadow, when set, sets the shadow flag of the scope's sections
//     (with or without values); nil leaves it as it is. Wait, likewise,
//     sets how long their requests wait for room.
//   - Delete without a scope clears the whole configuration. Delete with
//     a scope removes those sections, or with Actions only those actions'
//     limits (of Type, or of every type when Type is ""); a section left
//     off and without limits is removed.
type CircuitBreakerOp struct {
	Global  bool     // -global: the global section is in scope
	Buckets []string // -buckets: valid, distinct bucket names in scope
	Users   []string // -users: valid, distinct user names in scope
	// Type is a limits.Type* constant (-type count|MB|ops/s|MB/s); ""
	// when not given, which for Delete means every type.
	Type    string
	Actions []string // -actions: canonical, distinct action names
	// Values holds one limit per action (a single -values entry has been
	// repeated for every action), in stored units: requests for count,
	// requests per second for ops/s, bytes for MB, bytes per second for
	// MB/s. Nil when -values was not given.
	Values []int64
	// Shadow is -shadow (true) or -shadow=false; nil when not given.
	Shadow *bool
	// Wait is -wait: how long a request over the section's count or bytes
	// limits waits for room (0: refused at once); nil when not given.
	Wait    *time.Duration
	Disable bool // -disable: switch the scope off, keeping its limits
	Delete  bool // -delete: remove the scope, or the named actions from it
	Apply   bool // -apply: save the result; otherwise only show it
}

// allTypes are the limit types -delete without -type removes.
var allTypes = []string{limits.TypeCount, limits.TypeBytes, limits.TypeOpsPerSec, limits.TypeBytesPerSec}

// IsView reports whether op only shows the configuration: it names no
// scope and changes nothing (with or without -apply).
func (op *CircuitBreakerOp) IsView() bool {
	return !op.Delete && !op.scoped()
}

// scoped reports whether op names any section.
func (op *CircuitBreakerOp) scoped() bool {
	return op.Global || len(op.Buckets) > 0 || len(op.Users) > 0
}

// Edit returns the configuration that results from applying op to cfg.
// cfg is not modified; a nil cfg is the empty configuration. The result
// passes limits.Config.Validate.
func (op *CircuitBreakerOp) Edit(cfg *limits.Config) (*limits.Config, error) {
	out := cfg.Clone()
	change := op.upsert
	if op.Delete {
		change = op.deleteFrom
	}
	if op.Delete && !op.scoped() {
		out = &limits.Config{}
	}
	if op.Global {
		out.Global = change(out.Global)
	}
	out.Buckets = editSections(out.Buckets, op.Buckets, change)
	out.Users = editSections(out.Users, op.Users, change)
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// editSections applies change to the sections of m named in names and
// returns the map to keep: nil when no section is left.
func editSections(m map[string]*limits.Section, names []string, change func(*limits.Section) *limits.Section) map[string]*limits.Section {
	for _, n := range names {
		if m == nil {
			m = make(map[string]*limits.Section)
		}
		if s := change(m[n]); s != nil {
			m[n] = s
		} else {
			delete(m, n)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// upsert applies op's values, on/off switch and shadow flag to s (nil =
// absent) and returns the section to keep, or nil to remove it.
func (op *CircuitBreakerOp) upsert(s *limits.Section) *limits.Section {
	if s == nil {
		s = &limits.Section{}
	}
	if s.Actions == nil {
		s.Actions = make(map[string]int64, len(op.Actions))
	}
	s.Enabled = !op.Disable
	if op.Shadow != nil {
		s.Shadow = *op.Shadow
	}
	if op.Wait != nil {
		s.Wait = limits.Duration(*op.Wait)
	}
	for i, a := range op.Actions {
		s.Actions[a+":"+op.Type] = op.Values[i]
	}
	return keep(s)
}

// deleteFrom removes op's actions from s (nil = absent), or all of s when
// op names no actions, and returns the section to keep, or nil.
func (op *CircuitBreakerOp) deleteFrom(s *limits.Section) *limits.Section {
	if s == nil || len(op.Actions) == 0 {
		return nil
	}
	types := allTypes
	if op.Type != "" {
		types = []string{op.Type}
	}
	for _, a := range op.Actions {
		for _, t := range types {
			delete(s.Actions, a+":"+t)
		}
	}
	return keep(s)
}

// keep returns s unless it is off and has no limits: such a section
// means the same as no section, whatever its shadow flag.
func keep(s *limits.Section) *limits.Section {
	if !s.Enabled && len(s.Actions) == 0 {
		return nil
	}
	return s
}
