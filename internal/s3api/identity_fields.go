package s3api

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// fieldRule is what one field of the identities file may hold.
type fieldRule struct {
	// allowed reports whether a value (as encoding/json decodes it into
	// an any) is accepted; nil accepts every value: the field is read
	// (its type is checked by the typed decoder) or only descriptive.
	allowed func(v any) bool
	// refusal says why a value allowed rejects cannot be honoured.
	refusal string
}

// A SeaweedFS s3.json written by `weed shell` carries every field of its
// schema, set or not. Fields for features this server lacks are accepted
// while they hold their "off" value, and refused, with the reason, when a
// file relies on them: ignoring "disabled": true would let a disabled
// identity in.
var (
	anyValue      = fieldRule{}
	emptyList     = func(v any) bool { l, ok := v.([]any); return v == nil || ok && len(l) == 0 }
	noServiceAcct = fieldRule{emptyList, "service accounts are not supported; give each application an identity of its own"}
	noPolicies    = fieldRule{emptyList, "IAM policies are not supported; grant actions in the identity's actions list"}

	// identityFileFields lists the fields of each kind of object in the
	// file. Names are case-sensitive, as in SeaweedFS.
	identityFileFields = map[string]map[string]fieldRule{
		"the file": {
			"identities":      anyValue,
			"accounts":        anyValue, // SeaweedFS: descriptive only
			"serviceAccounts": noServiceAcct,
			"policies":        noPolicies,
		},
		"an identity": {
			"name":        anyValue,
			"credentials": anyValue,
			"actions":     anyValue,
			"account":     anyValue, // SeaweedFS: descriptive only
			"disabled": {func(v any) bool { return v == nil || v == false },
				"disabled identities are not supported; remove the identity instead"},
			"serviceAccountIds": noServiceAcct,
			"policyNames":       noPolicies,
		},
		"a credential": {
			"accessKey": anyValue,
			"secretKey": anyValue,
			"status": {func(v any) bool { return v == nil || v == "" || v == "Active" },
				`inactive keys are not supported; remove the credential instead (status may only be "Active")`},
		},
	}
)

// checkIdentityFields reports the first field of the identities file data
// that this server does not know, or whose value it cannot honour,
// naming it with its path, e.g. `identities[0].action: unknown field; did
// you mean "actions"?`. data has been decoded successfully already; what
// does not have the expected shape is left to the typed decoder.
func checkIdentityFields(data []byte) error {
	var doc map[string]any
	if json.Unmarshal(data, &doc) != nil {
		return nil
	}
	if err := checkObject("", "the file", doc); err != nil {
		return err
	}
	ids, _ := doc["identities"].([]any)
	for i, v := range ids {
		id, _ := v.(map[string]any)
		field := fmt.Sprintf("identities[%d]", i)
		if err := checkObject(field, "an identity", id); err != nil {
			return err
		}
		creds, _ := id["credentials"].([]any)
		for j, c := range creds {
			cred, _ := c.(map[string]any)
			if err := checkObject(fmt.Sprintf("%s.credentials[%d]", field, j), "a credential", cred); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkObject checks the fields of one object of the given kind; path is
// its place in the file ("" for the top).
func checkObject(path, kind string, obj map[string]any) error {
	known := identityFileFields[kind]
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names) // the same error for the same file
	for _, name := range names {
		field := name
		if path != "" {
			field = path + "." + name
		}
		field = truncate(field, 128)
		rule, ok := known[name]
		if !ok {
			if near := nearestField(name, known); near != "" {
				return fmt.Errorf("s3api: %s: unknown field; did you mean %q?", field, near)
			}
			return fmt.Errorf("s3api: %s: unknown field (%s has %s)", field, kind, fieldList(known))
		}
		if rule.allowed != nil && !rule.allowed(obj[name]) {
			return fmt.Errorf("s3api: %s: %s", field, rule.refusal)
		}
	}
	return nil
}

// nearestField returns the known field an unknown name was probably meant
// to be: the same letters in another case or with '_' or '-', one a prefix
// of the other, or at most two edits apart. "" when none is close.
func nearestField(name string, known map[string]fieldRule) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
	}
	n := norm(name)
	best, bestDist := "", 3
	for k := range known {
		kn := norm(k)
		d := editDistance(n, kn)
		if len(n) >= 3 && (strings.HasPrefix(kn, n) || strings.HasPrefix(n, kn)) {
			d = min(d, 1)
		}
		if d < bestDist || d == bestDist && k < best {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short strings, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // too long to be a typo of a field name
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// fieldList names the fields s3limit reads in an object, for messages.
func fieldList(known map[string]fieldRule) string {
	var read []string
	for _, k := range []string{"identities", "name", "credentials", "actions", "accessKey", "secretKey"} {
		if _, ok := known[k]; ok {
			read = append(read, strconv.Quote(k))
		}
	}
	return strings.Join(read, ", ")
}
