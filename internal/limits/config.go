package limits

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Config is the circuit-breaker document (the SeaweedFS JSON format,
// extended with a users scope, rates and shadow sections):
//
//	{"global":  {"enabled": true, "actions": {"Read:count": 500, "Read:ops/s": 2000}},
//	 "buckets": {"backups": {"enabled": true, "actions": {"Write:bytes/s": 209715200}}},
//	 "users":   {"alice": {"enabled": true, "shadow": true, "actions": {"Write:ops/s": 100}}}}
//
// A request must fit the section of its user (the identity's name;
// "anonymous" for unsigned requests), of its bucket and the global one.
// The zero Config has no limits.
type Config struct {
	Global  *Section            `json:"global,omitempty"`
	Buckets map[string]*Section `json:"buckets,omitempty"`
	Users   map[string]*Section `json:"users,omitempty"`
}

// Section is the global section, one bucket's or one user's. A disabled
// section keeps its limits but does not apply them; a shadow section
// evaluates and counts them but never refuses or slows a request.
type Section struct {
	Enabled bool `json:"enabled"`
	Shadow  bool `json:"shadow,omitempty"`
	// Wait is how long a request over one of the section's count or
	// bytes limits waits for room, first come first served, before it is
	// refused; 0 refuses at once. Written "5s" in the file.
	Wait Duration `json:"wait,omitempty"`
	// Actions maps "<Action>:<Type>" (e.g. "Write:bytes") to a limit:
	// simultaneous requests for "count", simultaneous declared request
	// bytes for "bytes", admitted requests per second for "ops/s", body
	// bytes per second for "bytes/s" (shaped, not refused). 0 blocks the
	// action.
	Actions map[string]int64 `json:"actions,omitempty"`
}

// Limit types.
const (
	TypeCount       = "count"
	TypeBytes       = "bytes"
	TypeOpsPerSec   = "ops/s"
	TypeBytesPerSec = "bytes/s"
)

// Duration is a time.Duration written in the file as a Go duration string
// ("5s", "1m30s").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("expected a duration such as \"5s\", got %s", b)
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || v < 0 {
		return fmt.Errorf("expected a non-negative duration such as \"5s\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// maxWait bounds a section's wait: a request should not wait longer than
// clients wait for an answer.
const maxWait = 10 * time.Minute

// maxUserName bounds the length of a user section's name.
const maxUserName = 256

// validUserName reports whether name may key a user section: the name of
// an identity, non-empty, printable, at most maxUserName bytes.
func validUserName(name string) bool {
	if name == "" || len(name) > maxUserName || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// ConfigError is a configuration that cannot be used. Field names the
// offending part of the document, e.g. `buckets.photos.actions."Read:cnt"`.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "limits: invalid circuit breaker config: " + e.Reason
	}
	return "limits: invalid circuit breaker config: " + e.Field + ": " + e.Reason
}

// ParseKey splits and canonicalises an action key. It accepts the
// canonical "Read:count" / "Write:bytes" as well as the type names that
// SeaweedFS writes ("Count", "MB"; an MB entry's value is already bytes).
// Action names are matched case-insensitively.
func ParseKey(key string) (action, typ string, err error) {
	a, t, ok := strings.Cut(key, ":")
	if !ok {
		return "", "", fmt.Errorf("action key %q must be <Action>:<count|bytes|ops/s|bytes/s>", key)
	}
	act, ok := s3api.ParseAction(a)
	if !ok {
		return "", "", fmt.Errorf("unknown action %q in %q (allowed: %s)", a, key, s3api.ActionNames())
	}
	switch strings.ToLower(t) {
	case "count":
		typ = TypeCount
	case "bytes", "mb":
		typ = TypeBytes
	case "ops/s":
		typ = TypeOpsPerSec
	case "bytes/s":
		typ = TypeBytesPerSec
	default:
		return "", "", fmt.Errorf("unknown limit type %q in %q (allowed: count, bytes, ops/s, bytes/s)", t, key)
	}
	action = string(act)
	return action, typ, nil
}

// rawSection accepts values as numbers or as JSON strings (SeaweedFS
// writes int64 values as strings).
type rawSection struct {
	Enabled bool                `json:"enabled"`
	Shadow  bool                `json:"shadow"`
	Wait    json.RawMessage     `json:"wait"`
	Actions map[string]rawValue `json:"actions"`
}

// rawValue is a limit as written in the file. Decoding never fails: the
// error is kept and reported by parseSection with the field's name.
type rawValue struct {
	v   int64
	err error
}

func (r *rawValue) UnmarshalJSON(b []byte) error {
	r.v, r.err = parseValue(b)
	return nil
}

type rawConfig struct {
	Global  *rawSection            `json:"global"`
	Buckets map[string]*rawSection `json:"buckets"`
	Users   map[string]*rawSection `json:"users"`
}

// ParseConfig parses and validates a circuit-breaker document. Empty or
// whitespace-only input is an empty Config. The result is canonical: keys
// are "<Action>:count" or "<Action>:bytes".
func ParseConfig(data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return &Config{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var raw rawConfig
	if err := dec.Decode(&raw); err != nil {
		return nil, decodeError(err)
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return nil, &ConfigError{Reason: "trailing data after the JSON document"}
	}
	cfg := &Config{}
	if raw.Global != nil {
		s, err := parseSection(scopeGlobal, "", raw.Global)
		if err != nil {
			return nil, err
		}
		cfg.Global = s
	}
	var err error
	if cfg.Buckets, err = parseSections(scopeBucket, raw.Buckets); err != nil {
		return nil, err
	}
	if cfg.Users, err = parseSections(scopeUser, raw.Users); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseSections parses the bucket or user sections.
func parseSections(scope int, raw map[string]*rawSection) (map[string]*Section, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := make(map[string]*Section, len(raw))
	for name, rs := range raw {
		if reason := checkSectionName(scope, name); reason != "" {
			return nil, &ConfigError{Field: sectionField(scope, name), Reason: reason}
		}
		if rs == nil {
			return nil, &ConfigError{Field: sectionField(scope, name), Reason: "section is null"}
		}
		s, err := parseSection(scope, name, rs)
		if err != nil {
			return nil, err
		}
		out[name] = s
	}
	return out, nil
}

// checkSectionName returns why name cannot key a section of scope, or "".
func checkSectionName(scope int, name string) string {
	switch {
	case scope == scopeBucket && !s3api.AccessibleBucketName(name):
		return "invalid bucket name"
	case scope == scopeUser && !validUserName(name):
		return "invalid user name (an identity name: 1 to 256 printable characters)"
	}
	return ""
}

// decodeError describes a failure of the JSON decoder: a syntax error
// (with its offset), a value of the wrong type (with its field) or an
// unknown field.
func decodeError(err error) *ConfigError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &ConfigError{Reason: fmt.Sprintf("not valid JSON: %v (at byte %d)", syn, syn.Offset)}
	case errors.As(err, &typ):
		return &ConfigError{Field: typ.Field, Reason: fmt.Sprintf("expected %s, got JSON %s", jsonKind(typ.Type.Kind()), typ.Value)}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &ConfigError{Reason: "not valid JSON: the document ends early"}
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: "); ok && strings.HasPrefix(msg, "unknown field") {
		return &ConfigError{Reason: msg + ` (allowed: "global", "buckets", "users"; in a section "enabled", "shadow", "wait", "actions")`}
	}
	return &ConfigError{Reason: "not valid JSON: " + err.Error()}
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	}
	return k.String()
}

// sectionField names a section in errors: "global", buckets."<bucket>" or
// users."<user>".
func sectionField(scope int, name string) string {
	switch scope {
	case scopeBucket:
		return "buckets." + strconv.Quote(name)
	case scopeUser:
		return "users." + strconv.Quote(name)
	}
	return "global"
}

// parseSection parses one section. Error field names are built only on
// error: a file may hold many sections.
func parseSection(scope int, name string, rs *rawSection) (*Section, error) {
	s := &Section{Enabled: rs.Enabled, Shadow: rs.Shadow, Actions: make(map[string]int64, len(rs.Actions))}
	if len(rs.Wait) > 0 && string(rs.Wait) != "null" {
		if err := s.Wait.UnmarshalJSON(rs.Wait); err != nil {
			return nil, &ConfigError{Field: sectionField(scope, name) + ".wait", Reason: err.Error()}
		}
		if time.Duration(s.Wait) > maxWait {
			return nil, &ConfigError{Field: sectionField(scope, name) + ".wait", Reason: fmt.Sprintf("%v is longer than the longest wait, %v", time.Duration(s.Wait), maxWait)}
		}
	}
	for key, rv := range rs.Actions {
		kf := func() string { return sectionField(scope, name) + ".actions." + strconv.Quote(key) }
		ck := key
		if _, _, ok := canonicalKeyIndex(key); !ok {
			action, typ, err := ParseKey(key)
			if err != nil {
				return nil, &ConfigError{Field: kf(), Reason: err.Error()}
			}
			ck = action + ":" + typ
		}
		v, err := rv.v, rv.err
		if err != nil {
			return nil, &ConfigError{Field: kf(), Reason: err.Error()}
		}
		if _, dup := s.Actions[ck]; dup {
			return nil, &ConfigError{Field: kf(), Reason: "duplicates " + strconv.Quote(ck)}
		}
		s.Actions[ck] = v
	}
	return s, nil
}

func parseValue(rv []byte) (int64, error) {
	if v, ok := parseDigits(rv); ok {
		return v, nil
	}
	t := bytes.TrimSpace(rv)
	if len(t) > 0 && t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return 0, fmt.Errorf("value %s is not a non-negative integer", t)
		}
		t = []byte(strings.TrimSpace(s))
	}
	v, err := strconv.ParseInt(string(t), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("value %s is not a non-negative integer", rv)
	}
	return v, nil
}

// parseDigits is the common case of parseValue: a plain decimal number
// of at most 18 digits, which cannot overflow int64.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// Validate checks a Config built in code (ParseConfig output is valid).
func (c *Config) Validate() error {
	if c == nil {
		return nil
	}
	check := func(field string, s *Section) error {
		if s == nil {
			return &ConfigError{Field: field, Reason: "section is null"}
		}
		if s.Wait < 0 || time.Duration(s.Wait) > maxWait {
			return &ConfigError{Field: field + ".wait", Reason: fmt.Sprintf("must be between 0 and %v", maxWait)}
		}
		for k, v := range s.Actions {
			a, t, err := ParseKey(k)
			if err != nil {
				return &ConfigError{Field: field + ".actions." + strconv.Quote(k), Reason: err.Error()}
			}
			if a+":"+t != k {
				return &ConfigError{Field: field + ".actions." + strconv.Quote(k), Reason: "not canonical; use " + strconv.Quote(a+":"+t)}
			}
			if v < 0 {
				return &ConfigError{Field: field + ".actions." + strconv.Quote(k), Reason: "negative limit"}
			}
		}
		return nil
	}
	if c.Global != nil {
		if err := check("global", c.Global); err != nil {
			return err
		}
	}
	for scope, sections := range map[int]map[string]*Section{scopeBucket: c.Buckets, scopeUser: c.Users} {
		for name, s := range sections {
			if reason := checkSectionName(scope, name); reason != "" {
				return &ConfigError{Field: sectionField(scope, name), Reason: reason}
			}
			if err := check(sectionField(scope, name), s); err != nil {
				return err
			}
		}
	}
	return nil
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	out := &Config{}
	if c == nil {
		return out
	}
	if c.Global != nil {
		out.Global = c.Global.clone()
	}
	out.Buckets = cloneSections(c.Buckets)
	out.Users = cloneSections(c.Users)
	return out
}

func cloneSections(in map[string]*Section) map[string]*Section {
	if in == nil {
		return nil
	}
	out := make(map[string]*Section, len(in))
	for k, s := range in {
		out[k] = s.clone()
	}
	return out
}

func (s *Section) clone() *Section {
	c := &Section{Enabled: s.Enabled, Shadow: s.Shadow, Wait: s.Wait, Actions: make(map[string]int64, len(s.Actions))}
	for k, v := range s.Actions {
		c.Actions[k] = v
	}
	return c
}

// Marshal returns the canonical document: indented JSON with sorted keys
// and a trailing newline.
func (c *Config) Marshal() ([]byte, error) {
	if c == nil {
		c = &Config{}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// BucketNames returns the configured bucket names, sorted.
func (c *Config) BucketNames() []string {
	names := make([]string, 0, len(c.Buckets))
	for n := range c.Buckets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LoadConfigFile reads and parses a circuit-breaker file. A missing file
// is an empty Config (no limits), not an error.
func LoadConfigFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// WriteConfigFile validates c and writes it atomically: a temporary file
// in the same directory is written, synced and renamed over path, so a
// reader sees the old file or the new one, never half of one.
func WriteConfigFile(path string, c *Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o644)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("limits: write %s: %w", tmp, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("limits: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("limits: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
