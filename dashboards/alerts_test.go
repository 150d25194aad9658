package dashboards

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/s3limit/s3limit/internal/metrics"
)

// The example alerts shipped for operators (docs/operations.md) are read
// with the same PromQL reader and held against the same exported metrics
// as the dashboard. promtool checks their syntax and behaviour in the test
// script; these tests check that they speak of what the server exports.
const alertRulesFile = "../deploy/prometheus/s3limit-rules.yml"

// ruleFile is the part of Prometheus's rule file format the shipped file
// uses. It is decoded strictly: a key not listed here is an error, so a
// misspelt "annotation" or "label" does not pass unnoticed.
type ruleFile struct {
	Groups []struct {
		Name  string      `yaml:"name"`
		Rules []alertRule `yaml:"rules"`
	} `yaml:"groups"`
}

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadAlertRules(t *testing.T) []alertRule {
	t.Helper()
	raw, err := os.ReadFile(alertRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(raw, &rf); err != nil {
		t.Fatalf("%s: %v", alertRulesFile, err)
	}
	var rules []alertRule
	for _, g := range rf.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("%s: group %q needs a name and rules", alertRulesFile, g.Name)
		}
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s has no rules", alertRulesFile)
	}
	return rules
}

// closedLabels are labels whose values the metrics package fixes: a rule
// that matches one of them exactly must use a value the server exports.
func closedLabels(t *testing.T) map[string][]string {
	t.Helper()
	families, err := metrics.New("").Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var results []string
	for _, f := range families {
		if f.GetName() != "s3limit_s3_config_reloads_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					results = append(results, l.GetValue())
				}
			}
		}
	}
	if len(results) == 0 {
		t.Fatal("s3limit_s3_config_reloads_total exports no result label")
	}
	return map[string][]string{
		"file":   {metrics.FileCircuitBreaker, metrics.FileIdentities},
		"result": results,
		"scope":  {metrics.ScopeGlobal, metrics.ScopeBucket, metrics.ScopeUser, metrics.ScopeUpload},
	}
}

var (
	alertNameRE = regexp.MustCompile(`^S3limit[A-Z][A-Za-z]+$`)
	labelRefRE  = regexp.MustCompile(`\$labels\.([A-Za-z_][A-Za-z0-9_]*)`)
	// exactRE finds exact matchers (label="value") inside braces.
	exactRE = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"`)
	braceRE = regexp.MustCompile(`\{[^}]*\}`)
)

// checkAlertExpr checks one rule expression against what the server
// exports and returns the labels its series can carry.
func checkAlertExpr(expr string, ex exported, closed map[string][]string) (map[string]bool, error) {
	r, err := parsePromQL(expr)
	if err != nil {
		return nil, err
	}
	if len(r.Metrics) == 0 {
		return nil, fmt.Errorf("names no metric")
	}
	allowed := map[string]bool{}
	for _, l := range targetLabels {
		allowed[l] = true
	}
	for _, m := range r.Metrics {
		if m == "up" { // Prometheus's own, per target
			continue
		}
		labels, ok := ex.labels[m]
		if !ok {
			return nil, fmt.Errorf("metric %s is not exported by the server", m)
		}
		for l := range labels {
			allowed[l] = true
		}
	}
	for _, l := range r.Labels {
		if !allowed[l] {
			return nil, fmt.Errorf("label %q is not a label of %v", l, r.Metrics)
		}
	}
	for _, sel := range braceRE.FindAllString(expr, -1) {
		for _, m := range exactRE.FindAllStringSubmatch(sel, -1) {
			if values, ok := closed[m[1]]; ok && !slices.Contains(values, m[2]) {
				return nil, fmt.Errorf("%s=%q: the server exports %s only as %v", m[1], m[2], m[1], values)
			}
		}
	}
	return allowed, nil
}

func TestAlertRules(t *testing.T) {
	ex := exportedMetrics(t, "s3limit")
	closed := closedLabels(t)
	seen := map[string]bool{}
	for _, r := range loadAlertRules(t) {
		where := fmt.Sprintf("%s: alert %q", alertRulesFile, r.Alert)
		if !alertNameRE.MatchString(r.Alert) {
			t.Errorf("%s: alert names are S3limit and a CamelCase name", where)
		}
		if seen[r.Alert] {
			t.Errorf("%s appears twice", where)
		}
		seen[r.Alert] = true
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
		labels, err := checkAlertExpr(r.Expr, ex, closed)
		if err != nil {
			t.Errorf("%s: %v\n%s", where, err, r.Expr)
			continue
		}
		for _, text := range r.Annotations {
			for _, m := range labelRefRE.FindAllStringSubmatch(text, -1) {
				if !labels[m[1]] {
					t.Errorf("%s: the annotations use $labels.%s, a label none of its series has", where, m[1])
				}
			}
		}
	}
}

// TestCheckAlertExpr shows that the check finds what it is there to find.
func TestCheckAlertExpr(t *testing.T) {
	ex := exportedMetrics(t, "s3limit")
	closed := closedLabels(t)
	for _, tc := range []struct{ expr, err string }{
		{expr: `sum by (instance, scope) (rate(s3limit_s3_throttled_total{scope="upload", type="wait"}[5m])) > 0`},
		{expr: `histogram_quantile(0.9, sum by (le) (rate(s3limit_s3_upload_wait_seconds_bucket[5m])))`},
		{expr: `up{job="s3limit"} == 0`},
		{expr: `increase(s3limit_s3_config_reloads_total{result="failure"}[5m]) > 0`},
		{expr: `s3limit_s3_config_last_load_success{file="identities"} == 0`},
		{expr: `s3limit_s3_config_last_load_success{file="s3.json"} == 0`, err: `file="s3.json": the server exports file only as`},
		{expr: `rate(s3limit_s3_requests_total[5m])`, err: "metric s3limit_s3_requests_total is not exported"},
		{expr: `rate(s3limit_s3_request_total{code="500"}[5m])`, err: `label "code" is not a label`},
		{expr: `increase(s3limit_s3_config_reloads_total{result="error"}[5m])`, err: `result="error": the server exports result only as`},
		{expr: `s3limit_s3_limit_waiting{scope="tenant"}`, err: `scope="tenant": the server exports scope only as`},
		{expr: `sum by (bucket) (s3limit_s3_limit_waiting)`, err: `label "bucket" is not a label`},
		{expr: `vector(1)`, err: "names no metric"},
	} {
		_, err := checkAlertExpr(tc.expr, ex, closed)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("checkAlertExpr(%s): %v", tc.expr, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("checkAlertExpr(%s) = %v, want an error containing %q", tc.expr, err, tc.err)
		}
	}
}
