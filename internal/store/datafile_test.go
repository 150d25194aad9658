package store

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
)

// TestSmallObjectsAreInline writes objects around the inline threshold,
// with and without a declared length (read to EOF), and checks where their data went
// and that every way of reading, copying, replacing and deleting them
// works.
func TestSmallObjectsAreInline(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 1))
	for _, tc := range []struct {
		size     int
		noLength bool
		inline   bool
	}{
		{0, false, true},
		{1, false, true},
		{4096, false, true},
		{4096, true, true},
		{inlineMax, false, true},
		{inlineMax, true, true},
		{inlineMax + 1, false, false},
		{inlineMax + 1, true, false},
		{3 * inlineMax, true, false},
	} {
		t.Run(fmt.Sprintf("%d-nolength=%v", tc.size, tc.noLength), func(t *testing.T) {
			e := newEnv(t)
			e.mkBucket("bkt")
			data := make([]byte, tc.size)
			for i := range data {
				data[i] = byte('a' + rng.IntN(26))
			}
			body := string(data)
			if tc.noLength { // the handler refuses these; the API reads to EOF
				if _, err := e.s.PutObject(t.Context(), "bkt", "k", strings.NewReader(body), PutOptions{Size: -1}); err != nil {
					t.Fatal(err)
				}
			} else {
				e.mustDo(req{op: "PutObject", method: "PUT", bucket: "bkt", key: "k", body: body}, 200)
			}
			oi, err := e.s.StatObject("bkt", "k")
			if err != nil {
				t.Fatal(err)
			}
			sum := md5.Sum(data)
			if oi.Size != int64(tc.size) || oi.ETag != `"`+hex.EncodeToString(sum[:])+`"` {
				t.Fatalf("stat: size %d ETag %s", oi.Size, oi.ETag)
			}
			if len(oi.segs) != 1 || oi.segs[0].Inline != tc.inline {
				t.Fatalf("segments %+v, want one with inline=%v", oi.segs, tc.inline)
			}
			files, _ := e.dataFiles()
			if wantFiles := map[bool]int{true: 0, false: 1}[tc.inline]; len(files) != wantFiles {
				t.Fatalf("%d data files, want %d", len(files), wantFiles)
			}
			if got, err := e.read("bkt", "k"); err != nil || got != body {
				t.Fatalf("GET: %d bytes, %v", len(got), err)
			}
			if tc.size > 2 {
				rec := e.mustDo(req{op: "GetObject", method: "GET", bucket: "bkt", key: "k", header: map[string]string{"Range": "bytes=1-2"}}, 206)
				if rec.Body.String() != body[1:3] {
					t.Fatalf("range GET: %q, want %q", rec.Body.String(), body[1:3])
				}
			}
			e.mustDo(req{op: "HeadObject", method: "HEAD", bucket: "bkt", key: "k"}, 200)

			// A copy is stored the same way; the source stays readable.
			e.mustDo(req{op: "CopyObject", method: "PUT", bucket: "bkt", key: "copy", header: map[string]string{"x-amz-copy-source": "/bkt/k"}}, 200)
			if got, err := e.read("bkt", "copy"); err != nil || got != body {
				t.Fatalf("GET of the copy: %d bytes, %v", len(got), err)
			}
			// A multipart upload takes a part from it.
			id, err := e.s.CreateMultipartUpload("bkt", "mp", Metadata{}, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			p, err := e.s.UploadPartCopy(t.Context(), "bkt", "mp", id, 1, "bkt", "k", 0, -1, Conditions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.CompleteMultipartUpload("bkt", "mp", id, []CompletePart{{1, p.ETag}}, "", ""); err != nil {
				t.Fatal(err)
			}
			if got, err := e.read("bkt", "mp"); err != nil || got != body {
				t.Fatalf("GET of the multipart copy: %d bytes, %v", len(got), err)
			}
			lr, err := e.s.ListObjects("bkt", ListOptions{MaxKeys: 10})
			if err != nil || len(lr.Objects) != 3 {
				t.Fatalf("list: %+v, %v", lr.Objects, err)
			}
			e.checkNoGarbage(0)

			// Replaced by a file-backed object and back, then deleted:
			// nothing of any version is left.
			big := strings.Repeat("z", inlineMax+10)
			e.put("bkt", "k", big)
			e.checkNoGarbage(0)
			e.put("bkt", "k", body)
			e.checkNoGarbage(0)
			if _, err := e.s.DeleteObjects("bkt", []string{"k", "copy", "mp"}); err != nil {
				t.Fatal(err)
			}
			e.checkNoGarbage(0)
			if n := e.inlineEntries(); n != 0 {
				t.Fatalf("%d inline entries after deleting everything", n)
			}
		})
	}
}

// TestInlineWriteFailuresLeaveNothing: a small write that fails, before
// or at its commit, stores nothing and keeps the old object.
func TestInlineWriteFailuresLeaveNothing(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	e.put("bkt", "k", "old")
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		put  func() error
		want error
	}{
		{"wrong Content-MD5", func() error {
			_, err := e.s.PutObject(ctx, "bkt", "k", strings.NewReader("new"), PutOptions{Size: 3, ContentMD5: make([]byte, 16)})
			return err
		}, s3api.ErrBadDigest},
		{"short body", func() error {
			_, err := e.s.PutObject(ctx, "bkt", "k", strings.NewReader("ne"), PutOptions{Size: 3})
			return err
		}, s3api.ErrIncompleteBody},
		{"If-None-Match on an existing key", func() error {
			_, err := e.s.PutObject(ctx, "bkt", "k", strings.NewReader("new"), PutOptions{Size: 3, IfNoneMatch: "*"})
			return err
		}, s3api.ErrPreconditionFailed},
		{"missing bucket", func() error {
			_, err := e.s.PutObject(ctx, "none", "k", strings.NewReader("new"), PutOptions{Size: 3})
			return err
		}, s3api.ErrNoSuchBucket},
	} {
		if err := tc.put(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if got, err := e.read("bkt", "k"); got != "old" || err != nil {
		t.Fatalf("object after failed writes: %q, %v", got, err)
	}
	if n := e.inlineEntries(); n != 1 {
		t.Fatalf("%d inline entries, want 1", n)
	}
	e.checkNoGarbage(0)
}

// TestFileBackedObjectsOfEarlierStoresStayReadable opens a store whose
// small objects were written to data files (as every object was before
// objects were kept inline) and replaces and deletes them.
func TestFileBackedObjectsOfEarlierStoresStayReadable(t *testing.T) {
	e := newEnv(t)
	e.fileBacked()
	e.mkBucket("bkt")
	e.put("bkt", "a", "file a")
	e.put("bkt", "b", "file b")
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	e.open()
	for key, want := range map[string]string{"a": "file a", "b": "file b"} {
		if got, err := e.read("bkt", key); got != want || err != nil {
			t.Fatalf("%s: %q, %v", key, got, err)
		}
	}
	e.put("bkt", "a", "inline a")
	if err := e.s.DeleteObject("bkt", "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.read("bkt", "a"); got != "inline a" {
		t.Fatalf("a after overwrite: %q", got)
	}
	if files, _ := e.dataFiles(); len(files) != 0 {
		t.Fatalf("data files of replaced and deleted objects kept: %v", files)
	}
	e.checkNoGarbage(0)
}
