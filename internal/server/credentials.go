package server

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/s3limit/s3limit/internal/s3api"
)

// CredentialsFile is the name, inside the data directory, of the
// generated credentials of a server started without identities.
const CredentialsFile = "credentials.json"

// allActions is what the single default identity may do.
var allActions = []string{"Admin", "Read", "Write", "List", "Tagging"}

// DefaultIdentities returns the identity a server uses when it is started
// without an identities file: accessKey/secretKey when both are given,
// otherwise the pair stored in dir/credentials.json, generated (mode 0600)
// on first use. created reports that a new pair was generated, so the
// caller can print it once.
func DefaultIdentities(dir, accessKey, secretKey string) (cfg *s3api.IdentityConfig, created bool, err error) {
	single := func(c s3api.Credential) *s3api.IdentityConfig {
		return &s3api.IdentityConfig{Identities: []s3api.Identity{{
			Name: "admin", Credentials: []s3api.Credential{c}, Actions: allActions,
		}}}
	}
	switch {
	case accessKey != "" && secretKey != "":
		return single(s3api.Credential{AccessKey: accessKey, SecretKey: secretKey}), false, nil
	case accessKey != "" || secretKey != "":
		return nil, false, errors.New("server: set both S3LIMIT_ACCESS_KEY and S3LIMIT_SECRET_KEY, or neither")
	}
	path := filepath.Join(dir, CredentialsFile)
	data, err := os.ReadFile(path)
	if err == nil {
		var c s3api.Credential
		if err := json.Unmarshal(data, &c); err != nil || c.AccessKey == "" || c.SecretKey == "" {
			return nil, false, fmt.Errorf("server: %s is damaged; delete it to generate new credentials", path)
		}
		return single(c), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("server: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("server: %w", err)
	}
	c := s3api.Credential{AccessKey: "S3L" + randomString(17, upperAlnum), SecretKey: randomString(40, secretAlphabet)}
	data, _ = json.MarshalIndent(c, "", "  ")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("server: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, fmt.Errorf("server: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("server: %w", err)
	}
	return single(c), true, nil
}

const (
	upperAlnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randomString draws n characters uniformly from alphabet (len ≤ 256)
// with rejection sampling, so no character is favoured.
func randomString(n int, alphabet string) string {
	out := make([]byte, 0, n)
	limit := 256 - 256%len(alphabet)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}
