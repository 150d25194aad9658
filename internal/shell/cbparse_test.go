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
	{"-global -wait soon", []string{`-wait "soon"`, "non-negative duration"}},
	{"-global -wait -5s", []string{`-wait "-5s"`, "non-negative duration"}},
	{"-wait 5s", []string{"-wait needs"}},
	{"-global -wait 5s -delete", []string{"-wait cannot be used with -delete"}},
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

func TestParseCircuitBreakerUsersRatesShadow(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		line string
		want CircuitBreakerOp
	}{
		{"-users alice -type ops/s -actions Write -values 100 -apply",
			CircuitBreakerOp{Users: []string{"alice"}, Type: limits.TypeOpsPerSec, Actions: []string{"Write"}, Values: []int64{100}, Apply: true}},
		{"-users alice,anonymous -type OPS/S -actions Read,Write -values 10",
			CircuitBreakerOp{Users: []string{"alice", "anonymous"}, Type: limits.TypeOpsPerSec, Actions: []string{"Read", "Write"}, Values: []int64{10, 10}}},
		{"-buckets backups -type MB/s -actions Write -values 200",
			CircuitBreakerOp{Buckets: []string{"backups"}, Type: limits.TypeBytesPerSec, Actions: []string{"Write"}, Values: []int64{200 << 20}}},
		{"-global -type mb/S -actions Read -values 8796093022207",
			CircuitBreakerOp{Global: true, Type: limits.TypeBytesPerSec, Actions: []string{"Read"}, Values: []int64{8796093022207 << 20}}},
		{"-global -type ops/s -actions Read -values 9223372036854775807",
			CircuitBreakerOp{Global: true, Type: limits.TypeOpsPerSec, Actions: []string{"Read"}, Values: []int64{9223372036854775807}}},
		// User names are identity names: case and inner blanks are kept.
		{"-users 'Alice Smith, bob@example.com' -disable",
			CircuitBreakerOp{Users: []string{"Alice Smith", "bob@example.com"}, Disable: true}},
		{"-users Alice,alice -disable", CircuitBreakerOp{Users: []string{"Alice", "alice"}, Disable: true}},
		{"-users anonymous -shadow -type ops/s -actions Read -values 10 -apply",
			CircuitBreakerOp{Users: []string{"anonymous"}, Shadow: &yes, Type: limits.TypeOpsPerSec, Actions: []string{"Read"}, Values: []int64{10}, Apply: true}},
		{"-users anonymous -shadow=false -apply", CircuitBreakerOp{Users: []string{"anonymous"}, Shadow: &no, Apply: true}},
		{"-global -shadow=true", CircuitBreakerOp{Global: true, Shadow: &yes}},
		{"-global -shadow -shadow", CircuitBreakerOp{Global: true, Shadow: &yes}},
		{"-buckets abc -shadow -disable", CircuitBreakerOp{Buckets: []string{"abc"}, Shadow: &yes, Disable: true}},
		{"-global -buckets abc -users alice -type count -actions List -values 3",
			CircuitBreakerOp{Global: true, Buckets: []string{"abc"}, Users: []string{"alice"}, Type: limits.TypeCount, Actions: []string{"List"}, Values: []int64{3}}},
		{"-users alice -delete", CircuitBreakerOp{Users: []string{"alice"}, Delete: true}},
		{"-users alice -actions Write -type ops/s -delete",
			CircuitBreakerOp{Users: []string{"alice"}, Actions: []string{"Write"}, Type: limits.TypeOpsPerSec, Delete: true}},
		{"-users " + strings.Repeat("u", 256) + " -disable", CircuitBreakerOp{Users: []string{strings.Repeat("u", 256)}, Disable: true}},
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

// usersRatesShadowErrorCases are refused lines using -users, the rate
// types or -shadow.
var usersRatesShadowErrorCases = []struct {
	line string
	want []string
}{
	{"-global -type bytes/s -actions Read -values 1", []string{`unknown type "bytes/s" in -type (allowed: count, MB) and rates (ops/s, MB/s)`, "in MiB"}},
	{"-global -type ops -actions Read -values 1", []string{`unknown type "ops" in -type`, "ops/s, MB/s"}},
	{"-global -type GB/s -actions Read -values 1", []string{`unknown type "GB/s" in -type`}},
	{"-global -actions Read -values 1", []string{"-values needs -type (allowed: count, MB) and rates (ops/s, MB/s)"}},
	{"-global -type MB/s -actions Read -values 8796093022208", []string{`value "8796093022208" MB in -values is too large`}},
	{"-global -type ops/s -actions Read -values 1.5", []string{`value "1.5" in -values is not a non-negative integer`}},
	{"-global -type ops/s -actions Read -values -1", []string{`value "-1" in -values is not a non-negative integer`}},
	{"-users '' -disable", []string{"-users needs at least one user name"}},
	{"-users alice,,bob -disable", []string{`empty user name in -users "alice,,bob"`}},
	{"-users alice,alice -disable", []string{`user name "alice" appears twice in -users`}},
	{"-users " + strings.Repeat("u", 257) + " -disable", []string{`-users "uuuu`, "invalid user name", "1 to 256 printable characters"}},
	{"-users 'tab\there' -disable", []string{`-users "tab\there": invalid user name`}},
	{"-users", []string{"flag needs an argument: -users"}},
	{"-users alice -users bob", []string{`invalid value "bob" for flag -users: given more than once`}},
	{"-type ops/s -actions Read -values 1", []string{"-actions needs -global or -buckets or -users"}},
	{"-users alice -actions Read", []string{"-actions needs -values"}},
	{"-shadow", []string{"-shadow needs -global or -buckets or -users"}},
	{"-shadow=false -apply", []string{"-shadow needs -global or -buckets or -users"}},
	{"-users alice -shadow -delete", []string{"-shadow cannot be used with -delete"}},
	{"-shadow -delete", []string{"-shadow cannot be used with -delete"}},
	{"-global -shadow=maybe", []string{`invalid boolean value "maybe" for -shadow`, "use true or false"}},
	{"-global -shadow -shadow=false", []string{"-shadow", "contradicts an earlier one"}},
	{"-global -shadow false", []string{`unexpected argument "false"`, "write -shadow=false"}},
	{"-global -shadow TRUE -apply", []string{`unexpected argument "TRUE"`, "write -shadow=TRUE"}},
	{"-users alice -bogus", []string{`unknown flag "-bogus"`, "-users", "-shadow"}},
}

func TestParseCircuitBreakerUsersRatesShadowErrors(t *testing.T) {
	for _, tc := range usersRatesShadowErrorCases {
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
			if !strings.HasPrefix(msg, "s3.circuitBreaker: ") || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q is not one line naming the command", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

// Every -type name parses to the limit type it stores, and every stored
// type is reachable: the table cannot lose an entry unnoticed.
func TestParseTypeCoversEveryLimitType(t *testing.T) {
	want := map[string]string{"count": limits.TypeCount, "MB": limits.TypeBytes, "ops/s": limits.TypeOpsPerSec, "MB/s": limits.TypeBytesPerSec}
	seen := map[string]bool{}
	for name, typ := range want {
		for _, n := range []string{name, strings.ToUpper(name), strings.ToLower(name), " " + name + " "} {
			got, ok := parseType(n)
			if !ok || got != typ {
				t.Errorf("parseType(%q) = %q, %v; want %q", n, got, ok, typ)
			}
		}
		seen[typ] = true
	}
	for _, typ := range allTypes {
		if !seen[typ] {
			t.Errorf("limit type %q has no -type name", typ)
		}
	}
	if len(cbTypes) != len(want) {
		t.Errorf("cbTypes has %d entries, want %d", len(cbTypes), len(want))
	}
	// The error for an unknown type lists every name.
	_, err := ParseCircuitBreaker([]string{"-global", "-type", "GB", "-actions", "Read", "-values", "1"})
	for _, ty := range cbTypes {
		if err == nil || !strings.Contains(err.Error(), ty.name) {
			t.Errorf("unknown-type error %v does not name %q", err, ty.name)
		}
	}
}
