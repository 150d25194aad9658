package shell

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// TestShellWarnsWhenTheServerRejectedItsFile: a view or a preview of a
// server whose circuit-breaker file was rejected shows the configuration
// in force and warns, on stderr, that the file on disk is not it.
func TestShellWarnsWhenTheServerRejectedItsFile(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{CircuitBreaker: &limits.Config{
		Global: &limits.Section{Enabled: true, Actions: map[string]int64{"Read:count": 5}},
	}})
	backend, err := NewAdminBackend(srv.URL, aws.Credentials{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	sh, out, errOut := newShell(backend)
	ctx := context.Background()
	run := func(cmd string) (string, string) {
		t.Helper()
		out.Reset()
		errOut.Reset()
		if err := sh.Exec(ctx, cmd); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		return out.String(), errOut.String()
	}
	if _, stderr := run("s3.circuitBreaker"); stderr != "" || backend.FileWarning() != "" {
		t.Fatalf("view of a server whose file is in force warned: %q", stderr)
	}

	if err := os.WriteFile(srv.ConfigPath, []byte(`{"global":{"enabled":true,"actions":{"Read:count":"five"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Limits().Reload(); err == nil {
		t.Fatal("the server accepted the invalid file")
	}
	for _, cmd := range []string{"s3.circuitBreaker", "s3.circuitBreaker -global -type count -actions Write -values 3"} {
		stdout, stderr := run(cmd)
		if !strings.Contains(stdout, `"Read:count": 5`) {
			t.Errorf("%s: printed %q, want the configuration in force", cmd, stdout)
		}
		var warnings []string
		for _, line := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(line, "warning: ") {
				warnings = append(warnings, line)
			}
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], srv.ConfigPath) || !strings.Contains(warnings[0], `global.actions."Read:count"`) {
			t.Errorf("%s: stderr %q, want one warning line naming the file and the field", cmd, stderr)
		}
	}
	// Saving writes a valid file: the warning is over.
	run("s3.circuitBreaker -global -type count -actions Write -values 3 -apply")
	if _, stderr := run("s3.circuitBreaker"); stderr != "" || backend.FileWarning() != "" {
		t.Errorf("view after a save warned: %q", stderr)
	}
}
