package store

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Request bodies in XML: CompleteMultipartUpload, DeleteObjects and
// Put*Tagging. Each parser takes the whole body, already size-capped by
// readXMLBody, and returns MalformedXML for anything that does not match
// the S3 schema.

// maxXMLBody is the largest XML request body accepted, in bytes. A
// CompleteMultipartUpload of 10000 parts with checksums fits.
const maxXMLBody = 1 << 20

// maxDeleteObjects is the most keys one DeleteObjects may name.
const maxDeleteObjects = 1000

// readXMLBody reads an XML request body of at most maxXMLBody bytes.
func readXMLBody(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxXMLBody+1))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, s3api.ErrIncompleteBody
		}
		return nil, err
	}
	if len(data) > maxXMLBody {
		return nil, s3api.ErrMaxMessageLengthExceeded.WithMessage("Your request was too big: XML bodies are limited to %d bytes.", maxXMLBody)
	}
	return data, nil
}

// unmarshalXML decodes one root element into v, which names the root
// (any namespace), and rejects anything but white space, comments and
// processing instructions after it.
func unmarshalXML(data []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		return s3api.ErrMalformedXML
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s3api.ErrMalformedXML
		}
		switch t := tok.(type) {
		case xml.Comment, xml.ProcInst:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return s3api.ErrMalformedXML
			}
		default:
			return s3api.ErrMalformedXML
		}
	}
}

type completeMultipartUpload struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

// parseCompleteMultipartUpload parses the part list of a
// CompleteMultipartUpload; at least one part is required. Order and
// existence are checked when completing.
func parseCompleteMultipartUpload(data []byte) ([]CompletePart, error) {
	var doc completeMultipartUpload
	if err := unmarshalXML(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Parts) == 0 || len(doc.Parts) > maxPartNumber {
		return nil, s3api.ErrMalformedXML
	}
	parts := make([]CompletePart, len(doc.Parts))
	for i, p := range doc.Parts {
		parts[i] = CompletePart{PartNumber: p.PartNumber, ETag: p.ETag}
	}
	return parts, nil
}

type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool     `xml:"Quiet"`
	Objects []struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId"`
	} `xml:"Object"`
}

// deleteTarget is one object named by DeleteObjects.
type deleteTarget struct {
	Key       string
	VersionID string // "" when not given
}

// parseDeleteObjects parses a DeleteObjects body: 1 to 1000 objects,
// each with a key.
func parseDeleteObjects(data []byte) (quiet bool, targets []deleteTarget, err error) {
	var doc deleteRequest
	if err := unmarshalXML(data, &doc); err != nil {
		return false, nil, err
	}
	if len(doc.Objects) == 0 || len(doc.Objects) > maxDeleteObjects {
		return false, nil, s3api.ErrMalformedXML
	}
	targets = make([]deleteTarget, len(doc.Objects))
	for i, o := range doc.Objects {
		if o.Key == "" {
			return false, nil, s3api.ErrMalformedXML
		}
		targets[i] = deleteTarget{Key: o.Key, VersionID: o.VersionID}
	}
	return doc.Quiet, targets, nil
}

// parseTagging parses a Tagging body and validates its tags (at most max).
func parseTagging(data []byte, max int) ([]Tag, error) {
	var doc tagging
	if err := unmarshalXML(data, &doc); err != nil {
		return nil, err
	}
	tags := make([]Tag, len(doc.TagSet))
	for i, t := range doc.TagSet {
		tags[i] = Tag(t)
	}
	if err := validateTags(tags, max); err != nil {
		return nil, err
	}
	return tags, nil
}
