package limits

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Admin API errors that have no S3 counterpart.
var (
	errMalformedJSON = &s3api.Error{Code: "MalformedJSON", StatusCode: http.StatusBadRequest,
		Message: "The circuit breaker configuration is not valid JSON."}
	errAdminNotFound = &s3api.Error{Code: "NoSuchResource", StatusCode: http.StatusNotFound,
		Message: "There is no admin resource at this path."}
)

// Headers of admin API answers that tell whether the circuit-breaker file
// on disk is the configuration in force. Both are absent when the server
// has no file (Options.ConfigPath "").
const (
	// HeaderFileStatus is FileInForce or FileRejected.
	HeaderFileStatus = "X-S3limit-Config-File"
	// HeaderFileError comes with FileRejected: why the file could not be
	// used, naming the file and the field, on one line.
	HeaderFileError = "X-S3limit-Config-File-Error"
)

// Values of HeaderFileStatus.
const (
	FileInForce  = "in-force" // the file's configuration is the one in force
	FileRejected = "rejected" // the file could not be used; the last good configuration is in force
)

// maxHeaderError bounds HeaderFileError, whose text quotes the file.
const maxHeaderError = 1024

// AdminHandler serves the circuit-breaker configuration at s3api.AdminCircuitBreakerPath:
//
//   - GET (and HEAD) returns the configuration in force as canonical JSON
//     (Config.Marshal) with its ETag, and HeaderFileStatus: whether the
//     file on disk is that configuration or was rejected (then
//     HeaderFileError says why).
//   - PUT replaces it with the JSON document in the body (at most
//     Options.AdminMaxBodyBytes; larger is 413 MaxMessageLengthExceeded).
//     The document is validated (400 MalformedJSON when it is not JSON,
//     400 InvalidArgument naming the offending field otherwise), If-Match
//     is honoured (412 PreconditionFailed when stale), then it is written
//     to the file and applied as by Apply. The answer is 200 with the new
//     document and ETag. An empty body is refused: send {} to remove all
//     limits.
//   - Other methods get 405 MethodNotAllowed.
//
// Errors are S3 XML documents. The caller authenticates the request and
// checks that the identity may perform the Admin action before calling
// this handler, and does not route it through Middleware.
func (l *Limits) AdminHandler() http.Handler {
	return http.HandlerFunc(l.serveAdmin)
}

func (l *Limits) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s3api.AdminCircuitBreakerPath {
		s3api.WriteError(w, r, errAdminNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		body, etag := l.breaker.snap.Load().document()
		l.setFileHeaders(w.Header())
		writeDocument(w, r, body, etag)
	case http.MethodPut:
		l.putConfig(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		s3api.WriteError(w, r, s3api.ErrMethodNotAllowed)
	}
}

func (l *Limits) putConfig(w http.ResponseWriter, r *http.Request) {
	limit := l.opts.AdminMaxBodyBytes
	tooLarge := s3api.ErrMaxMessageLengthExceeded.WithMessage(
		"The configuration document is larger than the server accepts (%d bytes).", limit)
	tooLarge.StatusCode = http.StatusRequestEntityTooLarge
	if r.ContentLength > limit {
		s3api.WriteError(w, r, tooLarge)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s3api.WriteError(w, r, tooLarge)
		} else {
			s3api.WriteError(w, r, s3api.ErrIncompleteBody)
		}
		return
	}
	if len(bytes.TrimSpace(data)) == 0 {
		s3api.WriteError(w, r, errMalformedJSON.WithMessage(
			"The request body is empty; send {} to remove all circuit breaker limits."))
		return
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		base := s3api.ErrInvalidArgument
		if !json.Valid(data) {
			base = errMalformedJSON
		}
		s3api.WriteError(w, r, base.WithMessage("%s", err.Error()))
		return
	}
	etag, err := l.Apply(cfg, strings.Join(r.Header.Values("If-Match"), ","))
	var cerr *ConfigError
	switch {
	case errors.Is(err, ErrPreconditionFailed):
		s3api.WriteError(w, r, s3api.ErrPreconditionFailed.WithMessage(
			"The circuit breaker configuration changed since it was read (If-Match does not match); read it again and reapply your change."))
		return
	case errors.As(err, &cerr):
		s3api.WriteError(w, r, s3api.ErrInvalidArgument.WithMessage("%s", cerr.Error()))
		return
	case err != nil:
		l.log.Error("cannot apply circuit breaker configuration", "err", err)
		var se *s3api.Error
		if !errors.As(err, &se) {
			se = s3api.ErrInternalError
		}
		s3api.WriteError(w, r, se)
		return
	}
	body, _ := cfg.Marshal() // Apply marshalled the same document
	l.setFileHeaders(w.Header())
	writeDocument(w, r, body, etag)
}

// setFileHeaders tells whether the file on disk is in force.
func (l *Limits) setFileHeaders(h http.Header) {
	if l.opts.ConfigPath == "" {
		return
	}
	err := l.FileError()
	if err == nil {
		h.Set(HeaderFileStatus, FileInForce)
		return
	}
	h.Set(HeaderFileStatus, FileRejected)
	h.Set(HeaderFileError, headerText(err.Error(), maxHeaderError))
}

// headerText makes s a header value: control and non-ASCII characters
// become '?' (a file name may hold anything), at most n bytes.
func headerText(s string, n int) string {
	b := []byte(s)
	if len(b) > n {
		b = append(b[:n-3], "..."...)
	}
	for i, c := range b {
		if c < ' ' || c >= 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}

func writeDocument(w http.ResponseWriter, r *http.Request, body []byte, etag string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("ETag", etag)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
