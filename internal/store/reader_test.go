package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
)

func TestOpenObjectSurvivesOverwriteAndDelete(t *testing.T) {
	e := newEnv(t)
	e.fileBacked()
	e.mkBucket("bkt")
	e.put("bkt", "k", "version one")
	obj, err := e.s.OpenObject("bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	e.put("bkt", "k", "version two")
	if err := e.s.DeleteObject("bkt", "k"); err != nil {
		t.Fatal(err)
	}
	data, _ := e.dataFiles()
	if len(data) != 1 {
		t.Fatalf("pinned file removed early or replaced file kept: %v", data)
	}
	var b bytes.Buffer
	rd := obj.NewReader(0, obj.Info.Size)
	if _, err := io.Copy(&b, rd); err != nil || b.String() != "version one" {
		t.Fatalf("read of the opened version: %q, %v", b.String(), err)
	}
	rd.Close()
	obj.Close()
	obj.Close() // idempotent
	if data, _ := e.dataFiles(); len(data) != 0 {
		t.Fatalf("files left after the last reader closed: %v", data)
	}
}

func TestConcurrentReadersSeeWholeVersions(t *testing.T) {
	e := newEnv(t)
	e.s.minPartSize = 1
	e.mkBucket("bkt")
	version := func(i int) string { return strings.Repeat(fmt.Sprintf("<%04d>", i), 200) }
	e.put("bkt", "k", version(0))
	const writes = 60
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= writes; i++ {
			v := version(i)
			if i%3 == 0 { // some versions are multipart, read across files
				id, err := e.s.CreateMultipartUpload("bkt", "k", Metadata{}, nil, "")
				if err == nil {
					_, err = e.s.UploadPart(t.Context(), "bkt", "k", id, 1, strings.NewReader(v[:500]), PartOptions{Size: 500})
				}
				if err == nil {
					_, err = e.s.UploadPart(t.Context(), "bkt", "k", id, 2, strings.NewReader(v[500:]), PartOptions{Size: int64(len(v) - 500)})
				}
				if err == nil {
					_, err = e.s.CompleteMultipartUpload("bkt", "k", id, []CompletePart{{1, md5hex(v[:500])}, {2, md5hex(v[500:])}}, "", "")
				}
				if err != nil {
					errs <- err
					return
				}
				continue
			}
			if _, err := e.s.PutObject(t.Context(), "bkt", "k", strings.NewReader(v), PutOptions{Size: int64(len(v))}); err != nil {
				errs <- err
				return
			}
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 80 {
				got, err := e.read("bkt", "k")
				if err != nil {
					errs <- err
					return
				}
				var n int
				if _, err := fmt.Sscanf(got, "<%04d>", &n); err != nil || got != version(n) {
					errs <- fmt.Errorf("torn read: %.40q", got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.checkNoGarbage(0)
}

func TestReaderReportsShortDataFile(t *testing.T) {
	e := newEnv(t)
	e.fileBacked()
	e.mkBucket("bkt")
	oi := e.put("bkt", "k", "0123456789")
	obj, err := e.s.OpenObject("bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if err := os.Truncate(e.s.dataPath(oi.segs[0].ID), 4); err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func(io.Reader) error{
		"Read":    func(r io.Reader) error { _, err := io.ReadAll(struct{ io.Reader }{r}); return err },
		"WriteTo": func(r io.Reader) error { _, err := r.(io.WriterTo).WriteTo(io.Discard); return err },
	} {
		rd := obj.NewReader(0, 10)
		if err := read(rd); !errors.Is(err, errShortData) {
			t.Errorf("%s of a truncated file: %v", name, err)
		}
		rd.Close()
	}
}

func TestReaderRanges(t *testing.T) {
	e := newEnv(t)
	e.s.minPartSize = 1
	e.mkBucket("bkt")
	id, _ := e.s.CreateMultipartUpload("bkt", "k", Metadata{}, nil, "")
	parts := []string{"abc", "", "defg", "h"}
	var cps []CompletePart
	for i, p := range parts {
		if _, err := e.s.UploadPart(t.Context(), "bkt", "k", id, i+1, strings.NewReader(p), PartOptions{Size: int64(len(p))}); err != nil {
			t.Fatal(err)
		}
		cps = append(cps, CompletePart{i + 1, md5hex(p)})
	}
	if _, err := e.s.CompleteMultipartUpload("bkt", "k", id, cps, "", ""); !errors.Is(err, s3api.ErrEntityTooSmall) {
		// An empty middle part is smaller than any minimum.
		t.Fatalf("empty middle part accepted: %v", err)
	}
	e.s.minPartSize = 0
	if _, err := e.s.CompleteMultipartUpload("bkt", "k", id, cps, "", ""); err != nil {
		t.Fatal(err)
	}
	whole := strings.Join(parts, "")
	obj, err := e.s.OpenObject("bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	for off := 0; off <= len(whole); off++ {
		for n := 0; off+n <= len(whole); n++ {
			for _, useWriteTo := range []bool{false, true} {
				rd := obj.NewReader(int64(off), int64(n))
				var b bytes.Buffer
				var err error
				if useWriteTo {
					_, err = rd.(io.WriterTo).WriteTo(&b)
				} else {
					_, err = io.Copy(&b, struct{ io.Reader }{rd})
				}
				rd.Close()
				if err != nil || b.String() != whole[off:off+n] {
					t.Fatalf("range %d+%d (WriteTo %v): %q, %v", off, n, useWriteTo, b.String(), err)
				}
			}
		}
	}
}

// TestInlineCopiesAreNotShared checks that the recycled buffers inline
// data is copied into belong to one open object at a time: objects open
// together read their own data, before and after others are closed and
// their buffers reused.
func TestInlineCopiesAreNotShared(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	data := map[string]string{}
	for i := range 8 {
		key := fmt.Sprintf("k%d", i)
		data[key] = strings.Repeat(string(rune('a'+i)), 1000+500*i)
		e.put("bkt", key, data[key])
	}
	readAll := func(o *Object) string {
		t.Helper()
		rd := o.NewReader(0, o.Info.Size)
		defer rd.Close()
		b, err := io.ReadAll(rd)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for round := range 20 {
		var open []*Object
		for i := range 8 {
			key := fmt.Sprintf("k%d", (i+round)%8)
			o, err := e.s.OpenObject("bkt", key)
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, o)
			if i%3 == 2 { // close one early: its buffer goes back
				first := open[0]
				if got := readAll(first); got != data[first.Info.Key] {
					t.Fatalf("round %d: %s read %.10q…", round, first.Info.Key, got)
				}
				first.Close()
				open = open[1:]
			}
		}
		for _, o := range open {
			if got := readAll(o); got != data[o.Info.Key] {
				t.Fatalf("round %d: %s read %.10q… (%d bytes)", round, o.Info.Key, got, len(got))
			}
			o.Close()
			o.Close() // twice is harmless
		}
	}
}
