package s3api

import "context"

// Action is the permission class of an S3 operation, with the names the
// circuit breaker and the identities file use.
type Action string

// The actions. The classification table in classify.go maps every
// operation to one of them.
const (
	ActionRead    Action = "Read"
	ActionWrite   Action = "Write"
	ActionList    Action = "List"
	ActionTagging Action = "Tagging"
	ActionAdmin   Action = "Admin"
)

// Actions lists every action in a stable order.
var Actions = [...]Action{ActionRead, ActionWrite, ActionList, ActionTagging, ActionAdmin}

// Info is what the server knows about one request once it has been
// classified. It is computed once, travels in the request context, and
// nothing downstream re-parses the URL. Fields after Identity are filled
// in by later stages.
type Info struct {
	Operation string // S3 operation name, e.g. "PutObject", "ListObjectsV2"
	Action    Action
	Bucket    string // "" for service-level operations (ListBuckets)
	Key       string // "" for bucket-level operations
	// Size is the declared request body size in bytes: Content-Length, or
	// x-amz-decoded-content-length for aws-chunked bodies. -1 when the
	// request declares no length.
	Size      int64
	RequestID string

	// Identity is the authenticated caller; nil until authentication ran.
	// Unsigned requests carry the "anonymous" identity when the identities
	// file has one (otherwise they are refused before this is set).
	Identity *Identity
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
