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

// submitFunc starts the upload of part num (1-based) from body, size
// bytes long. It may wait for a free part slot; done, if not nil, is
// called once the part has finished (or was never started).
type submitFunc func(num int32, body *partReader, size int64, done func())

// multipart runs a multipart upload. feed submits the parts in order and
// returns the total size; it gets a context that ends when any part fails.
// On any failure, and when ctx is cancelled, the upload is aborted.
func (u *uploader) multipart(ctx context.Context, feed func(ctx context.Context, submit submitFunc) (int64, error)) (Result, error) {
	m := u.m
	var uploadID string
	err := m.call(ctx, "CreateMultipartUpload", m.cfg.MaxAttempts, func(actx context.Context) error {
		out, err := m.client.CreateMultipartUpload(actx, &s3.CreateMultipartUploadInput{
			Bucket:      aws.String(u.f.bucket),
			Key:         aws.String(u.f.key),
			ContentType: optString(u.o.contentType),
			Metadata:    u.o.metadata,
		}, m.requestOptions(nil, nil))
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
			etag, err := u.uploadPart(gctx, uploadID, num, body, size)
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(num)})
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

// uploadPart sends one part and returns its ETag.
func (u *uploader) uploadPart(ctx context.Context, uploadID string, num int32, src *partReader, size int64) (string, error) {
	m := u.m
	var etag string
	err := m.call(ctx, fmt.Sprintf("UploadPart %d", num), m.cfg.MaxAttempts, func(actx context.Context) error {
		if _, err := src.Seek(0, io.SeekStart); err != nil {
			return &fatalError{err}
		}
		mt := newMeter(u.f)
		out, err := m.client.UploadPart(actx, &s3.UploadPartInput{
			Bucket:        aws.String(u.f.bucket),
			Key:           aws.String(u.f.key),
			UploadId:      aws.String(uploadID),
			PartNumber:    aws.Int32(num),
			Body:          src,
			ContentLength: aws.Int64(size),
		}, m.requestOptions(u.meterUp(mt), nil))
		if err = endUpload(mt, src, err); err == nil {
			etag = aws.ToString(out.ETag)
		}
		return err
	})
	return etag, err
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
		out, err = m.client.CompleteMultipartUpload(actx, &s3.CompleteMultipartUploadInput{
			Bucket:          aws.String(u.f.bucket),
			Key:             aws.String(u.f.key),
			UploadId:        aws.String(uploadID),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		}, m.requestOptions(nil, nil))
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
		_, err := m.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket:   aws.String(u.f.bucket),
			Key:      aws.String(u.f.key),
			UploadId: aws.String(uploadID),
		}, m.requestOptions(nil, nil))
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchUpload" {
			return nil
		}
		return err
	})
}
