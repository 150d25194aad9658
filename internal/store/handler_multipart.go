package store

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/s3limit/s3limit/internal/s3api"
)

func (s *Store) handleCreateMultipartUpload(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	if err := rejectUnsupported(r.Header); err != nil {
		return err
	}
	meta, err := metadataFromHeader(r.Header)
	if err != nil {
		return err
	}
	tags, err := parseTaggingHeader(r.Header.Get("x-amz-tagging"))
	if err != nil {
		return err
	}
	id, err := s.CreateMultipartUpload(info.Bucket, info.Key, meta, tags, identityName(info))
	if err != nil {
		return err
	}
	s3api.WriteXML(w, r, http.StatusOK, initiateMultipartUploadResult{Bucket: info.Bucket, Key: info.Key, UploadID: id})
	return nil
}

// partNumberQuery reads the partNumber query parameter of a part upload.
func partNumberQuery(q url.Values) (int, error) {
	n, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil {
		return 0, s3api.ErrInvalidArgument.WithMessage("Part number must be an integer between 1 and %d, inclusive.", maxPartNumber)
	}
	return n, checkPartNumber(n)
}

func (s *Store) handleUploadPart(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	q := r.URL.Query()
	n, err := partNumberQuery(q)
	if err != nil {
		return err
	}
	var opts PartOptions
	if opts.Size, err = bodySize(r, info); err != nil {
		return err
	}
	if opts.ContentMD5, err = contentMD5(r.Header); err != nil {
		return err
	}
	ck, err := parseChecksumRequest(r)
	if err != nil {
		return err
	}
	if ck.alg != "" {
		opts.ChecksumAlgorithm, opts.ChecksumValue = ck.alg, ck.want
	}
	pi, err := s.UploadPart(r.Context(), info.Bucket, info.Key, q.Get("uploadId"), n, r.Body, opts)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", pi.ETag)
	setChecksumHeader(w.Header(), pi.Checksum)
	writeEmpty(w, http.StatusOK)
	return nil
}

func (s *Store) handleUploadPartCopy(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	if err := rejectUnsupported(r.Header); err != nil {
		return err
	}
	q := r.URL.Query()
	n, err := partNumberQuery(q)
	if err != nil {
		return err
	}
	src := info.CopySource
	if err := checkVersionID(src.VersionID); err != nil {
		return err
	}
	first, last := src.First, src.Last
	if !src.HasRange {
		first, last = 0, -1
	}
	conds := requestConditions(r.Header, "x-amz-copy-source-")
	pi, err := s.UploadPartCopy(r.Context(), info.Bucket, info.Key, q.Get("uploadId"), n, src.Bucket, src.Key, first, last, conds)
	if err != nil {
		return err
	}
	s3api.WriteXML(w, r, http.StatusOK, newCopyResult("CopyPartResult", pi.ETag, pi.LastModified))
	return nil
}

func (s *Store) handleCompleteMultipartUpload(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	body, err := readXMLBody(r.Body)
	if err != nil {
		return err
	}
	// x-amz-checksum-* describes the object here, not the XML body.
	if err := verifyContentMD5(r, body); err != nil {
		return err
	}
	parts, err := parseCompleteMultipartUpload(body)
	if err != nil {
		return err
	}
	if err := s.checkObjectChecksum(r, info.Bucket, info.Key, r.URL.Query().Get("uploadId"), parts); err != nil {
		return err
	}
	oi, err := s.CompleteMultipartUpload(info.Bucket, info.Key, r.URL.Query().Get("uploadId"), parts,
		r.Header.Get("If-Match"), r.Header.Get("If-None-Match"))
	if err != nil {
		return err
	}
	s3api.WriteXML(w, r, http.StatusOK, completeMultipartUploadResult{
		Location: objectLocation(r, info),
		Bucket:   info.Bucket,
		Key:      info.Key,
		ETag:     oi.ETag,
	})
	return nil
}

// objectLocation is the URL of an object as the client addressed the
// server (path style).
func objectLocation(r *http.Request, info *s3api.Info) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: "/" + info.Bucket + "/" + info.Key}
	return u.String()
}

func (s *Store) handleAbortMultipartUpload(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	if err := s.AbortMultipartUpload(info.Bucket, info.Key, r.URL.Query().Get("uploadId")); err != nil {
		return err
	}
	writeEmpty(w, http.StatusNoContent)
	return nil
}

func (s *Store) handleListParts(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	q := r.URL.Query()
	max, err := queryInt(q, "max-parts", maxListKeys, maxListKeys)
	if err != nil {
		return err
	}
	marker, err := queryInt(q, "part-number-marker", 0, maxPartNumber)
	if err != nil {
		return err
	}
	pl, err := s.ListParts(info.Bucket, info.Key, q.Get("uploadId"), marker, max)
	if err != nil {
		return err
	}
	res := listPartsResult{
		Bucket:               info.Bucket,
		Key:                  info.Key,
		UploadID:             pl.Upload.UploadID,
		Initiator:            s.initiator(pl.Upload.Initiator),
		Owner:                s.owner,
		StorageClass:         "STANDARD",
		PartNumberMarker:     marker,
		NextPartNumberMarker: pl.NextMarker,
		MaxParts:             max,
		IsTruncated:          pl.IsTruncated,
		Parts:                make([]partEntry, len(pl.Parts)),
	}
	for i, p := range pl.Parts {
		e := partEntry{PartNumber: p.PartNumber, LastModified: xmlTime(p.LastModified), ETag: p.ETag, Size: p.Size}
		switch strings.ToUpper(p.Checksum.Algorithm) {
		case "CRC32":
			e.ChecksumCRC32 = p.Checksum.Value
		case "CRC32C":
			e.ChecksumCRC32C = p.Checksum.Value
		case "CRC64NVME":
			e.ChecksumCRC64NVME = p.Checksum.Value
		case "SHA1":
			e.ChecksumSHA1 = p.Checksum.Value
		case "SHA256":
			e.ChecksumSHA256 = p.Checksum.Value
		}
		res.Parts[i] = e
	}
	s3api.WriteXML(w, r, http.StatusOK, res)
	return nil
}
