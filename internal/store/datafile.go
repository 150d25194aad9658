package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/s3limit/s3limit/internal/s3api"
)

// writeSpec says what a body must be.
type writeSpec struct {
	size       int64  // expected bytes; negative = read to EOF
	maxSize    int64  // bytes; larger bodies fail with EntityTooLarge
	contentMD5 []byte // expected MD5 digest; nil = not checked
	// checksumAlg is an additional checksum to compute ("" = none);
	// checksumWant returns its expected base64 value once the body
	// ended ("" or nil = compute and keep).
	checksumAlg  string
	checksumWant func() string
}

// dataFile is the data of a new object or part, not yet referenced by
// any record: a file in place under data/, or, when inline is not nil,
// bytes the committing transaction stores in the inline table. The
// caller commits it or discards it.
type dataFile struct {
	id       string
	size     int64
	md5      [md5.Size]byte
	checksum *Checksum
	inline   []byte // the data of an inline object; nil for a file
}

func (d dataFile) etag() string { return hex.EncodeToString(d.md5[:]) }

// segment is the record's reference to d.
func (d dataFile) segment() segment {
	return segment{ID: d.id, Size: d.size, Inline: d.inline != nil}
}

// hashWriter writes to dst and to hashes, remembering dst's write error
// so it can be told from a body read error.
type hashWriter struct {
	dst   io.Writer
	md5   hash.Hash
	extra hash.Hash // nil when no additional checksum is computed
	err   error
}

func (w *hashWriter) Write(p []byte) (int, error) {
	n, err := w.dst.Write(p)
	if err != nil {
		w.err = err
		return n, err
	}
	w.md5.Write(p)
	if w.extra != nil {
		w.extra.Write(p)
	}
	return n, nil
}

// receive copies body to dst, computing and checking size, MD5 and
// additional checksum against spec. The returned dataFile has no id.
// Body read errors are returned as they are (the request pipeline
// reports signature and checksum failures through them).
func (s *Store) receive(ctx context.Context, dst io.Writer, body io.Reader, spec writeSpec) (dataFile, error) {
	w := &hashWriter{dst: dst, md5: md5.New()}
	if spec.checksumAlg != "" {
		w.extra = newChecksumHash(spec.checksumAlg)
	}
	limit := spec.maxSize
	if spec.size >= 0 {
		limit = spec.size
	}
	bufp := s.bufs.Get().(*[]byte)
	n, err := io.CopyBuffer(w, io.LimitReader(body, limit+1), *bufp)
	s.bufs.Put(bufp)
	switch {
	case err != nil && w.err != nil:
		return dataFile{}, fmt.Errorf("store: write data: %w", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return dataFile{}, s3api.ErrIncompleteBody
	case err != nil:
		return dataFile{}, err
	case n > spec.maxSize:
		return dataFile{}, s3api.ErrEntityTooLarge
	case spec.size >= 0 && n != spec.size:
		return dataFile{}, s3api.ErrIncompleteBody
	}
	if err := ctx.Err(); err != nil {
		return dataFile{}, err
	}
	d := dataFile{size: n}
	w.md5.Sum(d.md5[:0])
	if spec.contentMD5 != nil && !bytes.Equal(spec.contentMD5, d.md5[:]) {
		return dataFile{}, s3api.ErrBadDigest
	}
	if w.extra != nil {
		got := base64.StdEncoding.EncodeToString(w.extra.Sum(nil))
		want := ""
		if spec.checksumWant != nil {
			want = spec.checksumWant()
		}
		if want != "" && want != got {
			return dataFile{}, s3api.ErrBadDigest.WithMessage("The %s you specified did not match the calculated checksum.", spec.checksumAlg)
		}
		d.checksum = &Checksum{Algorithm: spec.checksumAlg, Value: got}
	}
	return d, nil
}

// writeObjectData receives the body of a whole object: in memory when
// it has at most s.inlineMax bytes (the object is then stored inline),
// otherwise into a data file by writeData. A body of unknown size is
// read up to s.inlineMax+1 bytes to decide.
func (s *Store) writeObjectData(ctx context.Context, body io.Reader, spec writeSpec) (dataFile, error) {
	if spec.size > spec.maxSize {
		return dataFile{}, s3api.ErrEntityTooLarge
	}
	if spec.size > s.inlineMax || s.inlineMax < 0 {
		return s.writeData(ctx, body, spec)
	}
	if spec.size < 0 {
		head := make([]byte, s.inlineMax+1)
		n, err := io.ReadFull(body, head)
		switch {
		case err == nil: // more than s.inlineMax bytes
			return s.writeData(ctx, io.MultiReader(bytes.NewReader(head), body), spec)
		case err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF):
			return dataFile{}, err
		}
		body = bytes.NewReader(head[:n])
	}
	var buf bytes.Buffer
	buf.Grow(int(max(spec.size, 0)))
	d, err := s.receive(ctx, &buf, body, spec)
	if err != nil {
		return dataFile{}, err
	}
	d.id = newID()
	d.inline = buf.Bytes()
	if d.inline == nil {
		d.inline = []byte{} // an empty object is inline too
	}
	return d, nil
}

// writeData streams body into a new data file: temporary file, verify,
// fsync, rename into data/, fsync the directory. On any failure nothing
// is left behind.
func (s *Store) writeData(ctx context.Context, body io.Reader, spec writeSpec) (dataFile, error) {
	if spec.size > spec.maxSize {
		return dataFile{}, s3api.ErrEntityTooLarge
	}
	f, err := os.CreateTemp(s.tmpDir, "w-*")
	if err != nil {
		return dataFile{}, fmt.Errorf("store: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) (dataFile, error) {
		f.Close()
		os.Remove(tmp)
		return dataFile{}, err
	}
	if err := s.step(stepTempCreated); err != nil {
		return fail(err)
	}
	d, err := s.receive(ctx, f, body, spec)
	if err != nil {
		return fail(err)
	}
	d.id = newID()
	if err := s.step(stepCopied); err != nil {
		return fail(err)
	}
	if !s.noSync {
		if err := f.Sync(); err != nil {
			return fail(fmt.Errorf("store: sync data: %w", err))
		}
	}
	if err := s.step(stepSynced); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return dataFile{}, fmt.Errorf("store: close data: %w", err)
	}
	path := s.dataPath(d.id)
	if err := s.rename(tmp, path); err != nil {
		os.Remove(tmp)
		return dataFile{}, err
	}
	if err := s.syncDir(filepath.Dir(path)); err != nil {
		os.Remove(path)
		return dataFile{}, err
	}
	if err := s.step(stepRenamed); err != nil {
		os.Remove(path)
		return dataFile{}, err
	}
	return d, nil
}

// rename moves a finished temporary file to its place under data/,
// creating the shard directory on first use.
func (s *Store) rename(tmp, path string) error {
	err := os.Rename(tmp, path)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if err := s.syncDir(s.dataDir); err != nil {
			return err
		}
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func (s *Store) syncDir(dir string) error {
	if s.noSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	err = d.Sync()
	d.Close()
	if err != nil {
		return fmt.Errorf("store: sync directory: %w", err)
	}
	return nil
}

// discard removes a data file that was never committed.
func (s *Store) discard(d dataFile) {
	if d.inline == nil {
		os.Remove(s.dataPath(d.id))
	}
}
