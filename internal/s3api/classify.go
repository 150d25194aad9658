package s3api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxKeyLength is the longest object key S3 accepts, in bytes of UTF-8.
const MaxKeyLength = 1024

// Classify determines which S3 operation r is, the action that governs it,
// the bucket and key it addresses and the body size it declares. It reads
// only the request line and headers, never the body.
//
// Path-style addressing (/bucket/key) always works. When domainName is not
// empty, a Host of the form <bucket>.<domainName> (any port) selects
// virtual-hosted style, where the whole path is the key. domainName may
// list several domains separated by commas, as weed s3 -domainName does.
//
// The key is the request path after the bucket, percent-decoded exactly
// once; it keeps "//", a decoded "%2F" and any other byte sequence the
// client sent, so a router in front of Classify must not clean the path.
//
// Paths under AdminPrefix on a path-style request are s3limit's own: the
// health probes HealthLivePath and HealthReadyPath (OpHealthLive,
// OpHealthReady; GET or HEAD), and otherwise the admin API
// (OpAdminCircuitBreaker, no bucket), whose handler checks the rest of the
// path.
//
// A query naming more than one sub-resource ("?tagging&policy") is
// refused rather than classified as one of them.
//
// Errors are *Error values: ErrInvalidBucketName, ErrKeyTooLong,
// ErrMethodNotAllowed, ErrMissingContentLength (a PutObject or UploadPart
// without a declared length), ErrInvalidArgument (malformed path, size or
// query).
func Classify(r *http.Request, domainName string) (*Info, error) {
	info := &Info{Size: -1}
	if strings.HasPrefix(r.URL.Path, AdminPrefix) {
		// The admin API exists only on path-style requests: on a
		// virtual-hosted bucket, "_s3limit/..." is an ordinary key.
		if _, vhost := virtualHostBucket(r.Host, domainName); !vhost {
			switch r.URL.Path {
			case HealthLivePath:
				info.Operation = OpHealthLive
			case HealthReadyPath:
				info.Operation = OpHealthReady
			default:
				info.Operation = OpAdminCircuitBreaker
			}
			if info.Operation != OpAdminCircuitBreaker && r.Method != http.MethodGet && r.Method != http.MethodHead {
				return nil, methodNotAllowed(r.Method)
			}
			info.Action = info.Operation.Action()
			return info, nil
		}
	}

	// The path as sent is r.URL.RawPath when the client's encoding differs
	// from Go's default; otherwise r.URL.Path is its decoded form and holds
	// no '/' that was sent as %2F, so it can be split without decoding.
	path, encoded := r.URL.Path, false
	if r.URL.RawPath != "" {
		path, encoded = r.URL.EscapedPath(), true
	}
	if path == "" {
		path = "/"
	}
	if path[0] != '/' {
		return nil, ErrInvalidArgument.WithMessage("The request path must start with '/'.")
	}

	var bucket, rawKey string
	if vhost, ok := virtualHostBucket(r.Host, domainName); ok {
		bucket, rawKey = vhost, path[1:]
	} else {
		var rawBucket string
		rawBucket, rawKey, _ = strings.Cut(path[1:], "/")
		b, err := unescapeIf(encoded, rawBucket)
		if err != nil {
			return nil, ErrInvalidBucketName.WithMessage("The bucket name in the request path is not validly percent-encoded.")
		}
		bucket = b
	}
	if bucket != "" {
		if !AccessibleBucketName(bucket) {
			return nil, ErrInvalidBucketName.WithMessage("The specified bucket is not valid: %s.", quoteShort(bucket))
		}
		info.Bucket = bucket
	}
	if rawKey != "" {
		if info.Bucket == "" {
			return nil, ErrInvalidBucketName.WithMessage("The request path names an object but no bucket.")
		}
		k, err := unescapeIf(encoded, rawKey)
		if err != nil {
			return nil, ErrInvalidArgument.WithMessage("The object key in the request path is not validly percent-encoded.")
		}
		if len(k) > MaxKeyLength {
			return nil, ErrKeyTooLong.WithMessage("Your key is too long: %d bytes, the limit is %d.", len(k), MaxKeyLength)
		}
		if !utf8.ValidString(k) {
			return nil, ErrInvalidArgument.WithMessage("Object keys must be valid UTF-8.")
		}
		info.Key = k
	}

	q, err := scanQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	if sel := q.present &^ qualifiers; sel&(sel-1) != 0 {
		// Several sub-resources ("?tagging&policy") could be routed to
		// different operations by a store behind a gateway; a request
		// must not be authorized as one and served as another.
		return nil, ErrInvalidArgument.WithMessage("The request names several sub-resources (%s); send one per request.", strings.Join(q.selectors(), ", "))
	}
	switch {
	case info.Bucket == "":
		info.Operation, err = serviceOperation(r)
	case info.Key == "":
		info.Operation, err = bucketOperation(r, &q)
	default:
		info.Operation, err = objectOperation(r, &q)
	}
	if err != nil {
		return nil, err
	}
	info.Action = info.Operation.Action()
	if info.Operation == OpCreateBucket && !ValidBucketName(info.Bucket) {
		return nil, ErrInvalidBucketName.WithMessage("The specified bucket is not valid: %s. Bucket names are 3 to 63 lowercase letters, digits, '.' and '-'.", quoteShort(info.Bucket))
	}

	if info.Size, err = declaredSize(r); err != nil {
		return nil, err
	}
	switch {
	case info.Operation == OpPostObject:
		// A browser form carries the object inside a multipart body whose
		// length may be unknown; the limits count what it declares.
	case info.Operation.Body() == BodyUpload:
		if info.Size < 0 {
			return nil, ErrMissingContentLength
		}
	case info.Operation.ReadsCopySource():
		if info.Size < 0 {
			info.Size = 0
		}
		if info.CopySource, err = ParseCopySource(r.Header.Get("X-Amz-Copy-Source")); err != nil {
			return nil, err
		}
		if info.Operation == OpUploadPartCopy {
			src := &info.CopySource
			if src.First, src.Last, src.HasRange, err = ParseCopySourceRange(r.Header.Get("X-Amz-Copy-Source-Range")); err != nil {
				return nil, err
			}
			if src.HasRange {
				// The bytes the copy moves; the server asks the backend
				// for the source's size when there is no range.
				info.Size = src.Last - src.First + 1
			}
		}
	}
	return info, nil
}

// virtualHostBucket returns the bucket named by a virtual-hosted-style
// host, if host is <bucket>.<one of domainNames>.
func virtualHostBucket(host, domainNames string) (string, bool) {
	if domainNames == "" || host == "" || host[0] == '[' {
		return "", false
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	for rest := domainNames; rest != ""; {
		var domain string
		domain, rest, _ = strings.Cut(rest, ",")
		domain = strings.TrimSpace(domain)
		if domain == "" || len(host) <= len(domain)+1 {
			continue
		}
		cut := len(host) - len(domain)
		if host[cut-1] == '.' && strings.EqualFold(host[cut:], domain) {
			return strings.ToLower(host[:cut-1]), true
		}
	}
	return "", false
}

// unescapeIf percent-decodes a part of the path as sent when encoded is
// set; '+' stays '+'. It does not allocate when there is nothing to decode.
func unescapeIf(encoded bool, s string) (string, error) {
	if !encoded || strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	return url.PathUnescape(s)
}

// declaredSize returns the body size the request declares: the decoded
// length for aws-chunked bodies, Content-Length otherwise, -1 when the
// request declares none.
func declaredSize(r *http.Request) (int64, error) {
	if isAWSChunked(r.Header) {
		v := r.Header.Get(headerDecodedContentLength)
		if v == "" {
			return -1, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, ErrInvalidArgument.WithMessage("The x-amz-decoded-content-length header is not a non-negative integer: %q.", truncate(v, 32))
		}
		return n, nil
	}
	if r.ContentLength > 0 {
		return r.ContentLength, nil
	}
	if v, ok := r.Header["Content-Length"]; ok && len(v) > 0 {
		n, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil || n < 0 {
			return 0, ErrMissingContentLength.WithMessage("The Content-Length header is not a non-negative integer: %q.", truncate(v[0], 32))
		}
		return n, nil
	}
	return -1, nil
}

// isAWSChunked reports whether the body is aws-chunked, by the streaming
// x-amz-content-sha256 value or by the Content-Encoding token.
func isAWSChunked(h http.Header) bool {
	if strings.HasPrefix(h.Get(headerContentSHA256), "STREAMING-") {
		return true
	}
	for _, v := range h["Content-Encoding"] {
		for rest := v; rest != ""; {
			var tok string
			tok, rest, _ = strings.Cut(rest, ",")
			if strings.EqualFold(strings.TrimSpace(tok), "aws-chunked") {
				return true
			}
		}
	}
	return false
}

// truncate shortens s for quoting in an error message.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func serviceOperation(r *http.Request) (Op, error) {
	if r.Method == http.MethodGet {
		return OpListBuckets, nil
	}
	return OpUnknown, methodNotAllowed(r.Method)
}

func methodNotAllowed(method string) error {
	return ErrMethodNotAllowed.WithMessage("The specified method %q is not allowed against this resource.", truncate(method, 16))
}

func bucketOperation(r *http.Request, q *queryInfo) (Op, error) {
	switch r.Method {
	case http.MethodHead:
		return OpHeadBucket, nil
	case http.MethodGet:
		switch {
		case q.has(qLocation):
			return OpGetBucketLocation, nil
		case q.has(qVersions):
			return OpListObjectVersions, nil
		case q.has(qUploads):
			return OpListMultipartUploads, nil
		case q.has(qTagging):
			return OpGetBucketTagging, nil
		}
		if sr := q.bucketSubresource(); sr != nil {
			if sr.list != OpUnknown && !q.has(qID) {
				return sr.list, nil
			}
			return sr.get, nil
		}
		if q.listType == "2" {
			return OpListObjectsV2, nil
		}
		return OpListObjects, nil
	case http.MethodPut:
		if q.has(qTagging) {
			return OpPutBucketTagging, nil
		}
		if sr := q.bucketSubresource(); sr != nil {
			if sr.put == OpUnknown {
				return OpUnknown, methodNotAllowed(r.Method)
			}
			return sr.put, nil
		}
		return OpCreateBucket, nil
	case http.MethodDelete:
		if q.has(qTagging) {
			return OpDeleteBucketTagging, nil
		}
		if sr := q.bucketSubresource(); sr != nil {
			if sr.del == OpUnknown {
				return OpUnknown, methodNotAllowed(r.Method)
			}
			return sr.del, nil
		}
		return OpDeleteBucket, nil
	case http.MethodPost:
		if q.has(qDelete) {
			return OpDeleteObjects, nil
		}
		if isMultipartForm(r.Header.Get("Content-Type")) {
			return OpPostObject, nil
		}
		return OpUnknown, methodNotAllowed(r.Method)
	}
	return OpUnknown, methodNotAllowed(r.Method)
}

func objectOperation(r *http.Request, q *queryInfo) (Op, error) {
	switch r.Method {
	case http.MethodHead:
		return OpHeadObject, nil
	case http.MethodGet:
		switch {
		case q.has(qUploadID):
			return OpListParts, nil
		case q.has(qTagging):
			return OpGetObjectTagging, nil
		}
		if op, ok := q.objectSubresource(objectGet); ok {
			return op, nil
		}
		return OpGetObject, nil
	case http.MethodPut:
		copySource := r.Header.Get("X-Amz-Copy-Source") != ""
		switch {
		case q.has(qUploadID) && q.has(qPartNumber):
			if copySource {
				return OpUploadPartCopy, nil
			}
			return OpUploadPart, nil
		case q.has(qUploadID) || q.has(qPartNumber):
			return OpUnknown, ErrInvalidArgument.WithMessage("An upload part request needs both partNumber and uploadId.")
		case q.has(qTagging):
			return OpPutObjectTagging, nil
		}
		if op, ok := q.objectSubresource(objectPut); ok {
			if op == OpUnknown {
				return OpUnknown, methodNotAllowed(r.Method)
			}
			return op, nil
		}
		if copySource {
			return OpCopyObject, nil
		}
		return OpPutObject, nil
	case http.MethodDelete:
		switch {
		case q.has(qUploadID):
			return OpAbortMultipartUpload, nil
		case q.has(qTagging):
			return OpDeleteObjectTagging, nil
		}
		return OpDeleteObject, nil
	case http.MethodPost:
		switch {
		case q.has(qUploads):
			return OpCreateMultipartUpload, nil
		case q.has(qUploadID):
			return OpCompleteMultipartUpload, nil
		case q.has(qRestore):
			return OpRestoreObject, nil
		case q.has(qSelect) && q.selectType == "2":
			return OpSelectObjectContent, nil
		}
		return OpUnknown, methodNotAllowed(r.Method)
	}
	return OpUnknown, methodNotAllowed(r.Method)
}

// isMultipartForm reports whether a Content-Type is multipart/form-data,
// the encoding of browser POST uploads.
func isMultipartForm(contentType string) bool {
	const mt = "multipart/form-data"
	return len(contentType) >= len(mt) && strings.EqualFold(contentType[:len(mt)], mt)
}
