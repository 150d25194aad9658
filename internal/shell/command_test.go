package shell

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/s3limit/s3limit/internal/limits"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line string
		want Command
	}{
		{"", Command{}},
		{"# comment", Command{}},
		{"help", Command{Name: CmdHelp, Help: true}},
		{"?", Command{Name: CmdHelp, Help: true}},
		{"HELP s3.circuitbreaker", Command{Name: CmdHelp, Help: true, Topic: CmdCircuitBreaker}},
		{"help quit", Command{Name: CmdHelp, Help: true, Topic: CmdExit}},
		{"exit", Command{Name: CmdExit}},
		{"quit", Command{Name: CmdExit}},
		{"s3.circuitBreaker -h", Command{Name: CmdCircuitBreaker, Help: true, Topic: CmdCircuitBreaker}},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			got, err := ParseCommand(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseCommandCircuitBreaker(t *testing.T) {
	for _, line := range []string{"s3.circuitBreaker -global -disable", "S3.CircuitBreaker -global -disable", "> s3.circuitBreaker -global -disable"} {
		got, err := ParseCommand(line)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != CmdCircuitBreaker || got.CircuitBreaker == nil || !got.CircuitBreaker.Global || !got.CircuitBreaker.Disable {
			t.Errorf("%q: got %+v", line, got)
		}
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"s3.circuitbreakr", `unknown command "s3.circuitbreakr" (commands: s3.circuitBreaker, help, exit)`},
		{"weed shell", `unknown command "weed"`},
		{"help a b", "help: takes at most one command name"},
		{"help nosuch", `help: unknown command "nosuch"`},
		{"exit now", "exit: takes no arguments"},
		{"s3.circuitBreaker -global 'oops", "unterminated ' quote"},
		{"s3.circuitBreaker -bogus\x00x", `unknown flag "-bogus\x00x"`},
		{"s3.circuitBreaker -buckets 'a\nb' -disable", `invalid bucket name "a\nb"`},
		{"s3.circuitBreaker '-x\ny'", `-x\ny`},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			_, err := ParseCommand(tc.line)
			if err == nil {
				t.Fatal("accepted")
			}
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Errorf("%T is not a *UsageError", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q: want one line containing %q", msg, tc.want)
			}
		})
	}
}

// sampleConfig has every kind of section for checking that parsed
// operations apply.
func sampleConfig() *limits.Config {
	return &limits.Config{
		Global: &limits.Section{Enabled: true, Actions: map[string]int64{"Read:count": 5, "Write:bytes": 9}},
		Buckets: map[string]*limits.Section{
			"abc":     {Enabled: false, Actions: map[string]int64{"List:count": 1}},
			"photos":  {Enabled: true, Actions: map[string]int64{}},
			"my.logs": {Enabled: true, Actions: map[string]int64{"Tagging:count": 0, "Admin:bytes": 3}},
		},
		Users: map[string]*limits.Section{
			"alice":     {Enabled: true, Actions: map[string]int64{"Write:ops/s": 100, "Write:bytes/s": 1 << 20}},
			"anonymous": {Enabled: true, Shadow: true, Actions: map[string]int64{"Read:ops/s": 10}},
		},
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, step := range seedSteps {
		f.Add(step.cmd)
	}
	for _, tc := range parseErrorCases {
		f.Add("s3.circuitBreaker " + tc.line)
	}
	for _, step := range usersSteps {
		f.Add(step.cmd)
	}
	for _, tc := range usersRatesShadowErrorCases {
		f.Add("s3.circuitBreaker " + tc.line)
	}
	f.Add(`help s3.circuitBreaker`)
	f.Add(`s3.circuitBreaker -buckets "a b" -type=Mb -actions 'read' -values=1 -disable -apply=true`)
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := ParseCommand(line)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v is %T, not *UsageError", err, err)
			}
			msg := err.Error()
			if msg == "" || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error %q is not a single non-empty line", msg)
			}
			if utf8.ValidString(line) && !utf8.ValidString(msg) {
				t.Fatalf("error %q is not valid UTF-8", msg)
			}
			return
		}
		op := cmd.CircuitBreaker
		if op == nil {
			if cmd.Name == CmdCircuitBreaker && !cmd.Help {
				t.Fatalf("s3.circuitBreaker without an operation: %+v", cmd)
			}
			return
		}
		if op.Values != nil && len(op.Values) != len(op.Actions) {
			t.Fatalf("%d values for %d actions: %+v", len(op.Values), len(op.Actions), op)
		}
		if op.Delete && op.Disable {
			t.Fatalf("delete and disable together: %+v", op)
		}
		if op.Shadow != nil && (op.Delete || !op.scoped()) {
			t.Fatalf("-shadow without a section to set it on: %+v", op)
		}
		out, err := op.Edit(sampleConfig())
		if err != nil {
			t.Fatalf("parsed operation %+v does not apply: %v", op, err)
		}
		if err := out.Validate(); err != nil {
			t.Fatalf("result invalid: %v", err)
		}
		doc, err := out.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := limits.ParseConfig(doc); err != nil {
			t.Fatalf("result does not parse back: %v\n%s", err, doc)
		}
	})
}
