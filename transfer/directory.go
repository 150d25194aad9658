package transfer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ObjectResult is the outcome for one object of a directory transfer.
type ObjectResult struct {
	// Path is the local file: the source of an upload, the destination
	// of a download; "" for a copy.
	Path string
	// SrcBucket and SrcKey name the source of a copy or download; Bucket
	// and Key the destination of an upload or copy (for a download, the
	// object downloaded, as in SrcBucket and SrcKey).
	SrcBucket, SrcKey string
	Bucket, Key       string
	// Size is the size in bytes the listing gave.
	Size int64
	// Result is the transfer's result when Err is nil.
	Result Result
	// Err is why the object failed (wrapping context.Canceled if the
	// directory transfer was cancelled before it started), nil on success.
	Err error
	// Skipped is set for an object listed but not transferred because its
	// key maps to no path inside the destination directory ("../x", an
	// absolute path). Err then says why; it does not count as a failure.
	Skipped bool
}

// DirectoryResult is the outcome of a directory transfer.
type DirectoryResult struct {
	// Objects has one entry per object selected by the filters, in
	// listing order (file tree order for an upload, key order otherwise).
	Objects []ObjectResult
	// Bytes is the sum of the sizes of the objects transferred.
	Bytes int64
	// Failed and Skipped count the entries with Err set, apart and
	// together with Skipped.
	Failed, Skipped int
}

// WithEachObject calls fn with the outcome of each object of a directory
// transfer as soon as it is known, in the order objects finish. Calls
// are never concurrent. Directory transfers only.
func WithEachObject(fn func(ObjectResult)) Option {
	return func(o *options) { o.each = fn }
}

// dirItem is one object of a directory transfer, planned.
type dirItem struct {
	res ObjectResult
	run func(ctx context.Context, o []Option) (Result, error)
}

// UploadDirectory uploads every regular file under the local directory
// dir (following symbolic links to files, not to directories) to
// s3://bucket/prefix<path below dir>, with "/" between path names; a
// non-empty prefix that does not end in "/" gets one. WithInclude and
// WithExclude choose the files; the other options apply to each upload,
// and WithProgress and WithEachObject report on the whole. Without
// WithContentType, each object's Content-Type is guessed from its file
// name extension.
//
// The files are uploaded several at a time (at most 2·MaxConcurrency
// files open at once); the manager's request window and bandwidth budget
// are shared by all of them. UploadDirectory returns when every upload
// has finished. Its error is nil when every selected file was uploaded;
// otherwise it says how many failed and wraps the first failure, and the
// result lists each file's outcome. A directory that cannot be read fails
// before anything is uploaded.
func (m *Manager) UploadDirectory(ctx context.Context, dir, bucket, prefix string, opts ...Option) (DirectoryResult, error) {
	o := collect(opts)
	where := fmt.Sprintf("upload directory %s to s3://%s/%s", dir, bucket, prefix)
	if err := dirOptionsErr(&o); err != nil {
		return DirectoryResult{}, fmt.Errorf("transfer: %s: %w", where, err)
	}
	items, err := walkDir(dir, bucket, dirPrefix(prefix), o.filters)
	if err != nil {
		return DirectoryResult{}, fmt.Errorf("transfer: %s: %w", where, err)
	}
	for i := range items {
		it := &items[i]
		path, key := it.res.Path, it.res.Key
		it.run = func(ctx context.Context, opts []Option) (Result, error) {
			return m.UploadFile(ctx, path, bucket, key, opts...).Result()
		}
	}
	return m.runDirectory(ctx, where, items, opts, o)
}

// DownloadDirectory downloads every object under s3://bucket/prefix into
// the local directory dir, at dir/<key below the prefix>, creating
// directories as needed; a non-empty prefix that does not end in "/" gets
// one. Keys ending in "/" (folder markers) are left out, and so are keys
// that would land outside dir ("../x", absolute paths): those are listed
// as Skipped. WithInclude and WithExclude choose the objects by the key
// below the prefix; the other options apply to each download, and
// WithProgress and WithEachObject report on the whole.
//
// Each object is written to a temporary file next to its destination and
// renamed into place once complete, so a failed or cancelled download
// leaves no partial file under the object's name; an existing file of
// that name is replaced. Errors and concurrency are as for
// UploadDirectory. A listing that fails fails the whole call before
// anything is downloaded.
func (m *Manager) DownloadDirectory(ctx context.Context, bucket, prefix, dir string, opts ...Option) (DirectoryResult, error) {
	o := collect(opts)
	where := fmt.Sprintf("download directory s3://%s/%s to %s", bucket, prefix, dir)
	if err := dirOptionsErr(&o); err != nil {
		return DirectoryResult{}, fmt.Errorf("transfer: %s: %w", where, err)
	}
	items, err := m.list(ctx, bucket, dirPrefix(prefix), &o, func(key, rel string, size int64) dirItem {
		res := ObjectResult{SrcBucket: bucket, SrcKey: key, Bucket: bucket, Key: key, Size: size}
		local, ok := localPath(rel)
		if !ok {
			res.Skipped = true
			res.Err = fmt.Errorf("the key does not map to a path inside %s", dir)
			return dirItem{res: res}
		}
		res.Path = filepath.Join(dir, local)
		path := res.Path
		return dirItem{res: res, run: func(ctx context.Context, opts []Option) (Result, error) {
			return m.DownloadFile(ctx, bucket, key, path, opts...).Result()
		}}
	})
	if err != nil {
		return DirectoryResult{}, fmt.Errorf("transfer: %s: %w", where, err)
	}
	return m.runDirectory(ctx, where, items, opts, o)
}

// CopyDirectory copies every object under s3://srcBucket/srcPrefix to
// s3://dstBucket/dstPrefix<key below srcPrefix> on the server (see Copy);
// non-empty prefixes that do not end in "/" get one. Folder markers (keys
// ending in "/") are left out. Filters, options, errors and concurrency
// are as for DownloadDirectory.
func (m *Manager) CopyDirectory(ctx context.Context, srcBucket, srcPrefix, dstBucket, dstPrefix string, opts ...Option) (DirectoryResult, error) {
	o := collect(opts)
	where := fmt.Sprintf("copy directory s3://%s/%s to s3://%s/%s", srcBucket, srcPrefix, dstBucket, dstPrefix)
	if err := dirOptionsErr(&o); err != nil {
		return DirectoryResult{}, fmt.Errorf("transfer: %s: %w", where, err)
	}
	dst := dirPrefix(dstPrefix)
	items, err := m.list(ctx, srcBucket, dirPrefix(srcPrefix), &o, func(key, rel string, size int64) dirItem {
		res := ObjectResult{SrcBucket: srcBucket, SrcKey: key, Bucket: dstBucket, Key: dst + rel, Size: size}
		return dirItem{res: res, run: func(ctx context.Context, opts []Option) (Result, error) {
			return m.Copy(ctx, srcBucket, key, dstBucket, res.Key, opts...).Result()
		}}
	})
	if err != nil {
		return DirectoryResult{}, fmt.Errorf("transfer: %s: %w", where, err)
	}
	return m.runDirectory(ctx, where, items, opts, o)
}

// dirOptionsErr rejects options that name one object.
func dirOptionsErr(o *options) error {
	switch {
	case o.err != nil:
		return o.err
	case o.rng != nil:
		return errors.New("WithRange does not apply to a directory transfer")
	case o.version != "":
		return errors.New("WithVersionID does not apply to a directory transfer")
	case o.size >= 0:
		return errors.New("WithSize does not apply to a directory transfer")
	}
	return nil
}

// dirPrefix returns p as a key prefix: empty, or ending in "/".
func dirPrefix(p string) string {
	if p == "" || strings.HasSuffix(p, "/") {
		return p
	}
	return p + "/"
}

// walkDir lists the regular files under dir that the filters keep.
func walkDir(dir, bucket, prefix string, filters []filter) ([]dirItem, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	var items []dirItem
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p) // follows a link
		if err != nil || !fi.Mode().IsRegular() {
			return nil // a dangling link, a socket, a link to a directory
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !selected(filters, rel) {
			return nil
		}
		items = append(items, dirItem{res: ObjectResult{Path: p, Bucket: bucket, Key: prefix + rel, Size: fi.Size()}})
		return nil
	})
	return items, err
}

// list lists the objects under prefix that the filters keep, and plans
// each with item (given the key, the key below the prefix and the size).
func (m *Manager) list(ctx context.Context, bucket, prefix string, o *options,
	item func(key, rel string, size int64) dirItem) ([]dirItem, error) {
	var items []dirItem
	var token *string
	for {
		var out *s3.ListObjectsV2Output
		err := m.call(ctx, "ListObjectsV2", m.cfg.MaxAttempts, func(actx context.Context) error {
			in := &s3.ListObjectsV2Input{
				Bucket:              aws.String(bucket),
				Prefix:              optString(prefix),
				ContinuationToken:   token,
				ExpectedBucketOwner: optString(o.owner),
			}
			var err error
			out, err = m.client.ListObjectsV2(actx, in, m.requestOptions(nil, nil))
			return err
		})
		if err != nil {
			return nil, asNotFound(err, bucket, prefix, "")
		}
		for _, obj := range out.Contents {
			key := aws.ToString(obj.Key)
			rel := strings.TrimPrefix(key, prefix)
			if rel == "" || strings.HasSuffix(key, "/") || !selected(o.filters, rel) {
				continue
			}
			items = append(items, item(key, rel, aws.ToInt64(obj.Size)))
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return items, nil
		}
		token = out.NextContinuationToken
	}
}

// localPath turns the part of a key below a prefix into a relative local
// path, refusing anything that would escape the destination.
func localPath(rel string) (string, bool) {
	if filepath.Separator == '\\' && strings.Contains(rel, "\\") {
		return "", false
	}
	local := filepath.FromSlash(rel)
	if !filepath.IsLocal(local) {
		return "", false
	}
	return filepath.Clean(local), true
}

// runDirectory runs the planned items, a bounded number at a time, and
// gathers their results. opts are the caller's options; o the collected
// form.
func (m *Manager) runDirectory(ctx context.Context, where string, items []dirItem, opts []Option, o options) (DirectoryResult, error) {
	var total int64
	n := 0
	for _, it := range items {
		if !it.res.Skipped {
			total += it.res.Size
			n++
		}
	}
	group := newFixedTally(n, total)
	var pw *progressWatch
	if o.progressFn != nil {
		pw = m.watch(group, o.progressEvery, o.progressFn)
	}
	// Each object's options: the caller's, then ones that count it in the
	// group instead of reporting progress of its own.
	per := append(append([]Option(nil), opts...), func(o *options) {
		o.progressFn, o.each, o.filters = nil, nil, nil
		o.group = group
	})

	var (
		mu      sync.Mutex // guards res and serialises each
		res     = DirectoryResult{Objects: make([]ObjectResult, len(items))}
		first   error
		wg      sync.WaitGroup
		open    = make(chan struct{}, max(2*m.cfg.MaxConcurrency, 4))
		stopped = false
	)
	record := func(i int, r ObjectResult) {
		mu.Lock()
		defer mu.Unlock()
		res.Objects[i] = r
		switch {
		case r.Skipped:
			res.Skipped++
		case r.Err != nil:
			res.Failed++
			if first == nil {
				first = r.Err
			}
		default:
			res.Bytes += r.Result.Size
		}
		if !r.Skipped {
			group.finished(r.Err, true)
		}
		if o.each != nil {
			o.each(r)
		}
	}
	for i, it := range items {
		if it.run == nil {
			record(i, it.res)
			continue
		}
		if !stopped {
			select {
			case open <- struct{}{}:
			case <-ctx.Done():
			}
			stopped = ctx.Err() != nil
		}
		if stopped {
			// Not started: counted as cancelled, without a request.
			r := it.res
			r.Err = fmt.Errorf("not started: %w", context.Cause(ctx))
			record(i, r)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-open }()
			r := it.res
			r.Result, r.Err = it.run(ctx, per)
			record(i, r)
		}()
	}
	wg.Wait()
	if pw != nil {
		pw.stop()
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("transfer: %s: %d of %d objects failed; the first: %w", where, res.Failed, len(items)-res.Skipped, first)
	}
	return res, nil
}
