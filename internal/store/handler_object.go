package store

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/s3limit/s3limit/internal/s3api"
)

func (s *Store) handlePutObject(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	opts, err := putOptionsFromRequest(r, info)
	if err != nil {
		return err
	}
	oi, err := s.PutObject(r.Context(), info.Bucket, info.Key, r.Body, opts)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", oi.ETag)
	setChecksumHeader(h, oi.Checksum)
	writeEmpty(w, http.StatusOK)
	return nil
}

// putOptionsFromRequest collects everything a PutObject request says
// about its body and metadata.
func putOptionsFromRequest(r *http.Request, info *s3api.Info) (PutOptions, error) {
	var opts PutOptions
	if err := rejectUnsupported(r.Header); err != nil {
		return opts, err
	}
	var err error
	if opts.Size, err = bodySize(r, info); err != nil {
		return opts, err
	}
	if opts.ContentMD5, err = contentMD5(r.Header); err != nil {
		return opts, err
	}
	ck, err := parseChecksumRequest(r)
	if err != nil {
		return opts, err
	}
	if ck.alg != "" {
		opts.ChecksumAlgorithm, opts.ChecksumValue = ck.alg, ck.want
	}
	if opts.Metadata, err = metadataFromHeader(r.Header); err != nil {
		return opts, err
	}
	if opts.Tags, err = parseTaggingHeader(r.Header.Get("x-amz-tagging")); err != nil {
		return opts, err
	}
	opts.IfMatch = r.Header.Get("If-Match")
	opts.IfNoneMatch = r.Header.Get("If-None-Match")
	return opts, nil
}

// setChecksumHeader sends x-amz-checksum-<alg> for a stored checksum.
func setChecksumHeader(h http.Header, c Checksum) {
	if c.Algorithm != "" {
		h.Set("x-amz-checksum-"+strings.ToLower(c.Algorithm), c.Value)
	}
}

// responseOverrides are the GetObject query parameters that replace a
// response header. S3 refuses them on anonymous requests: anyone could
// otherwise serve a stored object as text/html from this origin.
var responseOverrides = [...][2]string{
	{"response-content-type", "Content-Type"},
	{"response-content-language", "Content-Language"},
	{"response-expires", "Expires"},
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
}

// getObjectQuery returns the query parameters of a GetObject or
// HeadObject, or nil when none of those it reads (versionId, partNumber,
// response-*) is present: a presigned URL's own parameters, which are
// most of a query, are then not parsed again.
func getObjectQuery(u *url.URL) url.Values {
	raw := u.RawQuery
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		key, _, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(key, "%+;") {
			return u.Query() // an escaped name: let the parser decide
		}
		if key == "versionId" || key == "partNumber" || strings.HasPrefix(key, "response-") {
			return u.Query()
		}
	}
	return nil
}

// headerValue is h.Get for a key given in canonical form, without the
// allocation Get makes to canonicalize a name such as "x-amz-…".
func headerValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// handleGetObject serves GetObject and (head) HeadObject: conditions,
// then partNumber or Range, then headers and the data.
func (s *Store) handleGetObject(w http.ResponseWriter, r *http.Request, info *s3api.Info, head bool) error {
	q := getObjectQuery(r.URL)
	if err := checkVersionID(q.Get("versionId")); err != nil {
		return err
	}
	if err := rejectUnsupported(r.Header); err != nil {
		return err
	}
	if info.Identity != nil && info.Identity.Name == s3api.AnonymousIdentity {
		for _, o := range responseOverrides {
			if q.Has(o[0]) {
				return s3api.ErrInvalidRequest.WithMessage("Request specific response headers cannot be used for anonymous GET requests.")
			}
		}
	}
	var oi ObjectInfo
	var obj *Object
	var err error
	if head {
		oi, err = s.StatObject(info.Bucket, info.Key)
	} else {
		obj, err = s.OpenObject(info.Bucket, info.Key)
		if err == nil {
			defer obj.Close()
			oi = obj.Info
		}
	}
	if err != nil {
		return err
	}
	h := w.Header()
	lastModified := oi.LastModified.UTC().Format(http.TimeFormat)
	if err := requestConditions(r.Header, "").Check(oi.ETag, oi.LastModified); err != nil {
		if errors.Is(err, s3api.ErrNotModified) {
			h.Set("ETag", oi.ETag)
			h.Set("Last-Modified", lastModified)
		}
		return err
	}
	start, length, status := int64(0), oi.Size, http.StatusOK
	if pn := q.Get("partNumber"); pn != "" {
		if r.Header.Get("Range") != "" {
			return s3api.ErrInvalidRequest.WithMessage("Cannot specify both Range header and partNumber query parameter.")
		}
		n, err := strconv.Atoi(pn)
		if err != nil || checkPartNumber(n) != nil {
			return s3api.ErrInvalidArgument.WithMessage("Part number must be an integer between 1 and %d, inclusive.", maxPartNumber)
		}
		if oi.PartsCount == 0 {
			if n != 1 {
				return ErrInvalidPartNumber
			}
		} else {
			if n > len(oi.segs) {
				return ErrInvalidPartNumber
			}
			for _, seg := range oi.segs[:n-1] {
				start += seg.Size
			}
			length, status = oi.segs[n-1].Size, http.StatusPartialContent
			h.Set("x-amz-mp-parts-count", strconv.Itoa(oi.PartsCount))
		}
	} else if rh := r.Header.Get("Range"); rh != "" {
		br, ok, err := parseRange(rh, oi.Size)
		if err != nil {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(oi.Size, 10))
			return err
		}
		if ok {
			start, length, status = br.start, br.length, http.StatusPartialContent
		}
	}
	if status == http.StatusPartialContent {
		if length == 0 { // an empty part has no byte range to name
			status = http.StatusOK
		} else {
			h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(start+length-1, 10)+"/"+strconv.FormatInt(oi.Size, 10))
		}
	}
	setMetadataHeaders(h, oi.Metadata)
	for _, o := range responseOverrides {
		if v := q.Get(o[0]); v != "" {
			h.Set(o[1], v)
		}
	}
	h["Etag"] = []string{oi.ETag} // canonical already: Set would allocate to canonicalize "ETag"
	h.Set("Last-Modified", lastModified)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if len(oi.Tags) > 0 {
		h.Set("x-amz-tagging-count", strconv.Itoa(len(oi.Tags)))
	}
	if length == oi.Size && strings.EqualFold(headerValue(r.Header, "X-Amz-Checksum-Mode"), "ENABLED") && oi.Checksum.Algorithm != "" {
		setChecksumHeader(h, oi.Checksum)
		h.Set("x-amz-checksum-type", "FULL_OBJECT")
	}
	w.WriteHeader(status)
	if head || length == 0 {
		return nil
	}
	rd := obj.NewReader(start, length)
	defer rd.Close()
	if _, err := io.Copy(w, rd); err != nil {
		// Headers are sent: the only honest signal left is to abort.
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Store) handleDeleteObject(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	if err := checkVersionID(r.URL.Query().Get("versionId")); err != nil {
		return err
	}
	if err := s.DeleteObject(info.Bucket, info.Key); err != nil {
		return err
	}
	writeEmpty(w, http.StatusNoContent)
	return nil
}

func (s *Store) handleDeleteObjects(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	body, err := readXMLBody(r.Body)
	if err != nil {
		return err
	}
	if err := verifyXMLBodyDigest(r, body); err != nil {
		return err
	}
	quiet, targets, err := parseDeleteObjects(body)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(targets))
	for _, t := range targets {
		if t.VersionID == "" || t.VersionID == "null" {
			keys = append(keys, t.Key)
		}
	}
	errs, err := s.DeleteObjects(info.Bucket, keys)
	if err != nil {
		return err
	}
	var res deleteResult
	i := 0
	for _, t := range targets {
		var kerr error = ErrNoSuchVersion
		if t.VersionID == "" || t.VersionID == "null" {
			kerr = errs[i]
			i++
		}
		var e *s3api.Error
		switch {
		case kerr == nil && !quiet:
			res.Deleted = append(res.Deleted, deletedEntry(t))
		case kerr == nil:
		case errors.As(kerr, &e):
			res.Errors = append(res.Errors, deleteError{Key: t.Key, VersionID: t.VersionID, Code: e.Code, Message: e.Message})
		default:
			return kerr
		}
	}
	s3api.WriteXML(w, r, http.StatusOK, res)
	return nil
}

// CopySourceSize returns the size of a copy's source object, for the
// limits to charge before the copy runs.
func (s *Store) CopySourceSize(_ context.Context, src s3api.CopySource) (int64, error) {
	oi, err := s.StatObject(src.Bucket, src.Key)
	if err != nil {
		return 0, err
	}
	return oi.Size, nil
}

func (s *Store) handleCopyObject(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	if err := rejectUnsupported(r.Header); err != nil {
		return err
	}
	src := info.CopySource
	if err := checkVersionID(src.VersionID); err != nil {
		return err
	}
	var err error
	opts := CopyOptions{SourceConditions: requestConditions(r.Header, "x-amz-copy-source-")}
	switch d := r.Header.Get("x-amz-metadata-directive"); d {
	case "", "COPY":
	case "REPLACE":
		opts.ReplaceMetadata = true
		if opts.Metadata, err = metadataFromHeader(r.Header); err != nil {
			return err
		}
	default:
		return s3api.ErrInvalidArgument.WithMessage("Unknown metadata directive %q.", d)
	}
	switch d := r.Header.Get("x-amz-tagging-directive"); d {
	case "", "COPY":
	case "REPLACE":
		opts.ReplaceTags = true
		if opts.Tags, err = parseTaggingHeader(r.Header.Get("x-amz-tagging")); err != nil {
			return err
		}
	default:
		return s3api.ErrInvalidArgument.WithMessage("Unknown tagging directive %q.", d)
	}
	oi, err := s.CopyObject(r.Context(), src.Bucket, src.Key, info.Bucket, info.Key, opts)
	if err != nil {
		return err
	}
	s3api.WriteXML(w, r, http.StatusOK, newCopyResult("CopyObjectResult", oi.ETag, oi.LastModified))
	return nil
}

func (s *Store) handleGetObjectTagging(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	if err := checkVersionID(r.URL.Query().Get("versionId")); err != nil {
		return err
	}
	tags, err := s.ObjectTags(info.Bucket, info.Key)
	if err != nil {
		return err
	}
	s3api.WriteXML(w, r, http.StatusOK, newTaggingResponse(tags))
	return nil
}

func (s *Store) handlePutObjectTagging(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	if err := checkVersionID(r.URL.Query().Get("versionId")); err != nil {
		return err
	}
	tags, err := readTagging(r, maxObjectTags)
	if err != nil {
		return err
	}
	if err := s.SetObjectTags(info.Bucket, info.Key, tags); err != nil {
		return err
	}
	writeEmpty(w, http.StatusOK)
	return nil
}

func (s *Store) handleDeleteObjectTagging(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	if err := checkVersionID(r.URL.Query().Get("versionId")); err != nil {
		return err
	}
	if err := s.SetObjectTags(info.Bucket, info.Key, nil); err != nil {
		return err
	}
	writeEmpty(w, http.StatusNoContent)
	return nil
}
