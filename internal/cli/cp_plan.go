package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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
	size     int64 // -1 when unknown (standard input)
	// For copies: the source object's headers, once known.
	contentType string
	metadata    map[string]string
	headed      bool
}

func (j *job) verb() string {
	return [...]string{"upload", "download", "copy"}[j.kind]
}

// display names the job in a progress line.
func (j *job) display() string {
	if j.dst.isS3() {
		return j.dst.key
	}
	return j.dst.path
}

// plan lists the copies SRC to DST stands for. warn receives notes about
// objects that are skipped.
func plan(ctx context.Context, client *s3.Client, src, dst location, recursive bool, warn func(string)) ([]*job, error) {
	if recursive {
		if src.isS3() {
			return planFromPrefix(ctx, client, src, dst, warn)
		}
		return planFromDir(src, dst)
	}
	j := &job{src: src, dst: dst, size: -1}
	switch {
	case !src.isS3():
		j.kind = jobUpload
		if !src.stdio() {
			fi, err := os.Stat(src.path)
			if err != nil {
				return nil, err
			}
			if fi.Mode().IsRegular() {
				j.size = fi.Size()
			}
		}
		if dst.isPrefix() {
			j.dst = dst.withKey(dst.key + filepath.Base(src.path))
		}
	default:
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(src.bucket), Key: aws.String(src.key)})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		j.size = aws.ToInt64(head.ContentLength)
		j.contentType, j.metadata, j.headed = aws.ToString(head.ContentType), head.Metadata, true
		base := path.Base(src.key)
		switch {
		case dst.isS3():
			j.kind = jobCopy
			if dst.isPrefix() {
				j.dst = dst.withKey(dst.key + base)
			}
		default:
			j.kind = jobDownload
			if !dst.stdio() && (strings.HasSuffix(dst.path, string(filepath.Separator)) || strings.HasSuffix(dst.path, "/") || isDir(dst.path)) {
				j.dst.path = filepath.Join(dst.path, filepath.FromSlash(base))
			}
		}
	}
	return []*job{j}, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// dirPrefix returns key as a prefix: empty, or ending in "/".
func dirPrefix(key string) string {
	if key == "" || strings.HasSuffix(key, "/") {
		return key
	}
	return key + "/"
}

// planFromDir lists the regular files under a local directory (following
// symbolic links to files, not to directories) for upload under DST's
// prefix.
func planFromDir(src, dst location) ([]*job, error) {
	prefix := dirPrefix(dst.key)
	var jobs []*job
	err := filepath.WalkDir(src.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p) // follows a link
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(src.path, p)
		if err != nil {
			return err
		}
		jobs = append(jobs, &job{
			kind: jobUpload,
			src:  location{path: p},
			dst:  dst.withKey(prefix + filepath.ToSlash(rel)),
			size: fi.Size(),
		})
		return nil
	})
	return jobs, err
}

// planFromPrefix lists the objects under an S3 prefix for download into a
// local directory or copy under another prefix. "Directory" marker objects
// (keys ending in "/") are skipped, and so are keys that would land outside
// the local destination ("../x", absolute paths).
func planFromPrefix(ctx context.Context, client *s3.Client, src, dst location, warn func(string)) ([]*job, error) {
	prefix := dirPrefix(src.key)
	var jobs []*job
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(src.bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", src.withKey(prefix), err)
		}
		for _, obj := range page.Contents {
			key := aws.ToString(obj.Key)
			rel := strings.TrimPrefix(key, prefix)
			if rel == "" || strings.HasSuffix(key, "/") {
				continue
			}
			j := &job{src: src.withKey(key), size: aws.ToInt64(obj.Size)}
			if dst.isS3() {
				j.kind, j.dst = jobCopy, dst.withKey(dirPrefix(dst.key)+rel)
			} else {
				local, ok := safeLocalPath(rel)
				if !ok {
					warn(fmt.Sprintf("warning: skipping %s: its key does not map to a path inside %s", j.src, dst.path))
					continue
				}
				j.kind, j.dst = jobDownload, location{path: filepath.Join(dst.path, local)}
			}
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}

// safeLocalPath turns the part of a key below a prefix into a relative
// local path, refusing anything that would escape the destination.
func safeLocalPath(rel string) (string, bool) {
	if strings.Contains(rel, "\\") && filepath.Separator == '\\' {
		return "", false
	}
	local := filepath.FromSlash(rel)
	if !filepath.IsLocal(local) {
		return "", false
	}
	return filepath.Clean(local), true
}

// copier runs jobs.
type copier struct {
	env         *Env
	client      *s3.Client
	m           *transfer.Manager
	rep         *reporter
	contentType string // --content-type
}

func (c *copier) run(ctx context.Context, j *job) error {
	sub := transfer.WithSubscribers(c.rep)
	switch j.kind {
	case jobUpload:
		return c.upload(ctx, j, sub)
	case jobDownload:
		if j.dst.stdio() {
			_, err := c.m.DownloadStream(ctx, j.src.bucket, j.src.key, c.env.Stdout, sub).Result()
			return err
		}
		return c.downloadFile(ctx, j, sub)
	default:
		return c.relay(ctx, j, sub)
	}
}

func (c *copier) upload(ctx context.Context, j *job, sub transfer.Option) error {
	ct := c.contentType
	var body io.Reader = c.env.Stdin
	if !j.src.stdio() {
		f, err := os.Open(j.src.path)
		if err != nil {
			return err
		}
		defer f.Close()
		body = f
		if ct == "" {
			ct = mime.TypeByExtension(filepath.Ext(j.src.path))
		}
	}
	_, err := c.m.Upload(ctx, body, j.dst.bucket, j.dst.key, sub, transfer.WithContentType(ct)).Result()
	return err
}

// downloadFile downloads into a temporary file next to the destination and
// renames it into place once complete, so a failed or interrupted download
// leaves no partial file under the destination's name.
func (c *copier) downloadFile(ctx context.Context, j *job, sub transfer.Option) error {
	if fi, err := os.Stat(j.dst.path); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		// A device or a named pipe (/dev/null, a FIFO): write to it in
		// order, never rename over it.
		f, err := os.OpenFile(j.dst.path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = c.m.DownloadStream(ctx, j.src.bucket, j.src.key, f, sub).Result()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	dir := filepath.Dir(j.dst.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(j.dst.path)+".*.s3limit-part")
	if err != nil {
		return err
	}
	_, err = c.m.Download(ctx, j.src.bucket, j.src.key, tmp, sub).Result()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.Chmod(tmp.Name(), 0o644); err == nil {
			err = os.Rename(tmp.Name(), j.dst.path)
		}
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// relay copies an object to another location by streaming it through
// this machine: a download into a pipe feeds an upload of known size.
// Progress counts the bytes stored at the destination.
func (c *copier) relay(ctx context.Context, j *job, sub transfer.Option) error {
	if !j.headed {
		head, err := c.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(j.src.bucket), Key: aws.String(j.src.key)})
		if err != nil {
			return err
		}
		j.size = aws.ToInt64(head.ContentLength)
		j.contentType, j.metadata = aws.ToString(head.ContentType), head.Metadata
	}
	ct := c.contentType
	if ct == "" {
		ct = j.contentType
	}
	pr, pw := io.Pipe()
	down := c.m.DownloadStream(ctx, j.src.bucket, j.src.key, pw)
	go func() {
		_, err := down.Result()
		pw.CloseWithError(err) // nil: end of file
	}()
	_, uerr := c.m.Upload(ctx, pr, j.dst.bucket, j.dst.key,
		sub, transfer.WithSize(j.size), transfer.WithContentType(ct), transfer.WithMetadata(j.metadata)).Result()
	pr.CloseWithError(errors.New("the upload side of the copy stopped"))
	if _, derr := down.Result(); derr != nil {
		return derr
	}
	return uerr
}
