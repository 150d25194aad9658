package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

// TestBinaryConfigLifecycle runs the real binary through what an operator
// does to its configuration files: restarts with a broken file, a first
// start with one, `s3limit check`, the shell's view, and SIGHUP while
// uploads are in flight.
func TestBinaryConfigLifecycle(t *testing.T) {
	t.Parallel()
	bin := testkit.BuildS3limit(t)
	t.Run("restart with an invalid circuit breaker file", func(t *testing.T) { testRestartWithInvalidFile(t, bin) })
	t.Run("first start with an invalid file", func(t *testing.T) { testFirstStartWithInvalidFile(t, bin) })
	t.Run("SIGHUP during uploads", func(t *testing.T) { testHangupDuringUploads(t, bin) })
}

const (
	lockedDoc = `{"buckets":{"locked":{"enabled":true,"actions":{"Write:count":0}}}}`
	invalidCB = `{"buckets":{"locked":{"enabled":true,"actions":{"Write:cnt":0}}}}`
	// invalidCBField is how the error names the field of invalidCB.
	invalidCBField = `buckets."locked".actions."Write:cnt"`
)

func testRestartWithInvalidFile(t *testing.T, bin string) {
	dir := t.TempDir()
	cb := filepath.Join(dir, "circuit_breaker.json")
	writeRaw(t, cb, []byte(lockedDoc))
	p := startProcess(t, bin, dir)
	createBucket(t, p.client(), "locked")
	wantLocked(t, p.client(), "before the restart")
	stopProcess(t, p)

	writeRaw(t, cb, []byte(invalidCB))
	mport := freePort(t)
	p = startProcess(t, bin, dir, "-metricsPort", strconv.Itoa(mport))
	wantLocked(t, p.client(), "after a restart with an invalid file")
	out := p.out.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, cb) || !strings.Contains(out, strings.ReplaceAll(invalidCBField, `"`, `\"`)) {
		t.Errorf("the start does not say loudly which file and field were rejected:\n%s", out)
	}
	if g := scrapeProcess(t, mport).value("s3limit_s3_config_last_load_success", "file", "circuit_breaker"); g != 0 {
		t.Errorf("config_last_load_success = %v, want 0", g)
	}

	// check gives the message the server logged.
	code, _, stderr := runBinary(t, bin, "check", "-circuitBreaker", cb)
	msg := strings.TrimPrefix(strings.TrimSpace(stderr), "s3limit check: ")
	if code != 2 || !strings.Contains(msg, invalidCBField) || !strings.Contains(out, "err="+strconv.Quote(msg)) {
		t.Errorf("check exit %d, message %q; want 2 and the message of the server's log:\n%s", code, msg, out)
	}

	// The shell shows what is in force, and warns that the file is not.
	shell := func(cmd string) (string, string) {
		t.Helper()
		code, stdout, stderr := runBinary(t, bin, "shell", "-server", p.url, "-accessKey", crashAccessKey, "-secretKey", crashSecretKey, "-c", cmd)
		if code != 0 {
			t.Fatalf("shell -c %q: exit %d: %s", cmd, code, stderr)
		}
		return stdout, stderr
	}
	stdout, stderr := shell("s3.circuitBreaker")
	if !strings.Contains(stdout, `"Write:count": 0`) || !strings.Contains(stderr, "warning:") || !strings.Contains(stderr, invalidCBField) {
		t.Errorf("shell view: stdout %q, stderr %q; want the configuration in force and a warning naming the field", stdout, stderr)
	}
	// Saving from the shell replaces the file: the warning is gone.
	shell("s3.circuitBreaker -buckets locked -type count -actions Write -values 1 -apply")
	if _, stderr := shell("s3.circuitBreaker"); stderr != "" {
		t.Errorf("shell view after the fix printed %q", stderr)
	}
	if g := scrapeProcess(t, mport).value("s3limit_s3_config_last_load_success", "file", "circuit_breaker"); g != 1 {
		t.Errorf("config_last_load_success after the fix = %v, want 1", g)
	}
	stopProcess(t, p)
}

func testFirstStartWithInvalidFile(t *testing.T, bin string) {
	dir := t.TempDir()
	cb := filepath.Join(dir, "circuit_breaker.json")
	writeRaw(t, cb, []byte(invalidCB))
	p := launchProcess(t, bin, dir)
	if code := exitCode(t, p); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	if out := p.out.String(); !strings.Contains(out, cb) || !strings.Contains(out, invalidCBField) {
		t.Errorf("the refusal does not name the file and the field:\n%s", out)
	}

	ids := filepath.Join(t.TempDir(), "s3.json")
	writeRaw(t, ids, []byte(`{"identities": [{"name": "ops", "credentials": [{"accessKey": "AKOPS", "secretKey": "secret"}], "action": ["Admin"]}]}`))
	p = launchProcess(t, bin, t.TempDir(), "-config", ids)
	const idField = `identities[0].action: unknown field; did you mean "actions"?`
	if code := exitCode(t, p); code != 2 {
		t.Errorf("invalid identities: exit code %d, want 2", code)
	}
	if out := p.out.String(); !strings.Contains(out, ids) || !strings.Contains(out, idField) {
		t.Errorf("the refusal does not name the identities file and the field:\n%s", out)
	}
	code, stdout, stderr := runBinary(t, bin, "check", "-config", ids, "-circuitBreaker", cb)
	if code != 2 || !strings.Contains(stderr, idField) || !strings.Contains(stderr, invalidCBField) || stdout != "" {
		t.Errorf("check of both files: exit %d, stdout %q, stderr %q; want 2 and both problems", code, stdout, stderr)
	}
	writeRaw(t, ids, identitiesWith("AKWRITER1"))
	writeRaw(t, cb, []byte(lockedDoc))
	code, stdout, stderr = runBinary(t, bin, "check", "-config", ids, "-circuitBreaker", cb)
	if code != 0 || stderr != "" || !strings.Contains(stdout, ids+": ok (3 identities)") || !strings.Contains(stdout, cb+": ok") {
		t.Errorf("check of valid files: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// heldUpload is a PutObject whose body the test sends in two halves.
type heldUpload struct {
	key     string
	content []byte
	body    *io.PipeWriter
	status  chan int // the response status; 0 when the request failed
}

func testHangupDuringUploads(t *testing.T, bin string) {
	dir := t.TempDir()
	ids := filepath.Join(dir, "s3.json")
	writeIDs := func(writerKeys ...string) {
		cfg := &s3api.IdentityConfig{Identities: []s3api.Identity{
			{Name: "admin", Credentials: []s3api.Credential{{AccessKey: crashAccessKey, SecretKey: crashSecretKey}}, Actions: []string{"Admin"}},
			{Name: "writer", Actions: []string{"Write:hup"}},
		}}
		for _, k := range writerKeys {
			cfg.Identities[1].Credentials = append(cfg.Identities[1].Credentials, s3api.Credential{AccessKey: k, SecretKey: "secret-of-" + k})
		}
		data, _ := json.Marshal(cfg)
		writeRaw(t, ids, data)
	}
	writeIDs("AKHUPWRITER1")
	mport := freePort(t)
	p := startProcess(t, bin, dir, "-config", ids, "-metricsPort", strconv.Itoa(mport), "-quiet=false")
	createBucket(t, p.client(), "hup")

	hc := &http.Client{Transport: &http.Transport{}}
	uploads := make([]*heldUpload, 4)
	for i := range uploads {
		u := &heldUpload{key: "inflight-" + strconv.Itoa(i), content: randomBytes(uint64(i), 1<<20), status: make(chan int, 1)}
		var pr *io.PipeReader
		pr, u.body = io.Pipe()
		req, err := http.NewRequest(http.MethodPut, p.url+"/hup/"+u.key, pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(len(u.content))
		signRequest(t, req, crashAccessKey, crashSecretKey, sha256Hex(u.content), time.Time{})
		go func() {
			resp, err := hc.Do(req)
			if err != nil {
				u.status <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			u.status <- resp.StatusCode
		}()
		if _, err := u.body.Write(u.content[:len(u.content)/2]); err != nil {
			t.Fatal(err)
		}
		uploads[i] = u
	}
	t.Cleanup(func() {
		for _, u := range uploads {
			u.body.CloseWithError(errors.New("test ended"))
		}
	})
	testkit.Eventually(t, 10*time.Second, func() string {
		if n := scrapeProcess(t, mport).value("s3limit_s3_inflight_upload_count"); n != 4 {
			return "uploads in flight: " + strconv.FormatFloat(n, 'f', -1, 64) + ", want 4"
		}
		return ""
	})

	hangup := func() {
		t.Helper()
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	// Unchanged files: SIGHUP answers in the log and changes nothing.
	hangup()
	testkit.Eventually(t, 10*time.Second, func() string {
		select {
		case <-p.exited:
			t.Fatalf("the server exited on SIGHUP: %v\n%s", p.err, p.out)
		default:
		}
		out := p.out.String()
		if !strings.Contains(out, "identities file unchanged") || !strings.Contains(out, "circuit breaker file unchanged") {
			return "no answer to SIGHUP in the log"
		}
		return ""
	})
	// New versions of both files, then SIGHUP.
	writeIDs("AKHUPWRITER1", "AKHUPWRITER2")
	writeRaw(t, filepath.Join(dir, "circuit_breaker.json"), []byte(`{"buckets":{"hup":{"enabled":true,"actions":{"List:count":0}}}}`))
	hangup()
	writer2 := servertest.NewClient(p.url, "AKHUPWRITER2", "secret-of-AKHUPWRITER2")
	testkit.Eventually(t, 10*time.Second, func() string {
		if _, err := writer2.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("hup"), Key: aws.String("new-key"), Body: strings.NewReader("x")}); err != nil {
			return "the new key is not in force: " + err.Error()
		}
		_, err := p.client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("hup")})
		if errorCode(err) != "SlowDown" {
			return "the new limit is not in force: ListObjectsV2 = " + errString(err)
		}
		return ""
	})
	select {
	case <-p.exited:
		t.Fatalf("the server exited after SIGHUP: %v\n%s", p.err, p.out)
	default:
	}
	if n := strings.Count(p.out.String(), "SIGHUP: reloading the configuration files"); n != 2 {
		t.Errorf("%d SIGHUP reloads logged, want 2", n)
	}

	// The uploads that were in flight all along complete.
	for _, u := range uploads {
		if _, err := u.body.Write(u.content[len(u.content)/2:]); err != nil {
			t.Fatalf("%s: the rest of the body: %v", u.key, err)
		}
		u.body.Close()
	}
	for _, u := range uploads {
		select {
		case st := <-u.status:
			if st != http.StatusOK {
				t.Errorf("%s: status %d after SIGHUP, want 200", u.key, st)
				continue
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not finish", u.key)
		}
		if got := servertest.GetObject(t, p.client(), "hup", u.key); !bytes.Equal(got, u.content) {
			t.Errorf("%s: %d bytes read back, content differs", u.key, len(got))
		}
	}
	stopProcess(t, p)
}

// wantLocked checks that the limit of lockedDoc is in force.
func wantLocked(t *testing.T, c *s3.Client, when string) {
	t.Helper()
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("locked"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if errorCode(err) != "SlowDown" {
		t.Fatalf("%s: PutObject under Write:count 0 = %s, want SlowDown", when, errString(err))
	}
}

// stopProcess ends the server with SIGTERM and checks that it exits
// cleanly.
func stopProcess(t *testing.T, p *serverProcess) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitCode(t, p); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.out)
	}
}

// exitCode waits for the process to end.
func exitCode(t *testing.T, p *serverProcess) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("s3limit serve did not exit within 30s:\n%s", p.out)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("s3limit serve: %v", p.err)
	}
	return 0
}

// runBinary runs a command of the binary to its end.
func runBinary(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "AWS_CA_BUNDLE=")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return code, out.String(), errOut.String()
}

// scrapeProcess reads a process's /metrics.
func scrapeProcess(t *testing.T, port int) metricSet {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		t.Fatalf("scraping metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return parseMetrics(t, string(body))
}
