package store

import (
	"bufio"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The crash test runs a writer in a child process (this test binary,
// re-executed), stops one write at a chosen step of the write path, lets
// the other writers go on, and kills the process with SIGKILL. The parent
// then reopens the store and checks what a crash may and may not leave.

const (
	crashEnvDir  = "S3LIMIT_STORE_CRASH_DIR"
	crashEnvStep = "S3LIMIT_STORE_CRASH_STEP"
	// stepMidBody stops a write halfway through its body.
	stepMidBody    = "mid-body"
	crashWorkers   = 4
	crashKeys      = 3 // keys per worker, overwritten in turn
	crashStuckAt   = 6 // the hit of the step that gets stuck
	crashAcksAfter = 8 // acknowledgements to wait for after the stuck write
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnvDir); dir != "" {
		os.Exit(runCrashChild(dir, os.Getenv(crashEnvStep)))
	}
	os.Exit(m.Run())
}

// crashContent is version v of key: self-describing, of varying size.
func crashContent(key string, v int) string {
	head := fmt.Sprintf("%s|v=%d|", key, v)
	size := 1000 + (v*7919)%(96<<10)
	return head + strings.Repeat(string(rune('a'+v%26)), size)
}

// crashMultipart reports whether version v is written as a multipart upload.
func crashMultipart(v int) bool { return v%4 == 3 }

// expectedETag is the ETag of version v of key.
func expectedETag(key string, v int) string {
	c := crashContent(key, v)
	if !crashMultipart(v) {
		return md5hex(c)
	}
	mid := len(c) / 2
	a, b := md5.Sum([]byte(c[:mid])), md5.Sum([]byte(c[mid:]))
	return fmt.Sprintf("%x-2", md5.Sum(append(a[:], b[:]...)))
}

// stuckReader yields half its data, reports, and then blocks forever.
type stuckReader struct {
	data   string
	half   int
	report func()
}

func (r *stuckReader) Read(p []byte) (int, error) {
	if r.half == 0 {
		r.report()
		select {}
	}
	n := copy(p[:min(len(p), r.half)], r.data)
	r.data, r.half = r.data[n:], r.half-n
	return n, nil
}

// runCrashChild writes until the parent kills it. It prints
// "ACK key version" after each acknowledged write, "STUCK" when the
// chosen write stops, and "ERR ..." on unexpected errors.
func runCrashChild(dir, step string) int {
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		fmt.Println("ERR open:", err)
		return 1
	}
	s.minPartSize = 1
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		fmt.Printf(format+"\n", args...)
		outMu.Unlock()
	}
	var hits atomic.Int32
	stuck := func() { say("STUCK"); select {} }
	s.hook = func(name string) error {
		if name == step && hits.Add(1) == crashStuckAt {
			stuck()
		}
		return nil
	}
	if err := s.CreateBucket("crash"); err != nil {
		say("ERR create bucket: %v", err)
		return 1
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Go(func() {
			for v := 0; ; v++ {
				key := fmt.Sprintf("w%d-k%d", w, v%crashKeys)
				c := crashContent(key, v)
				var body io.Reader = strings.NewReader(c)
				if step == stepMidBody && w == 0 && v == crashStuckAt {
					body = &stuckReader{data: c, half: len(c) / 2, report: func() { say("STUCK") }}
				}
				if err := crashWrite(ctx, s, key, v, c, body); err != nil {
					say("ERR %s v%d: %v", key, v, err)
					return
				}
				say("ACK %s %d", key, v)
			}
		})
	}
	wg.Wait()
	return 1
}

func crashWrite(ctx context.Context, s *Store, key string, v int, c string, body io.Reader) error {
	if !crashMultipart(v) {
		_, err := s.PutObject(ctx, "crash", key, body, PutOptions{Size: int64(len(c))})
		return err
	}
	id, err := s.CreateMultipartUpload("crash", key, Metadata{}, nil, "")
	if err != nil {
		return err
	}
	mid := len(c) / 2
	p1, err := s.UploadPart(ctx, "crash", key, id, 1, strings.NewReader(c[:mid]), PartOptions{Size: int64(mid)})
	if err != nil {
		return err
	}
	p2, err := s.UploadPart(ctx, "crash", key, id, 2, strings.NewReader(c[mid:]), PartOptions{Size: int64(len(c) - mid)})
	if err != nil {
		return err
	}
	_, err = s.CompleteMultipartUpload("crash", key, id, []CompletePart{{1, p1.ETag}, {2, p2.ETag}}, "", "")
	return err
}

func TestCrashDuringConcurrentUploads(t *testing.T) {
	steps := []string{stepTempCreated, stepMidBody, stepCopied, stepSynced, stepRenamed, stepCommitted}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			acked := crashRun(t, dir, step)
			tmpBefore, unreferencedBefore := orphanCensus(t, dir)
			switch step {
			case stepTempCreated, stepMidBody, stepCopied, stepSynced:
				if tmpBefore == 0 {
					t.Errorf("the stuck write left no temporary file")
				}
			case stepRenamed:
				if unreferencedBefore == 0 {
					t.Errorf("the stuck write left no uncommitted data file")
				}
			}
			e := &env{t: t, dir: dir, clock: newClock()}
			e.open()
			verifyAfterCrash(t, e, acked)
		})
	}
}

// crashRun runs the child until it is stuck at step and has acknowledged
// more writes, kills it, and returns the last acknowledged version of
// every key.
func crashRun(t *testing.T, dir, step string) map[string]int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, crashEnvStep+"="+step)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Safety net: never wait on a broken child for long.
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	acked := map[string]int{}
	stuck, after := false, 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "ACK":
			v, _ := strconv.Atoi(f[2])
			acked[f[1]] = v
			if stuck {
				after++
			}
		case len(f) == 1 && f[0] == "STUCK":
			stuck = true
		default:
			t.Errorf("child: %s", sc.Text())
		}
		if stuck && after >= crashAcksAfter {
			break
		}
	}
	cmd.Process.Kill()
	io.Copy(io.Discard, out)
	cmd.Wait()
	if !stuck || after < crashAcksAfter {
		t.Fatalf("child ended before the crash point (stuck %v, %d acks after)", stuck, after)
	}
	return acked
}

// orphanCensus counts, before the store is reopened, the temporary files
// and the data files no record refers to.
func orphanCensus(t *testing.T, dir string) (tmp, unreferenced int) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, tmpDirName))
	if err != nil {
		t.Fatal(err)
	}
	tmp = len(entries)
	db, err := bolt.Open(filepath.Join(dir, metaDBName), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	used := map[string]bool{}
	err = db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket([]byte(objectsTable)).Bucket([]byte("crash")).ForEach(func(_, v []byte) error {
			var rec objectRecord
			err := decode(v, &rec)
			for _, s := range rec.Segments {
				used[s.ID] = true
			}
			return err
		})
		if err != nil {
			return err
		}
		return tx.Bucket([]byte(partsTable)).ForEach(func(_, v []byte) error {
			var rec partRecord
			err := decode(v, &rec)
			used[rec.ID] = true
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(filepath.Join(dir, dataDirName), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !used[d.Name()] {
			unreferenced++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tmp, unreferenced
}

// verifyAfterCrash checks the reopened store: every acknowledged write is
// there (or a later version of its key), every visible object is whole,
// and no orphan file is left.
func verifyAfterCrash(t *testing.T, e *env, acked map[string]int) {
	t.Helper()
	lr, err := e.s.ListObjects("crash", ListOptions{MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, o := range lr.Objects {
		seen[o.Key] = true
		data, err := e.read("crash", o.Key)
		if err != nil {
			t.Errorf("%s: unreadable: %v", o.Key, err)
			continue
		}
		var key string
		var v int
		head, _, _ := strings.Cut(data, "|v=")
		key = head
		if _, err := fmt.Sscanf(data[len(head):], "|v=%d|", &v); err != nil || key != o.Key {
			t.Errorf("%s: content of another object or partial: %.40q", o.Key, data)
			continue
		}
		if data != crashContent(key, v) {
			t.Errorf("%s v%d: partial or corrupt content (%d bytes)", key, v, len(data))
		}
		if o.ETag != `"`+expectedETag(key, v)+`"` {
			t.Errorf("%s v%d: ETag %s, want %q", key, v, o.ETag, expectedETag(key, v))
		}
		if last, ok := acked[key]; ok && v < last {
			t.Errorf("%s: version %d visible after version %d was acknowledged", key, v, last)
		}
	}
	for key := range acked {
		if !seen[key] {
			t.Errorf("acknowledged object %s is missing", key)
		}
	}
	ul, err := e.s.ListMultipartUploads("crash", UploadListOptions{MaxUploads: 1000})
	if err != nil {
		t.Fatal(err)
	}
	parts := 0
	for _, u := range ul.Uploads {
		pl, err := e.s.ListParts("crash", u.Key, u.UploadID, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		parts += len(pl.Parts)
	}
	e.checkNoGarbage(parts)
	if t.Failed() {
		return
	}
	// The store keeps working after the crash.
	if _, err := e.s.PutObject(t.Context(), "crash", "after", strings.NewReader("ok"), PutOptions{Size: 2}); err != nil {
		t.Fatal(err)
	}
}

func TestWriteFailureAtEachStepLeavesNothing(t *testing.T) {
	injected := errors.New("injected failure")
	for _, step := range []string{stepTempCreated, stepCopied, stepSynced, stepRenamed} {
		t.Run(step, func(t *testing.T) {
			e := newEnv(t)
			e.fileBacked() // the steps are those of a data file
			e.mkBucket("bkt")
			e.put("bkt", "k", "old")
			e.put("bkt", "src", "source")
			id, _ := e.s.CreateMultipartUpload("bkt", "mp", Metadata{}, nil, "")
			e.s.hook = func(name string) error {
				if name == step {
					return injected
				}
				return nil
			}
			ctx := t.Context()
			if _, err := e.s.PutObject(ctx, "bkt", "k", strings.NewReader("new"), PutOptions{Size: 3}); !errors.Is(err, injected) {
				t.Errorf("PutObject: %v", err)
			}
			if _, err := e.s.CopyObject(ctx, "bkt", "src", "bkt", "k", CopyOptions{}); !errors.Is(err, injected) {
				t.Errorf("CopyObject: %v", err)
			}
			if _, err := e.s.UploadPart(ctx, "bkt", "mp", id, 1, strings.NewReader("p"), PartOptions{Size: 1}); !errors.Is(err, injected) {
				t.Errorf("UploadPart: %v", err)
			}
			if _, err := e.s.UploadPartCopy(ctx, "bkt", "mp", id, 1, "bkt", "src", 0, -1, Conditions{}); !errors.Is(err, injected) {
				t.Errorf("UploadPartCopy: %v", err)
			}
			e.s.hook = nil
			if got, err := e.read("bkt", "k"); got != "old" || err != nil {
				t.Errorf("object after failed writes: %q, %v", got, err)
			}
			if pl, _ := e.s.ListParts("bkt", "mp", id, 0, 10); len(pl.Parts) != 0 {
				t.Errorf("failed part uploads left parts: %+v", pl.Parts)
			}
			e.checkNoGarbage(0)
		})
	}
}

func TestOpenRemovesOrphans(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	e.put("bkt", "keep", "data")
	id, _ := e.s.CreateMultipartUpload("bkt", "mp", Metadata{}, nil, "")
	if _, err := e.s.UploadPart(t.Context(), "bkt", "mp", id, 1, strings.NewReader("part"), PartOptions{Size: 4}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(e.dir, dataDirName, "ab", "ab"+strings.Repeat("0", 30))
	os.MkdirAll(filepath.Dir(orphan), 0o700)
	for _, f := range []string{orphan, filepath.Join(e.dir, tmpDirName, "w-123")} {
		if err := os.WriteFile(f, []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	other := filepath.Join(e.dir, "credentials.json") // not the store's: left alone
	os.WriteFile(other, []byte("{}"), 0o600)
	e.open()
	e.checkNoGarbage(1)
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan kept: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("a file outside data/ and tmp/ was touched: %v", err)
	}
	if got, _ := e.read("bkt", "keep"); got != "data" {
		t.Fatalf("object lost: %q", got)
	}
}

func TestOpenTwiceIsRefused(t *testing.T) {
	e := newEnv(t)
	if _, err := Open(e.dir, Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open of a directory in use: %v", err)
	}
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("Open without a directory succeeded")
	}
}
