package dashboards

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// refs is what a PromQL expression refers to.
type refs struct {
	Metrics []string // metric names, in order of appearance
	Labels  []string // label names in matchers and grouping clauses
}

// promqlFunctions are the functions and aggregation operators the
// dashboard may call; an unknown name is an error, so a typo cannot pass
// as a metric name.
var promqlFunctions = map[string]bool{
	// aggregation operators
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	// functions
	"abs": true, "absent": true, "ceil": true, "clamp": true, "clamp_max": true, "clamp_min": true,
	"delta": true, "deriv": true, "exp": true, "floor": true, "histogram_quantile": true, "idelta": true,
	"increase": true, "irate": true, "label_join": true, "label_replace": true, "ln": true, "log2": true,
	"log10": true, "rate": true, "resets": true, "round": true, "scalar": true, "sort": true, "sort_desc": true,
	"sqrt": true, "time": true, "timestamp": true, "vector": true,
	"avg_over_time": true, "min_over_time": true, "max_over_time": true, "sum_over_time": true,
	"count_over_time": true, "quantile_over_time": true, "last_over_time": true,
}

// promqlKeywords are words that are neither metrics nor functions.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
}

// groupingKeywords take a parenthesised list of label names.
var groupingKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

type tokenKind int

const (
	tIdent tokenKind = iota
	tString
	tNumber
	tPunct
)

type token struct {
	kind tokenKind
	text string
}

// lexPromQL splits expr into identifiers, strings, numbers (durations
// included) and punctuation. It knows enough PromQL to find every name an
// expression uses, not to evaluate it.
func lexPromQL(expr string) ([]token, error) {
	var toks []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string at byte %d", i)
			}
			toks = append(toks, token{tString, expr[i+1 : j]})
			i = j + 1
		case isDigit(c) || c == '.' && i+1 < len(expr) && isDigit(expr[i+1]):
			j := i
			for j < len(expr) && (isIdentByte(expr[j]) || expr[j] == '.') {
				j++
			}
			toks = append(toks, token{tNumber, expr[i:j]})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdentByte(expr[j]) {
				j++
			}
			toks = append(toks, token{tIdent, expr[i:j]})
			i = j
		default:
			if op := punctAt(expr[i:]); op != "" {
				toks = append(toks, token{tPunct, op})
				i += len(op)
				continue
			}
			r, _ := utf8.DecodeRuneInString(expr[i:])
			return nil, fmt.Errorf("unexpected %q at byte %d", r, i)
		}
	}
	return toks, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
func isIdentByte(c byte) bool { return isIdentStart(c) || isDigit(c) }

// punctAt returns the operator or bracket s starts with, or "".
func punctAt(s string) string {
	for _, op := range []string{"!=", "=~", "!~", "==", "<=", ">=", "{", "}", "(", ")", "[", "]", ",", "=", "+", "-", "*", "/", "%", "^", "<", ">", "@"} {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return ""
}

// parsePromQL returns the metric and label names expr uses. It rejects
// unknown functions, malformed matchers and unbalanced brackets.
func parsePromQL(expr string) (refs, error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return refs{}, err
	}
	var r refs
	depth := 0 // parentheses
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		next := func() string {
			if i+1 < len(toks) && toks[i+1].kind == tPunct {
				return toks[i+1].text
			}
			return ""
		}
		switch {
		case tk.kind == tPunct && tk.text == "{":
			end, labels, err := parseMatchers(toks, i)
			if err != nil {
				return refs{}, err
			}
			r.Labels = append(r.Labels, labels...)
			i = end
		case tk.kind == tPunct && tk.text == "[":
			j := i + 1
			for j < len(toks) && !(toks[j].kind == tPunct && toks[j].text == "]") {
				if toks[j].kind != tNumber {
					return refs{}, fmt.Errorf("unexpected %q in a range", toks[j].text)
				}
				j++
			}
			if j == len(toks) || j == i+1 {
				return refs{}, fmt.Errorf("empty or unterminated range")
			}
			i = j
		case tk.kind == tPunct && (tk.text == "}" || tk.text == "]"):
			return refs{}, fmt.Errorf("unbalanced %q", tk.text)
		case tk.kind == tPunct && tk.text == "(":
			depth++
		case tk.kind == tPunct && tk.text == ")":
			if depth--; depth < 0 {
				return refs{}, fmt.Errorf("unbalanced %q", tk.text)
			}
		case tk.kind != tIdent:
		case groupingKeywords[tk.text]:
			if next() != "(" {
				if strings.HasPrefix(tk.text, "group_") {
					continue // group_left without labels
				}
				return refs{}, fmt.Errorf("%s needs a label list", tk.text)
			}
			j := i + 2
			for ; j < len(toks) && !(toks[j].kind == tPunct && toks[j].text == ")"); j++ {
				switch {
				case toks[j].kind == tIdent:
					r.Labels = append(r.Labels, toks[j].text)
				case toks[j].kind == tPunct && toks[j].text == ",":
				default:
					return refs{}, fmt.Errorf("unexpected %q in the label list of %s", toks[j].text, tk.text)
				}
			}
			if j == len(toks) {
				return refs{}, fmt.Errorf("unterminated label list of %s", tk.text)
			}
			i = j
		case promqlKeywords[tk.text]:
		case next() == "(" || promqlFunctions[tk.text] && (i+1 < len(toks) && groupingKeywords[toks[i+1].text]):
			if !promqlFunctions[tk.text] {
				return refs{}, fmt.Errorf("unknown function %q", tk.text)
			}
		default:
			r.Metrics = append(r.Metrics, tk.text)
		}
	}
	if depth != 0 {
		return refs{}, fmt.Errorf("%d unclosed parentheses", depth)
	}
	return r, nil
}

// parseMatchers reads the label matchers of the "{" at toks[i] and
// returns the index of the closing "}" and the label names.
func parseMatchers(toks []token, i int) (end int, labels []string, err error) {
	j := i + 1
	for {
		if j < len(toks) && toks[j].kind == tPunct && toks[j].text == "}" {
			return j, labels, nil
		}
		if j+2 >= len(toks) || toks[j].kind != tIdent || toks[j+1].kind != tPunct || toks[j+2].kind != tString {
			return 0, nil, fmt.Errorf("malformed label matcher after %q", toks[i].text)
		}
		switch toks[j+1].text {
		case "=", "!=", "=~", "!~":
		default:
			return 0, nil, fmt.Errorf("bad matcher operator %q", toks[j+1].text)
		}
		labels = append(labels, toks[j].text)
		j += 3
		if j < len(toks) && toks[j].kind == tPunct && toks[j].text == "," {
			j++
		}
	}
}

func TestParsePromQL(t *testing.T) {
	tests := []struct {
		expr string
		want refs
	}{
		{`up`, refs{Metrics: []string{"up"}}},
		{`sum by (action) (rate(s3limit_s3_request_total{instance=~".*"}[5m]))`,
			refs{Metrics: []string{"s3limit_s3_request_total"}, Labels: []string{"action", "instance"}}},
		{`histogram_quantile(0.99, sum by (le, action) (rate(x_bucket{a="1", b!~'x,y}'}[1h30m])))`,
			refs{Metrics: []string{"x_bucket"}, Labels: []string{"le", "action", "a", "b"}}},
		{`topk(10, sum without(bucket)(a)) / on(action) group_left(user) b > bool 0`,
			refs{Metrics: []string{"a", "b"}, Labels: []string{"bucket", "action", "user"}}},
		{`sum(rate(a[5m])) by (x) and b unless c offset 5m`,
			refs{Metrics: []string{"a", "b", "c"}, Labels: []string{"x"}}},
		{`rate(ns:recorded:rate5m[5m:1m])`, refs{Metrics: []string{"ns:recorded:rate5m"}}},
		{`a{}`, refs{Metrics: []string{"a"}}},
		{`vector(1) * .5e3`, refs{}},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := parsePromQL(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParsePromQLErrors(t *testing.T) {
	for expr, want := range map[string]string{
		`rat(a[5m])`:           `unknown function "rat"`,
		`sum by (action (a)`:   `unexpected "(" in the label list of by`,
		`sum by action (a)`:    "by needs a label list",
		`a{b="1"`:              "malformed label matcher",
		`a{b=1}`:               "malformed label matcher",
		`a{b>"1"}`:             `bad matcher operator ">"`,
		`rate(a[$__interval])`: `unexpected '$'`,
		`rate(a[])`:            "empty or unterminated range",
		`rate(a[5m)`:           `unexpected ")" in a range`,
		`sum(a))`:              `unbalanced ")"`,
		`sum((a)`:              "1 unclosed parentheses",
		`a}`:                   `unbalanced "}"`,
		`a{b="1}`:              "unterminated string",
		`a # comment`:          `unexpected '#'`,
		`{"quoted"="1"}`:       "malformed label matcher", // quoted label names are not supported
	} {
		t.Run(expr, func(t *testing.T) {
			got, err := parsePromQL(expr)
			if err == nil {
				t.Fatalf("accepted as %+v", got)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		})
	}
}

func FuzzParsePromQL(f *testing.F) {
	for _, e := range dashboardExprs(f) {
		f.Add(e.expr)
	}
	f.Add(`a{b="\"}"}[5m] offset 1h`)
	f.Fuzz(func(t *testing.T, expr string) {
		r, err := parsePromQL(expr)
		if err != nil {
			return
		}
		for _, name := range append(r.Metrics, r.Labels...) {
			if name == "" || !isIdentStart(name[0]) || !strings.Contains(expr, name) {
				t.Fatalf("name %q is not an identifier of %q", name, expr)
			}
		}
	})
}
