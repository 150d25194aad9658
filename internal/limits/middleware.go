package limits

import (
	"errors"
	"net/http"

	"github.com/s3limit/s3limit/internal/s3api"
)

// errUploadCanceled answers an upload whose client went away (or whose
// context ended) while it waited for capacity. The client is usually gone;
// the response is for the access log. S3 uses RequestTimeout for a client
// that stops sending.
var errUploadCanceled = s3api.ErrRequestTimeout.WithMessage("The request was canceled while it waited for upload capacity.")

// Middleware applies the limits to each request classified by an earlier
// stage (s3api.Info in the context; requests without it pass through):
//
//  1. Uploads (PutObject, UploadPart, PostObject by declared size;
//     CopyObject and UploadPartCopy by the size of what they copy, which
//     the server found out before) wait in the
//     upload limiter's queue. An upload without a declared length gets 411
//     MissingContentLength; one whose client leaves while queued is
//     answered without reaching next.
//  2. The circuit breaker admits the request into its user's, bucket's and
//     the global sections (waiting for room where a section says so), or
//     refuses it with SlowDown or RequestBytesExceed (written with
//     s3api.WriteError).
//  3. next serves it; under a bytes/s limit its body bytes are paced
//     (shape.go).
//
// Everything counted is released when next.ServeHTTP returns (the response
// is completely written), on every path: an error response, a panic in
// next (released, then the panic goes on) and a client abort.
//
// A queued upload's client is checked on (clientgone.go), or where it
// cannot be, the start of its body is read ahead (readahead.go), so that a
// client that leaves is noticed and its place freed at once, whatever its
// body size. A client that sent "Expect: 100-continue" (as AWS SDKs do for
// large objects) gets no "100 Continue" and sends nothing until it is
// admitted; if it leaves while queued, only the check finds it gone.
//
// Admin API requests must not go through Middleware, so that an operator
// can always lift a limit that blocks everything.
func (l *Limits) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := s3api.FromContext(r.Context())
		if info == nil {
			next.ServeHTTP(w, r)
			return
		}
		if body := info.Operation.Body(); body != s3api.BodyNone {
			n := info.Size
			if body == s3api.BodyCopy {
				n = max(n, 0) // the source's size, when the backend knew it
			} else if n < 0 {
				s3api.WriteError(w, r, s3api.ErrMissingContentLength)
				return
			}
			var ra *readAhead
			up, err := l.uploads.acquire(r.Context(), n, func(w *uploadWaiter) {
				if l.opts.ClientCheck != nil {
					if check := l.opts.ClientCheck(r); check != nil {
						l.uploads.clients.add(w, check)
						return
					}
				}
				ra = startReadAhead(r, n, &l.readAheadBytes, w.leave)
			})
			if ra != nil {
				if err != nil {
					// net/http forbids reading the body once the handler
					// has returned: wait until the read-ahead stops (at
					// once for a client that left; for one that is still
					// sending, no later than net/http's own wait for the
					// body before it writes the response).
					ra.finish()
				} else {
					r.Body = ra
					defer ra.finish()
				}
			}
			if err != nil {
				var refusal *s3api.Error
				if !errors.As(err, &refusal) { // the context ended
					err = errUploadCanceled
				}
				s3api.WriteError(w, r, err)
				return
			}
			defer l.uploads.release(up)
		}
		user := ""
		if info.Identity != nil {
			user = info.Identity.Name
		}
		ticket, err := l.breaker.AdmitWait(r.Context(), info.Action, info.Bucket, user, info.Size)
		if err != nil {
			s3api.WriteError(w, r, err)
			return
		}
		defer ticket.Release()
		if ticket.Shaped() {
			sh := l.newShaper(r.Context(), actionIndex(info.Action), &ticket)
			w = &shapedWriter{ResponseWriter: w, c: credit{sh: sh}}
			if info.Operation.Body() == s3api.BodyUpload && r.Body != nil && r.Body != http.NoBody {
				r.Body = &shapedBody{ReadCloser: r.Body, c: credit{sh: sh}}
			}
		}
		next.ServeHTTP(w, r)
	})
}
