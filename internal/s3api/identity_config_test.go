package s3api

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const seaweedStyleConfig = `{
  "identities": [
    {"name": "admin", "credentials": [{"accessKey": "AKADMIN", "secretKey": "SKADMIN"}],
     "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
    {"name": "reader", "credentials": [{"accessKey": "AKREAD", "secretKey": "SKREAD"}],
     "actions": ["Read:photos", "List:photos"],
     "account": {"id": "reader", "displayName": "Reader"}},
    {"name": "anonymous", "actions": ["Read:public"]}
  ],
  "accounts": [{"id": "reader", "displayName": "Reader"}]
}`

func TestParseIdentityConfig(t *testing.T) {
	cfg, err := ParseIdentityConfig([]byte(seaweedStyleConfig))
	if err != nil {
		t.Fatalf("ParseIdentityConfig: %v", err)
	}
	if len(cfg.Identities) != 3 || cfg.Identities[1].Name != "reader" ||
		cfg.Identities[1].Credentials[0].SecretKey != "SKREAD" || cfg.Identities[2].Actions[0] != "Read:public" {
		t.Fatalf("parsed %+v", cfg)
	}
}

func TestParseIdentityConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		json string
		want string // substring of the error
	}{
		{"empty file", ``, "the file is empty"},
		{"not JSON", `{"identities": [`, "invalid JSON"},
		{"wrong type", `{"identities": {"name": "x"}}`, "identities"},
		{"trailing data", `{"identities": []} {}`, "after the JSON document"},
		{"empty name", `{"identities": [{"name": " ", "credentials": [{"accessKey": "a", "secretKey": "b"}]}]}`, "identities[0].name: empty"},
		{"duplicate name", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}]},
			{"name": "x", "credentials": [{"accessKey": "c", "secretKey": "d"}]}]}`, "identities[1].name"},
		{"no credentials", `{"identities": [{"name": "x", "actions": ["Read"]}]}`, "identities[0].credentials"},
		{"empty access key", `{"identities": [{"name": "x", "credentials": [{"accessKey": "", "secretKey": "b"}]}]}`, "identities[0].credentials[0].accessKey: empty"},
		{"empty secret key", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": ""}]}]}`, "identities[0].credentials[0].secretKey: empty"},
		{"access key with slash", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a/b", "secretKey": "s"}]}]}`, "credentials[0].accessKey"},
		{"duplicate access key", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}]},
			{"name": "y", "credentials": [{"accessKey": "a", "secretKey": "c"}]}]}`, `identities[1].credentials[0].accessKey: "a" is already used by identity "x"`},
		{"unknown action", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "actions": ["Read", "Reed"]}]}`,
			`identities[0].actions[1]: unknown action "Reed"`},
		{"lower-case action", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "actions": ["read"]}]}`,
			"identities[0].actions[0]: unknown action"},
		{"empty scope", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "actions": ["Read:"]}]}`,
			"identities[0].actions[0]: bad bucket scope"},
		{"wildcard inside", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "actions": ["Read:a*b"]}]}`,
			"'*' is allowed only at the end"},
		{"object prefix scope", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "actions": ["Write:bucket/dir"]}]}`,
			"object-prefix scopes"},
		{"underscore bucket", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "actions": ["Admin:_s3limit"]}]}`,
			"never start with '_'"},
		{"invalid bucket", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "actions": ["Read:ab"]}]}`,
			"not a valid bucket name"},
		{"bad character", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "actions": ["Read:a b"]}]}`,
			"bucket name character"},
		{"action for actions", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "action": ["Read"]}]}`,
			`identities[0].action: unknown field; did you mean "actions"?`},
		{"capitalised field", `{"identities": [{"Name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}]}]}`,
			`identities[0].Name: unknown field; did you mean "name"?`},
		{"snake case key", `{"identities": [{"name": "x", "credentials": [{"access_key": "a", "secretKey": "b"}]}]}`,
			`identities[0].credentials[0].access_key: unknown field; did you mean "accessKey"?`},
		{"secret for secretKey", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secret": "b"}]}]}`,
			`identities[0].credentials[0].secret: unknown field; did you mean "secretKey"?`},
		{"misspelt top level", `{"identites": []}`, `identites: unknown field; did you mean "identities"?`},
		{"unrelated field", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "quota": 5}]}`,
			`identities[0].quota: unknown field (an identity has "name", "credentials", "actions")`},
		{"second identity", `{"identities": [{"name": "anonymous"}, {"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "actons": []}]}`,
			`identities[1].actons: unknown field; did you mean "actions"?`},
		{"disabled identity", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "disabled": true}]}`,
			"identities[0].disabled: disabled identities are not supported"},
		{"inactive key", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b", "status": "Inactive"}]}]}`,
			"identities[0].credentials[0].status: inactive keys are not supported"},
		{"service accounts", `{"identities": [], "serviceAccounts": [{"id": "sa-1"}]}`, "serviceAccounts: service accounts are not supported"},
		{"policy names", `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "policyNames": ["p"]}]}`,
			"identities[0].policyNames: IAM policies are not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseIdentityConfig([]byte(tc.json))
			if err == nil {
				t.Fatalf("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), `"b"`) && strings.Contains(tc.json, `"secretKey": "b"`) && strings.Contains(err.Error(), "secret") {
				t.Fatalf("error %q may reveal a secret", err)
			}
		})
	}
}

// seaweedWritten is an s3.json as `weed shell` writes it: every field of
// SeaweedFS's schema, set or not.
const seaweedWritten = `{
  "identities": [
    {"name": "admin", "credentials": [{"accessKey": "AKADMIN", "secretKey": "SKADMIN", "status": "Active"}],
     "actions": ["Admin", "Read"], "account": null, "disabled": false, "serviceAccountIds": [], "policyNames": []},
    {"name": "anonymous", "credentials": [], "actions": ["Read:public"],
     "account": {"id": "anon", "displayName": "Anonymous", "emailAddress": ""}, "disabled": false,
     "serviceAccountIds": [], "policyNames": []}
  ],
  "accounts": [{"id": "anon", "displayName": "Anonymous", "emailAddress": ""}],
  "serviceAccounts": [],
  "policies": []
}`

func TestParseIdentityConfigAcceptsSeaweedFSFields(t *testing.T) {
	cfg, err := ParseIdentityConfig([]byte(seaweedWritten))
	if err != nil {
		t.Fatalf("ParseIdentityConfig: %v", err)
	}
	if len(cfg.Identities) != 2 || cfg.Identities[0].Credentials[0].AccessKey != "AKADMIN" || cfg.Identities[1].Actions[0] != "Read:public" {
		t.Fatalf("parsed %+v", cfg)
	}
	// The same errors for the same file, whatever the map order.
	bad := `{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "zeta": 1, "alpha": 2, "mid": 3}]}`
	for range 20 {
		if _, err := ParseIdentityConfig([]byte(bad)); err == nil || !strings.Contains(err.Error(), "identities[0].alpha:") {
			t.Fatalf("error %v, want the first unknown field in name order", err)
		}
	}
}

func TestNearestField(t *testing.T) {
	known := identityFileFields["a credential"]
	for name, want := range map[string]string{
		"accesskey": "accessKey", "ACCESS-KEY": "accessKey", "acessKey": "accessKey", "secret": "secretKey",
		"stat": "status", "token": "", "x": "", strings.Repeat("a", 200): "",
	} {
		if got := nearestField(name, known); got != want {
			t.Errorf("nearestField(%.20q) = %q, want %q", name, got, want)
		}
	}
}

// FuzzParseIdentityConfig: no input panics, and what is accepted is a
// valid configuration that survives a round trip through JSON.
func FuzzParseIdentityConfig(f *testing.F) {
	for _, s := range []string{seaweedStyleConfig, seaweedWritten, `{"identities": [{"name": "x", "action": []}]}`,
		`{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b", "status": "Inactive"}]}]}`,
		`{"identities": null, "accounts": {"x": [1, 2]}}`, `[]`, `{"identities": [1, "x", null]}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseIdentityConfig(data)
		if err != nil {
			if cfg != nil {
				t.Fatal("a config and an error")
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseIdentityConfig(out)
		if err != nil {
			t.Fatalf("round trip of %s rejected: %v", out, err)
		}
		if !reflect.DeepEqual(normalise(cfg), normalise(again)) {
			t.Fatalf("round trip changed %+v into %+v", cfg, again)
		}
	})
}

// normalise makes nil and empty lists compare equal.
func normalise(cfg *IdentityConfig) *IdentityConfig {
	out := &IdentityConfig{}
	for _, id := range cfg.Identities {
		n := Identity{Name: id.Name}
		n.Credentials = append(n.Credentials, id.Credentials...)
		n.Actions = append(n.Actions, id.Actions...)
		out.Identities = append(out.Identities, n)
	}
	return out
}

func TestLoadIdentityFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(good, []byte(seaweedStyleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentityFile(good); err != nil {
		t.Fatalf("LoadIdentityFile: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"identities": [{"name": ""}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentityFile(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "identities[0].name") {
		t.Fatalf("error %v should name the file and the field", err)
	}
	if _, err := LoadIdentityFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestIdentityAllowed(t *testing.T) {
	id := func(actions ...string) *Identity { return &Identity{Name: "t", Actions: actions} }
	tests := []struct {
		name    string
		id      *Identity
		action  Action
		bucket  string
		allowed bool
	}{
		{"plain action any bucket", id("Read"), ActionRead, "photos", true},
		{"plain action other action", id("Read"), ActionWrite, "photos", false},
		{"scoped same bucket", id("Read:photos"), ActionRead, "photos", true},
		{"scoped other bucket", id("Read:photos"), ActionRead, "photos2", false},
		{"scoped prefix of name is not a match", id("Read:photo"), ActionRead, "photos", false},
		{"wildcard prefix", id("Read:photos-*"), ActionRead, "photos-2024", true},
		{"wildcard prefix itself", id("Read:photos-*"), ActionRead, "photos-", true},
		{"wildcard other", id("Read:photos-*"), ActionRead, "photos", false},
		{"star scope", id("List:*"), ActionList, "anything", true},
		{"admin allows everything", id("Admin"), ActionTagging, "x", true},
		{"admin allows write", id("Admin"), ActionWrite, "x", true},
		{"scoped admin on its bucket", id("Admin:photos"), ActionWrite, "photos", true},
		{"scoped admin elsewhere", id("Admin:photos"), ActionRead, "docs", false},
		{"service level with scoped grant", id("List:photos"), ActionList, "", true},
		{"service level without grant", id("Read"), ActionList, "", false},
		{"several grants", id("Read:a1b", "Write:docs", "Tagging"), ActionWrite, "docs", true},
		{"no actions", id(), ActionRead, "x", false},
		{"nil identity", nil, ActionRead, "x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.id.Allowed(tc.action, tc.bucket); got != tc.allowed {
				t.Fatalf("Allowed(%s, %q) = %v, want %v", tc.action, tc.bucket, got, tc.allowed)
			}
			err := Authorize(tc.id, &Info{Action: tc.action, Bucket: tc.bucket})
			if (err == nil) != tc.allowed {
				t.Fatalf("Authorize = %v", err)
			}
			if err != nil {
				wantCode(t, err, "AccessDenied")
			}
		})
	}
}

func TestIdentityAllowedEverywhere(t *testing.T) {
	id := func(actions ...string) *Identity { return &Identity{Name: "t", Actions: actions} }
	tests := []struct {
		name    string
		id      *Identity
		action  Action
		allowed bool
	}{
		{"plain admin", id("Admin"), ActionAdmin, true},
		{"admin on every bucket", id("Admin:*"), ActionAdmin, true},
		{"admin scoped to one bucket", id("Admin:photos"), ActionAdmin, false},
		{"admin scoped to a prefix", id("Admin:photos-*"), ActionAdmin, false},
		{"plain admin grants other actions", id("Admin"), ActionRead, true},
		{"plain action", id("Read"), ActionRead, true},
		{"other action", id("Read"), ActionAdmin, false},
		{"scoped and plain grants", id("Admin:photos", "Admin"), ActionAdmin, true},
		{"nil identity", nil, ActionAdmin, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.id.AllowedEverywhere(tc.action); got != tc.allowed {
				t.Fatalf("AllowedEverywhere(%s) = %v, want %v", tc.action, got, tc.allowed)
			}
		})
	}
}

func TestCredentialFormattingHidesSecret(t *testing.T) {
	id := Identity{Name: "n", Credentials: []Credential{{AccessKey: "AKID", SecretKey: "TOPSECRET"}}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, id)
		if strings.Contains(out, "TOPSECRET") || !strings.Contains(out, "AKID") {
			t.Errorf("Sprintf(%q, identity) = %s", verb, out)
		}
	}
	if out := fmt.Sprintf("%+v", &id); strings.Contains(out, "TOPSECRET") {
		t.Errorf("pointer formatting reveals the secret: %s", out)
	}
}

// TestAuthorizeOperations checks the parts of the authorization rule that
// depend on the operation: the admin API and copies.
func TestAuthorizeOperations(t *testing.T) {
	id := func(actions ...string) *Identity { return &Identity{Name: "t", Actions: actions} }
	admin := &Info{Operation: OpAdminCircuitBreaker, Action: ActionAdmin}
	copyFrom := func(src string) *Info {
		return &Info{Operation: OpCopyObject, Action: ActionWrite, Bucket: "dst", Key: "k", CopySource: CopySource{Bucket: src, Key: "a"}}
	}
	partCopy := &Info{Operation: OpUploadPartCopy, Action: ActionWrite, Bucket: "dst", Key: "k", CopySource: CopySource{Bucket: "secret", Key: "a"}}
	tests := []struct {
		name    string
		id      *Identity
		info    *Info
		allowed bool
		message string
	}{
		{"admin api with unscoped Admin", id("Admin"), admin, true, ""},
		{"admin api with Admin:*", id("Admin:*"), admin, true, ""},
		{"admin api with Admin on one bucket", id("Admin:photos"), admin, false, "Admin action on every bucket"},
		{"admin api with every other action", id("Read", "Write", "List", "Tagging"), admin, false, "Admin action on every bucket"},
		{"copy with read on the source", id("Write:dst", "Read:src"), copyFrom("src"), true, ""},
		{"copy without read on the source", id("Write:dst", "Read:dst"), copyFrom("src"), false, "copy source"},
		{"copy within one bucket", id("Write:dst", "Read:dst"), copyFrom("dst"), true, ""},
		{"copy without write", id("Read"), copyFrom("src"), false, "Access Denied."},
		{"part copy without read on the source", id("Write", "Read:dst"), partCopy, false, "copy source"},
		{"plain put ignores an unparsed copy source", id("Write:dst"), &Info{Operation: OpPutObject, Action: ActionWrite, Bucket: "dst", CopySource: CopySource{Bucket: "secret"}}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Authorize(tc.id, tc.info)
			if (err == nil) != tc.allowed {
				t.Fatalf("Authorize = %v, want allowed=%v", err, tc.allowed)
			}
			if err != nil {
				wantCode(t, err, "AccessDenied")
				if !strings.Contains(err.Error(), tc.message) {
					t.Fatalf("Authorize = %v, want a message containing %q", err, tc.message)
				}
			}
		})
	}
}
