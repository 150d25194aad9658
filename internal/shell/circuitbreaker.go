package shell

import (
	"github.com/s3limit/s3limit/internal/limits"
)

// CircuitBreakerOp is one s3.circuitBreaker command, checked and
// normalised by ParseCircuitBreaker. The zero value views the
// configuration.
//
// Meaning, applied to the global section (Global) and/or every bucket in
// Buckets (the scope):
//
//   - Values set (upsert): each Actions[i] gets Values[i] under
//     "<Action>:<Type>"; other keys are kept. The section is created if
//     needed and is enabled unless Disable is set.
//   - Neither values nor Delete: the scope's sections are switched on, or
//     off with Disable, keeping their limits. A section that ends up off
//     and without limits is removed, so disabling a scope that has no
//     configuration changes nothing.
//   - Delete without a scope clears the whole configuration. Delete with
//     a scope removes those sections, or with Actions only those actions'
//     limits (of Type, or of both types when Type is ""); a section left
//     off and without limits is removed.
type CircuitBreakerOp struct {
	Global  bool     // -global: the global section is in scope
	Buckets []string // -buckets: valid, distinct bucket names in scope
	// Type is limits.TypeCount or limits.TypeBytes (-type count|MB); ""
	// when not given, which for Delete means both types.
	Type    string
	Actions []string // -actions: canonical, distinct action names
	// Values holds one limit per action (a single -values entry has been
	// repeated for every action), in stored units: requests for count,
	// bytes for MB. Nil when -values was not given.
	Values  []int64
	Disable bool // -disable: switch the scope off, keeping its limits
	Delete  bool // -delete: remove the scope, or the named actions from it
	Apply   bool // -apply: save the result; otherwise only show it
}

// IsView reports whether op only shows the configuration: it names no
// scope and changes nothing (with or without -apply).
func (op *CircuitBreakerOp) IsView() bool {
	return !op.Delete && !op.Global && len(op.Buckets) == 0
}

// Edit returns the configuration that results from applying op to cfg.
// cfg is not modified; a nil cfg is the empty configuration. The result
// passes limits.Config.Validate.
func (op *CircuitBreakerOp) Edit(cfg *limits.Config) (*limits.Config, error) {
	out := cfg.Clone()
	switch {
	case op.Delete && !op.Global && len(op.Buckets) == 0:
		out = &limits.Config{}
	case op.Delete:
		if op.Global {
			out.Global = op.deleteFrom(out.Global)
		}
		for _, b := range op.Buckets {
			if s := op.deleteFrom(out.Buckets[b]); s != nil {
				out.Buckets[b] = s
			} else {
				delete(out.Buckets, b)
			}
		}
	default:
		if op.Global {
			out.Global = op.upsert(out.Global)
		}
		for _, b := range op.Buckets {
			if out.Buckets == nil {
				out.Buckets = make(map[string]*limits.Section)
			}
			if s := op.upsert(out.Buckets[b]); s != nil {
				out.Buckets[b] = s
			} else {
				delete(out.Buckets, b)
			}
		}
	}
	if len(out.Buckets) == 0 {
		out.Buckets = nil
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// upsert applies op's values and on/off switch to s (nil = absent) and
// returns the section to keep, or nil to remove it.
func (op *CircuitBreakerOp) upsert(s *limits.Section) *limits.Section {
	if s == nil {
		s = &limits.Section{}
	}
	if s.Actions == nil {
		s.Actions = make(map[string]int64, len(op.Actions))
	}
	s.Enabled = !op.Disable
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
	types := []string{limits.TypeCount, limits.TypeBytes}
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
// means the same as no section.
func keep(s *limits.Section) *limits.Section {
	if !s.Enabled && len(s.Actions) == 0 {
		return nil
	}
	return s
}
