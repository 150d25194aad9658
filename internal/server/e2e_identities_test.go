package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

// identitiesWith returns the default identities plus a "writer" holding
// the given keys, with Write and List on the bucket "ids".
func identitiesWith(keys ...string) []byte {
	cfg := servertest.DefaultIdentities()
	w := s3api.Identity{Name: "writer", Actions: []string{"Write:ids", "List:ids"}}
	for _, k := range keys {
		w.Credentials = append(w.Credentials, s3api.Credential{AccessKey: k, SecretKey: "secret-of-" + k})
	}
	cfg.Identities = append(cfg.Identities, w)
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		panic(err)
	}
	return data
}

func TestIdentitiesFileReloadsWithoutRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s3.json")
	writeRaw(t, path, identitiesWith("AKWRITER1"))
	logs := &testkit.SyncBuffer{}
	s, g := startGated(t, servertest.Options{IdentitiesFile: path, Log: logs})
	ctx := context.Background()
	createBucket(t, s.Client(), "ids")
	put := func(key string) error {
		c := s.ClientFor(key, "secret-of-"+key)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ids"), Key: aws.String("k"), Body: strings.NewReader("x")})
		return err
	}
	if err := put("AKWRITER1"); err != nil {
		t.Fatalf("writer from the file at start: %v", err)
	}
	if err := put("AKWRITER2"); errorCode(err) != "InvalidAccessKeyId" {
		t.Fatalf("unknown key: %v, want InvalidAccessKeyId", err)
	}
	loads := func(result string) float64 {
		return scrape(t, s).value("s3limit_s3_config_reloads_total", "file", "identities", "result", result)
	}
	if ok := loads("success"); ok != 1 {
		t.Errorf("identities loads at start = %v, want 1", ok)
	}

	// A request authenticated before a change finishes under the
	// identity it started with, even when the change removes its key.
	held := goPut(ctx, s.ClientFor("AKWRITER1", "secret-of-AKWRITER1"), "ids", "hold/1", []byte("held"))
	g.await(t)
	writeRaw(t, path, identitiesWith("AKWRITER2"))
	testkit.Eventually(t, reloadWithin, func() string {
		if err := put("AKWRITER2"); err != nil {
			return "new key after the edit: " + err.Error()
		}
		return ""
	})
	if err := put("AKWRITER1"); errorCode(err) != "InvalidAccessKeyId" {
		t.Errorf("removed key after the edit: %v, want InvalidAccessKeyId", err)
	}
	g.releaseOne(t)
	if err := result(t, held); err != nil {
		t.Errorf("request in flight during the reload: %v", err)
	}

	// An invalid edit changes nothing and says why.
	failBefore := loads("failure")
	writeRaw(t, path, []byte(strings.Replace(string(identitiesWith("AKWRITER3")), `"actions"`, `"action"`, 1)))
	testkit.Eventually(t, reloadWithin, func() string {
		if loads("failure") <= failBefore {
			return "no failed load counted after an invalid edit"
		}
		return ""
	})
	if err := put("AKWRITER2"); err != nil {
		t.Errorf("identities in force lost after an invalid edit: %v", err)
	}
	if err := put("AKWRITER3"); errorCode(err) != "InvalidAccessKeyId" {
		t.Errorf("key of the invalid file: %v, want InvalidAccessKeyId", err)
	}
	if got := scrape(t, s).value("s3limit_s3_config_last_load_success", "file", "identities"); got != 0 {
		t.Errorf("config_last_load_success{file=identities} = %v, want 0", got)
	}
	if log := logs.String(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, path) ||
		!strings.Contains(log, `identities[0].action: unknown field; did you mean \"actions\"?`) {
		t.Errorf("log does not name the file and the field:\n%s", log)
	}
	// Reload (SIGHUP) reports the standing rejection.
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "identities[0].action") {
		t.Errorf("Reload = %v, want the identities error", err)
	}

	// A deleted file keeps the identities too.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Reload of a deleted file = %v", err)
	}
	if err := put("AKWRITER2"); err != nil {
		t.Errorf("identities lost after the file was deleted: %v", err)
	}
	// And SIGHUP after a fix puts it in force at once, watch or not.
	writeRaw(t, path, identitiesWith("AKWRITER3"))
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload after the fix: %v", err)
	}
	if err := put("AKWRITER3"); err != nil {
		t.Errorf("key of the fixed file right after Reload: %v", err)
	}
	if got := scrape(t, s).value("s3limit_s3_config_last_load_success", "file", "identities"); got != 1 {
		t.Errorf("config_last_load_success{file=identities} after the fix = %v, want 1", got)
	}
}

func TestServerNeedsOneSourceOfIdentities(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s3.json")
	writeRaw(t, path, identitiesWith("AKWRITER1"))
	for name, cfg := range map[string]server.Config{
		"neither": {Backend: http.NotFoundHandler()},
		"both":    {Backend: http.NotFoundHandler(), Identities: servertest.DefaultIdentities(), IdentitiesFile: path},
	} {
		if _, err := server.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	writeRaw(t, bad, []byte(`{"identities": [{"name": "x", "credentials": [{"accessKey": "a", "secretKey": "b"}], "action": ["Read"]}]}`))
	_, err := server.New(server.Config{Backend: http.NotFoundHandler(), IdentitiesFile: bad})
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "identities[0].action") {
		t.Errorf("New with an invalid identities file = %v, want the file and the field named", err)
	}
}
