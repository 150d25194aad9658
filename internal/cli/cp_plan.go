package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/s3limit/s3limit/transfer"
)

// location is one side of a copy: an S3 object or prefix, a local path,
// or "-" for standard input or output.
type location struct {
	s3          bool
	bucket, key string // when s3
	path        string // when local
}

func parseLocation(s string) (location, error) {
	if s == "" {
		return location{}, errors.New("empty path")
	}
	if len(s) >= 5 && strings.EqualFold(s[:5], "s3://") {
		bucket, key, _ := strings.Cut(s[5:], "/")
		if bucket == "" {
			return location{}, fmt.Errorf("%q has no bucket (expected s3://bucket/key)", s)
		}
		return location{s3: true, bucket: bucket, key: key}, nil
	}
	return location{path: s}, nil
}

func (l location) isS3() bool  { return l.s3 }
func (l location) stdio() bool { return !l.s3 && l.path == "-" }

func (l location) String() string {
	if l.s3 {
		return "s3://" + l.bucket + "/" + l.key
	}
	return l.path
}

// isPrefix reports whether an S3 location names a prefix (no key, or a
// key ending in "/").
func (l location) isPrefix() bool { return l.key == "" || strings.HasSuffix(l.key, "/") }

// withKey returns l with key.
func (l location) withKey(key string) location { l.key = key; return l }

// checkPair rejects combinations of SRC and DST that cannot work.
func checkPair(src, dst location, recursive bool) error {
	switch {
	case !src.isS3() && !dst.isS3():
		return errors.New("at least one of SRC and DST must be an s3:// location")
	case recursive && (src.stdio() || dst.stdio()):
		return errors.New("--recursive cannot read standard input or write standard output")
	case !recursive && src.isS3() && src.isPrefix():
		return fmt.Errorf("SRC %s names a prefix, not an object; add --recursive to copy everything under it", src)
	case !recursive && src.stdio() && dst.isPrefix():
		return fmt.Errorf("DST %s needs an object key when copying from standard input", dst)
	}
	return nil
}

// checkLocalSource checks that a local SRC exists and suits --recursive.
func checkLocalSource(p string, recursive bool) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("SRC %q does not exist", p)
	case err != nil:
		return fmt.Errorf("SRC: %v", err)
	case fi.IsDir() && !recursive:
		return fmt.Errorf("SRC %q is a directory; add --recursive to copy it", p)
	case !fi.IsDir() && recursive:
		return fmt.Errorf("SRC %q is not a directory (--recursive copies directories)", p)
	}
	return nil
}

// jobKind is the direction of one file's copy.
type jobKind int

const (
	jobUpload jobKind = iota
	jobDownload
	jobCopy
)

// job is the copy of one file or object.
type job struct {
	kind     jobKind
	src, dst location
}

func (j *job) verb() string {
	return [...]string{"upload", "download", "copy"}[j.kind]
}

// plan resolves a copy of one file or object: its direction and the
// destination's full name. A destination key ending in "/" takes the
// source's base name, and so does a local destination that is a
// directory.
func plan(src, dst location) *job {
	j := &job{src: src, dst: dst}
	switch {
	case !src.isS3():
		j.kind = jobUpload
		if dst.isPrefix() {
			j.dst = dst.withKey(dst.key + filepath.Base(src.path))
		}
	case dst.isS3():
		j.kind = jobCopy
		if dst.isPrefix() {
			j.dst = dst.withKey(dst.key + path.Base(src.key))
		}
	default:
		j.kind = jobDownload
		if !dst.stdio() && (strings.HasSuffix(dst.path, string(filepath.Separator)) || strings.HasSuffix(dst.path, "/") || isDir(dst.path)) {
			j.dst.path = filepath.Join(dst.path, filepath.FromSlash(path.Base(src.key)))
		}
	}
	return j
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// copier runs the transfers of a cp run and reports them.
type copier struct {
	env      *Env
	m        *transfer.Manager
	rep      *reporter
	flags    *cpFlags
	announce bool            // print a line for each file copied
	progress transfer.Option // feeds the reporter
}

// reason is what to print after "upload failed: SRC to DST:": the cause
// of a transfer's error, which names the object only when it is not the
// one already named.
func reason(err error) string {
	var te *transfer.Error
	if errors.As(err, &te) {
		return te.Err.Error()
	}
	return err.Error()
}

// single runs one job and returns 1 if it failed.
func (c *copier) single(ctx context.Context, j *job) int {
	var err error
	switch j.kind {
	case jobUpload:
		err = c.upload(ctx, j)
	case jobDownload:
		err = c.download(ctx, j)
	default:
		var opts []transfer.Option
		if c.flags.contentType != "" {
			opts = append(opts, transfer.WithContentType(c.flags.contentType))
		}
		_, err = c.m.Copy(ctx, j.src.bucket, j.src.key, j.dst.bucket, j.dst.key, append(opts, c.progress)...).Result()
	}
	if err != nil {
		c.rep.println(fmt.Sprintf("%s failed: %s to %s: %s", j.verb(), j.src, j.dst, reason(err)), true)
		return 1
	}
	if c.announce {
		c.rep.println(fmt.Sprintf("%s: %s to %s", j.verb(), j.src, j.dst), false)
	}
	return 0
}

func (c *copier) upload(ctx context.Context, j *job) error {
	opts := []transfer.Option{c.progress}
	if ct := c.flags.contentType; ct != "" {
		opts = append(opts, transfer.WithContentType(ct))
	}
	var f *transfer.Future
	if j.src.stdio() {
		f = c.m.Upload(ctx, c.env.Stdin, j.dst.bucket, j.dst.key, opts...)
	} else {
		f = c.m.UploadFile(ctx, j.src.path, j.dst.bucket, j.dst.key, opts...)
	}
	_, err := f.Result()
	return err
}

// recursive copies a directory or a prefix and returns how many of how
// many files failed; err is set when nothing could be started (a listing
// that failed).
func (c *copier) recursive(ctx context.Context, src, dst location) (failed, total int, err error) {
	opts := append([]transfer.Option{c.progress, transfer.WithEachObject(c.report)}, c.flags.filters...)
	if ct := c.flags.contentType; ct != "" {
		opts = append(opts, transfer.WithContentType(ct))
	}
	var res transfer.DirectoryResult
	switch {
	case !src.isS3():
		res, err = c.m.UploadDirectory(ctx, src.path, dst.bucket, dst.key, opts...)
	case dst.isS3():
		res, err = c.m.CopyDirectory(ctx, src.bucket, src.key, dst.bucket, dst.key, opts...)
	default:
		res, err = c.m.DownloadDirectory(ctx, src.bucket, src.key, dst.path, opts...)
	}
	if res.Objects == nil && err != nil {
		return 0, 0, err // nothing was started
	}
	return res.Failed, len(res.Objects) - res.Skipped, nil
}

// report prints the line of one object of a recursive copy.
func (c *copier) report(r transfer.ObjectResult) {
	from, to := "s3://"+r.SrcBucket+"/"+r.SrcKey, "s3://"+r.Bucket+"/"+r.Key
	verb := "copy"
	switch {
	case r.SrcBucket == "":
		from, verb = r.Path, "upload"
	case r.Path != "" || r.Skipped:
		to, verb = r.Path, "download"
	}
	switch {
	case r.Skipped:
		if !c.flags.quiet {
			c.rep.println(fmt.Sprintf("warning: skipping %s: %v", from, r.Err), true)
		}
	case r.Err != nil:
		// After an interruption every transfer fails alike; say so only
		// where something was left behind.
		var abortErr *transfer.AbortError
		if !errors.Is(r.Err, context.Canceled) || errors.As(r.Err, &abortErr) {
			c.rep.println(fmt.Sprintf("%s failed: %s to %s: %s", verb, from, to, reason(r.Err)), true)
		}
	case c.announce:
		c.rep.println(fmt.Sprintf("%s: %s to %s", verb, from, to), false)
	}
}

// download writes an object to stdout, to a device or named pipe in
// order, or to a file through a temporary file renamed into place once
// complete (so a failed download leaves no partial file under the
// destination's name).
func (c *copier) download(ctx context.Context, j *job) error {
	if j.dst.stdio() {
		_, err := c.m.DownloadStream(ctx, j.src.bucket, j.src.key, c.env.Stdout, c.progress).Result()
		return err
	}
	if fi, err := os.Stat(j.dst.path); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		// A device or a named pipe (/dev/null, a FIFO): write to it in
		// order, never rename over it.
		f, err := os.OpenFile(j.dst.path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = c.m.DownloadStream(ctx, j.src.bucket, j.src.key, f, c.progress).Result()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	_, err := c.m.DownloadFile(ctx, j.src.bucket, j.src.key, j.dst.path, c.progress).Result()
	return err
}
