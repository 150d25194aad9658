package limits

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/s3limit/s3limit/internal/s3api"
)

// noLimit marks an action and type without a limit in a compiled section.
const noLimit = -1

// actionLimits are the compiled limits of one action; noLimit when absent.
type actionLimits struct {
	count int64 // simultaneous requests
	bytes int64 // simultaneous declared bytes
}

// sectionLimits is a compiled Section.
type sectionLimits struct {
	enabled bool // enforce the limits (a disabled section only counts)
	limits  [numActions]actionLimits
}

// bucketEntry is a bucket's compiled section and its persistent counters.
type bucketEntry struct {
	sectionLimits
	counters *bucketCounters
}

// snapshot is an immutable compiled configuration. Nothing in it changes
// after compileSnapshot returns, except the lazily computed ETag.
type snapshot struct {
	cfg     *Config // the source document; never modified
	global  sectionLimits
	buckets map[string]*bucketEntry // nil when no bucket has a section

	etagOnce sync.Once
	etagVal  string
}

// compileSnapshot compiles a valid cfg. counters supplies each bucket's
// persistent counters; nil gives fresh ones (for the initial empty config).
func compileSnapshot(cfg *Config, counters func(bucket string) *bucketCounters) *snapshot {
	s := &snapshot{cfg: cfg}
	if cfg.Global != nil {
		s.global = compileSection(cfg.Global)
	}
	if len(cfg.Buckets) > 0 {
		s.buckets = make(map[string]*bucketEntry, len(cfg.Buckets))
		entries := make([]bucketEntry, len(cfg.Buckets))
		i := 0
		for name, sec := range cfg.Buckets {
			e := &entries[i]
			i++
			e.sectionLimits = compileSection(sec)
			if counters != nil {
				e.counters = counters(name)
			} else {
				e.counters = new(bucketCounters)
			}
			s.buckets[name] = e
		}
	}
	return s
}

func compileSection(sec *Section) sectionLimits {
	l := sectionLimits{enabled: sec.Enabled}
	for i := range l.limits {
		l.limits[i] = actionLimits{count: noLimit, bytes: noLimit}
	}
	for key, v := range sec.Actions {
		ai, typ, ok := canonicalKeyIndex(key)
		if !ok {
			continue // Validate rejects such keys before compiling
		}
		if typ == typeCount {
			l.limits[ai].count = v
		} else {
			l.limits[ai].bytes = v
		}
	}
	return l
}

// canonicalKeyIndex maps "Read:count" ... "Admin:bytes" to table indices.
func canonicalKeyIndex(key string) (ai, typ int, ok bool) {
	for i, a := range s3api.Actions {
		n := len(a)
		if len(key) > n && key[n] == ':' && key[:n] == string(a) {
			switch key[n+1:] {
			case TypeCount:
				return i, typeCount, true
			case TypeBytes:
				return i, typeBytes, true
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
func (s *snapshot) eachLimit(emit func(scope int, bucket string, ai, typ int, v int64)) {
	section := func(scope int, bucket string, l *sectionLimits) {
		if !l.enabled {
			return
		}
		for ai, al := range l.limits {
			if al.count != noLimit {
				emit(scope, bucket, ai, typeCount, al.count)
			}
			if al.bytes != noLimit {
				emit(scope, bucket, ai, typeBytes, al.bytes)
			}
		}
	}
	section(scopeGlobal, "", &s.global)
	for name, e := range s.buckets {
		section(scopeBucket, name, &e.sectionLimits)
	}
}

// document returns the canonical document and its ETag.
func (s *snapshot) document() ([]byte, string) {
	body, _ := s.cfg.Marshal() // maps of strings, bools and ints always marshal
	s.etagOnce.Do(func() { s.etagVal = etagOf(body) })
	return body, s.etagVal
}
