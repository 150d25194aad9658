package limits

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Config
	}{
		{"empty input", "", &Config{}},
		{"whitespace", " \n\t", &Config{}},
		{"null", "null", &Config{}},
		{"empty object", "{}", &Config{}},
		{
			name: "canonical",
			in:   `{"global":{"enabled":true,"actions":{"Read:count":500,"Write:bytes":1073741824}},"buckets":{"mybucket":{"enabled":false,"actions":{"List:count":0}}}}`,
			want: &Config{
				Global:  &Section{Enabled: true, Actions: map[string]int64{"Read:count": 500, "Write:bytes": 1073741824}},
				Buckets: map[string]*Section{"mybucket": {Enabled: false, Actions: map[string]int64{"List:count": 0}}},
			},
		},
		{
			name: "SeaweedFS form: Count and MB type names, string values",
			in:   `{"global":{"enabled":true,"actions":{"Read:Count":"500","Write:MB":"1073741824"}}}`,
			want: &Config{Global: &Section{Enabled: true, Actions: map[string]int64{"Read:count": 500, "Write:bytes": 1073741824}}},
		},
		{
			name: "users, rates and shadow sections",
			in: `{"global":{"enabled":true,"actions":{"Read:count":500,"Read:ops/s":2000,"Read:bytes/s":1073741824}},
			      "buckets":{"backups":{"enabled":true,"actions":{"Write:bytes/s":209715200}}},
			      "users":{"alice":{"enabled":true,"actions":{"Write:OPS/S":100,"Write:count":4}},
			               "anonymous":{"enabled":true,"shadow":true,"actions":{"Read:ops/s":"10"}}}}`,
			want: &Config{
				Global:  &Section{Enabled: true, Actions: map[string]int64{"Read:count": 500, "Read:ops/s": 2000, "Read:bytes/s": 1073741824}},
				Buckets: map[string]*Section{"backups": {Enabled: true, Actions: map[string]int64{"Write:bytes/s": 209715200}}},
				Users: map[string]*Section{
					"alice":     {Enabled: true, Actions: map[string]int64{"Write:ops/s": 100, "Write:count": 4}},
					"anonymous": {Enabled: true, Shadow: true, Actions: map[string]int64{"Read:ops/s": 10}},
				},
			},
		},
		{
			// A gateway reaches buckets made under the legacy us-east-1
			// rules; they can have limits too.
			name: "legacy bucket name",
			in:   `{"buckets":{"My_Bucket":{"enabled":true,"actions":{"Read:count":3}}}}`,
			want: &Config{Buckets: map[string]*Section{"My_Bucket": {Enabled: true, Actions: map[string]int64{"Read:count": 3}}}},
		},
		{
			name: "action names in any case",
			in:   `{"global":{"actions":{"tagging:COUNT":1,"ADMIN:bytes":" 2 "}}}`,
			want: &Config{Global: &Section{Actions: map[string]int64{"Tagging:count": 1, "Admin:bytes": 2}}},
		},
		{
			name: "largest int64",
			in:   `{"global":{"actions":{"Read:bytes":9223372036854775807}}}`,
			want: &Config{Global: &Section{Actions: map[string]int64{"Read:bytes": 9223372036854775807}}},
		},
		{
			name: "section without actions",
			in:   `{"buckets":{"abc":{"enabled":true}}}`,
			want: &Config{Buckets: map[string]*Section{"abc": {Enabled: true, Actions: map[string]int64{}}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseConfig = %#v, want %#v", got, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("parsed config does not validate: %v", err)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		field string // ConfigError.Field
		msg   string // substring of the message
	}{
		{"not JSON", `{"global":`, "", "not valid JSON"},
		{"trailing object", `{} {}`, "", "trailing data"},
		{"trailing bracket", `{}]`, "", "trailing data"},
		{"unknown top-level field", `{"globals":{}}`, "", `unknown field "globals"`},
		{"unknown section field", `{"global":{"enable":true}}`, "", `unknown field "enable"`},
		{"syntax error", `{"global":{"enabled":tru}}`, "", "not valid JSON: invalid character"},
		{"wrong type", `{"global":{"enabled":"yes"}}`, "global.enabled", "expected true or false, got JSON string"},
		{"buckets not an object", `{"buckets":[]}`, "buckets", "expected an object, got JSON array"},
		{"document not an object", `[1]`, "", "expected an object, got JSON array"},
		{"unknown action", `{"global":{"actions":{"Delete:count":1}}}`, `global.actions."Delete:count"`, `unknown action "Delete"`},
		{"unknown type", `{"global":{"actions":{"Read:GB":1}}}`, `global.actions."Read:GB"`, `unknown limit type "GB"`},
		{"key without type", `{"global":{"actions":{"Read":1}}}`, `global.actions."Read"`, "must be <Action>:<count|bytes|ops/s|bytes/s>"},
		{"negative", `{"buckets":{"abc":{"actions":{"Read:count":-1}}}}`, `buckets."abc".actions."Read:count"`, "not a non-negative integer"},
		{"negative string", `{"global":{"actions":{"Read:count":"-5"}}}`, `global.actions."Read:count"`, "not a non-negative integer"},
		{"fraction", `{"global":{"actions":{"Read:count":1.5}}}`, `global.actions."Read:count"`, "not a non-negative integer"},
		{"exponent", `{"global":{"actions":{"Read:count":1e3}}}`, `global.actions."Read:count"`, "not a non-negative integer"},
		{"overflow", `{"global":{"actions":{"Read:bytes":9223372036854775808}}}`, `global.actions."Read:bytes"`, "not a non-negative integer"},
		{"word", `{"global":{"actions":{"Read:count":"many"}}}`, `global.actions."Read:count"`, "not a non-negative integer"},
		{"null value", `{"global":{"actions":{"Read:count":null}}}`, `global.actions."Read:count"`, "not a non-negative integer"},
		{"bool value", `{"global":{"actions":{"Read:count":true}}}`, `global.actions."Read:count"`, "not a non-negative integer"},
		{"duplicate after canonicalisation", `{"global":{"actions":{"Read:count":1,"read:Count":2}}}`, "", `duplicates "Read:count"`},
		{"invalid bucket name", `{"buckets":{"my/bucket":{"enabled":true}}}`, `buckets."my/bucket"`, "invalid bucket name"},
		{"null bucket section", `{"buckets":{"abc":null}}`, `buckets."abc"`, "section is null"},
		{"rate type typo", `{"global":{"actions":{"Read:ops/m":1}}}`, `global.actions."Read:ops/m"`, `unknown limit type "ops/m"`},
		{"negative rate", `{"users":{"alice":{"actions":{"Write:ops/s":-3}}}}`, `users."alice".actions."Write:ops/s"`, "not a non-negative integer"},
		{"empty user name", `{"users":{"":{"enabled":true}}}`, `users.""`, "invalid user name"},
		{"control character in user name", `{"users":{"a\u0007b":{"enabled":true}}}`, `users."a\ab"`, "invalid user name"},
		{"null user section", `{"users":{"alice":null}}`, `users."alice"`, "section is null"},
		{"shadow not a bool", `{"users":{"alice":{"shadow":"yes"}}}`, "users.shadow", "expected true or false"},
		{"unknown scope", `{"tenants":{}}`, "", `unknown field "tenants"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.in))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseConfig = %+v, %v; want a *ConfigError", cfg, err)
			}
			if tc.field != "" && ce.Field != tc.field {
				t.Errorf("Field = %s, want %s", ce.Field, tc.field)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "limits: ") {
				t.Errorf("error %q, want it to start with limits: and contain %q", err, tc.msg)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   *Config
		field string // "" = valid
	}{
		{"nil", nil, ""},
		{"empty", &Config{}, ""},
		{"valid", &Config{Global: &Section{Actions: map[string]int64{"Read:count": 0}}, Buckets: map[string]*Section{"a.b-c": {}}}, ""},
		{"non-canonical key", &Config{Global: &Section{Actions: map[string]int64{"read:Count": 1}}}, `global.actions."read:Count"`},
		{"MB key", &Config{Global: &Section{Actions: map[string]int64{"Read:MB": 1}}}, `global.actions."Read:MB"`},
		{"negative", &Config{Buckets: map[string]*Section{"abc": {Actions: map[string]int64{"Read:count": -1}}}}, `buckets."abc".actions."Read:count"`},
		{"bad key", &Config{Global: &Section{Actions: map[string]int64{"Read:": 1}}}, `global.actions."Read:"`},
		{"bad bucket", &Config{Buckets: map[string]*Section{"ab": {}}}, `buckets."ab"`},
		{"nil section", &Config{Buckets: map[string]*Section{"abc": nil}}, `buckets."abc"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("Validate = %v, want a ConfigError for %s", err, tc.field)
			}
		})
	}
}

func TestCloneIsDeep(t *testing.T) {
	orig := &Config{
		Global:  &Section{Enabled: true, Actions: map[string]int64{"Read:count": 1}},
		Buckets: map[string]*Section{"abc": {Enabled: true, Actions: map[string]int64{"Write:bytes": 2}}},
	}
	c := orig.Clone()
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("clone %+v differs", c)
	}
	c.Global.Actions["Read:count"] = 9
	c.Buckets["abc"].Enabled = false
	c.Buckets["new"] = &Section{}
	if orig.Global.Actions["Read:count"] != 1 || !orig.Buckets["abc"].Enabled || len(orig.Buckets) != 1 {
		t.Fatal("changing the clone changed the original")
	}
	if got := (*Config)(nil).Clone(); got == nil || got.Global != nil || got.Buckets != nil {
		t.Fatalf("nil.Clone() = %+v", got)
	}
}

func TestMarshalIsCanonical(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"buckets":{"zeta":{"enabled":true,"actions":{"Write:count":"2","Read:count":1}},"alpha":{"enabled":false}},"global":{"enabled":true,"actions":{"Write:MB":"5"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "global": {
    "enabled": true,
    "actions": {
      "Write:bytes": 5
    }
  },
  "buckets": {
    "alpha": {
      "enabled": false
    },
    "zeta": {
      "enabled": true,
      "actions": {
        "Read:count": 1,
        "Write:count": 2
      }
    }
  }
}
`
	if string(got) != want {
		t.Fatalf("Marshal =\n%s\nwant\n%s", got, want)
	}
	if empty, _ := (&Config{}).Marshal(); string(empty) != "{}\n" {
		t.Errorf("empty Marshal = %q", empty)
	}
	if names := cfg.BucketNames(); !reflect.DeepEqual(names, []string{"alpha", "zeta"}) {
		t.Errorf("BucketNames = %v", names)
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		key, action, typ string
		ok               bool
	}{
		{"Read:count", "Read", "count", true},
		{"write:Bytes", "Write", "bytes", true},
		{"List:MB", "List", "bytes", true},
		{"Tagging:Count", "Tagging", "count", true},
		{"admin:mb", "Admin", "bytes", true},
		{"Read", "", "", false},
		{":count", "", "", false},
		{"Read:", "", "", false},
		{"Read:count:x", "", "", false},
		{"Get:count", "", "", false},
	}
	for _, tc := range tests {
		a, ty, err := ParseKey(tc.key)
		if (err == nil) != tc.ok || a != tc.action || ty != tc.typ {
			t.Errorf("ParseKey(%q) = %q, %q, %v; want %q, %q, ok=%v", tc.key, a, ty, err, tc.action, tc.typ, tc.ok)
		}
	}
}

func TestLoadAndWriteConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "circuit_breaker.json")

	cfg, err := LoadConfigFile(path)
	if err != nil || cfg.Global != nil || len(cfg.Buckets) != 0 {
		t.Fatalf("LoadConfigFile(missing) = %+v, %v; want an empty config", cfg, err)
	}

	want := &Config{Global: &Section{Enabled: true, Actions: map[string]int64{"Write:count": 200}}}
	if err := WriteConfigFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadConfigFile(path)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadConfigFile = %+v, %v; want %+v", got, err, want)
	}
	data, _ := os.ReadFile(path)
	if canonical, _ := want.Marshal(); !bytes.Equal(data, canonical) {
		t.Errorf("file %q, want the canonical document", data)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v, %v; want 0644", fi.Mode(), err)
	}

	// An invalid config is refused and the file stays as it was.
	bad := &Config{Global: &Section{Actions: map[string]int64{"Nope:count": 1}}}
	if err := WriteConfigFile(path, bad); err == nil {
		t.Fatal("WriteConfigFile(invalid) succeeded")
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, data) {
		t.Fatal("a refused write changed the file")
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the config file", len(entries))
	}

	// An invalid file is an error that names the file.
	if err := os.WriteFile(path, []byte(`{"global":{"actions":{"Read:count":"x"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfigFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadConfigFile(invalid) = %v, want an error naming %s", err, path)
	}
	// A directory that does not exist cannot be written.
	if err := WriteConfigFile(filepath.Join(dir, "no", "cb.json"), want); err == nil {
		t.Error("WriteConfigFile into a missing directory succeeded")
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `{"global":{"enabled":true,"actions":{"Read:count":500,"Write:bytes":1073741824}}}`,
		`{"buckets":{"mybucket":{"enabled":true,"actions":{"Read:Count":"100","Write:MB":"50"}}}}`,
		`{"global":{"actions":{"read:count":1,"Read:count":2}}}`,
		`{"buckets":{"a..b":{}}}`, `{"global":{"actions":{"Read:count":"9223372036854775808"}}}`,
		`{} ]`, `{"global":{"actions":{"Read:count":" 7 "}}}`, `[1,2]`, `"x"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("parsed config does not validate: %v", err)
		}
		out, err := cfg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("canonical output %q does not parse: %v", out, err)
		}
		out2, _ := again.Marshal()
		if !bytes.Equal(out, out2) {
			t.Fatalf("Marshal is not stable:\n%s\n%s", out, out2)
		}
		if c, _ := cfg.Clone().Marshal(); !bytes.Equal(c, out) {
			t.Fatal("Clone changed the document")
		}
		// Whatever parses compiles, and compiles to the same limits.
		s := compileSnapshot(cfg, nil)
		n := 0
		s.eachLimit(func(int, string, int, int, int64) { n++ })
		want := 0
		if cfg.Global != nil && cfg.Global.Enabled {
			want += len(cfg.Global.Actions)
		}
		for _, b := range cfg.Buckets {
			if b.Enabled {
				want += len(b.Actions)
			}
		}
		if n != want {
			t.Fatalf("compiled %d limits, want %d", n, want)
		}
	})
}
