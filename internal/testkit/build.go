package testkit

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// BuildS3limit builds cmd/s3limit into a temporary directory of t and
// returns the binary's path, for tests that run the server as a process.
func BuildS3limit(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the testkit package")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the server needs the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "s3limit")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/s3limit")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/s3limit: %v\n%s", err, out)
	}
	return bin
}
