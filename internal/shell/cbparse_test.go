package shell

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/limits"
)

func TestParseCircuitBreaker(t *testing.T) {
	tests := []struct {
		line string
		want CircuitBreakerOp
	}{
		{"", CircuitBreakerOp{}},
		{"-apply", CircuitBreakerOp{Apply: true}},
		{"-global -type count -actions Read,Write -values 500,200 -apply",
			CircuitBreakerOp{Global: true, Type: limits.TypeCount, Actions: []string{"Read", "Write"}, Values: []int64{500, 200}, Apply: true}},
		{"-global -type mb -actions write -values 1024",
			CircuitBreakerOp{Global: true, Type: limits.TypeBytes, Actions: []string{"Write"}, Values: []int64{1024 << 20}}},
		{"-buckets a-b,c.d.e -type COUNT -actions read,WRITE,list,Tagging,admin -values 7",
			CircuitBreakerOp{Buckets: []string{"a-b", "c.d.e"}, Type: limits.TypeCount,
				Actions: []string{"Read", "Write", "List", "Tagging", "Admin"}, Values: []int64{7, 7, 7, 7, 7}}},
		{"-buckets ' abc , def ' -type count -actions 'Read, Write' -values '1, 2'",
			CircuitBreakerOp{Buckets: []string{"abc", "def"}, Type: limits.TypeCount, Actions: []string{"Read", "Write"}, Values: []int64{1, 2}}},
		{"--global --type=count --actions=Read --values=0", CircuitBreakerOp{Global: true, Type: limits.TypeCount, Actions: []string{"Read"}, Values: []int64{0}}},
		{"-buckets mybucket -disable -apply", CircuitBreakerOp{Buckets: []string{"mybucket"}, Disable: true, Apply: true}},
		{"-buckets My_Bucket -disable", CircuitBreakerOp{Buckets: []string{"My_Bucket"}, Disable: true}},
		{"-global -actions Read -type count -delete -apply",
			CircuitBreakerOp{Global: true, Actions: []string{"Read"}, Type: limits.TypeCount, Delete: true, Apply: true}},
		{"-global -actions Read,Write -delete", CircuitBreakerOp{Global: true, Actions: []string{"Read", "Write"}, Delete: true}},
		{"-delete -apply", CircuitBreakerOp{Delete: true, Apply: true}},
		{"-global -type MB -actions Read -values 8796093022207",
			CircuitBreakerOp{Global: true, Type: limits.TypeBytes, Actions: []string{"Read"}, Values: []int64{8796093022207 << 20}}},
		{"-apply=false -global", CircuitBreakerOp{Global: true}},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			args, err := SplitLine(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseCircuitBreaker(args)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("\n got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// parseErrorCases are command lines that must be refused, with a part of
// the message that says what was wrong and what is allowed.
var parseErrorCases = []struct {
	line string
	want []string
}{
	{"-global -type count -actions Reed -values 1", []string{`unknown action "Reed"`, "allowed: Read, Write, List, Tagging, Admin"}},
	{"-global -type GB -actions Read -values 1", []string{`unknown type "GB"`, "allowed: count, MB"}},
	{"-global -type bytes -actions Read -values 1", []string{`unknown type "bytes"`, "allowed: count, MB"}},
	{"-global -type '' -actions Read -values 1", []string{`unknown type ""`}},
	{"-global -type count -actions Read -values -5", []string{`value "-5"`, "not a non-negative integer"}},
	{"-global -type count -actions Read -values 1.5", []string{`value "1.5"`, "not a non-negative integer"}},
	{"-global -type count -actions Read -values ten", []string{`value "ten"`, "not a non-negative integer"}},
	{"-global -type count -actions Read -values 0x10", []string{`value "0x10"`, "not a non-negative integer"}},
	{"-global -type count -actions Read -values 99999999999999999999", []string{"too large"}},
	{"-global -type MB -actions Read -values 8796093022208", []string{"too large", "MB"}},
	{"-global -type count -actions Read,Write -values 1,2,3", []string{"3 values for 2 actions"}},
	{"-global -type count -actions Read,Write,List -values 1,2", []string{"2 values for 3 actions"}},
	{"-global -type count -actions Read -values 1,", []string{"empty value"}},
	{"-global -type count -actions Read -values ''", []string{"-values needs at least one value"}},
	{"-type count -actions Read -values 1", []string{"-actions needs -global or -buckets"}},
	{"-actions Read -delete", []string{"-actions needs -global or -buckets"}},
	{"-global -actions Read -type count", []string{"-actions needs -values"}},
	{"-global -values 1", []string{"-values needs -actions"}},
	{"-global -type count", []string{"-type needs -actions"}},
	{"-global -actions Read -values 1", []string{"-values needs -type", "allowed: count, MB"}},
	{"-disable", []string{"-disable needs -global or -buckets"}},
	{"-global -disable -delete", []string{"-disable and -delete cannot be combined"}},
	{"-global -actions Read -values 1 -delete", []string{"-values cannot be used with -delete"}},
	{"-global -type count -delete", []string{"-type with -delete needs -actions"}},
	{"-buckets _hidden -disable", []string{`invalid bucket name "_hidden"`, "starting with a letter or digit"}},
	{"-buckets ab -disable", []string{`invalid bucket name "ab"`}},
	{"-buckets abc,,def -disable", []string{"empty bucket name"}},
	{"-buckets '' -disable", []string{"-buckets needs at least one bucket name"}},
	{"-buckets abc,abc -disable", []string{`bucket name "abc" appears twice`}},
	{"-global -type count -actions Read,read -values 1", []string{`action "read" appears twice`}},
	{"-global -type count -actions , -values 1", []string{"empty action"}},
	{"-global -bogus", []string{`unknown flag "-bogus"`, "flags: -global, -buckets"}},
	{"-buckets", []string{"flag needs an argument: -buckets"}},
	{"-buckets abc -buckets def", []string{"given more than once"}},
	{"-global -apply=maybe", []string{"invalid boolean value"}},
	{"-global Read", []string{`unexpected argument "Read"`}},
	{"-global -type count -actions Read, Write -values 1", []string{`unexpected argument "Write"`, "comma-separated without spaces"}},
	{"-global -type count -actions Read,Write -values 1, 2", []string{`unexpected argument "2"`}},
	{"---global", []string{"bad flag syntax"}},
}

func TestParseCircuitBreakerErrors(t *testing.T) {
	for _, tc := range parseErrorCases {
		t.Run(tc.line, func(t *testing.T) {
			args, err := SplitLine(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			op, err := ParseCircuitBreaker(args)
			if err == nil {
				t.Fatalf("accepted as %+v", *op)
			}
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v (%T) is not a *UsageError", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "s3.circuitBreaker: ") {
				t.Errorf("error %q does not name the command", msg)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q is not one line", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestParseCircuitBreakerHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		if _, err := ParseCircuitBreaker([]string{arg}); err != errHelp {
			t.Errorf("%s: err = %v, want errHelp", arg, err)
		}
	}
}

func TestQuoteShortensLongInput(t *testing.T) {
	long := strings.Repeat("é", 100)
	q := quote(long)
	if len(q) > 80 || !strings.HasSuffix(q, "…") {
		t.Errorf("quote(long) = %q", q)
	}
	if strings.ContainsRune(q, '\uFFFD') {
		t.Errorf("quote cut a character in half: %q", q)
	}
}
