package limits

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

// noLimit marks an action and type without a limit in a compiled section.
const noLimit = -1

// actionLimits are the compiled limits of one action; noLimit when absent.
type actionLimits struct {
	count int64 // simultaneous requests
	bytes int64 // simultaneous declared bytes
	ops   int64 // admitted requests per second
	rate  int64 // body bytes per second (shaped)
	// GCRA parameters of ops: the emission interval and the tolerance
	// (burst = one second of the rate, at least one request), in ns.
	opsInterval, opsTolerance int64
	// leased: the Breaker admits against its fleet share of count,
	// bytes, ops and rate (fleet.go), not the limits above.
	leased bool
}

// sectionLimits is a compiled Section.
type sectionLimits struct {
	enabled bool // apply the limits (a disabled section only counts)
	shadow  bool // evaluate and count, never refuse or slow
	wait    time.Duration
	limits  [numActions]actionLimits
}

// entry is a bucket's or a user's compiled section and its persistent
// counters.
type entry struct {
	sectionLimits
	counters *scopeCounters
}

// snapshot is an immutable compiled configuration. Nothing in it changes
// after compileSnapshot returns, except the lazily computed ETag.
type snapshot struct {
	cfg    *Config // the source document; never modified
	global sectionLimits
	// named are the bucket (scopeBucket) and user (scopeUser) sections;
	// nil maps when there are none.
	named [numScopes]map[string]*entry

	etagOnce sync.Once
	etagVal  string
}

// compileSnapshot compiles a valid cfg. counters supplies each named
// section's persistent counters; nil gives fresh ones (for the initial
// empty config).
func compileSnapshot(cfg *Config, counters func(scope int, name string) *scopeCounters) *snapshot {
	s := &snapshot{cfg: cfg}
	if cfg.Global != nil {
		s.global = compileSection(cfg.Global)
	}
	for scope, sections := range [numScopes]map[string]*Section{scopeBucket: cfg.Buckets, scopeUser: cfg.Users} {
		if len(sections) == 0 {
			continue
		}
		m := make(map[string]*entry, len(sections))
		entries := make([]entry, len(sections))
		i := 0
		for name, sec := range sections {
			e := &entries[i]
			i++
			e.sectionLimits = compileSection(sec)
			if counters != nil {
				e.counters = counters(scope, name)
			} else {
				e.counters = new(scopeCounters)
			}
			m[name] = e
		}
		s.named[scope] = m
	}
	return s
}

func compileSection(sec *Section) sectionLimits {
	l := sectionLimits{enabled: sec.Enabled, shadow: sec.Shadow, wait: time.Duration(sec.Wait)}
	for i := range l.limits {
		l.limits[i] = actionLimits{count: noLimit, bytes: noLimit, ops: noLimit, rate: noLimit}
	}
	for key, v := range sec.Actions {
		ai, typ, ok := canonicalKeyIndex(key)
		if !ok {
			continue // Validate rejects such keys before compiling
		}
		al := &l.limits[ai]
		switch typ {
		case typeCount:
			al.count = v
		case typeBytes:
			al.bytes = v
		case typeOps:
			al.ops = v
			if v > 0 {
				al.opsInterval = max(int64(time.Second)/v, 1)
				al.opsTolerance = (max(v, 1) - 1) * al.opsInterval
			}
		case typeRate:
			al.rate = v
		}
	}
	return l
}

// canonicalKeyIndex maps "Read:count" ... "Admin:bytes/s" to table indices.
func canonicalKeyIndex(key string) (ai, typ int, ok bool) {
	for i, a := range s3api.Actions {
		n := len(a)
		if len(key) > n && key[n] == ':' && key[:n] == string(a) {
			for t, name := range typeNames {
				if key[n+1:] == name {
					return i, t, true
				}
			}
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// etag returns the quoted strong ETag of the canonical document.
func (s *snapshot) etag() string {
	s.etagOnce.Do(func() {
		body, _ := s.cfg.Marshal() // maps of strings, bools and ints always marshal
		s.etagVal = etagOf(body)
	})
	return s.etagVal
}

func etagOf(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// eachLimit calls emit for every limit of every enabled section.
func (s *snapshot) eachLimit(emit func(scope int, name string, ai, typ int, v int64)) {
	section := func(scope int, name string, l *sectionLimits) {
		if !l.enabled {
			return
		}
		for ai, al := range l.limits {
			for typ, v := range [numTypes]int64{typeCount: al.count, typeBytes: al.bytes, typeOps: al.ops, typeRate: al.rate} {
				if v != noLimit {
					emit(scope, name, ai, typ, v)
				}
			}
		}
	}
	section(scopeGlobal, "", &s.global)
	for scope, m := range s.named {
		for name, e := range m {
			section(scope, name, &e.sectionLimits)
		}
	}
}

// document returns the canonical document and its ETag.
func (s *snapshot) document() ([]byte, string) {
	body, _ := s.cfg.Marshal() // maps of strings, bools and ints always marshal
	s.etagOnce.Do(func() { s.etagVal = etagOf(body) })
	return body, s.etagVal
}
