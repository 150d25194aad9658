package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

// outcome is what ServeHTTP knows of how a request ended, beyond the
// response writer and the request record.
type outcome struct {
	// authorized: the caller may perform the request; only then does
	// the bucket, which anyone can make up, become a metric label.
	authorized bool
	// aborted: the handler panicked, or aborted the response with
	// http.ErrAbortHandler after it had begun.
	aborted bool
	// denied says why authorization failed; "" when it did not.
	denied string
}

// finish records the metrics and the access log line of a request. The
// status is what the client got, except:
//
//   - 499 (s3api.StatusClientClosedRequest) when the client went away
//     before its response was complete (it got nothing, or a cut-off
//     body), except that a request body that broke off or stalled is
//     counted as the 400 IncompleteBody or RequestTimeout it was answered
//     with, as S3 counts it;
//   - 503 for a request cut off by the server's own shutdown (see
//     CutOff), which is not the client's doing.
//
// Error responses say why in the log: the S3 error code, and the limit
// that refused the request, the missing permission or the access key that
// failed, as the case may be (never a secret). Health probes are not
// counted in the request metrics and are logged at level Debug.
func (s *Server) finish(r *http.Request, rw *responseWriter, info *s3api.Info, o outcome, start time.Time) {
	d := time.Since(start)
	status := rw.status
	if !rw.wroteHeader {
		status = http.StatusOK
	}
	// A request body that broke off or stalled is the 400 it was answered
	// with (IncompleteBody, RequestTimeout), as S3 counts it, whether or
	// not the client was still there to read the answer.
	bodyFailed := info.Err != nil && (info.Err.Code == s3api.ErrIncompleteBody.Code || info.Err.Code == s3api.ErrRequestTimeout.Code)
	if status != s3api.StatusClientClosedRequest && !bodyFailed && (o.aborted || status >= 400 || !rw.complete(r.Method)) {
		// Asked only of requests that failed or did not finish: the
		// request context ends when the connection does, and the kernel
		// knows of a FIN or RST that net/http has not read yet.
		if rw.clientGone || r.Context().Err() != nil || rw.peer.gone() {
			status = s3api.StatusClientClosedRequest
		}
	}
	shutdown := s.cutOff.Load() && (status == s3api.StatusClientClosedRequest || o.aborted || rw.err != nil)
	if shutdown {
		status = http.StatusServiceUnavailable
	}

	health := info.Operation == s3api.OpHealthLive || info.Operation == s3api.OpHealthReady
	if !health {
		action := string(info.Action)
		if action == "" {
			action = "Unknown"
		}
		bucket := ""
		if o.authorized {
			bucket = info.Bucket
		}
		s.metrics.ObserveRequest(action, bucket, status, d)
	}
	level := slog.LevelInfo
	if health {
		level = slog.LevelDebug
	}
	ctx := r.Context()
	if !s.accessLog.Enabled(ctx, level) {
		return
	}
	user := "-"
	if info.Identity != nil {
		user = info.Identity.Name
	}
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("request_id", info.RequestID),
		slog.String("remote", r.RemoteAddr),
		slog.String("user", user),
		slog.String("op", info.Operation.String()),
		slog.String("bucket", info.Bucket),
		slog.String("key", info.Key),
		slog.Int("status", status),
		slog.Int64("bytes_out", rw.written),
		slog.Duration("duration", d),
	)
	attrs = s.appendWhy(attrs, r, rw, info, o, status, shutdown)
	s.accessLog.LogAttrs(ctx, level, "request", attrs...)
}

// appendWhy adds to a failed request's log line why it failed.
func (s *Server) appendWhy(attrs []slog.Attr, r *http.Request, rw *responseWriter, info *s3api.Info, o outcome, status int, shutdown bool) []slog.Attr {
	e := info.Err
	switch {
	case shutdown:
		return append(attrs, slog.String("error", s3api.ErrServiceUnavailable.Code),
			slog.String("reason", "cut off by the server's shutdown: still running when -shutdownTimeout ran out"))
	case status == s3api.StatusClientClosedRequest:
		return append(attrs, slog.String("error", s3api.ErrClientClosedRequest.Code),
			slog.String("reason", "the client closed the connection before the response was complete"))
	case o.denied != "" && e != nil:
		return append(attrs, slog.String("error", e.Code), slog.String("reason", o.denied))
	case e != nil:
		attrs = append(attrs, slog.String("error", e.Code))
		if ref, ok := s.limits.RefusalOf(info.Action, e); ok {
			return append(attrs, limitAttr(ref, info), slog.String("reason", refusalReason(ref)))
		}
		switch e.Code {
		case s3api.ErrInvalidAccessKeyID.Code:
			return append(attrs, slog.String("access_key", s3api.RequestAccessKey(r)),
				slog.String("reason", "unknown access key"))
		case s3api.ErrSignatureDoesNotMatch.Code:
			return append(attrs, slog.String("access_key", s3api.RequestAccessKey(r)),
				slog.String("reason", "bad signature: the wrong secret key, or the request was changed on its way"))
		}
		return append(attrs, slog.String("reason", e.Message))
	case rw.rule.wasCut():
		return append(attrs, slog.String("reason", "cut off by the transfer rule: the client moved too little data (-idleTimeout, -minTransferRate)"))
	case rw.err != nil:
		return append(attrs, slog.String("reason", "writing the response failed: "+rw.err.Error()))
	case o.aborted:
		return append(attrs, slog.String("reason", "the response was aborted after it had begun"))
	}
	return attrs
}

// limitAttr is the limit that refused a request, as a group:
// limit.scope, limit.bucket or limit.user, limit.action, limit.type.
func limitAttr(ref limits.Refusal, info *s3api.Info) slog.Attr {
	args := make([]any, 0, 8)
	args = append(args, slog.String("scope", ref.Scope))
	switch ref.Scope {
	case metrics.ScopeBucket:
		args = append(args, slog.String("bucket", info.Bucket))
	case metrics.ScopeUser:
		if info.Identity != nil {
			args = append(args, slog.String("user", info.Identity.Name))
		}
	}
	args = append(args, slog.String("action", string(info.Action)), slog.String("type", ref.Type))
	return slog.Group("limit", args...)
}

func refusalReason(ref limits.Refusal) string {
	switch {
	case ref.Scope == metrics.ScopeUpload:
		return "the upload waited longer than -concurrentUploadMaxWait for upload capacity"
	case ref.Reason == limits.RefusalBlocked:
		return "the limit is 0: the action is blocked"
	case ref.Reason == limits.RefusalTooLarge:
		return "the request alone is larger than the limit"
	}
	return "limit reached"
}

// deniedReason says which permission an identity lacks, from the request
// and s3api.Authorize's refusal.
func deniedReason(info *s3api.Info, err error) string {
	switch {
	case info.Operation == s3api.OpAdminCircuitBreaker:
		return "missing permission: the admin API needs Admin on every bucket"
	case info.Operation.ReadsCopySource() && err != s3api.ErrAccessDenied:
		return "missing permission: Read on the copy source bucket " + info.CopySource.Bucket
	case info.Bucket == "":
		return "missing permission: " + string(info.Action)
	}
	return "missing permission: " + string(info.Action) + " on bucket " + info.Bucket
}

// CutOff records that shutdown is cutting off the requests still in
// flight (http.Server.Close once the shutdown timeout ran out), so that
// the access log blames the shutdown, not their clients. Call it just
// before closing the connections.
func (s *Server) CutOff() { s.cutOff.Store(true) }
