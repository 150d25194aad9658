package store

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
	bolt "go.etcd.io/bbolt"
)

// clock is a virtual clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time // guarded by mu
}

func newClock() *clock {
	return &clock{t: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a store in a temporary directory with a virtual clock.
type env struct {
	t     *testing.T
	s     *Store
	dir   string
	clock *clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: newClock()}
	e.open()
	return e
}

// fileBacked makes the store write every object to a data file, for
// tests of the data files themselves (pins, short files, orphans).
func (e *env) fileBacked() { e.s.inlineMax = -1 }

func (e *env) open() {
	e.t.Helper()
	s, err := Open(e.dir, Options{NoSync: true, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	s.minPartSize = 10 // tests use small parts
	e.s = s
	e.t.Cleanup(func() { s.Close() })
}

// req describes one request to the handler.
type req struct {
	op, method, target string // target: path and query, e.g. "/b/k?uploads"
	bucket, key        string
	body               string
	header             map[string]string
	noLength           bool            // send without a declared length
	identity           *s3api.Identity // the caller; nil = none
}

// do serves r through the handler with its Info in the context.
func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	target := r.target
	if target == "" {
		target = "/" + r.bucket
		if r.key != "" {
			target += "/" + url.PathEscape(r.key)
		}
	}
	hr := httptest.NewRequest(method, target, body)
	size := hr.ContentLength
	if r.noLength {
		hr.ContentLength, size = -1, -1
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	info := &s3api.Info{Operation: opNamed(e.t, r.op), Bucket: r.bucket, Key: r.key, Size: size, RequestID: "test-req", Identity: r.identity}
	rec := httptest.NewRecorder()
	if info.Operation.ReadsCopySource() {
		// As classification does: the copy source is parsed once, before
		// the store sees the request.
		src, err := s3api.ParseCopySource(hr.Header.Get("x-amz-copy-source"))
		if err != nil {
			s3api.WriteError(rec, hr, err)
			return rec
		}
		if info.Operation == s3api.OpUploadPartCopy {
			src.First, src.Last, src.HasRange, err = s3api.ParseCopySourceRange(hr.Header.Get("x-amz-copy-source-range"))
			if err != nil {
				s3api.WriteError(rec, hr, err)
				return rec
			}
		}
		info.CopySource = src
	}
	hr = hr.WithContext(s3api.NewContext(hr.Context(), info))
	e.s.ServeHTTP(rec, hr)
	return rec
}

// mustDo is do that fails the test unless the status is want.
func (e *env) mustDo(r req, want int) *httptest.ResponseRecorder {
	e.t.Helper()
	rec := e.do(r)
	if rec.Code != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", r.op, r.target+r.bucket+"/"+r.key, rec.Code, want, rec.Body.String())
	}
	return rec
}

// errorCode returns the S3 error code of a response body ("" if none).
func errorCode(rec *httptest.ResponseRecorder) string {
	var doc struct {
		Code string `xml:"Code"`
	}
	_ = xml.Unmarshal(rec.Body.Bytes(), &doc)
	return doc.Code
}

// wantError fails the test unless rec is the S3 error want.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, want *s3api.Error) {
	t.Helper()
	if rec.Code != want.StatusCode {
		t.Fatalf("status %d, want %d (%s); body %s", rec.Code, want.StatusCode, want.Code, rec.Body.String())
	}
	if got := errorCode(rec); rec.Body.Len() > 0 && got != want.Code {
		t.Fatalf("code %q, want %q; body %s", got, want.Code, rec.Body.String())
	}
}

// decodeXML unmarshals a response body.
func decodeXML(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := xml.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %T: %v; body %s", v, err, rec.Body.String())
	}
}

// mkBucket creates a bucket through the engine.
func (e *env) mkBucket(name string) {
	e.t.Helper()
	if err := e.s.CreateBucket(name); err != nil {
		e.t.Fatal(err)
	}
}

// put stores an object through the engine.
func (e *env) put(bucket, key, data string) ObjectInfo {
	e.t.Helper()
	oi, err := e.s.PutObject(context.Background(), bucket, key, strings.NewReader(data), PutOptions{Size: int64(len(data))})
	if err != nil {
		e.t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return oi
}

// read returns an object's data through the engine.
func (e *env) read(bucket, key string) (string, error) {
	obj, err := e.s.OpenObject(bucket, key)
	if err != nil {
		return "", err
	}
	defer obj.Close()
	rd := obj.NewReader(0, obj.Info.Size)
	defer rd.Close()
	var b bytes.Buffer
	_, err = io.Copy(&b, rd)
	return b.String(), err
}

// dataFiles returns the names of the files under data/ and tmp/.
func (e *env) dataFiles() (data, tmp []string) {
	e.t.Helper()
	err := filepath.Walk(filepath.Join(e.dir, dataDirName), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			data = append(data, fi.Name())
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(e.dir, tmpDirName))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, en := range entries {
		tmp = append(tmp, en.Name())
	}
	return data, tmp
}

// referencedIDs returns every data file id the metadata refers to
// (inline data has no file).
func (e *env) referencedIDs() map[string]bool {
	e.t.Helper()
	ids := make(map[string]bool)
	buckets, _, err := e.s.ListBuckets("", "", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, b := range buckets {
		after := ""
		for {
			lr, err := e.s.ListObjects(b.Name, ListOptions{After: after, MaxKeys: 1000})
			if err != nil {
				e.t.Fatal(err)
			}
			for _, o := range lr.Objects {
				oi, err := e.s.StatObject(b.Name, o.Key)
				if err != nil {
					e.t.Fatal(err)
				}
				for _, s := range oi.segs {
					if !s.Inline {
						ids[s.ID] = true
					}
				}
			}
			if !lr.IsTruncated {
				break
			}
			after = lr.Next
		}
	}
	return ids
}

// checkNoGarbage fails the test unless the data files are exactly the
// referenced ones plus parts of open uploads (extra) and tmp/ is empty.
func (e *env) checkNoGarbage(extra int) {
	e.t.Helper()
	data, tmp := e.dataFiles()
	if len(tmp) != 0 {
		e.t.Errorf("tmp/ holds %v", tmp)
	}
	ref := e.referencedIDs()
	for _, d := range data {
		delete(ref, d)
	}
	if len(ref) != 0 {
		e.t.Errorf("referenced data files missing: %v", ref)
	}
	if got, want := len(data), len(e.referencedIDs())+extra; got != want {
		e.t.Errorf("%d data files, want %d", got, want)
	}
	if got, want := e.inlineEntries(), e.referencedInline(); got != want {
		e.t.Errorf("%d inline data entries, want %d (one per inline object)", got, want)
	}
}

// inlineEntries counts the entries of the inline table.
func (e *env) inlineEntries() int {
	e.t.Helper()
	n := 0
	err := e.s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte(inlineTable)).Stats().KeyN
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// referencedInline counts the inline segments of all objects.
func (e *env) referencedInline() int {
	e.t.Helper()
	n := 0
	err := e.s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(objectsTable)).ForEachBucket(func(name []byte) error {
			return tx.Bucket([]byte(objectsTable)).Bucket(name).ForEach(func(_, v []byte) error {
				var rec objectRecord
				if err := decode(v, &rec); err != nil {
					return err
				}
				for _, seg := range rec.Segments {
					if seg.Inline {
						n++
					}
				}
				return nil
			})
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// newRequest builds a classified request for the handler.
func newRequest(t *testing.T, op, method, bucket, key, body string) *http.Request {
	t.Helper()
	target := "/" + bucket
	if key != "" {
		target += "/" + url.PathEscape(key)
	}
	hr := httptest.NewRequest(method, target, strings.NewReader(body))
	info := &s3api.Info{Operation: opNamed(t, op), Bucket: bucket, Key: key, Size: int64(len(body)), RequestID: "test-req"}
	return hr.WithContext(s3api.NewContext(hr.Context(), info))
}

// opNamed returns the operation with the AWS name op; "" is OpUnknown.
func opNamed(t testing.TB, op string) s3api.Op {
	t.Helper()
	if op == "" {
		return s3api.OpUnknown
	}
	o, ok := s3api.OpByName(op)
	if !ok {
		t.Fatalf("no operation named %q", op)
	}
	return o
}

// serve runs a request through the store's handler.
func serve(s *Store, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	return rec
}

// trailerBody is a request body that sets a checksum trailer at EOF, as
// the aws-chunked decoder does.
type trailerBody struct {
	r     io.Reader
	req   *http.Request
	value string
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.req.Trailer = http.Header{"X-Amz-Checksum-Crc32": {b.value}}
	}
	return n, err
}

func (b *trailerBody) Close() error { return nil }

// failingBody yields data, then err (io.EOF when nil).
type failingBody struct {
	data string
	err  error
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.data == "" {
		if b.err == nil {
			return 0, io.EOF
		}
		return 0, b.err
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *failingBody) Close() error { return nil }
