package server_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

// serverProcess is a running `s3limit serve`.
type serverProcess struct {
	cmd    *exec.Cmd
	url    string
	out    *testkit.SyncBuffer
	exited chan struct{}
	err    error // set when exited is closed
}

const (
	crashAccessKey = "AKIACRASHTEST0000000"
	crashSecretKey = "crashTestSecretKey000000000000000000000000"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcess runs the binary on dir, with args after the defaults
// (a flag given again overrides its default, e.g. -quiet=false), and waits
// until it answers S3 requests.
func startProcess(t *testing.T, bin, dir string, args ...string) *serverProcess {
	t.Helper()
	p := launchProcess(t, bin, dir, args...)
	c := p.client()
	testkit.Eventually(t, 15*time.Second, func() string {
		select {
		case <-p.exited:
			t.Fatalf("s3limit serve exited: %v\n%s", p.err, p.out)
		default:
		}
		if _, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{}); err != nil {
			return "server not answering: " + err.Error()
		}
		return ""
	})
	return p
}

// launchProcess starts the binary as startProcess does, without waiting.
func launchProcess(t *testing.T, bin, dir string, args ...string) *serverProcess {
	t.Helper()
	port := freePort(t)
	p := &serverProcess{
		cmd:    exec.Command(bin, append([]string{"serve", "-ip.bind", "127.0.0.1", "-port", strconv.Itoa(port), "-dir", dir, "-quiet"}, args...)...),
		url:    "http://127.0.0.1:" + strconv.Itoa(port),
		out:    &testkit.SyncBuffer{},
		exited: make(chan struct{}),
	}
	p.cmd.Env = append(os.Environ(), "S3LIMIT_ACCESS_KEY="+crashAccessKey, "S3LIMIT_SECRET_KEY="+crashSecretKey)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting s3limit serve: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

func (p *serverProcess) client() *s3.Client {
	return servertest.NewClient(p.url, crashAccessKey, crashSecretKey)
}

// crashObject describes one upload of the crash test; its content is
// generated from its seed.
type crashObject struct {
	key  string
	seed uint64
	size int64
}

func (o crashObject) md5() string {
	h := md5.New()
	_, _ = io.Copy(h, io.LimitReader(newPRNGReader(o.seed), o.size))
	return hex.EncodeToString(h.Sum(nil))
}

// TestCrashDuringConcurrentUploads kills the server process with SIGKILL
// while uploads are in flight, restarts it on the same directory, and
// checks that every acknowledged object reads back with its ETag, that no
// partial object is visible, and that no temporary or orphaned data file
// remains.
func TestCrashDuringConcurrentUploads(t *testing.T) {
	t.Parallel()
	const (
		workers      = 8
		perWorker    = 6
		killAfterAck = 12
	)
	bin := testkit.BuildS3limit(t)
	dir := t.TempDir()
	p := startProcess(t, bin, dir)
	c := p.client()
	createBucket(t, c, "crash")

	objects := map[string]crashObject{}
	for w := range workers {
		for i := range perWorker {
			seed := uint64(w*100 + i)
			o := crashObject{key: fmt.Sprintf("w%d/obj-%d", w, i), seed: seed, size: 1<<20 + int64(seed*7919%4)<<20 + int64(seed%1000)}
			objects[o.key] = o
		}
	}
	acks := make(chan string, workers*perWorker)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				o := objects[fmt.Sprintf("w%d/obj-%d", w, i)]
				body := make([]byte, o.size)
				_, _ = io.ReadFull(newPRNGReader(o.seed), body)
				out, err := c.PutObject(context.Background(), &s3.PutObjectInput{
					Bucket: aws.String("crash"), Key: aws.String(o.key), Body: bytes.NewReader(body),
				})
				if err != nil {
					return // the server is gone; the rest is never sent
				}
				if aws.ToString(out.ETag) == quoted(md5Hex(body)) {
					acks <- o.key
				} else {
					acks <- "bad-etag:" + o.key
				}
			}
		}()
	}
	acked := map[string]bool{}
	for len(acked) < killAfterAck {
		select {
		case k := <-acks:
			acked[k] = true
		case <-time.After(60 * time.Second):
			t.Fatalf("only %d uploads acknowledged within 60s", len(acked))
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	wg.Wait()
	close(acks)
	for k := range acks {
		acked[k] = true
	}
	for k := range acked {
		if _, ok := objects[k]; !ok {
			t.Fatalf("PutObject acknowledged %s", k)
		}
	}
	t.Logf("%d of %d uploads acknowledged before SIGKILL", len(acked), len(objects))

	p2 := startProcess(t, bin, dir)
	c2 := p2.client()
	listed := listKeys(t, c2, "crash", "")
	present := map[string]bool{}
	var visibleBytes int64
	for _, key := range listed {
		o, ok := objects[key]
		if !ok {
			t.Errorf("unknown object %q after restart", key)
			continue
		}
		present[key] = true
		want := o.md5()
		out, err := c2.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("crash"), Key: aws.String(key)})
		if err != nil {
			t.Errorf("GetObject %s after restart: %v", key, err)
			continue
		}
		h := md5.New()
		n, err := io.Copy(h, out.Body)
		out.Body.Close()
		switch {
		case err != nil || n != o.size:
			t.Errorf("%s: read %d of %d bytes after restart (%v): a partial object is visible", key, n, o.size, err)
		case hex.EncodeToString(h.Sum(nil)) != want:
			t.Errorf("%s: content differs after restart", key)
		case aws.ToString(out.ETag) != quoted(want):
			t.Errorf("%s: ETag %s after restart, want %s", key, aws.ToString(out.ETag), quoted(want))
		}
		visibleBytes += o.size
	}
	for k := range acked {
		if !present[k] {
			t.Errorf("acknowledged object %s is missing after restart", k)
		}
	}
	t.Logf("%d objects visible after restart (%d acknowledged, %d completed without an answer)",
		len(present), len(acked), len(present)-len(acked))

	// Start-up cleaned every temporary and orphaned data file: what the
	// data directory holds is exactly the visible objects.
	testkit.Eventually(t, 5*time.Second, func() string {
		tmpFiles, dataFiles, dataBytes, err := diskUsage(dir)
		if err != nil {
			return err.Error()
		}
		if tmpFiles != 0 || dataFiles != len(present) || dataBytes != visibleBytes {
			return fmt.Sprintf("%d temporary files, %d data files of %d bytes; want 0, %d files of %d bytes",
				tmpFiles, dataFiles, dataBytes, len(present), visibleBytes)
		}
		return ""
	})

	// A graceful stop exits cleanly.
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p2.exited:
		if p2.err != nil {
			t.Errorf("s3limit serve after SIGTERM: %v\n%s", p2.err, p2.out)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("s3limit serve did not stop within 30s of SIGTERM")
	}
}

// diskUsage counts the embedded store's files: temporary files under
// tmp/, and data files under data/ with their total size.
func diskUsage(dir string) (tmpFiles, dataFiles int, dataBytes int64, err error) {
	count := func(sub string, fn func(fs.FileInfo)) error {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				fi, err := d.Info()
				if err != nil {
					return err
				}
				fn(fi)
			}
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := count("tmp", func(fs.FileInfo) { tmpFiles++ }); err != nil {
		return 0, 0, 0, err
	}
	if err := count("data", func(fi fs.FileInfo) { dataFiles++; dataBytes += fi.Size() }); err != nil {
		return 0, 0, 0, err
	}
	return tmpFiles, dataFiles, dataBytes, nil
}
