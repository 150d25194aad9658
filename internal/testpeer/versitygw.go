package testpeer

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/testkit"
)

// VersitygwProcess is a running versitygw.
type VersitygwProcess struct {
	URL  string // http://127.0.0.1:port
	Kill func() // stops it abruptly (kill -9); also done when the test ends
}

// StartVersitygw runs versitygw (see Versitygw) with its posix backend in
// a temporary directory on a free loopback port, with accessKey and
// secretKey as its root credentials, and stops it when the test ends.
func StartVersitygw(t testing.TB, accessKey, secretKey string) *VersitygwProcess {
	t.Helper()
	bin := Versitygw(t)
	var err error
	for range 3 { // the free port may be taken before versitygw binds it
		var p *VersitygwProcess
		if p, err = RunVersitygw(t, bin, FreeAddr(t), accessKey, secretKey); err == nil {
			return p
		}
	}
	t.Fatal(err)
	return nil
}

// RunVersitygw starts the versitygw binary bin on addr and waits until it
// answers.
func RunVersitygw(t testing.TB, bin, addr, accessKey, secretKey string) (*VersitygwProcess, error) {
	var out testkit.SyncBuffer
	cmd := exec.Command(bin, "--port", addr, "--quiet", "--keep-alive", "posix", t.TempDir())
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+accessKey, "ROOT_SECRET_KEY="+secretKey)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start versitygw: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	kill := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	if err := waitReady(addr, exited); err != nil {
		kill()
		return nil, fmt.Errorf("versitygw did not start on %s: %v\n%s", addr, err, out.String())
	}
	t.Cleanup(kill)
	return &VersitygwProcess{URL: "http://" + addr, Kill: kill}, nil
}

// FreeAddr returns a loopback address that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitReady polls addr until it answers HTTP, the process exits or 20
// seconds pass. An external process gives no other signal of readiness.
func waitReady(addr string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 20s: %v", err)
		}
	}
}
