package gateway

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Requests whose answer depends on the caller's scope, and the sizes the
// limits need before a request is admitted.

// maxListBucketsBody bounds the upstream ListBuckets answer the gateway
// reads to filter it: 10,000 buckets of long names fit.
const maxListBucketsBody = 16 << 20

// scopedListing reports whether a ListBuckets answer must be filtered for
// info's caller: one whose List grant is scoped to some buckets sees only
// those, as with the embedded store.
func scopedListing(info *s3api.Info) bool {
	return info.Operation == s3api.OpListBuckets && info.Identity != nil && !info.Identity.AllowedEverywhere(s3api.ActionList)
}

// listAllMyBuckets is the ListBuckets answer, read to be filtered. Only
// the bucket names are interpreted; everything else is kept as sent.
type listAllMyBuckets struct {
	XMLName xml.Name     `xml:"ListAllMyBucketsResult"`
	Attrs   []xml.Attr   `xml:",any,attr"`
	Fields  []rawElement `xml:",any"`
}

type rawElement struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   []byte     `xml:",innerxml"`
}

type bucketsElement struct {
	Buckets []rawElement `xml:",any"`
}

type bucketName struct {
	Name string `xml:"Name"`
}

// filterBuckets returns the ListBuckets answer body without the buckets
// allowed returns false for.
func filterBuckets(body []byte, allowed func(bucket string) bool) ([]byte, error) {
	var doc listAllMyBuckets
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("reading the upstream's ListBuckets answer: %w", err)
	}
	for i := range doc.Fields {
		f := &doc.Fields[i]
		if f.XMLName.Local != "Buckets" {
			continue
		}
		var list bucketsElement
		if err := xml.Unmarshal(append(append([]byte("<Buckets>"), f.Inner...), "</Buckets>"...), &list); err != nil {
			return nil, fmt.Errorf("reading the upstream's ListBuckets answer: %w", err)
		}
		var kept bytes.Buffer
		for _, b := range list.Buckets {
			var n bucketName
			if err := xml.Unmarshal(append(append([]byte("<Bucket>"), b.Inner...), "</Bucket>"...), &n); err != nil {
				return nil, fmt.Errorf("reading the upstream's ListBuckets answer: %w", err)
			}
			if allowed(n.Name) {
				kept.WriteString("<Bucket>")
				kept.Write(b.Inner)
				kept.WriteString("</Bucket>")
			}
		}
		f.Inner = kept.Bytes()
	}
	out, err := xml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), out...), nil
}

// respondFiltered answers a ListBuckets for a scoped caller: the upstream's
// answer without the buckets the caller may not list.
func (g *Gateway) respondFiltered(w http.ResponseWriter, c *call, res *http.Response) {
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		g.respond(w, c, res)
		return
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxListBucketsBody+1))
	if err == nil && len(body) > maxListBucketsBody {
		err = errors.New("the upstream's ListBuckets answer is too large to filter")
	}
	if err == nil {
		id := c.info.Identity
		body, err = filterBuckets(body, func(b string) bool { return id.Allowed(s3api.ActionList, b) })
	}
	if err != nil {
		g.handleError(w, c, err)
		return
	}
	removeConnectionListed(res.Header)
	dst := w.Header()
	copyResponseHeader(dst, res.Header)
	dst.Del("ETag")
	dst.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// CopySourceSize asks the upstream for the size of a copy's source (a
// signed HEAD), so that the limits charge a copy the bytes it moves. The
// server calls it before admitting a CopyObject or an UploadPartCopy
// without a range.
func (g *Gateway) CopySourceSize(ctx context.Context, src s3api.CopySource) (int64, error) {
	var q string
	if src.VersionID != "" {
		q = "versionId=" + url.QueryEscape(src.VersionID)
	}
	res, err := g.head(ctx, g.upstreamURL(src.Bucket, src.Key, q))
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.ContentLength < 0 {
		return 0, fmt.Errorf("gateway: HEAD of the copy source: status %d", res.StatusCode)
	}
	return res.ContentLength, nil
}
