package s3api

import "context"

// Action is the permission class of an S3 operation, with the names the
// circuit breaker and the identities file use.
type Action string

// The actions. The operations table (operations.go) maps every operation
// to one of them.
const (
	ActionRead    Action = "Read"
	ActionWrite   Action = "Write"
	ActionList    Action = "List"
	ActionTagging Action = "Tagging"
	ActionAdmin   Action = "Admin"
)

// Info is the request record: what the server knows about one request.
// Classify fills Operation through CopySource once; the request id is set
// before, Identity by authentication after. It travels in the request
// context, and nothing downstream re-parses the URL or the copy source.
type Info struct {
	Operation Op
	Action    Action // Operation.Action(), kept for the hot path
	Bucket    string // "" for service-level operations (ListBuckets)
	Key       string // "" for bucket-level operations
	// Size is the declared request body size in bytes: Content-Length, or
	// x-amz-decoded-content-length for aws-chunked bodies. -1 when the
	// request declares no length; 0 for copies (see CopySource).
	Size int64
	// CopySource is the object a copy reads (Operation.ReadsCopySource);
	// zero otherwise.
	CopySource CopySource
	RequestID  string

	// Identity is the authenticated caller; nil until authentication ran.
	// Authorize decides what it may do.
	// Unsigned requests carry the "anonymous" identity when the identities
	// file has one (otherwise they are refused before this is set).
	Identity *Identity

	// Err is the S3 error the response carries, recorded by WriteError
	// for the access log; nil for a success and for an answer passed on
	// from an upstream store. Pointing at an error built ahead of time
	// (a limit's refusal) costs no allocation.
	Err *Error
}

type infoKey struct{}

// NewContext returns a context that carries info.
func NewContext(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// FromContext returns the request's Info, or nil when it was not classified.
func FromContext(ctx context.Context) *Info {
	info, _ := ctx.Value(infoKey{}).(*Info)
	return info
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	if info := FromContext(ctx); info != nil {
		return info.RequestID
	}
	return ""
}
