package transfer

import (
	"errors"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Error is the error of a failed transfer: every error a Future returns
// is one. It names the transfer and wraps the cause, which errors.Is and
// errors.As see through.
type Error struct {
	Kind        Kind
	Bucket, Key string // the transfer's object (a copy's destination)
	Err         error
}

// Error reads "transfer: upload s3://b/k: <cause>", or "transfer:
// download: not found: s3://b/k" when the cause already names the
// object.
func (e *Error) Error() string {
	var nf *NotFoundError
	if errors.As(e.Err, &nf) && !nf.NoBucket && nf.Bucket == e.Bucket && nf.Key == e.Key {
		return "transfer: " + e.Kind.String() + ": " + e.Err.Error()
	}
	return "transfer: " + e.Kind.String() + " s3://" + e.Bucket + "/" + e.Key + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotFound matches (with errors.Is) the error of a transfer whose
// object, or whose copy source, does not exist.
var ErrNotFound = errors.New("transfer: not found")

// NotFoundError reports an object, object version or bucket that does not
// exist. It matches ErrNotFound and unwraps to the S3 error.
type NotFoundError struct {
	Bucket, Key string
	VersionID   string // "" unless a version was asked for
	// NoBucket is true when S3 said the bucket does not exist.
	NoBucket bool
	Err      error
}

func (e *NotFoundError) Error() string {
	if e.NoBucket {
		return "bucket not found: s3://" + e.Bucket
	}
	s := "not found: s3://" + e.Bucket + "/" + e.Key
	if e.VersionID != "" {
		s += " (version " + e.VersionID + ")"
	}
	return s
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// asNotFound returns err as a *NotFoundError for the object if S3 said
// the object, version or bucket does not exist, and err otherwise.
// HeadObject answers 404 with no body, so the status alone decides there.
func asNotFound(err error, bucket, key, version string) error {
	if err == nil {
		return nil
	}
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return err
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchBucket":
			return &NotFoundError{Bucket: bucket, NoBucket: true, Err: err}
		case "NoSuchKey", "NotFound", "NoSuchVersion":
			return &NotFoundError{Bucket: bucket, Key: key, VersionID: version, Err: err}
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return &NotFoundError{Bucket: bucket, Key: key, VersionID: version, Err: err}
	}
	return err
}

// asNoBucket returns err as a *NotFoundError if S3 said the bucket does
// not exist, and err otherwise.
func asNoBucket(err error, bucket string) error {
	var apiErr smithy.APIError
	var nf *NotFoundError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket" && !errors.As(err, &nf) {
		return &NotFoundError{Bucket: bucket, NoBucket: true, Err: err}
	}
	return err
}
