package s3api

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error is an S3 error response. Handlers return *Error values (or wrap
// them with %w); WriteError turns any error into the S3 XML document, so
// errors become HTTP responses in exactly one place.
type Error struct {
	Code       string // S3 error code, e.g. "NoSuchKey"
	StatusCode int    // HTTP status
	Message    string // human-readable message
	// RetryAfter, when positive, adds Retry-After (whole seconds, rounded
	// up) and x-amz-retry-after (milliseconds) to the response.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return "s3api: " + e.Code + ": " + e.Message
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, s3api.ErrNoSuchKey) works on copies made by WithMessage.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// WithMessage returns a copy of e with another message.
func (e *Error) WithMessage(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// Errors with the codes and statuses Amazon S3 uses.
var (
	ErrAccessDenied                 = &Error{"AccessDenied", http.StatusForbidden, "Access Denied.", 0}
	ErrBadDigest                    = &Error{"BadDigest", http.StatusBadRequest, "The Content-MD5 or checksum you specified did not match what we received.", 0}
	ErrBucketAlreadyExists          = &Error{"BucketAlreadyExists", http.StatusConflict, "The requested bucket name is not available.", 0}
	ErrBucketAlreadyOwnedByYou      = &Error{"BucketAlreadyOwnedByYou", http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it.", 0}
	ErrBucketNotEmpty               = &Error{"BucketNotEmpty", http.StatusConflict, "The bucket you tried to delete is not empty.", 0}
	ErrEntityTooLarge               = &Error{"EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size.", 0}
	ErrEntityTooSmall               = &Error{"EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size.", 0}
	ErrExpiredToken                 = &Error{"ExpiredToken", http.StatusBadRequest, "The provided token has expired.", 0}
	ErrIncompleteBody               = &Error{"IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header.", 0}
	ErrInternalError                = &Error{"InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again.", 0}
	ErrInvalidAccessKeyID           = &Error{"InvalidAccessKeyId", http.StatusForbidden, "The AWS access key ID you provided does not exist in our records.", 0}
	ErrInvalidArgument              = &Error{"InvalidArgument", http.StatusBadRequest, "Invalid argument.", 0}
	ErrInvalidBucketName            = &Error{"InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid.", 0}
	ErrInvalidDigest                = &Error{"InvalidDigest", http.StatusBadRequest, "The Content-MD5 you specified is not valid.", 0}
	ErrInvalidPart                  = &Error{"InvalidPart", http.StatusBadRequest, "One or more of the specified parts could not be found.", 0}
	ErrInvalidPartOrder             = &Error{"InvalidPartOrder", http.StatusBadRequest, "The list of parts was not in ascending order.", 0}
	ErrInvalidRange                 = &Error{"InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable.", 0}
	ErrInvalidRequest               = &Error{"InvalidRequest", http.StatusBadRequest, "Invalid request.", 0}
	ErrMalformedXML                 = &Error{"MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema.", 0}
	ErrMethodNotAllowed             = &Error{"MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource.", 0}
	ErrMissingContentLength         = &Error{"MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header.", 0}
	ErrMissingSecurityHeader        = &Error{"MissingSecurityHeader", http.StatusBadRequest, "Your request is missing a required header.", 0}
	ErrNoSuchBucket                 = &Error{"NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist.", 0}
	ErrNoSuchKey                    = &Error{"NoSuchKey", http.StatusNotFound, "The specified key does not exist.", 0}
	ErrNoSuchTagSet                 = &Error{"NoSuchTagSet", http.StatusNotFound, "The TagSet does not exist.", 0}
	ErrNoSuchUpload                 = &Error{"NoSuchUpload", http.StatusNotFound, "The specified multipart upload does not exist.", 0}
	ErrNotImplemented               = &Error{"NotImplemented", http.StatusNotImplemented, "A header or operation you provided implies functionality that is not implemented.", 0}
	ErrNotModified                  = &Error{"NotModified", http.StatusNotModified, "Not Modified.", 0}
	ErrPreconditionFailed           = &Error{"PreconditionFailed", http.StatusPreconditionFailed, "At least one of the preconditions you specified did not hold.", 0}
	ErrRequestTimeout               = &Error{"RequestTimeout", http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period.", 0}
	ErrRequestTimeTooSkewed         = &Error{"RequestTimeTooSkewed", http.StatusForbidden, "The difference between the request time and the server's time is too large.", 0}
	ErrSignatureDoesNotMatch        = &Error{"SignatureDoesNotMatch", http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method.", 0}
	ErrAuthorizationHeaderMalformed = &Error{"AuthorizationHeaderMalformed", http.StatusBadRequest, "The authorization header you provided is invalid.", 0}
	ErrXAmzContentSHA256Mismatch    = &Error{"XAmzContentSHA256Mismatch", http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed.", 0}
	ErrInvalidTag                   = &Error{"InvalidTag", http.StatusBadRequest, "The tag provided was not a valid tag.", 0}
	ErrKeyTooLong                   = &Error{"KeyTooLongError", http.StatusBadRequest, "Your key is too long.", 0}
	ErrMaxMessageLengthExceeded     = &Error{"MaxMessageLengthExceeded", http.StatusBadRequest, "Your request was too big.", 0}
	ErrServiceUnavailable           = &Error{"ServiceUnavailable", http.StatusServiceUnavailable, "Reduce your request rate.", 0}
	ErrBadGateway                   = &Error{"BadGateway", http.StatusBadGateway, "The upstream store could not be reached.", 0}
	ErrGatewayTimeout               = &Error{"GatewayTimeout", http.StatusGatewayTimeout, "The upstream store did not answer in time.", 0}

	// ErrClientClosedRequest records a request whose client went away
	// before it was answered. Nobody reads the response; the status (499,
	// as nginx logs it) is for the access log and the metrics. Errors of
	// writes to a client that left match it with errors.Is.
	ErrClientClosedRequest = &Error{"ClientClosedRequest", StatusClientClosedRequest, "The client closed the connection before the request was answered.", 0}

	// ErrSlowDown is the circuit breaker's answer to a count limit.
	ErrSlowDown = &Error{"SlowDown", http.StatusTooManyRequests, "Please reduce your request rate.", 0}
	// ErrRequestBytesExceed is the circuit breaker's answer to a bytes limit.
	ErrRequestBytesExceed = &Error{"RequestBytesExceed", http.StatusTooManyRequests, "Too many bytes are in flight; please reduce your request rate.", 0}
)

// StatusClientClosedRequest is the status recorded for a request whose
// client went away before the response was complete (nginx's 499). It
// never reaches a client.
const StatusClientClosedRequest = 499

// errorResponse is the S3 XML error document.
type errorResponse struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
}

// WriteError writes err as an S3 XML error. An error that is not an *Error
// (checked with errors.As) becomes InternalError; its text is not sent to
// the client. HEAD requests get the status and headers without a body, as
// S3 does. The error is recorded in the request's Info (Info.Err) for the
// access log.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = ErrInternalError
	}
	h := w.Header()
	var reqID string
	if info := FromContext(r.Context()); info != nil {
		info.Err = e
		reqID = info.RequestID
	}
	if reqID != "" {
		h.Set("x-amz-request-id", reqID)
	}
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		h.Set("x-amz-retry-after", strconv.FormatInt(e.RetryAfter.Milliseconds(), 10))
	}
	if r.Method == http.MethodHead || e.StatusCode == http.StatusNotModified {
		h.Del("Content-Type")
		h.Del("Content-Length")
		w.WriteHeader(e.StatusCode)
		return
	}
	body, _ := xml.Marshal(errorResponse{
		Code:      e.Code,
		Message:   e.Message,
		Resource:  r.URL.Path,
		RequestID: reqID,
	})
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	h.Del("ETag")
	h.Del("Last-Modified")
	w.WriteHeader(e.StatusCode)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

// WriteXML writes v as an XML document with the given status.
func WriteXML(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}
