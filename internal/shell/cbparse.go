package shell

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
)

// bytesPerMB is the multiplier of -type MB and MB/s values (a mebibyte,
// as SeaweedFS uses).
const bytesPerMB = 1 << 20

// cbFlags lists the flags of s3.circuitBreaker for error messages.
const cbFlags = "-global, -buckets, -users, -type, -actions, -values, -shadow, -wait, -disable, -delete, -apply"

// cbScopes names the scope flags in error messages.
const cbScopes = "-global or -buckets or -users"

// cbTypes maps the -type names (matched case-insensitively) to the limit
// types they store. MB and MB/s values are given in MiB and stored in
// bytes.
var cbTypes = []struct{ name, typ string }{
	{"count", limits.TypeCount},
	{"MB", limits.TypeBytes},
	{"ops/s", limits.TypeOpsPerSec},
	{"MB/s", limits.TypeBytesPerSec},
}

// cbTypeNames lists the -type names for error messages; it keeps
// SeaweedFS's wording for the two types it has.
const cbTypeNames = "allowed: count, MB) and rates (ops/s, MB/s"

// inMiB reports whether values of the stored type typ are given in MiB.
func inMiB(typ string) bool {
	return typ == limits.TypeBytes || typ == limits.TypeBytesPerSec
}

// errHelp is returned by ParseCircuitBreaker for -h and -help.
var errHelp = errors.New("help requested")

// onceString is a string flag that may be given only once, so that
// "-buckets a -buckets b" is an error rather than a silent override.
type onceString struct {
	val string
	set bool
}

func (s *onceString) String() string { return s.val }

func (s *onceString) Set(v string) error {
	if s.set {
		return errors.New("given more than once")
	}
	s.val, s.set = v, true
	return nil
}

// optBool is a boolean flag that remembers whether it was given, so that
// -shadow=false (switch shadow off) differs from no -shadow (leave it).
type optBool struct {
	val, set bool
}

func (b *optBool) String() string   { return strconv.FormatBool(b.val) }
func (b *optBool) IsBoolFlag() bool { return true }

// Set is called by the flag package, which prefixes its errors with the
// flag and the value.
func (b *optBool) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("use true or false")
	}
	if b.set && x != b.val {
		return errors.New("contradicts an earlier one")
	}
	b.val, b.set = x, true
	return nil
}

// ParseCircuitBreaker parses the arguments of s3.circuitBreaker (without
// the command name) into an operation. It checks everything that can be
// checked without the current configuration, so a nil error means the
// operation will apply. Errors are *UsageError values.
func ParseCircuitBreaker(args []string) (*CircuitBreakerOp, error) {
	fs := flag.NewFlagSet(CmdCircuitBreaker, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var buckets, users, typ, actions, values, wait onceString
	var shadow optBool
	op := &CircuitBreakerOp{}
	fs.BoolVar(&op.Global, "global", false, "")
	fs.Var(&buckets, "buckets", "")
	fs.Var(&users, "users", "")
	fs.Var(&shadow, "shadow", "")
	fs.Var(&wait, "wait", "")
	fs.Var(&typ, "type", "")
	fs.Var(&actions, "actions", "")
	fs.Var(&values, "values", "")
	fs.BoolVar(&op.Disable, "disable", false, "")
	fs.BoolVar(&op.Delete, "delete", false, "")
	fs.BoolVar(&op.Apply, "apply", false, "")

	bad := func(format string, a ...any) (*CircuitBreakerOp, error) {
		return nil, &UsageError{Command: CmdCircuitBreaker, Msg: fmt.Sprintf(format, a...)}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return bad("%s (flags: %s)", flagMessage(err), cbFlags)
	}
	if fs.NArg() > 0 {
		if _, err := strconv.ParseBool(fs.Arg(0)); err == nil && shadow.set {
			return bad("unexpected argument %s (write -shadow=%s: a boolean flag takes its value after =)", quote(fs.Arg(0)), fs.Arg(0))
		}
		return bad("unexpected argument %s (flags: %s; lists are comma-separated without spaces, or quoted)", quote(fs.Arg(0)), cbFlags)
	}

	if buckets.set {
		names, err := splitList("-buckets", "bucket name", buckets.val)
		if err != nil {
			return bad("%s", err)
		}
		for _, n := range names {
			if !s3api.AccessibleBucketName(n) {
				return bad("invalid bucket name %s in -buckets (3 to 255 letters, digits, dots, hyphens and underscores, starting with a letter or digit)", quote(n))
			}
		}
		op.Buckets = names
	}
	if users.set {
		names, err := splitList("-users", "user name", users.val)
		if err != nil {
			return bad("%s", err)
		}
		for _, n := range names {
			if reason := userNameProblem(n); reason != "" {
				return bad("-users %s: %s", quote(n), reason)
			}
		}
		op.Users = names
	}
	if shadow.set {
		op.Shadow = &shadow.val
	}
	if wait.set {
		d, err := time.ParseDuration(strings.TrimSpace(wait.val))
		if err != nil || d < 0 {
			return bad("-wait %s: want a non-negative duration such as 5s or 1m30s (0 refuses at once)", quote(wait.val))
		}
		op.Wait = &d
	}
	if typ.set {
		t, ok := parseType(typ.val)
		if !ok {
			return bad("unknown type %s in -type (%s); MB and MB/s are in MiB", quote(typ.val), cbTypeNames)
		}
		op.Type = t
	}
	if actions.set {
		names, err := splitList("-actions", "action", actions.val)
		if err != nil {
			return bad("%s", err)
		}
		for i, n := range names {
			c, ok := s3api.ParseAction(n)
			if !ok {
				return bad("unknown action %s in -actions (allowed: %s)", quote(n), s3api.ActionNames())
			}
			names[i] = string(c)
		}
		op.Actions = names
	}
	if values.set {
		vals, err := parseValues(values.val, op.Type)
		if err != nil {
			return bad("%s", err)
		}
		op.Values = vals
	}

	scoped := op.Global || len(op.Buckets) > 0 || len(op.Users) > 0
	if op.Delete {
		switch {
		case op.Disable:
			return bad("-disable and -delete cannot be combined (-disable keeps the limits and switches them off, -delete removes them)")
		case wait.set:
			return bad("-wait cannot be used with -delete (-wait 0 without -delete makes a section refuse at once again)")
		case shadow.set:
			return bad("-shadow cannot be used with -delete (-delete removes limits; -shadow=false without -delete enforces a shadow section's limits again)")
		case values.set:
			return bad("-values cannot be used with -delete (-delete takes a scope and optionally -actions and -type)")
		case actions.set && !scoped:
			return bad("-actions needs %s to say where to delete them from", cbScopes)
		case typ.set && !actions.set:
			return bad("-type with -delete needs -actions (e.g. -actions Read -type count -delete)")
		}
		return op, nil
	}
	switch {
	case actions.set && !scoped:
		return bad("-actions needs %s", cbScopes)
	case values.set && !actions.set:
		return bad("-values needs -actions (e.g. -actions Read,Write -values 500,200)")
	case actions.set && !values.set:
		return bad("-actions needs -values (one value for all actions, or one per action)")
	case typ.set && !actions.set:
		return bad("-type needs -actions and -values")
	case actions.set && !typ.set:
		return bad("-values needs -type (%s)", cbTypeNames)
	case op.Disable && !scoped:
		return bad("-disable needs %s", cbScopes)
	case shadow.set && !scoped:
		return bad("-shadow needs %s to say which sections to put in shadow mode", cbScopes)
	case wait.set && !scoped:
		return bad("-wait needs %s to say which sections may wait", cbScopes)
	}
	if actions.set {
		switch {
		case len(op.Values) == 1 && len(op.Actions) > 1:
			v := op.Values[0]
			op.Values = make([]int64, len(op.Actions))
			for i := range op.Values {
				op.Values[i] = v
			}
		case len(op.Values) != len(op.Actions):
			return bad("%d values for %d actions in -values (give one value for all actions, or one per action)", len(op.Values), len(op.Actions))
		}
	}
	return op, nil
}

// splitList splits a comma-separated flag value, trimming blanks around
// each element. Empty elements and duplicates are errors.
func splitList(flagName, what, s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%s needs at least one %s", flagName, what)
	}
	parts := strings.Split(s, ",")
	seen := make(map[string]bool, len(parts))
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("empty %s in %s %s (use a comma-separated list such as a,b)", what, flagName, quote(s))
		}
		key := p
		if flagName == "-actions" {
			key = strings.ToLower(p)
		}
		if seen[key] {
			return nil, fmt.Errorf("%s %s appears twice in %s", what, quote(p), flagName)
		}
		seen[key] = true
		out = append(out, p)
	}
	return out, nil
}

// parseType maps a -type name to the limit type it stores.
func parseType(name string) (string, bool) {
	name = strings.TrimSpace(name)
	for _, t := range cbTypes {
		if strings.EqualFold(name, t.name) {
			return t.typ, true
		}
	}
	return "", false
}

// userNameProblem returns why name cannot key a user section, or "". The
// rule is the configuration's own: a name it accepts here is one Validate
// accepts.
func userNameProblem(name string) string {
	cfg := &limits.Config{Users: map[string]*limits.Section{name: {}}}
	var ce *limits.ConfigError
	if err := cfg.Validate(); errors.As(err, &ce) {
		return ce.Reason
	} else if err != nil {
		return err.Error()
	}
	return ""
}

// parseValues parses -values: non-negative decimal integers, in MiB when
// typ is bytes or bytes/s (converted to bytes).
func parseValues(s, typ string) ([]int64, error) {
	parts, err := splitValues(s)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 0 {
			if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(p, "-") {
				return nil, fmt.Errorf("value %s in -values is too large (at most %d)", quote(p), int64(math.MaxInt64))
			}
			return nil, fmt.Errorf("value %s in -values is not a non-negative integer", quote(p))
		}
		if inMiB(typ) {
			if v > math.MaxInt64/bytesPerMB {
				return nil, fmt.Errorf("value %s MB in -values is too large (at most %d MB)", quote(p), int64(math.MaxInt64/bytesPerMB))
			}
			v *= bytesPerMB
		}
		out[i] = v
	}
	return out, nil
}

func splitValues(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("-values needs at least one value")
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
		if parts[i] == "" {
			return nil, fmt.Errorf("empty value in -values %s (use a comma-separated list such as 500,200)", quote(s))
		}
	}
	return parts, nil
}

// flagMessage rewords the flag package's errors into the shell's terms.
func flagMessage(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return "unknown flag " + quote(name)
	}
	return msg
}

// quote quotes s for an error message, shortened to at most 64 bytes.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}
