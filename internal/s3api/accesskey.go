package s3api

import "net/http"

// RequestAccessKey returns the access key r says it is signed with, from
// its Authorization header or the X-Amz-Credential of a presigned URL; ""
// when it names none or the key cannot be read. It is for logs and
// messages: an access key is not a secret, and neither the signature nor
// anything derived from a secret is returned. It parses only what a
// refused request needs explained, so callers use it off the hot path.
func RequestAccessKey(r *http.Request) string {
	if v := r.Header.Get("Authorization"); v != "" {
		if a, err := parseAuthorization(v); err == nil {
			return a.cred.accessKey
		}
		return ""
	}
	p, err := parsePresignParams(r.URL.RawQuery)
	if err != nil || p.credential == "" {
		return ""
	}
	cred, err := parseCredential(p.credential)
	if err != nil {
		return ""
	}
	return cred.accessKey
}
