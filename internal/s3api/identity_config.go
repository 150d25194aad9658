package s3api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// AnonymousIdentity is the name of the identity that serves unsigned
// requests (the SeaweedFS convention). Without an identity of this name,
// unsigned requests are denied. It needs no credentials.
const AnonymousIdentity = "anonymous"

// ParseIdentityConfig parses and validates an identities file. An unknown
// field is an error naming it (a misspelt "action" would otherwise leave
// an identity with no permissions). SeaweedFS's other fields are accepted
// so that an existing s3.json works unchanged: "accounts" and an
// identity's "account" are ignored, and the fields of features this
// server lacks ("disabled", a credential's "status", service accounts,
// policies) are accepted while they hold their "off" value.
//
// Validation errors name the field, e.g.
// `identities[1].actions[0]: unknown action "Reed"`. Rules: every
// identity has a unique, non-empty name; every identity except
// "anonymous" has at least one credential; access and secret keys are
// non-empty and an access key belongs to one identity only; an action is
// Read, Write, List, Tagging or Admin, optionally scoped to a bucket as
// "Read:photos", "Read:photos-*" or "Read:*".
func ParseIdentityConfig(data []byte) (*IdentityConfig, error) {
	var cfg IdentityConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("s3api: identities: %w", describeJSONError(err))
	}
	if dec.More() {
		return nil, errors.New("s3api: identities: unexpected data after the JSON document")
	}
	if err := checkIdentityFields(data); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// LoadIdentityFile reads and parses the identities file at path. Errors
// name the file.
func LoadIdentityFile(path string) (*IdentityConfig, error) {
	cfg, _, err := ReadIdentityFile(path)
	return cfg, err
}

// ReadIdentityFile is LoadIdentityFile that also returns the bytes read,
// for a caller that watches the file for changes. data is set when the
// file could be read, even if it is invalid.
func ReadIdentityFile(path string) (cfg *IdentityConfig, data []byte, err error) {
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("s3api: identities: %w", err)
	}
	cfg, err = ParseIdentityConfig(data)
	if err != nil {
		return nil, data, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, data, nil
}

// Validate checks cfg with the rules of ParseIdentityConfig.
func (cfg *IdentityConfig) Validate() error {
	names := make(map[string]int, len(cfg.Identities))
	keys := make(map[string]string)
	for i := range cfg.Identities {
		id := &cfg.Identities[i]
		field := fmt.Sprintf("identities[%d]", i)
		if strings.TrimSpace(id.Name) == "" {
			return fmt.Errorf("s3api: %s.name: empty", field)
		}
		if j, dup := names[id.Name]; dup {
			return fmt.Errorf("s3api: %s.name: %q is also the name of identities[%d]", field, id.Name, j)
		}
		names[id.Name] = i
		if len(id.Credentials) == 0 && id.Name != AnonymousIdentity {
			return fmt.Errorf("s3api: %s.credentials: identity %q has no credentials (only %q may have none)", field, id.Name, AnonymousIdentity)
		}
		for j, c := range id.Credentials {
			cfield := fmt.Sprintf("%s.credentials[%d]", field, j)
			if c.AccessKey == "" {
				return fmt.Errorf("s3api: %s.accessKey: empty", cfield)
			}
			if !validAccessKey(c.AccessKey) {
				return fmt.Errorf("s3api: %s.accessKey: %q must be printable ASCII without spaces, ',', '/' or '='", cfield, truncate(c.AccessKey, 32))
			}
			if c.SecretKey == "" {
				return fmt.Errorf("s3api: %s.secretKey: empty", cfield)
			}
			if owner, dup := keys[c.AccessKey]; dup {
				return fmt.Errorf("s3api: %s.accessKey: %q is already used by identity %q", cfield, c.AccessKey, owner)
			}
			keys[c.AccessKey] = id.Name
		}
		for j, a := range id.Actions {
			if err := validateAction(a); err != nil {
				return fmt.Errorf("s3api: %s.actions[%d]: %w", field, j, err)
			}
		}
	}
	return nil
}

// validAccessKey reports whether k can travel in an Authorization header
// and a presigned URL's credential without ambiguity.
func validAccessKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || c == ',' || c == '/' || c == '=' {
			return false
		}
	}
	return true
}

// validateAction checks one entry of an identity's actions list.
func validateAction(a string) error {
	name, scope, scoped := strings.Cut(a, ":")
	if !knownAction(Action(name)) {
		return fmt.Errorf("unknown action %q (want Read, Write, List, Tagging or Admin, optionally with :bucket)", truncate(a, 64))
	}
	if !scoped {
		return nil
	}
	if err := validateScope(scope); err != nil {
		return fmt.Errorf("bad bucket scope in %q: %w", truncate(a, 64), err)
	}
	return nil
}

func knownAction(a Action) bool {
	for _, k := range Actions {
		if a == k {
			return true
		}
	}
	return false
}

// validateScope checks a bucket scope: a bucket name, a bucket name prefix
// followed by '*', or "*" alone.
func validateScope(scope string) error {
	prefix, wildcard := strings.CutSuffix(scope, "*")
	switch {
	case scope == "":
		return errors.New("empty bucket name after ':'")
	case strings.Contains(prefix, "*"):
		return errors.New("'*' is allowed only at the end")
	case strings.Contains(prefix, "/"):
		return errors.New("object-prefix scopes (bucket/path) are not supported; scope by bucket")
	case wildcard && prefix == "":
		return nil
	case prefix[0] == '_':
		return errors.New("bucket names never start with '_'")
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !isAlnum(c) && c != '.' && c != '-' && c != '_' {
			return fmt.Errorf("%q is not a bucket name character", c)
		}
	}
	if !wildcard && !AccessibleBucketName(prefix) {
		return fmt.Errorf("%q is not a valid bucket name", prefix)
	}
	return nil
}

// describeJSONError adds the byte offset to JSON syntax and type errors.
func describeJSONError(err error) error {
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("the file is empty; want a JSON object with an \"identities\" list")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: unexpected end of input")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: expected %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return err
}

// Allowed reports whether the identity may perform action on bucket.
//
// A plain action ("Read") allows it on every bucket, a scoped one
// ("Read:photos") on that bucket only, and a trailing '*' matches a bucket
// name prefix ("Read:photos-*"; "Read:*" is every bucket). "Admin" allows
// every action, and "Admin:photos" every action on photos. For
// service-level requests (bucket "", i.e. ListBuckets) any grant of the
// action suffices, scoped or not; the listing itself should then show only
// the buckets Allowed(ActionList, name) accepts.
//
// A nil identity is allowed nothing.
func (id *Identity) Allowed(action Action, bucket string) bool {
	if id == nil {
		return false
	}
	for _, a := range id.Actions {
		if scope, scoped, ok := grantOf(a, action); ok && (!scoped || bucket == "" || scopeMatches(scope, bucket)) {
			return true
		}
	}
	return false
}

// AllowedEverywhere reports whether the identity may perform action on
// every bucket: a plain grant ("Admin", "Read") or one scoped to "*".
// Server-wide operations such as the admin API need it; Allowed(action,
// "") is not enough, because a grant scoped to one bucket satisfies it.
func (id *Identity) AllowedEverywhere(action Action) bool {
	if id == nil {
		return false
	}
	for _, a := range id.Actions {
		if scope, scoped, ok := grantOf(a, action); ok && (!scoped || scope == "*") {
			return true
		}
	}
	return false
}

// grantOf splits one entry of Identity.Actions ("Read", "Read:photos")
// and reports whether it grants action, itself or through Admin.
func grantOf(entry string, action Action) (scope string, scoped, ok bool) {
	name, scope, scoped := strings.Cut(entry, ":")
	return scope, scoped, Action(name) == action || Action(name) == ActionAdmin
}

func scopeMatches(scope, bucket string) bool {
	if prefix, ok := strings.CutSuffix(scope, "*"); ok {
		return strings.HasPrefix(bucket, prefix)
	}
	return scope == bucket
}

// Authorize is the one authorization rule: it returns nil when id may
// perform the classified request info, and ErrAccessDenied otherwise.
//
//   - The admin API (OpAdminCircuitBreaker) changes limits for every
//     bucket, so it needs the Admin action unscoped: "Admin:photos" must
//     not lift or impose limits on other tenants' buckets.
//   - Every other operation needs its action on its bucket (Allowed).
//   - A copy also reads its source: it needs Read on the source bucket.
func Authorize(id *Identity, info *Info) error {
	if info.Operation == OpAdminCircuitBreaker {
		if id.AllowedEverywhere(ActionAdmin) {
			return nil
		}
		return errAdminDenied
	}
	if !id.Allowed(info.Action, info.Bucket) {
		return ErrAccessDenied
	}
	if info.Operation.ReadsCopySource() && !id.Allowed(ActionRead, info.CopySource.Bucket) {
		return errCopySourceDenied
	}
	return nil
}

var (
	errAdminDenied      = ErrAccessDenied.WithMessage("the admin API needs an identity with the Admin action on every bucket")
	errCopySourceDenied = ErrAccessDenied.WithMessage("Access Denied to the copy source bucket.")
)

// String formats the credential without its secret key, so that logging
// an Identity never reveals a secret.
func (c Credential) String() string {
	return "{" + c.AccessKey + " <secret redacted>}"
}

// GoString is String for the %#v verb.
func (c Credential) GoString() string {
	return "s3api.Credential{AccessKey: " + strconv.Quote(c.AccessKey) + ", SecretKey: <redacted>}"
}
