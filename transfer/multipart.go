package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// abortTimeout bounds the clean-up of a failed multipart upload. The abort
// runs on a fresh context: the transfer's own may be what was cancelled.
const abortTimeout = 30 * time.Second

// AbortError reports a multipart upload that failed and then could not be
// aborted: its parts may remain on the server (and be billed) until they
// are aborted or a lifecycle rule removes them. It is joined to the
// error that made the upload fail.
type AbortError struct {
	Bucket, Key, UploadID string
	Err                   error
}

func (e *AbortError) Error() string {
	return fmt.Sprintf("transfer: aborting multipart upload %s of s3://%s/%s failed (its parts may remain on the server): %v",
		e.UploadID, e.Bucket, e.Key, e.Err)
}

func (e *AbortError) Unwrap() error { return e.Err }

// submitFunc starts the upload of part num (1-based) from body (nil for
// a copy), size bytes long. It may wait for a free part slot; done, if not nil, is
// called once the part has finished (or was never started).
type submitFunc func(num int32, body *partReader, size int64, done func())

// multipart runs a multipart upload. feed submits the parts in order and
// returns the total size; it gets a context that ends when any part fails.
// On any failure, and when ctx is cancelled, the upload is aborted.
func (u *uploader) multipart(ctx context.Context, feed func(ctx context.Context, submit submitFunc) (int64, error)) (Result, error) {
	m := u.m
	var uploadID string
	err := m.call(ctx, "CreateMultipartUpload", m.cfg.MaxAttempts, func(actx context.Context) error {
		in := &s3.CreateMultipartUploadInput{}
		u.o.createMultipartUpload(in)
		if u.src != nil {
			in.ContentLanguage, in.Expires = u.src.contentLanguage, u.src.expires
		}
		shape(&u.o, in, func(in *s3.CreateMultipartUploadInput) {
			in.Bucket, in.Key = aws.String(u.f.bucket), aws.String(u.f.key)
		})
		out, err := m.client.CreateMultipartUpload(actx, in, m.requestOptions(nil, nil))
		if err == nil {
			uploadID = aws.ToString(out.UploadId)
		}
		return err
	})
	if err != nil {
		return Result{}, err
	}

	gctx, gcancel := context.WithCancelCause(ctx)
	defer gcancel(nil)
	var (
		wg       sync.WaitGroup
		slots    = make(chan struct{}, m.cfg.MaxConcurrency)
		mu       sync.Mutex // guards parts and firstErr
		parts    []types.CompletedPart
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		gcancel(err)
	}
	submit := func(num int32, body *partReader, size int64, done func()) {
		select {
		case slots <- struct{}{}:
		case <-gctx.Done():
			if done != nil {
				done()
			}
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if done != nil {
				defer done()
			}
			var part types.CompletedPart
			var err error
			if u.src != nil {
				part, err = u.copyPart(gctx, uploadID, num, size)
			} else {
				part, err = u.uploadPart(gctx, uploadID, num, body, size)
			}
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			parts = append(parts, part)
			mu.Unlock()
		}()
	}
	total, ferr := feed(gctx, submit)
	wg.Wait()
	if ferr != nil {
		fail(ferr)
	}
	mu.Lock()
	err = firstErr
	mu.Unlock()

	var res Result
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err == nil {
		res, err = u.complete(ctx, uploadID, parts, total)
	}
	if err != nil {
		if aerr := u.abort(ctx, uploadID); aerr != nil {
			err = errors.Join(err, &AbortError{Bucket: u.f.bucket, Key: u.f.key, UploadID: uploadID, Err: aerr})
		}
		return Result{}, err
	}
	return res, nil
}

// uploadPart sends one part and returns it as CompleteMultipartUpload
// lists it.
func (u *uploader) uploadPart(ctx context.Context, uploadID string, num int32, src *partReader, size int64) (types.CompletedPart, error) {
	m := u.m
	var part types.CompletedPart
	err := m.call(ctx, fmt.Sprintf("UploadPart %d", num), m.cfg.MaxAttempts, func(actx context.Context) error {
		if _, err := src.Seek(0, io.SeekStart); err != nil {
			return &fatalError{err}
		}
		mt := newMeter(u.f)
		in := &s3.UploadPartInput{}
		u.o.uploadPart(in)
		shape(&u.o, in, func(in *s3.UploadPartInput) {
			in.Bucket, in.Key = aws.String(u.f.bucket), aws.String(u.f.key)
			in.UploadId, in.PartNumber = aws.String(uploadID), aws.Int32(num)
			in.Body, in.ContentLength = src, aws.Int64(size)
		})
		out, err := m.client.UploadPart(actx, in, m.requestOptions(u.meterUp(mt), nil))
		if err = endUpload(mt, src, err); err == nil {
			part = completedPart(num, aws.ToString(out.ETag), checksums{
				out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256})
		}
		return err
	})
	return part, err
}

// complete finishes the upload with its parts in order.
func (u *uploader) complete(ctx context.Context, uploadID string, parts []types.CompletedPart, total int64) (Result, error) {
	m := u.m
	slices.SortFunc(parts, func(a, b types.CompletedPart) int {
		return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber))
	})
	var out *s3.CompleteMultipartUploadOutput
	err := m.call(ctx, "CompleteMultipartUpload", m.cfg.MaxAttempts, func(actx context.Context) error {
		var err error
		in := &s3.CompleteMultipartUploadInput{}
		u.o.completeMultipartUpload(in)
		shape(&u.o, in, func(in *s3.CompleteMultipartUploadInput) {
			in.Bucket, in.Key, in.UploadId = aws.String(u.f.bucket), aws.String(u.f.key), aws.String(uploadID)
			in.MultipartUpload = &types.CompletedMultipartUpload{Parts: parts}
		})
		out, err = m.client.CompleteMultipartUpload(actx, in, m.requestOptions(nil, nil))
		return err
	})
	if err != nil {
		return Result{}, err
	}
	return Result{
		Size:      total,
		ETag:      aws.ToString(out.ETag),
		VersionID: aws.ToString(out.VersionId),
		Parts:     len(parts),
	}, nil
}

// abort removes the upload and its parts from the server. An upload the
// server no longer knows counts as removed.
func (u *uploader) abort(ctx context.Context, uploadID string) error {
	m := u.m
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	return m.call(actx, "AbortMultipartUpload", m.cfg.MaxAttempts, func(actx context.Context) error {
		in := &s3.AbortMultipartUploadInput{}
		u.o.abortMultipartUpload(in)
		shape(&u.o, in, func(in *s3.AbortMultipartUploadInput) {
			in.Bucket, in.Key, in.UploadId = aws.String(u.f.bucket), aws.String(u.f.key), aws.String(uploadID)
		})
		_, err := m.client.AbortMultipartUpload(actx, in, m.requestOptions(nil, nil))
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchUpload" {
			return nil
		}
		return err
	})
}
