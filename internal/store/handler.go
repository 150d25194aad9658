package store

import (
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Errors S3 defines that the s3api package does not.
var (
	// ErrMetadataTooLarge is the answer to more than 2 KB of x-amz-meta-*.
	ErrMetadataTooLarge = &s3api.Error{Code: "MetadataTooLarge", StatusCode: http.StatusBadRequest, Message: "Your metadata headers exceed the maximum allowed metadata size."}
	// ErrInvalidPartNumber is the answer to a GET or HEAD of a part the
	// object does not have.
	ErrInvalidPartNumber = &s3api.Error{Code: "InvalidPartNumber", StatusCode: http.StatusRequestedRangeNotSatisfiable, Message: "The requested partnumber is not satisfiable."}
	// ErrNoSuchVersion is the answer to a version id other than "null":
	// buckets are never versioned.
	ErrNoSuchVersion = &s3api.Error{Code: "NoSuchVersion", StatusCode: http.StatusNotFound, Message: "The specified version does not exist."}
)

// maxUserMetadata is the most bytes of x-amz-meta-* names and values.
const maxUserMetadata = 2048

// ServeHTTP serves one S3 request that the pipeline has classified,
// authenticated and admitted: it reads the operation, bucket and key from
// s3api.FromContext and never re-parses the path. Every error goes
// through s3api.WriteError.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := s3api.FromContext(r.Context())
	if info == nil {
		s3api.WriteError(w, r, s3api.ErrInternalError.WithMessage("The request was not classified."))
		return
	}
	if err := s.serve(w, r, info); err != nil {
		s3api.WriteError(w, r, err)
	}
}

// serve dispatches on the operation. A handler returns an error only
// before it has written anything.
func (s *Store) serve(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	switch info.Operation {
	case s3api.OpListBuckets:
		return s.handleListBuckets(w, r, info)
	case s3api.OpCreateBucket:
		return s.handleCreateBucket(w, r, info)
	case s3api.OpHeadBucket:
		return s.handleHeadBucket(w, info)
	case s3api.OpDeleteBucket:
		return s.handleDeleteBucket(w, info)
	case s3api.OpGetBucketLocation:
		return s.handleGetBucketLocation(w, r, info)
	case s3api.OpGetBucketVersioning:
		return s.handleGetBucketVersioning(w, r, info)
	case s3api.OpGetBucketTagging:
		return s.handleGetBucketTagging(w, r, info)
	case s3api.OpPutBucketTagging:
		return s.handlePutBucketTagging(w, r, info)
	case s3api.OpDeleteBucketTagging:
		return s.handleDeleteBucketTagging(w, info)
	case s3api.OpListObjects:
		return s.handleListObjects(w, r, info)
	case s3api.OpListObjectsV2:
		return s.handleListObjectsV2(w, r, info)
	case s3api.OpListMultipartUploads:
		return s.handleListMultipartUploads(w, r, info)
	case s3api.OpPutObject:
		return s.handlePutObject(w, r, info)
	case s3api.OpGetObject:
		return s.handleGetObject(w, r, info, false)
	case s3api.OpHeadObject:
		return s.handleGetObject(w, r, info, true)
	case s3api.OpCopyObject:
		return s.handleCopyObject(w, r, info)
	case s3api.OpDeleteObject:
		return s.handleDeleteObject(w, r, info)
	case s3api.OpDeleteObjects:
		return s.handleDeleteObjects(w, r, info)
	case s3api.OpGetObjectTagging:
		return s.handleGetObjectTagging(w, r, info)
	case s3api.OpPutObjectTagging:
		return s.handlePutObjectTagging(w, r, info)
	case s3api.OpDeleteObjectTagging:
		return s.handleDeleteObjectTagging(w, r, info)
	case s3api.OpCreateMultipartUpload:
		return s.handleCreateMultipartUpload(w, r, info)
	case s3api.OpUploadPart:
		return s.handleUploadPart(w, r, info)
	case s3api.OpUploadPartCopy:
		return s.handleUploadPartCopy(w, r, info)
	case s3api.OpCompleteMultipartUpload:
		return s.handleCompleteMultipartUpload(w, r, info)
	case s3api.OpAbortMultipartUpload:
		return s.handleAbortMultipartUpload(w, r, info)
	case s3api.OpListParts:
		return s.handleListParts(w, r, info)
	}
	return s3api.ErrNotImplemented.WithMessage("%s is not implemented by the embedded store.", info.Operation)
}

// unsupportedHeaders ask for protections the store does not give; a
// request with one of them answers NotImplemented rather than storing
// data without it.
var unsupportedHeaders = [...]string{
	"x-amz-server-side-encryption",
	"x-amz-server-side-encryption-customer-algorithm",
	"x-amz-server-side-encryption-aws-kms-key-id",
	"x-amz-copy-source-server-side-encryption-customer-algorithm",
	"x-amz-object-lock-mode",
	"x-amz-object-lock-retain-until-date",
	"x-amz-object-lock-legal-hold",
	"x-amz-bucket-object-lock-enabled",
}

// unsupportedCanonical holds unsupportedHeaders in the form http.Header
// keeps them, so that checking costs no allocation per name.
var unsupportedCanonical = func() (c [len(unsupportedHeaders)]string) {
	for i, name := range unsupportedHeaders {
		c[i] = http.CanonicalHeaderKey(name)
	}
	return c
}()

func rejectUnsupported(h http.Header) error {
	for i, key := range unsupportedCanonical {
		v := h[key]
		if len(v) == 0 || v[0] == "" {
			continue
		}
		name := unsupportedHeaders[i]
		if !(name == "x-amz-bucket-object-lock-enabled" && strings.EqualFold(v[0], "false")) {
			return s3api.ErrNotImplemented.WithMessage("The %s header is not supported by the embedded store.", name)
		}
	}
	return nil
}

// metadataFromHeader collects the stored metadata of a write request.
func metadataFromHeader(h http.Header) (Metadata, error) {
	m := Metadata{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    stripAWSChunked(h.Get("Content-Encoding")),
		ContentDisposition: h.Get("Content-Disposition"),
		CacheControl:       h.Get("Cache-Control"),
		ContentLanguage:    h.Get("Content-Language"),
		Expires:            h.Get("Expires"),
	}
	size := 0
	for name, vals := range h {
		rest, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-meta-")
		if !ok || rest == "" {
			continue
		}
		if m.User == nil {
			m.User = make(map[string]string)
		}
		v := strings.Join(vals, ",")
		m.User[rest] = v
		size += len(rest) + len(v)
	}
	if size > maxUserMetadata {
		return Metadata{}, ErrMetadataTooLarge
	}
	return m, nil
}

// stripAWSChunked removes the aws-chunked transfer coding, which S3 does
// not store, from a Content-Encoding value.
func stripAWSChunked(ce string) string {
	if !strings.Contains(strings.ToLower(ce), "aws-chunked") {
		return ce
	}
	var keep []string
	for c := range strings.SplitSeq(ce, ",") {
		c = strings.TrimSpace(c)
		if c != "" && !strings.EqualFold(c, "aws-chunked") {
			keep = append(keep, c)
		}
	}
	return strings.Join(keep, ",")
}

// setMetadataHeaders writes an object's stored metadata as response
// headers; user metadata names are sent in lower case.
func setMetadataHeaders(h http.Header, m Metadata) {
	ct := m.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	for _, kv := range [...][2]string{
		{"Content-Encoding", m.ContentEncoding},
		{"Content-Disposition", m.ContentDisposition},
		{"Cache-Control", m.CacheControl},
		{"Content-Language", m.ContentLanguage},
		{"Expires", m.Expires},
	} {
		if kv[1] != "" {
			h.Set(kv[0], kv[1])
		}
	}
	for k, v := range m.User {
		h["x-amz-meta-"+k] = []string{v}
	}
}

// contentMD5 decodes Content-MD5; nil when absent.
func contentMD5(h http.Header) ([]byte, error) {
	v := h.Get("Content-Md5")
	if v == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != md5.Size {
		return nil, s3api.ErrInvalidDigest
	}
	return b, nil
}

// verifyXMLBodyDigest checks Content-MD5 and an x-amz-checksum-* header
// against a body read whole.
func verifyXMLBodyDigest(r *http.Request, body []byte) error {
	if err := verifyContentMD5(r, body); err != nil {
		return err
	}
	ck, err := parseChecksumRequest(r)
	if err != nil {
		return err
	}
	if ck.alg != "" {
		if v := ck.want(); v != "" && v != checksumOf(ck.alg, body) {
			return s3api.ErrBadDigest.WithMessage("The %s you specified did not match the calculated checksum.", ck.alg)
		}
	}
	return nil
}

// verifyContentMD5 checks Content-MD5 against a body read whole.
func verifyContentMD5(r *http.Request, body []byte) error {
	want, err := contentMD5(r.Header)
	if err != nil || want == nil {
		return err
	}
	if sum := md5.Sum(body); string(sum[:]) != string(want) {
		return s3api.ErrBadDigest
	}
	return nil
}

// bodySize is the decoded request body length, or MissingContentLength.
func bodySize(r *http.Request, info *s3api.Info) (int64, error) {
	if r.ContentLength >= 0 {
		return r.ContentLength, nil
	}
	if info.Size >= 0 {
		return info.Size, nil
	}
	return 0, s3api.ErrMissingContentLength
}

// queryInt parses an optional non-negative integer query parameter; def
// when absent, capped at max.
func queryInt(q url.Values, name string, def, max int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, s3api.ErrInvalidArgument.WithMessage("Provided %s not an integer or within integer range: %q.", name, v)
	}
	return min(n, max), nil
}

// httpDate parses an HTTP date; the zero time when absent or invalid (an
// invalid date makes the condition absent, RFC 7232 sections 3.3–3.4).
func httpDate(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// requestConditions reads If-* headers (prefix "") or
// x-amz-copy-source-if-* headers (prefix "x-amz-copy-source-").
func requestConditions(h http.Header, prefix string) Conditions {
	return Conditions{
		IfMatch:           h.Get(prefix + "If-Match"),
		IfNoneMatch:       h.Get(prefix + "If-None-Match"),
		IfModifiedSince:   httpDate(h.Get(prefix + "If-Modified-Since")),
		IfUnmodifiedSince: httpDate(h.Get(prefix + "If-Unmodified-Since")),
	}
}

// checkVersionID accepts only the absent version ("") and "null": buckets
// are never versioned.
func checkVersionID(v string) error {
	if v != "" && v != "null" {
		return ErrNoSuchVersion
	}
	return nil
}

// writeEmpty answers a status without a body.
func writeEmpty(w http.ResponseWriter, status int) {
	if status != http.StatusNoContent {
		w.Header().Set("Content-Length", "0")
	}
	w.WriteHeader(status)
}

// identityName is the caller's identity name, or "".
func identityName(info *s3api.Info) string {
	if info.Identity != nil {
		return info.Identity.Name
	}
	return ""
}
