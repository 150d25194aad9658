package metrics

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v2"
)

// alertRulesFile holds the example alerts shipped for operators
// (docs/operations.md). promtool checks its syntax in the test script; the
// tests here check that it speaks of the metrics this package exports.
const alertRulesFile = "../../deploy/prometheus/s3limit-rules.yml"

// ruleFile is the part of Prometheus's rule file format the shipped file
// uses. It is decoded strictly: a key not listed here is an error, so a
// misspelt "annotation" or "label" does not pass unnoticed.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// family is what a rule may say about one exported metric: its label
// names and the label values seen.
type family struct {
	histogram bool
	labels    map[string]map[string]bool // label name -> values
}

// targetLabels are added by Prometheus to every scraped series.
var targetLabels = []string{"job", "instance"}

// closedLabels have a fixed set of values defined by this package (the
// scope constants, the reload results); a rule matching one of them with
// "=" must use a value the server exports.
var closedLabels = []string{"scope", "result"}

// allStates is a Source reporting every kind of state gauge.
type allStates struct{}

func (allStates) Uploads() UploadStats { return UploadStats{Files: 1, Bytes: 1, Waiting: 1} }
func (allStates) InflightRequests(emit func(string, int64)) {
	emit("Read", 1)
}
func (allStates) Limits(emit func(Limit)) {
	emit(Limit{Scope: ScopeGlobal, Action: "Read", Type: "count", Value: 1})
	emit(Limit{Scope: ScopeBucket, Bucket: "photos", Action: "Read", Type: "count", Value: 1})
	emit(Limit{Scope: ScopeUser, User: "alice", Action: "Read", Type: "count", Value: 1})
}
func (allStates) LimitWaiting(emit func(string, int64)) {
	for _, s := range []string{ScopeGlobal, ScopeBucket, ScopeUser} {
		emit(s, 1)
	}
}

// exportedFamilies returns the metrics of a Metrics on which every kind of
// event has been recorded, with every scope it is recorded under, keyed by
// name. Prometheus's own "up" is added: rules may use it.
func exportedFamilies(t *testing.T) map[string]*family {
	t.Helper()
	m := New("")
	m.SetSource(allStates{})
	m.ObserveRequest("Write", "photos", 200, time.Millisecond)
	m.ObserveUploadWait(time.Millisecond)
	m.ConfigReload(true)
	m.ConfigReload(false)
	m.Throttled("Write", ScopeUpload, "wait").Inc()
	for _, scope := range []string{ScopeGlobal, ScopeBucket, ScopeUser} {
		m.Throttled("Write", scope, "count").Inc()
		m.Shadowed("Write", scope, "count").Inc()
		b, w := m.Shaping("Write", scope)
		b.Inc()
		w.Inc()
		m.ObserveLimitWait(scope, time.Millisecond)
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]*family{"up": {labels: map[string]map[string]bool{}}}
	for _, mf := range mfs {
		f := &family{histogram: mf.GetType() == dto.MetricType_HISTOGRAM, labels: map[string]map[string]bool{}}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if f.labels[l.GetName()] == nil {
					f.labels[l.GetName()] = map[string]bool{}
				}
				f.labels[l.GetName()][l.GetValue()] = true
			}
		}
		fams[mf.GetName()] = f
	}
	return fams
}

// lookup finds the family of a series name, including the _bucket, _sum
// and _count series of a histogram; extra is the label the series adds.
func lookup(fams map[string]*family, name string) (f *family, extra string, ok bool) {
	if f, ok := fams[name]; ok {
		return f, "", true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, found := strings.CutSuffix(name, suffix); found {
			if f, ok := fams[base]; ok && f.histogram {
				if suffix == "_bucket" {
					return f, "le", true
				}
				return f, "", true
			}
		}
	}
	return nil, "", false
}

var labelRefRE = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)

func TestAlertRulesFile(t *testing.T) {
	raw, err := os.ReadFile(alertRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(raw, &rf); err != nil {
		t.Fatalf("%s: %v", alertRulesFile, err)
	}
	fams := exportedFamilies(t)
	if len(rf.Groups) == 0 {
		t.Fatalf("%s has no rule groups", alertRulesFile)
	}
	names := map[string]bool{}
	rules := 0
	for _, g := range rf.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			rules++
			where := fmt.Sprintf("alert %q", r.Alert)
			if !regexp.MustCompile(`^S3limit[A-Z][A-Za-z]+$`).MatchString(r.Alert) {
				t.Errorf("%s: alert names are S3limit followed by a CamelCase name", where)
			}
			if names[r.Alert] {
				t.Errorf("%s: appears twice", where)
			}
			names[r.Alert] = true
			if r.For != "" {
				if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
					t.Errorf("%s: for %q is not a positive duration", where, r.For)
				}
			}
			if sev := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, sev) {
				t.Errorf("%s: severity %q, want critical, warning or info", where, sev)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description", where)
			}
			labels, err := checkExpr(r.Expr, fams)
			if err != nil {
				t.Errorf("%s: %v\nexpr: %s", where, err, r.Expr)
				continue
			}
			for _, text := range r.Annotations {
				for _, m := range labelRefRE.FindAllStringSubmatch(text, -1) {
					if !labels[m[1]] {
						t.Errorf("%s: the annotations use $labels.%s, which the expression does not have", where, m[1])
					}
				}
			}
		}
	}
	if rules == 0 {
		t.Errorf("%s has no rules", alertRulesFile)
	}
}

// checkExpr checks that every series an expression selects is exported,
// that its label matchers name labels the series has (with exported
// values for closed labels), and that the labels it groups or matches by
// exist. It returns every label the expression could carry, for checking
// $labels references. Syntax is promtool's job; this reads just enough
// PromQL to find selectors and label lists.
func checkExpr(expr string, fams map[string]*family) (map[string]bool, error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{} // labels of the selected series
	for _, l := range targetLabels {
		have[l] = true
	}
	var grouped []string // labels in by/without/on/ignoring/group_* lists
	selectors := 0
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		next := func(k int) token {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return token{}
		}
		switch {
		case tk.text == "[":
			// A range or subquery: durations only.
			for i < len(toks) && toks[i].text != "]" {
				i++
			}
		case tk.kind == tokIdent && groupingKeywords[tk.text]:
			if next(1).text != "(" {
				continue // group_left without a label list
			}
			i += 2
			for ; i < len(toks) && toks[i].text != ")"; i++ {
				if toks[i].kind == tokIdent {
					grouped = append(grouped, toks[i].text)
				} else if toks[i].text != "," {
					return nil, fmt.Errorf("unexpected %q in the label list of %s", toks[i].text, tk.text)
				}
			}
		case tk.kind == tokIdent && tk.text == "offset":
			i++ // its duration
		case tk.kind == tokIdent && (keywords[tk.text] || next(1).text == "("):
			// An operator, an aggregation or a function call.
		case tk.kind == tokIdent:
			selectors++
			f, extra, ok := lookup(fams, tk.text)
			if !ok {
				return nil, fmt.Errorf("series %s is not exported by the server", tk.text)
			}
			for l := range f.labels {
				have[l] = true
			}
			if extra != "" {
				have[extra] = true
			}
			if next(1).text != "{" {
				continue
			}
			i += 2
			for ; i < len(toks) && toks[i].text != "}"; i++ {
				if toks[i].text == "," {
					continue
				}
				if i+2 >= len(toks) || toks[i].kind != tokIdent || !matchOps[toks[i+1].text] || toks[i+2].kind != tokString {
					return nil, fmt.Errorf("cannot read the label matchers of %s", tk.text)
				}
				label, op, value := toks[i].text, toks[i+1].text, toks[i+2].text
				i += 2
				values, known := f.labels[label]
				if !known && label != extra && !slices.Contains(targetLabels, label) {
					return nil, fmt.Errorf("%s has no label %q", tk.text, label)
				}
				if op == "=" && slices.Contains(closedLabels, label) && !values[value] {
					return nil, fmt.Errorf("%s{%s=%q}: the server exports %s only as %s", tk.text, label, value, label, sortedKeys(values))
				}
			}
		case tk.text == "{":
			return nil, fmt.Errorf("a selector without a metric name")
		}
	}
	if selectors == 0 {
		return nil, fmt.Errorf("selects no series")
	}
	for _, l := range grouped {
		if !have[l] {
			return nil, fmt.Errorf("groups or matches by %q, a label none of its series has", l)
		}
	}
	return have, nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var groupingKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// keywords are PromQL words that are neither series nor labels.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "atan2": true, "inf": true, "nan": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
}

var matchOps = map[string]bool{"=": true, "!=": true, "=~": true, "!~": true}

type tokenKind uint8

const (
	tokPunct tokenKind = iota
	tokIdent
	tokString
	tokNumber
)

type token struct {
	kind tokenKind
	text string // a string's value without its quotes
}

// lexPromQL splits a PromQL expression into identifiers, strings, numbers
// (and durations) and operators; # starts a comment.
func lexPromQL(s string) ([]token, error) {
	var toks []token
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && (isIdentStart(s[j]) || isDigit(s[j])) {
				j++
			}
			toks = append(toks, token{tokIdent, s[i:j]})
			i = j
		case isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
			j := i + 1
			for j < len(s) && (isDigit(s[j]) || isIdentStart(s[j]) || s[j] == '.') {
				j++
			}
			toks = append(toks, token{tokNumber, s[i:j]})
			i = j
		case c == '"' || c == '\'' || c == '`':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && c != '`' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			toks = append(toks, token{tokString, b.String()})
			i = j + 1
		default:
			if i+1 < len(s) && slices.Contains([]string{"==", "!=", "=~", "!~", ">=", "<="}, s[i:i+2]) {
				toks = append(toks, token{tokPunct, s[i : i+2]})
				i += 2
				continue
			}
			if !strings.ContainsRune("(){}[],+-*/%^<>=@", rune(c)) {
				return nil, fmt.Errorf("unexpected %q at offset %d", c, i)
			}
			toks = append(toks, token{tokPunct, string(c)})
			i++
		}
	}
	return toks, nil
}

// TestCheckExpr shows that the check finds what it is there to find.
func TestCheckExpr(t *testing.T) {
	fams := exportedFamilies(t)
	for _, tc := range []struct {
		expr, err string
	}{
		{expr: `sum by (instance, scope) (rate(s3limit_s3_throttled_total{scope="upload", type="wait"}[5m])) > 0`},
		{expr: `histogram_quantile(0.9, sum by (le) (rate(s3limit_s3_upload_wait_seconds_bucket[5m])))`},
		{expr: `rate(s3limit_s3_request_duration_seconds_sum[5m]) / rate(s3limit_s3_request_duration_seconds_count[5m])`},
		{expr: `up{job="s3limit"} == 0`},
		{expr: `s3limit_s3_limit_waiting offset 5m # a comment naming no_such_metric`},
		{expr: `rate(s3limit_s3_requests_total[5m])`, err: "series s3limit_s3_requests_total is not exported"},
		{expr: `s3limit_s3_upload_waiting_bucket`, err: "series s3limit_s3_upload_waiting_bucket is not exported"},
		{expr: `rate(s3limit_s3_request_total{code="500"}[5m])`, err: `has no label "code"`},
		{expr: `increase(s3limit_s3_config_reloads_total{result="error"}[5m])`, err: `exports result only as [failure success]`},
		{expr: `s3limit_s3_shadow_refusals_total{scope="upload"}`, err: `exports scope only as [bucket global user]`},
		{expr: `sum by (bucket) (s3limit_s3_limit_waiting)`, err: `groups or matches by "bucket"`},
		{expr: `sum by (le) (s3limit_s3_upload_wait_seconds_count)`, err: `groups or matches by "le"`},
		{expr: `{__name__="s3limit_s3_upload_waiting"}`, err: "a selector without a metric name"},
		{expr: `vector(1)`, err: "selects no series"},
		{expr: `s3limit_s3_request_total{status="5`, err: "unterminated string"},
	} {
		_, err := checkExpr(tc.expr, fams)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("checkExpr(%s): %v", tc.expr, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("checkExpr(%s) = %v, want an error containing %q", tc.expr, err, tc.err)
		}
	}
}
