package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Upload uploads body to s3://bucket/key and returns at once; the Future
// reports the outcome. Objects smaller than MultipartThreshold are sent
// with one PutObject; larger ones with a multipart upload whose parts are
// sent in parallel.
//
// If body is a regular *os.File, or an io.ReaderAt whose size is known
// (it has a Size() int64 method, like *bytes.Reader, *strings.Reader and
// *io.SectionReader, or it is an io.Seeker), parts are read straight from
// it with ReadAt, starting at its current offset, and nothing is
// buffered; its offset is not moved. Any other reader (a pipe, stdin, a
// network stream) is read sequentially into part buffers, at most
// MaxConcurrency of them across the manager; pass WithSize if the length
// is known. The caller must not use body until the Future is done.
//
// A failed or cancelled multipart upload is aborted, so no parts are left
// behind on the server.
func (m *Manager) Upload(ctx context.Context, body io.Reader, bucket, key string, opts ...Option) *Future {
	o := collect(opts)
	return m.start(ctx, KindUpload, bucket, key, o, func(ctx context.Context, f *Future) (Result, error) {
		return m.upload(ctx, f, body, o)
	})
}

func (m *Manager) upload(ctx context.Context, f *Future, body io.Reader, o options) (Result, error) {
	if body == nil {
		return Result{}, errors.New("nil body")
	}
	if o.size < -1 {
		return Result{}, fmt.Errorf("WithSize(%d): size is negative", o.size)
	}
	ra, base, size, err := sourceSize(body, o.size)
	if err != nil {
		return Result{}, err
	}
	if size > MaxObjectSize {
		return Result{}, fmt.Errorf("%d bytes is more than the S3 maximum object size of 5 TiB", size)
	}
	if size >= 0 {
		f.setSize(size)
	}
	u := &uploader{m: m, f: f, o: o, part: partSize(m.cfg.MultipartChunkSize, size)}
	if ra != nil {
		if size < m.cfg.MultipartThreshold {
			return u.put(ctx, newPartReader(ra, base, size), size)
		}
		return u.multipart(ctx, func(ctx context.Context, submit submitFunc) (int64, error) {
			return submitSections(ctx, submit, ra, base, size, u.part)
		})
	}
	if size >= 0 {
		body = &exactReader{r: body, left: size, want: size}
	}
	return u.stream(ctx, body)
}

// sourceSize finds whether body can be read with ReadAt and how long it
// is. It returns ra == nil for a sequential stream, with size = declared
// (-1 when unknown).
func sourceSize(body io.Reader, declared int64) (ra io.ReaderAt, base, size int64, err error) {
	check := func(size int64) error {
		if declared >= 0 && declared != size {
			return fmt.Errorf("WithSize(%d) but the body has %d bytes", declared, size)
		}
		return nil
	}
	if f, ok := body.(*os.File); ok {
		fi, err := f.Stat()
		if err != nil {
			return nil, 0, 0, fmt.Errorf("reading body: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, 0, declared, nil
		}
		pos, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, 0, declared, nil
		}
		size := max(fi.Size()-pos, 0)
		return f, pos, size, check(size)
	}
	r, ok := body.(io.ReaderAt)
	if !ok {
		return nil, 0, declared, nil
	}
	var pos int64
	seeker, isSeeker := body.(io.Seeker)
	if isSeeker {
		if pos, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			return nil, 0, declared, nil
		}
	}
	if sz, ok := body.(interface{ Size() int64 }); ok {
		size := max(sz.Size()-pos, 0)
		return r, pos, size, check(size)
	}
	if isSeeker {
		end, err := seeker.Seek(0, io.SeekEnd)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("reading body size: %w", err)
		}
		if _, err := seeker.Seek(pos, io.SeekStart); err != nil {
			return nil, 0, 0, fmt.Errorf("reading body size: %w", err)
		}
		size := max(end-pos, 0)
		return r, pos, size, check(size)
	}
	return nil, 0, declared, nil
}

// uploader is one upload or multipart copy in progress.
type uploader struct {
	m    *Manager
	f    *Future
	o    options
	part int64       // part size in bytes
	src  *copySource // the source of a copy; nil for an upload
}

// put sends the whole object with one PutObject.
func (u *uploader) put(ctx context.Context, src *partReader, size int64) (Result, error) {
	m := u.m
	var out *s3.PutObjectOutput
	err := m.call(ctx, "PutObject", m.cfg.MaxAttempts, func(actx context.Context) error {
		if _, err := src.Seek(0, io.SeekStart); err != nil {
			return &fatalError{err}
		}
		mt := newMeter(u.f)
		in := &s3.PutObjectInput{}
		u.o.putObject(in)
		shape(&u.o, in, func(in *s3.PutObjectInput) {
			in.Bucket, in.Key = aws.String(u.f.bucket), aws.String(u.f.key)
			in.Body, in.ContentLength = src, aws.Int64(size)
		})
		var err error
		out, err = m.client.PutObject(actx, in, m.requestOptions(u.meterUp(mt), nil))
		return endUpload(mt, src, err)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Size: size, ETag: aws.ToString(out.ETag), VersionID: aws.ToString(out.VersionId)}, nil
}

// meterUp returns the request-body wrapper of one attempt: paced, then
// counted.
func (u *uploader) meterUp(mt *meter) func(context.Context, io.ReadCloser) io.ReadCloser {
	return func(ctx context.Context, body io.ReadCloser) io.ReadCloser {
		return mt.wrap(u.m.pace(ctx, body))
	}
}

// stream uploads a sequential reader: it reads the first
// MultipartThreshold bytes (rounded up to whole parts); a shorter body is
// sent with PutObject, a longer one as a multipart upload whose parts are
// read into pooled buffers while earlier parts are in flight.
func (u *uploader) stream(ctx context.Context, body io.Reader) (Result, error) {
	m := u.m
	threshold := m.cfg.MultipartThreshold
	var first []byte
	release := func() {}
	if threshold <= u.part {
		b, err := m.bufs.get(ctx, u.part)
		if err != nil {
			return Result{}, err
		}
		first = *b
		var once sync.Once
		release = func() { once.Do(func() { m.bufs.put(b) }) }
	} else {
		first = make([]byte, (threshold+u.part-1)/u.part*u.part)
	}
	defer release()

	n, err := io.ReadFull(body, first)
	eof := false
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		eof = true
	case err != nil:
		return Result{}, fmt.Errorf("reading body: %w", err)
	}
	if eof && int64(n) < threshold {
		u.f.setSize(int64(n))
		return u.put(ctx, newPartReader(bytes.NewReader(first[:n]), 0, int64(n)), int64(n))
	}
	head := first[:n]
	return u.multipart(ctx, func(ctx context.Context, submit submitFunc) (int64, error) {
		var total int64
		num := int32(0)
		for len(head) > 0 {
			k := min(int64(len(head)), u.part)
			num++
			var done func()
			if k == int64(len(head)) {
				done = release // the last part cut from the first buffer
			}
			submit(num, newPartReader(bytes.NewReader(head[:k]), 0, k), k, done)
			total += k
			head = head[k:]
		}
		if eof {
			if total == int64(n) && u.f.Size() < 0 {
				u.f.setSize(total)
			}
			return total, nil
		}
		for {
			buf, err := m.bufs.get(ctx, u.part)
			if err != nil {
				return total, err
			}
			k, err := io.ReadFull(body, *buf)
			if k > 0 {
				if num >= MaxParts {
					m.bufs.put(buf)
					return total, fmt.Errorf("the body needs more than %d parts of %d bytes; raise MultipartChunkSize or pass WithSize", MaxParts, u.part)
				}
				num++
				submit(num, newPartReader(bytes.NewReader((*buf)[:k]), 0, int64(k)), int64(k), func() { m.bufs.put(buf) })
				total += int64(k)
			} else {
				m.bufs.put(buf)
			}
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				if u.f.Size() < 0 {
					u.f.setSize(total)
				}
				return total, nil
			case err != nil:
				return total, fmt.Errorf("reading body: %w", err)
			}
		}
	})
}

// submitSections submits the parts of a ReaderAt source.
func submitSections(ctx context.Context, submit submitFunc, ra io.ReaderAt, base, size, part int64) (int64, error) {
	num := int32(0)
	for off := int64(0); off < size; off += part {
		if ctx.Err() != nil {
			return off, context.Cause(ctx)
		}
		k := min(part, size-off)
		num++
		submit(num, newPartReader(ra, base+off, k), k, nil)
	}
	return size, nil
}

// exactReader passes through a body declared (WithSize) to hold want
// bytes, and fails if it holds fewer or more.
type exactReader struct {
	r          io.Reader
	left, want int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		var one [1]byte
		n, err := io.ReadFull(e.r, one[:])
		if n > 0 {
			return 0, fmt.Errorf("body is longer than the declared size of %d bytes", e.want)
		}
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, fmt.Errorf("body ended after %d of the declared %d bytes", e.want-e.left, e.want)
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}
