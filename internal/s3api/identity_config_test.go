package s3api

import (
	"fmt"
	"os"
	"path/filepath"
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
