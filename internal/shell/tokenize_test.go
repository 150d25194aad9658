package shell

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitLine(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"", nil},
		{"   \t ", nil},
		{"# a comment", nil},
		{"  # indented comment", nil},
		{"a b  c", []string{"a", "b", "c"}},
		{"a\tb\r", []string{"a", "b"}},
		{"s3.circuitBreaker   # view the current configuration", []string{"s3.circuitBreaker"}},
		{"a#b", []string{"a#b"}},
		{"a '#b'", []string{"a", "#b"}},
		{`a 'b c' "d e"`, []string{"a", "b c", "d e"}},
		{`'' ""`, []string{"", ""}},
		{`x"y z"w`, []string{"xy zw"}},
		{`"a \"q\" \\ \n"`, []string{`a "q" \ \n`}},
		{`'a\b'`, []string{`a\b`}},
		{`a\ b c`, []string{"a b", "c"}},
		{`a\`, []string{`a\`}},
		{`\é`, []string{"é"}},
		{"> s3.circuitBreaker -global -disable -apply", []string{"s3.circuitBreaker", "-global", "-disable", "-apply"}},
		{"  >\ts3.circuitBreaker", []string{"s3.circuitBreaker"}},
		{">", nil},
		{">x", []string{">x"}},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			got, err := SplitLine(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSplitLineErrors(t *testing.T) {
	for _, line := range []string{`a 'b`, `a "b`, `"a\"`, `'`} {
		_, err := SplitLine(line)
		if err == nil || !strings.Contains(err.Error(), "unterminated") {
			t.Errorf("%q: err = %v, want unterminated quote", line, err)
		}
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "plain",
		"a\nb":         `a\nb`,
		"tab\there":    `tab\there`,
		"nul\x00":      `nul\x00`,
		"del\x7f":      `del\x7f`,
		"é and \u0085": `é and \u0085`,
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
