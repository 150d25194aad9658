package shell

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/s3limit/s3limit/internal/limits"
)

// compact returns cfg's canonical document without whitespace, so
// expectations can be written on one line.
func compact(t *testing.T, cfg *limits.Config) string {
	t.Helper()
	doc, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, doc); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

const (
	globalAll  = `"global":{"enabled":true,"actions":{"Admin:count":100,"List:count":100,"Read:count":100,"Tagging:count":100,"Write:bytes":1073741824,"Write:count":100}}`
	globalOff  = `"global":{"enabled":false,"actions":{"Admin:count":100,"List:count":100,"Read:count":100,"Tagging:count":100,"Write:bytes":1073741824,"Write:count":100}}`
	globalNoRd = `"global":{"enabled":false,"actions":{"Admin:count":100,"List:count":100,"Tagging:count":100,"Write:bytes":1073741824,"Write:count":100}}`
	myBucket   = `"mybucket":{"enabled":true,"actions":{"Read:count":200,"Write:count":100}}`
	myBucketX  = `"mybucket":{"enabled":false,"actions":{"Read:count":200,"Write:count":100}}`
	other      = `"otherbucket":{"enabled":true,"actions":{"Read:count":200,"Write:count":100}}`
	critical   = `"critical-bucket":{"enabled":true,"actions":{"Read:count":50,"Write:count":10}}`
)

// seedSteps are the documented examples in order, each with the
// configuration it must leave behind.
var seedSteps = []struct {
	cmd  string
	want string
}{
	{`s3.circuitBreaker -global -type count -actions Read,Write -values 500,200 -apply`,
		`{"global":{"enabled":true,"actions":{"Read:count":500,"Write:count":200}}}`},
	{`s3.circuitBreaker -global -type MB -actions Write -values 1024 -apply`,
		`{"global":{"enabled":true,"actions":{"Read:count":500,"Write:bytes":1073741824,"Write:count":200}}}`},
	{`s3.circuitBreaker -global -type count -actions Read,Write,List,Tagging,Admin -values 100 -apply`,
		`{` + globalAll + `}`},
	{`s3.circuitBreaker -buckets mybucket,otherbucket -type count -actions Read,Write -values 200,100 -apply`,
		`{` + globalAll + `,"buckets":{` + myBucket + `,` + other + `}}`},
	{`s3.circuitBreaker -buckets critical-bucket -type count -actions Read -values 50 -apply`,
		`{` + globalAll + `,"buckets":{"critical-bucket":{"enabled":true,"actions":{"Read:count":50}},` + myBucket + `,` + other + `}}`},
	{`s3.circuitBreaker -buckets critical-bucket -type count -actions Write -values 10 -apply`,
		`{` + globalAll + `,"buckets":{` + critical + `,` + myBucket + `,` + other + `}}`},
	{`s3.circuitBreaker                                   # view the current configuration`,
		`{` + globalAll + `,"buckets":{` + critical + `,` + myBucket + `,` + other + `}}`},
	{`s3.circuitBreaker -buckets mybucket -disable -apply`,
		`{` + globalAll + `,"buckets":{` + critical + `,` + myBucketX + `,` + other + `}}`},
	{`s3.circuitBreaker -global -disable -apply`,
		`{` + globalOff + `,"buckets":{` + critical + `,` + myBucketX + `,` + other + `}}`},
	{`s3.circuitBreaker -buckets mybucket -delete -apply`,
		`{` + globalOff + `,"buckets":{` + critical + `,` + other + `}}`},
	{`s3.circuitBreaker -global -actions Read -type count -delete -apply`,
		`{` + globalNoRd + `,"buckets":{` + critical + `,` + other + `}}`},
	{`s3.circuitBreaker -delete -apply                    # clear everything`,
		`{}`},
}

func TestEditSeedSequence(t *testing.T) {
	cfg := &limits.Config{}
	for _, step := range seedSteps {
		cmd, err := ParseCommand(step.cmd)
		if err != nil {
			t.Fatalf("%s: %v", step.cmd, err)
		}
		before := compact(t, cfg)
		next, err := cmd.CircuitBreaker.Edit(cfg)
		if err != nil {
			t.Fatalf("%s: %v", step.cmd, err)
		}
		if got := compact(t, cfg); got != before {
			t.Fatalf("%s: Edit modified its input:\n got %s\nwant %s", step.cmd, got, before)
		}
		if got := compact(t, next); got != step.want {
			t.Fatalf("%s:\n got %s\nwant %s", step.cmd, got, step.want)
		}
		cfg = next
	}
}

func TestEdit(t *testing.T) {
	const start = `{"global":{"enabled":true,"actions":{"Read:count":5,"Write:bytes":1048576,"Write:count":3}},` +
		`"buckets":{"photos":{"enabled":true,"actions":{"Read:count":2,"Read:bytes":7}},"logs":{"enabled":false,"actions":{"List:count":1}}}}`
	tests := []struct {
		name, start, cmd, want string
	}{
		{"disable absent global changes nothing", `{}`, `s3.circuitBreaker -global -disable`, `{}`},
		{"disable absent bucket changes nothing", `{}`, `s3.circuitBreaker -buckets photos -disable`, `{}`},
		{"naming a scope enables it", `{}`, `s3.circuitBreaker -global`, `{"global":{"enabled":true}}`},
		{"naming a disabled bucket re-enables it", start, `s3.circuitBreaker -buckets logs`,
			`{"global":{"enabled":true,"actions":{"Read:count":5,"Write:bytes":1048576,"Write:count":3}},"buckets":{"logs":{"enabled":true,"actions":{"List:count":1}},"photos":{"enabled":true,"actions":{"Read:bytes":7,"Read:count":2}}}}`},
		{"values re-enable a disabled bucket", start, `s3.circuitBreaker -buckets logs -type count -actions List -values 9`,
			`{"global":{"enabled":true,"actions":{"Read:count":5,"Write:bytes":1048576,"Write:count":3}},"buckets":{"logs":{"enabled":true,"actions":{"List:count":9}},"photos":{"enabled":true,"actions":{"Read:bytes":7,"Read:count":2}}}}`},
		{"values with -disable stay off", `{}`, `s3.circuitBreaker -global -type MB -actions write -values 2 -disable`,
			`{"global":{"enabled":false,"actions":{"Write:bytes":2097152}}}`},
		{"global and buckets together", `{}`, `s3.circuitBreaker -global -buckets aaa -type count -actions Read -values 0`,
			`{"global":{"enabled":true,"actions":{"Read:count":0}},"buckets":{"aaa":{"enabled":true,"actions":{"Read:count":0}}}}`},
		{"delete action of both types", start, `s3.circuitBreaker -global -actions Write -delete`,
			`{"global":{"enabled":true,"actions":{"Read:count":5}},"buckets":{"logs":{"enabled":false,"actions":{"List:count":1}},"photos":{"enabled":true,"actions":{"Read:bytes":7,"Read:count":2}}}}`},
		{"delete action of one type", start, `s3.circuitBreaker -global -actions Write -type MB -delete`,
			`{"global":{"enabled":true,"actions":{"Read:count":5,"Write:count":3}},"buckets":{"logs":{"enabled":false,"actions":{"List:count":1}},"photos":{"enabled":true,"actions":{"Read:bytes":7,"Read:count":2}}}}`},
		{"delete last action keeps an enabled bucket", start, `s3.circuitBreaker -buckets photos -actions Read -delete`,
			`{"global":{"enabled":true,"actions":{"Read:count":5,"Write:bytes":1048576,"Write:count":3}},"buckets":{"logs":{"enabled":false,"actions":{"List:count":1}},"photos":{"enabled":true}}}`},
		{"delete last action removes a disabled bucket", start, `s3.circuitBreaker -buckets logs -actions List -delete`,
			`{"global":{"enabled":true,"actions":{"Read:count":5,"Write:bytes":1048576,"Write:count":3}},"buckets":{"photos":{"enabled":true,"actions":{"Read:bytes":7,"Read:count":2}}}}`},
		{"delete global section", start, `s3.circuitBreaker -global -delete`,
			`{"buckets":{"logs":{"enabled":false,"actions":{"List:count":1}},"photos":{"enabled":true,"actions":{"Read:bytes":7,"Read:count":2}}}}`},
		{"delete every bucket drops the map", start, `s3.circuitBreaker -buckets logs,photos -delete`,
			`{"global":{"enabled":true,"actions":{"Read:count":5,"Write:bytes":1048576,"Write:count":3}}}`},
		{"delete unknown bucket changes nothing", `{}`, `s3.circuitBreaker -buckets nosuch -delete`, `{}`},
		{"delete action from absent bucket changes nothing", `{}`, `s3.circuitBreaker -buckets nosuch -actions Read -delete`, `{}`},
		{"view", start, `s3.circuitBreaker -apply`,
			`{"global":{"enabled":true,"actions":{"Read:count":5,"Write:bytes":1048576,"Write:count":3}},"buckets":{"logs":{"enabled":false,"actions":{"List:count":1}},"photos":{"enabled":true,"actions":{"Read:bytes":7,"Read:count":2}}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := limits.ParseConfig([]byte(tc.start))
			if err != nil {
				t.Fatal(err)
			}
			cmd, err := ParseCommand(tc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cmd.CircuitBreaker.Edit(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s := compact(t, got); s != tc.want {
				t.Errorf("\n got %s\nwant %s", s, tc.want)
			}
		})
	}
}

func TestEditNilConfig(t *testing.T) {
	op := &CircuitBreakerOp{Global: true, Type: limits.TypeCount, Actions: []string{"Read"}, Values: []int64{1}}
	got, err := op.Edit(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, want := compact(t, got), `{"global":{"enabled":true,"actions":{"Read:count":1}}}`; s != want {
		t.Errorf("got %s, want %s", s, want)
	}
}

func TestIsView(t *testing.T) {
	for line, want := range map[string]bool{
		"s3.circuitBreaker":                      true,
		"s3.circuitBreaker -apply":               true,
		"s3.circuitBreaker -global":              false,
		"s3.circuitBreaker -buckets abc -delete": false,
		"s3.circuitBreaker -delete":              false,
	} {
		cmd, err := ParseCommand(line)
		if err != nil {
			t.Fatal(err)
		}
		if got := cmd.CircuitBreaker.IsView(); got != want {
			t.Errorf("%q: IsView = %v, want %v", line, got, want)
		}
	}
}

// exampleDoc is a configuration with every scope, every new limit type
// and a shadow section; usersSteps build it, one command at a time.
const exampleDoc = `{"global":{"enabled":true,"actions":{"Read:bytes/s":1073741824,"Read:count":500,"Read:ops/s":2000}},` +
	`"buckets":{"backups":{"enabled":true,"actions":{"Write:bytes/s":209715200}}},` +
	`"users":{"alice":{"enabled":true,"actions":{"Write:count":4,"Write:ops/s":100}},` +
	`"anonymous":{"enabled":true,"shadow":true,"actions":{"Read:ops/s":10}}}}`

var usersSteps = []struct {
	cmd  string
	want string
}{
	{`s3.circuitBreaker -global -type count -actions Read -values 500 -apply`,
		`{"global":{"enabled":true,"actions":{"Read:count":500}}}`},
	{`s3.circuitBreaker -global -type ops/s -actions Read -values 2000 -apply`,
		`{"global":{"enabled":true,"actions":{"Read:count":500,"Read:ops/s":2000}}}`},
	{`s3.circuitBreaker -global -type MB/s -actions Read -values 1024 -apply`,
		`{"global":{"enabled":true,"actions":{"Read:bytes/s":1073741824,"Read:count":500,"Read:ops/s":2000}}}`},
	{`s3.circuitBreaker -buckets backups -type MB/s -actions Write -values 200 -apply`,
		`{"global":{"enabled":true,"actions":{"Read:bytes/s":1073741824,"Read:count":500,"Read:ops/s":2000}},` +
			`"buckets":{"backups":{"enabled":true,"actions":{"Write:bytes/s":209715200}}}}`},
	{`s3.circuitBreaker -users alice -type ops/s -actions Write -values 100 -apply`,
		`{"global":{"enabled":true,"actions":{"Read:bytes/s":1073741824,"Read:count":500,"Read:ops/s":2000}},` +
			`"buckets":{"backups":{"enabled":true,"actions":{"Write:bytes/s":209715200}}},` +
			`"users":{"alice":{"enabled":true,"actions":{"Write:ops/s":100}}}}`},
	{`s3.circuitBreaker -users alice -type count -actions Write -values 4 -apply`,
		`{"global":{"enabled":true,"actions":{"Read:bytes/s":1073741824,"Read:count":500,"Read:ops/s":2000}},` +
			`"buckets":{"backups":{"enabled":true,"actions":{"Write:bytes/s":209715200}}},` +
			`"users":{"alice":{"enabled":true,"actions":{"Write:count":4,"Write:ops/s":100}}}}`},
	{`s3.circuitBreaker -users anonymous -shadow -type ops/s -actions Read -values 10 -apply`, exampleDoc},
	{`s3.circuitBreaker`, exampleDoc},
	{`s3.circuitBreaker -users anonymous -shadow=false -apply`,
		`{"global":{"enabled":true,"actions":{"Read:bytes/s":1073741824,"Read:count":500,"Read:ops/s":2000}},` +
			`"buckets":{"backups":{"enabled":true,"actions":{"Write:bytes/s":209715200}}},` +
			`"users":{"alice":{"enabled":true,"actions":{"Write:count":4,"Write:ops/s":100}},` +
			`"anonymous":{"enabled":true,"actions":{"Read:ops/s":10}}}}`},
	{`s3.circuitBreaker -users alice -actions Write -type ops/s -delete -apply`,
		`{"global":{"enabled":true,"actions":{"Read:bytes/s":1073741824,"Read:count":500,"Read:ops/s":2000}},` +
			`"buckets":{"backups":{"enabled":true,"actions":{"Write:bytes/s":209715200}}},` +
			`"users":{"alice":{"enabled":true,"actions":{"Write:count":4}},` +
			`"anonymous":{"enabled":true,"actions":{"Read:ops/s":10}}}}`},
	{`s3.circuitBreaker -users alice,anonymous -delete -apply`,
		`{"global":{"enabled":true,"actions":{"Read:bytes/s":1073741824,"Read:count":500,"Read:ops/s":2000}},` +
			`"buckets":{"backups":{"enabled":true,"actions":{"Write:bytes/s":209715200}}}}`},
	{`s3.circuitBreaker -delete -apply`, `{}`},
}

func TestEditUsersSequence(t *testing.T) {
	cfg := &limits.Config{}
	for _, step := range usersSteps {
		cmd, err := ParseCommand(step.cmd)
		if err != nil {
			t.Fatalf("%s: %v", step.cmd, err)
		}
		before := compact(t, cfg)
		next, err := cmd.CircuitBreaker.Edit(cfg)
		if err != nil {
			t.Fatalf("%s: %v", step.cmd, err)
		}
		if got := compact(t, cfg); got != before {
			t.Fatalf("%s: Edit modified its input:\n got %s\nwant %s", step.cmd, got, before)
		}
		if got := compact(t, next); got != step.want {
			t.Fatalf("%s:\n got %s\nwant %s", step.cmd, got, step.want)
		}
		cfg = next
	}
}

// The documented example document, written by hand, is what the
// sequence builds.
func TestUsersSequenceBuildsExampleDocument(t *testing.T) {
	cfg, err := limits.ParseConfig([]byte(`{"global":{"enabled":true,"actions":{"Read:count":500,"Read:ops/s":2000,"Read:bytes/s":1073741824}},` +
		`"buckets":{"backups":{"enabled":true,"actions":{"Write:bytes/s":209715200}}},` +
		`"users":{"alice":{"enabled":true,"actions":{"Write:ops/s":100,"Write:count":4}},"anonymous":{"enabled":true,"shadow":true,"actions":{"Read:ops/s":10}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := compact(t, cfg); got != exampleDoc {
		t.Errorf("example document is\n%s\nwant\n%s", got, exampleDoc)
	}
}

func TestEditUsersRatesShadow(t *testing.T) {
	const start = `{"global":{"enabled":true,"actions":{"Read:count":5,"Read:ops/s":50,"Read:bytes/s":1048576,"Read:bytes":7}},` +
		`"users":{"alice":{"enabled":true,"shadow":true,"actions":{"Write:ops/s":3}},"bob":{"enabled":false,"actions":{"List:count":1}}}}`
	tests := []struct {
		name, start, cmd, want string
	}{
		{"user section created", `{}`, `s3.circuitBreaker -users alice -type ops/s -actions Write -values 100`,
			`{"users":{"alice":{"enabled":true,"actions":{"Write:ops/s":100}}}}`},
		{"MB/s stored as bytes/s", `{}`, `s3.circuitBreaker -buckets backups -type MB/s -actions Write,Read -values 200,1`,
			`{"buckets":{"backups":{"enabled":true,"actions":{"Read:bytes/s":1048576,"Write:bytes/s":209715200}}}}`},
		{"zero ops/s blocks", `{}`, `s3.circuitBreaker -global -type ops/s -actions Admin -values 0`,
			`{"global":{"enabled":true,"actions":{"Admin:ops/s":0}}}`},
		{"every scope at once", `{}`, `s3.circuitBreaker -global -buckets aaa -users u -type count -actions Read -values 1`,
			`{"global":{"enabled":true,"actions":{"Read:count":1}},"buckets":{"aaa":{"enabled":true,"actions":{"Read:count":1}}},"users":{"u":{"enabled":true,"actions":{"Read:count":1}}}}`},
		{"naming a user switches it on", start, `s3.circuitBreaker -users bob`,
			`{"global":{"enabled":true,"actions":{"Read:bytes":7,"Read:bytes/s":1048576,"Read:count":5,"Read:ops/s":50}},` +
				`"users":{"alice":{"enabled":true,"shadow":true,"actions":{"Write:ops/s":3}},"bob":{"enabled":true,"actions":{"List:count":1}}}}`},
		{"values keep the shadow flag", start, `s3.circuitBreaker -users alice -type ops/s -actions Write -values 9`,
			`{"global":{"enabled":true,"actions":{"Read:bytes":7,"Read:bytes/s":1048576,"Read:count":5,"Read:ops/s":50}},` +
				`"users":{"alice":{"enabled":true,"shadow":true,"actions":{"Write:ops/s":9}},"bob":{"enabled":false,"actions":{"List:count":1}}}}`},
		{"-shadow=false keeps the limits", start, `s3.circuitBreaker -users alice -shadow=false`,
			`{"global":{"enabled":true,"actions":{"Read:bytes":7,"Read:bytes/s":1048576,"Read:count":5,"Read:ops/s":50}},` +
				`"users":{"alice":{"enabled":true,"actions":{"Write:ops/s":3}},"bob":{"enabled":false,"actions":{"List:count":1}}}}`},
		{"-shadow on the global section", start, `s3.circuitBreaker -global -shadow`,
			`{"global":{"enabled":true,"shadow":true,"actions":{"Read:bytes":7,"Read:bytes/s":1048576,"Read:count":5,"Read:ops/s":50}},` +
				`"users":{"alice":{"enabled":true,"shadow":true,"actions":{"Write:ops/s":3}},"bob":{"enabled":false,"actions":{"List:count":1}}}}`},
		{"-shadow on an absent bucket creates it", `{}`, `s3.circuitBreaker -buckets logs -shadow`,
			`{"buckets":{"logs":{"enabled":true,"shadow":true}}}`},
		{"-shadow with -disable on an absent section changes nothing", `{}`, `s3.circuitBreaker -users bob -shadow -disable`, `{}`},
		{"-shadow with -disable keeps both", start, `s3.circuitBreaker -users bob -shadow -disable`,
			`{"global":{"enabled":true,"actions":{"Read:bytes":7,"Read:bytes/s":1048576,"Read:count":5,"Read:ops/s":50}},` +
				`"users":{"alice":{"enabled":true,"shadow":true,"actions":{"Write:ops/s":3}},"bob":{"enabled":false,"shadow":true,"actions":{"List:count":1}}}}`},
		{"disabling a user keeps its shadow flag", start, `s3.circuitBreaker -users alice -disable`,
			`{"global":{"enabled":true,"actions":{"Read:bytes":7,"Read:bytes/s":1048576,"Read:count":5,"Read:ops/s":50}},` +
				`"users":{"alice":{"enabled":false,"shadow":true,"actions":{"Write:ops/s":3}},"bob":{"enabled":false,"actions":{"List:count":1}}}}`},
		{"delete without -type removes every type", start, `s3.circuitBreaker -global -actions Read -delete`,
			`{"global":{"enabled":true},"users":{"alice":{"enabled":true,"shadow":true,"actions":{"Write:ops/s":3}},"bob":{"enabled":false,"actions":{"List:count":1}}}}`},
		{"delete of one rate type", start, `s3.circuitBreaker -global -actions Read -type MB/s -delete`,
			`{"global":{"enabled":true,"actions":{"Read:bytes":7,"Read:count":5,"Read:ops/s":50}},` +
				`"users":{"alice":{"enabled":true,"shadow":true,"actions":{"Write:ops/s":3}},"bob":{"enabled":false,"actions":{"List:count":1}}}}`},
		{"delete of ops/s", start, `s3.circuitBreaker -global -actions Read -type ops/s -delete`,
			`{"global":{"enabled":true,"actions":{"Read:bytes":7,"Read:bytes/s":1048576,"Read:count":5}},` +
				`"users":{"alice":{"enabled":true,"shadow":true,"actions":{"Write:ops/s":3}},"bob":{"enabled":false,"actions":{"List:count":1}}}}`},
		{"delete a user", start, `s3.circuitBreaker -users alice -delete`,
			`{"global":{"enabled":true,"actions":{"Read:bytes":7,"Read:bytes/s":1048576,"Read:count":5,"Read:ops/s":50}},"users":{"bob":{"enabled":false,"actions":{"List:count":1}}}}`},
		{"delete every user drops the map", start, `s3.circuitBreaker -users alice,bob -delete`,
			`{"global":{"enabled":true,"actions":{"Read:bytes":7,"Read:bytes/s":1048576,"Read:count":5,"Read:ops/s":50}}}`},
		{"delete the last limit of a disabled user removes it", start, `s3.circuitBreaker -users bob -actions List -delete`,
			`{"global":{"enabled":true,"actions":{"Read:bytes":7,"Read:bytes/s":1048576,"Read:count":5,"Read:ops/s":50}},"users":{"alice":{"enabled":true,"shadow":true,"actions":{"Write:ops/s":3}}}}`},
		{"delete an unknown user changes nothing", `{}`, `s3.circuitBreaker -users nobody -delete`, `{}`},
		{"users are case-sensitive", start, `s3.circuitBreaker -users Alice -delete`,
			`{"global":{"enabled":true,"actions":{"Read:bytes":7,"Read:bytes/s":1048576,"Read:count":5,"Read:ops/s":50}},` +
				`"users":{"alice":{"enabled":true,"shadow":true,"actions":{"Write:ops/s":3}},"bob":{"enabled":false,"actions":{"List:count":1}}}}`},
		{"delete everything removes users", start, `s3.circuitBreaker -delete`, `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := limits.ParseConfig([]byte(tc.start))
			if err != nil {
				t.Fatal(err)
			}
			cmd, err := ParseCommand(tc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cmd.CircuitBreaker.Edit(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s := compact(t, got); s != tc.want {
				t.Errorf("\n got %s\nwant %s", s, tc.want)
			}
		})
	}
}

func TestIsViewUsersShadow(t *testing.T) {
	for line, want := range map[string]bool{
		"s3.circuitBreaker -users alice":               false,
		"s3.circuitBreaker -users alice -delete":       false,
		"s3.circuitBreaker -global -shadow":            false,
		"s3.circuitBreaker -buckets abc -shadow=false": false,
	} {
		cmd, err := ParseCommand(line)
		if err != nil {
			t.Fatal(err)
		}
		if got := cmd.CircuitBreaker.IsView(); got != want {
			t.Errorf("%q: IsView = %v, want %v", line, got, want)
		}
	}
}

// A section's other settings (its wait) survive every edit that keeps
// the section.
func TestEditKeepsSectionWait(t *testing.T) {
	const start = `{"buckets":{"photos":{"enabled":true,"wait":"5s","actions":{"Read:count":2}}},"users":{"alice":{"enabled":true,"wait":"1m0s","actions":{"Write:count":1}}}}`
	for cmd, want := range map[string]string{
		`s3.circuitBreaker -buckets photos -type ops/s -actions Read -values 9`:      `{"buckets":{"photos":{"enabled":true,"wait":"5s","actions":{"Read:count":2,"Read:ops/s":9}}},"users":{"alice":{"enabled":true,"wait":"1m0s","actions":{"Write:count":1}}}}`,
		`s3.circuitBreaker -users alice -shadow -disable`:                            `{"buckets":{"photos":{"enabled":true,"wait":"5s","actions":{"Read:count":2}}},"users":{"alice":{"enabled":false,"shadow":true,"wait":"1m0s","actions":{"Write:count":1}}}}`,
		`s3.circuitBreaker -buckets photos -actions Read -type MB/s -delete`:         start,
		`s3.circuitBreaker -buckets photos -wait 30s`:                                `{"buckets":{"photos":{"enabled":true,"wait":"30s","actions":{"Read:count":2}}},"users":{"alice":{"enabled":true,"wait":"1m0s","actions":{"Write:count":1}}}}`,
		`s3.circuitBreaker -users alice -wait 0`:                                     `{"buckets":{"photos":{"enabled":true,"wait":"5s","actions":{"Read:count":2}}},"users":{"alice":{"enabled":true,"actions":{"Write:count":1}}}}`,
		`s3.circuitBreaker -users bob -wait 2s -type count -actions Write -values 3`: `{"buckets":{"photos":{"enabled":true,"wait":"5s","actions":{"Read:count":2}}},"users":{"alice":{"enabled":true,"wait":"1m0s","actions":{"Write:count":1}},"bob":{"enabled":true,"wait":"2s","actions":{"Write:count":3}}}}`,
	} {
		cfg, err := limits.ParseConfig([]byte(start))
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseCommand(cmd)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parsed.CircuitBreaker.Edit(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if s := compact(t, got); s != want {
			t.Errorf("%s:\n got %s\nwant %s", cmd, s, want)
		}
	}
}
