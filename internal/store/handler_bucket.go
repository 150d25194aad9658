package store

import (
	"encoding/base64"
	"io"
	"net/http"

	"github.com/s3limit/s3limit/internal/s3api"
)

// maxListBuckets caps max-buckets of ListBuckets.
const maxListBuckets = 10000

// handleListBuckets lists the buckets the caller may list: an identity
// whose List grant is scoped to some buckets sees only those (see
// s3api.Identity.Allowed).
func (s *Store) handleListBuckets(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	q := r.URL.Query()
	max, err := queryInt(q, "max-buckets", 0, maxListBuckets)
	if err != nil {
		return err
	}
	if q.Has("max-buckets") && max == 0 {
		return s3api.ErrInvalidArgument.WithMessage("max-buckets must be between 1 and %d.", maxListBuckets)
	}
	after := ""
	if tok := q.Get("continuation-token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return s3api.ErrInvalidArgument.WithMessage("The continuation token provided is incorrect.")
		}
		after = string(b)
	}
	prefix := q.Get("prefix")
	var visible func(string) bool
	if id := info.Identity; id != nil && !id.AllowedEverywhere(s3api.ActionList) {
		visible = func(name string) bool { return id.Allowed(s3api.ActionList, name) }
	}
	list, more, err := s.listBuckets(prefix, after, max, visible)
	if err != nil {
		return err
	}
	res := listAllMyBucketsResult{Owner: s.owner, Prefix: prefix, Buckets: make([]bucketEntry, len(list))}
	for i, b := range list {
		res.Buckets[i] = bucketEntry{Name: b.Name, CreationDate: xmlTime(b.Created), BucketRegion: s.region}
	}
	if more {
		res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(list[len(list)-1].Name))
	}
	s3api.WriteXML(w, r, http.StatusOK, res)
	return nil
}

func (s *Store) handleCreateBucket(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	if err := rejectUnsupported(r.Header); err != nil {
		return err
	}
	// The body may hold a CreateBucketConfiguration; a store has one
	// region, so it is read (bounded) and otherwise ignored.
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxXMLBody)); err != nil {
		return err
	}
	if err := s.CreateBucket(info.Bucket); err != nil {
		return err
	}
	w.Header().Set("Location", "/"+info.Bucket)
	writeEmpty(w, http.StatusOK)
	return nil
}

func (s *Store) handleHeadBucket(w http.ResponseWriter, info *s3api.Info) error {
	if err := s.HeadBucket(info.Bucket); err != nil {
		return err
	}
	w.Header().Set("x-amz-bucket-region", s.region)
	writeEmpty(w, http.StatusOK)
	return nil
}

func (s *Store) handleDeleteBucket(w http.ResponseWriter, info *s3api.Info) error {
	if err := s.DeleteBucket(info.Bucket); err != nil {
		return err
	}
	writeEmpty(w, http.StatusNoContent)
	return nil
}

func (s *Store) handleGetBucketLocation(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	if err := s.HeadBucket(info.Bucket); err != nil {
		return err
	}
	res := locationConstraint{}
	if s.region != "us-east-1" { // S3 answers an empty constraint for us-east-1
		res.Location = s.region
	}
	s3api.WriteXML(w, r, http.StatusOK, res)
	return nil
}

func (s *Store) handleGetBucketVersioning(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	if err := s.HeadBucket(info.Bucket); err != nil {
		return err
	}
	s3api.WriteXML(w, r, http.StatusOK, versioningConfiguration{})
	return nil
}

func (s *Store) handleGetBucketTagging(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	tags, err := s.BucketTags(info.Bucket)
	if err != nil {
		return err
	}
	s3api.WriteXML(w, r, http.StatusOK, newTaggingResponse(tags))
	return nil
}

func (s *Store) handlePutBucketTagging(w http.ResponseWriter, r *http.Request, info *s3api.Info) error {
	tags, err := readTagging(r, maxBucketTags)
	if err != nil {
		return err
	}
	if err := s.SetBucketTags(info.Bucket, tags); err != nil {
		return err
	}
	writeEmpty(w, http.StatusNoContent)
	return nil
}

func (s *Store) handleDeleteBucketTagging(w http.ResponseWriter, info *s3api.Info) error {
	if err := s.SetBucketTags(info.Bucket, nil); err != nil {
		return err
	}
	writeEmpty(w, http.StatusNoContent)
	return nil
}

// readTagging reads, verifies and parses a Tagging request body.
func readTagging(r *http.Request, max int) ([]Tag, error) {
	body, err := readXMLBody(r.Body)
	if err != nil {
		return nil, err
	}
	if err := verifyXMLBodyDigest(r, body); err != nil {
		return nil, err
	}
	tags, err := parseTagging(body, max)
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []Tag{} // an empty TagSet is a tag set, not its absence
	}
	return tags, nil
}
