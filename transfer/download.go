package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Download downloads s3://bucket/key into w and returns at once; the
// Future reports the outcome. The object's size and ETag are read first
// (HeadObject); objects smaller than MultipartThreshold are fetched with
// one GET, larger ones with parallel ranged GETs of MultipartChunkSize
// bytes, each written to w at its offset as it arrives (nothing is
// buffered). Every GET carries If-Match with the ETag, so an object
// replaced during the download fails it rather than mixing versions.
//
// A GET whose body breaks off is resumed from the last byte received, up
// to MaxAttempts times. w may be written concurrently at distinct
// offsets (an *os.File is fine); it is not truncated, so a destination
// file should be created empty. Use DownloadStream for a destination
// that is not an io.WriterAt.
func (m *Manager) Download(ctx context.Context, bucket, key string, w io.WriterAt, opts ...Option) *Future {
	o := collect(opts)
	return m.start(ctx, KindDownload, bucket, key, o, func(ctx context.Context, f *Future) (Result, error) {
		if w == nil {
			return Result{}, errors.New("nil io.WriterAt")
		}
		d := &downloader{m: m, f: f, o: &o}
		return d.run(ctx, func(p []byte, at int64) error {
			n, err := w.WriteAt(p, at)
			if err == nil && n < len(p) {
				err = io.ErrShortWrite
			}
			return err
		}, nil)
	})
}

// DownloadStream is Download into a sequential writer such as a pipe or
// stdout. Ranged parts still arrive in parallel; they are held in memory
// until w has taken the parts before them, at most MaxConcurrency parts
// of MultipartChunkSize bytes for this transfer (an object below the
// threshold is held whole). No request is in flight while w blocks, so w
// may be a pipe read by an Upload of the same manager.
func (m *Manager) DownloadStream(ctx context.Context, bucket, key string, w io.Writer, opts ...Option) *Future {
	o := collect(opts)
	return m.start(ctx, KindDownload, bucket, key, o, func(ctx context.Context, f *Future) (Result, error) {
		if w == nil {
			return Result{}, errors.New("nil io.Writer")
		}
		d := &downloader{m: m, f: f, o: &o}
		return d.run(ctx, func(p []byte, _ int64) error {
			_, err := w.Write(p)
			return err
		}, w)
	})
}

// downloader is one download in progress.
type downloader struct {
	m    *Manager
	f    *Future
	o    *options
	etag string
	// base is the object offset of the first byte downloaded (WithRange);
	// offsets elsewhere are relative to it.
	base int64
	// partial is set when only a range of the object is downloaded.
	partial bool
}

// run downloads the object: write receives the bytes of the object at
// their offsets (sequentially for a single GET); stream, when not nil, is
// the sequential destination for ranged parts.
func (d *downloader) run(ctx context.Context, write func(p []byte, at int64) error, stream io.Writer) (Result, error) {
	m := d.m
	var size int64
	var version string
	err := m.call(ctx, "HeadObject", m.cfg.MaxAttempts, func(actx context.Context) error {
		in := &s3.HeadObjectInput{}
		d.o.headObject(in, false)
		shape(d.o, in, func(in *s3.HeadObjectInput) {
			in.Bucket, in.Key = aws.String(d.f.bucket), aws.String(d.f.key)
		})
		out, err := m.client.HeadObject(actx, in, m.requestOptions(nil, nil))
		if err != nil {
			return err
		}
		size = aws.ToInt64(out.ContentLength)
		d.etag = aws.ToString(out.ETag)
		version = aws.ToString(out.VersionId)
		return nil
	})
	if err != nil {
		return Result{}, asNotFound(err, d.f.bucket, d.f.key, d.o.version)
	}
	if r := d.o.rng; r != nil {
		if r.off >= size {
			return Result{}, fmt.Errorf("WithRange(%d, %d): the object has only %d bytes", r.off, r.n, size)
		}
		d.base, d.partial = r.off, true
		size -= r.off
		if r.n >= 0 {
			size = min(size, r.n)
		}
	}
	d.f.setSize(size)
	res := Result{Size: size, ETag: d.etag, VersionID: version}
	if size < m.cfg.MultipartThreshold {
		if stream == nil || size == 0 {
			return res, d.get(ctx, 0, size, false, write)
		}
		// Fetch into memory first, so the request's place in the window
		// is not held while a slow or blocked writer (a pipe feeding an
		// upload of the same manager) takes the bytes.
		buf := m.bufs.alloc(size)
		defer m.bufs.free(buf)
		err := d.get(ctx, 0, size, false, func(p []byte, at int64) error {
			copy((*buf)[at:], p)
			return nil
		})
		if err == nil {
			if err = write(*buf, 0); err != nil {
				err = fmt.Errorf("writing: %w", err)
			}
		}
		return res, err
	}
	res.Parts = numParts(size, m.cfg.MultipartChunkSize)
	if stream != nil {
		return res, d.ordered(ctx, size, stream)
	}
	return res, d.ranged(ctx, size, write)
}

// ranged fetches the object in parallel parts written straight to write.
func (d *downloader) ranged(ctx context.Context, size int64, write func([]byte, int64) error) error {
	return d.parallel(ctx, size, nil, func(ctx context.Context, _ int, off, n int64) error {
		return d.get(ctx, off, n, true, write)
	})
}

// parallel runs fetch for each part of the object (index i, n bytes at
// off), at most MaxConcurrency at once, started in order of offset.
// before, if not nil, is called in order before each part starts and may
// wait. The first failure cancels the rest and is returned.
func (d *downloader) parallel(ctx context.Context, size int64,
	before func(ctx context.Context) error,
	fetch func(ctx context.Context, i int, off, n int64) error) error {
	part := d.m.cfg.MultipartChunkSize
	gctx, gcancel := context.WithCancelCause(ctx)
	defer gcancel(nil)
	var (
		wg       sync.WaitGroup
		slots    = make(chan struct{}, d.m.cfg.MaxConcurrency)
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err })
		gcancel(err)
	}
	for i, off := 0, int64(0); off < size; i, off = i+1, off+part {
		if before != nil {
			if err := before(gctx); err != nil {
				fail(err)
				break
			}
		}
		select {
		case slots <- struct{}{}:
		case <-gctx.Done():
		}
		if gctx.Err() != nil {
			fail(context.Cause(gctx))
			break
		}
		n := min(part, size-off)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := fetch(gctx, i, off, n); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// get fetches n bytes at off and hands them to write, resuming after a
// broken body. ranged asks for a byte range even for the whole object.
func (d *downloader) get(ctx context.Context, off, n int64, ranged bool, write func([]byte, int64) error) error {
	if n == 0 {
		return nil
	}
	m := d.m
	cur, end := off, off+n
	op := "GetObject"
	if ranged || d.partial {
		op = fmt.Sprintf("GetObject bytes=%d-%d", d.base+off, d.base+end-1)
	}
	bufp := m.copyBuf()
	defer m.putCopyBuf(bufp)
	buf := *bufp
	return m.call(ctx, op, m.cfg.MaxAttempts, func(actx context.Context) error {
		in := &s3.GetObjectInput{}
		d.o.getObject(in)
		shape(d.o, in, func(in *s3.GetObjectInput) {
			in.Bucket, in.Key, in.IfMatch = aws.String(d.f.bucket), aws.String(d.f.key), optString(d.etag)
			in.Range = nil
			if ranged || cur > off || d.partial {
				in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", d.base+cur, d.base+end-1))
			}
		})
		out, err := m.client.GetObject(actx, in, m.requestOptions(nil, m.pace))
		if err != nil {
			return err
		}
		defer out.Body.Close()
		if cl := out.ContentLength; cl != nil && *cl != end-cur {
			return &fatalError{fmt.Errorf("asked for %d bytes at offset %d, the server sent %d", end-cur, d.base+cur, *cl)}
		}
		for cur < end {
			k, rerr := out.Body.Read(buf[:min(int64(len(buf)), end-cur)])
			if k > 0 {
				if werr := write(buf[:k], cur); werr != nil {
					return &fatalError{fmt.Errorf("writing: %w", werr)}
				}
				cur += int64(k)
				d.f.progress(int64(k))
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return rerr
			}
		}
		if cur < end {
			return errShortBody
		}
		return nil
	})
}

// copyBuf returns a buffer for moving a response body to its writer.
func (m *Manager) copyBuf() *[]byte {
	if b, ok := m.copyBufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 64<<10)
	return &b
}

func (m *Manager) putCopyBuf(b *[]byte) { m.copyBufs.Put(b) }
