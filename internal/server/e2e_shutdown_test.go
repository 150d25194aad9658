package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

// TestSIGTERMDrainsBeforeTheSocketCloses runs the real binary and stops
// it with SIGTERM: for -shutdownDelay the readiness probe answers 503
// while requests are still served (a multipart abort, a new upload);
// then the port closes, an upload in flight still completes, and the
// process exits 0.
func TestSIGTERMDrainsBeforeTheSocketCloses(t *testing.T) {
	t.Parallel()
	const delay = 3 * time.Second
	bin := testkit.BuildS3limit(t)
	dir := t.TempDir()
	p := startProcess(t, bin, dir, "-shutdownDelay", delay.String(), "-shutdownTimeout", "30s")
	c := p.client()
	ctx := context.Background()
	createBucket(t, c, "drain")
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("drain"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	// ready returns the readiness status and whether the response closes
	// its connection.
	ready := func() (int, bool, error) {
		resp, err := http.Get(p.url + "/_s3limit/health/ready")
		if err != nil {
			return 0, false, err
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Close, nil
	}
	if code, _, err := ready(); code != http.StatusOK {
		t.Fatalf("ready before SIGTERM: %d %v", code, err)
	}

	// An upload in flight across the whole shutdown: half its body now,
	// the rest once the port has closed.
	const size = 1 << 20
	body := bytes.Repeat([]byte("s3limit!"), size/8)
	ps, err := s3.NewPresignClient(c).PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("drain"), Key: aws.String("slow")})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, ps.URL, pr)
	req.ContentLength = size
	slow := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New("slow upload answered " + resp.Status)
			}
		}
		slow <- err
	}()
	if _, err := pw.Write(body[:size/2]); err != nil {
		t.Fatal(err)
	}

	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, delay/2, func() string {
		if code, closes, err := ready(); code != http.StatusServiceUnavailable || !closes {
			return fmt.Sprintf("readiness did not turn to 503 with Connection: close: %d, close %v, %v", code, closes, err)
		}
		return ""
	})
	// Still serving: the client's abort and new work reach the server.
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("drain"), Key: aws.String("mp"), UploadId: mp.UploadId}); err != nil {
		t.Errorf("AbortMultipartUpload while draining: %v", err)
	}
	putObject(t, c, "drain", "during", []byte("accepted while draining"))
	resp, err := http.Get(p.url + "/_s3limit/health/live")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("live while draining: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if d := time.Since(sent); d >= delay {
		t.Fatalf("the checks while draining took %v, longer than the %v delay: the machine is too slow for this test's timing", d, delay)
	}

	// Then the port closes, not before the delay.
	testkit.Eventually(t, delay+10*time.Second, func() string {
		conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
		if err == nil {
			conn.Close()
			return "the port still accepts connections"
		}
		return ""
	})
	if d := time.Since(sent); d < delay {
		t.Errorf("the port closed %v after SIGTERM, before the %v delay", d, delay)
	}
	select {
	case err := <-slow:
		t.Fatalf("the upload in flight ended before its body was sent: %v", err)
	case <-p.exited:
		t.Fatalf("the process exited with an upload in flight: %v\n%s", p.err, p.out)
	default:
	}
	if _, err := pw.Write(body[size/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-slow; err != nil {
		t.Errorf("the upload in flight at shutdown failed: %v", err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", p.err, p.out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the process did not exit after its last request\n%s", p.out)
	}
	out := p.out.String()
	for _, want := range []string{`msg="draining: the readiness probe answers 503; still serving" delay=3s`,
		`msg="shutting down: no new connections; waiting for the requests in flight"`, "msg=stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}

	// Everything acknowledged is there after a restart; the aborted upload is not.
	p2 := startProcess(t, bin, dir)
	c2 := p2.client()
	if got := servertest.GetObject(t, c2, "drain", "slow"); !bytes.Equal(got, body) {
		t.Errorf("the upload finished during shutdown reads back %d bytes, want %d", len(got), len(body))
	}
	if got := servertest.GetObject(t, c2, "drain", "during"); string(got) != "accepted while draining" {
		t.Errorf("the upload accepted while draining reads back %q", got)
	}
	ups, err := c2.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("drain")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("the multipart upload aborted while draining is still there: %+v", ups.Uploads)
	}
}
