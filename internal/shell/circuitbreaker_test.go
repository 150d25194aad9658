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
