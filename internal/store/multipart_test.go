package store

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
)

// createUpload starts an upload through the handler.
func (e *env) createUpload(bucket, key string, h map[string]string) string {
	e.t.Helper()
	rec := e.mustDo(req{op: "CreateMultipartUpload", method: "POST", target: "/" + bucket + "/" + key + "?uploads", bucket: bucket, key: key, header: h}, 200)
	var res struct {
		Bucket, Key, UploadId string
	}
	decodeXML(e.t, rec, &res)
	if res.Bucket != bucket || res.Key != key || res.UploadId == "" {
		e.t.Fatalf("initiate result %+v", res)
	}
	return res.UploadId
}

// uploadPart uploads a part through the handler and returns its ETag.
func (e *env) uploadPart(bucket, key, id string, n int, data string) string {
	e.t.Helper()
	rec := e.mustDo(req{op: "UploadPart", method: "PUT", target: fmt.Sprintf("/%s/%s?partNumber=%d&uploadId=%s", bucket, key, n, id), bucket: bucket, key: key, body: data}, 200)
	return rec.Header().Get("ETag")
}

// completeBody is a CompleteMultipartUpload document.
func completeBody(parts ...any) string {
	var b strings.Builder
	b.WriteString(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	for i := 0; i < len(parts); i += 2 {
		fmt.Fprintf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", parts[i], parts[i+1])
	}
	b.WriteString("</CompleteMultipartUpload>")
	return b.String()
}

func (e *env) complete(bucket, key, id, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(req{op: "CompleteMultipartUpload", method: "POST", target: "/" + bucket + "/" + key + "?uploadId=" + id, bucket: bucket, key: key, body: body})
}

func TestMultipartETagKnownAnswer(t *testing.T) {
	e := newEnv(t)
	e.s.minPartSize = minPartSize // the real 5 MiB rule
	e.mkBucket("bkt")
	id := e.createUpload("bkt", "big", map[string]string{"Content-Type": "text/plain", "x-amz-meta-origin": "mp", "x-amz-tagging": "k=v"})
	p1 := strings.Repeat("a", 5<<20)
	etag1 := e.uploadPart("bkt", "big", id, 1, p1)
	etag2 := e.uploadPart("bkt", "big", id, 2, "hello")
	if etag1 != `"79b281060d337b9b2b84ccf390adcf74"` || etag2 != `"5d41402abc4b2a76b9719d911017c592"` {
		t.Fatalf("part ETags %s %s", etag1, etag2)
	}
	rec := e.complete("bkt", "big", id, completeBody(1, etag1, 2, strings.Trim(etag2, `"`)))
	if rec.Code != 200 {
		t.Fatalf("complete: %d %s", rec.Code, rec.Body.String())
	}
	var res struct{ Location, Bucket, Key, ETag string }
	decodeXML(t, rec, &res)
	const want = `"7cbb08aa3c3309d6882c18fcecc4bee7-2"`
	if res.ETag != want || res.Bucket != "bkt" || res.Key != "big" || res.Location != "http://example.com/bkt/big" {
		t.Fatalf("complete result %+v", res)
	}
	rec = e.mustDo(req{op: "HeadObject", method: "HEAD", bucket: "bkt", key: "big"}, 200)
	h := rec.Header()
	if h.Get("ETag") != want || h.Get("Content-Length") != "5242885" || h.Get("Content-Type") != "text/plain" || rawHeader(h, "x-amz-meta-origin")[0] != "mp" || h.Get("x-amz-tagging-count") != "1" {
		t.Fatalf("head %v", h)
	}
	got, err := e.read("bkt", "big")
	if err != nil || got != p1+"hello" {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	rec = e.mustDo(req{op: "GetObject", target: "/bkt/big?partNumber=2", bucket: "bkt", key: "big"}, 206)
	if rec.Body.String() != "hello" || rec.Header().Get("Content-Range") != "bytes 5242880-5242884/5242885" || rec.Header().Get("x-amz-mp-parts-count") != "2" {
		t.Fatalf("part 2: %q %v", rec.Body.String(), rec.Header())
	}
	rec = e.mustDo(req{op: "HeadObject", method: "HEAD", target: "/bkt/big?partNumber=1", bucket: "bkt", key: "big"}, 206)
	if rec.Header().Get("Content-Length") != "5242880" {
		t.Fatalf("part 1 length %s", rec.Header().Get("Content-Length"))
	}
	wantError(t, e.do(req{op: "GetObject", target: "/bkt/big?partNumber=3", bucket: "bkt", key: "big"}), ErrInvalidPartNumber)
	// A range across the part boundary.
	rec = e.mustDo(req{op: "GetObject", bucket: "bkt", key: "big", header: map[string]string{"Range": "bytes=5242878-5242881"}}, 206)
	if rec.Body.String() != "aahe" {
		t.Fatalf("cross-part range %q", rec.Body.String())
	}
	e.checkNoGarbage(0)
}

func TestCompleteMultipartUploadErrors(t *testing.T) {
	e := newEnv(t)
	e.s.minPartSize = 8
	e.mkBucket("bkt")
	id := e.createUpload("bkt", "k", nil)
	e1 := e.uploadPart("bkt", "k", id, 1, "12345678")
	e2 := e.uploadPart("bkt", "k", id, 2, "short")
	e3 := e.uploadPart("bkt", "k", id, 3, "tail")
	tests := []struct {
		name string
		body string
		want *s3api.Error
	}{
		{"descending", completeBody(2, e2, 1, e1), s3api.ErrInvalidPartOrder},
		{"duplicate", completeBody(1, e1, 1, e1), s3api.ErrInvalidPartOrder},
		{"wrong etag", completeBody(1, e2), s3api.ErrInvalidPart},
		{"missing part", completeBody(1, e1, 4, e3), s3api.ErrInvalidPart},
		{"part zero", completeBody(0, e1), s3api.ErrInvalidPart},
		{"small middle part", completeBody(1, e1, 2, e2, 3, e3), s3api.ErrEntityTooSmall},
		{"no parts", `<CompleteMultipartUpload></CompleteMultipartUpload>`, s3api.ErrMalformedXML},
		{"not xml", `parts please`, s3api.ErrMalformedXML},
		{"wrong root", `<Delete><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></Delete>`, s3api.ErrMalformedXML},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.complete("bkt", "k", id, tc.body), tc.want)
		})
	}
	wantError(t, e.complete("bkt", "other", id, completeBody(1, e1)), s3api.ErrNoSuchUpload)
	wantError(t, e.complete("bkt", "k", "ffffffffffffffffffffffffffffffff", completeBody(1, e1)), s3api.ErrNoSuchUpload)
	wantError(t, e.complete("bkt", "k", "../../etc", completeBody(1, e1)), s3api.ErrNoSuchUpload)
	wantError(t, e.complete("nob", "k", id, completeBody(1, e1)), s3api.ErrNoSuchBucket)
	// The failures left the upload intact: parts 1 and 3 complete it.
	if rec := e.complete("bkt", "k", id, completeBody(1, e1, 3, e3)); rec.Code != 200 {
		t.Fatalf("complete: %d %s", rec.Code, rec.Body.String())
	}
	if got, _ := e.read("bkt", "k"); got != "12345678tail" {
		t.Fatalf("object %q", got)
	}
	// Part 2 was not used and is gone; completing again finds no upload.
	e.checkNoGarbage(0)
	wantError(t, e.complete("bkt", "k", id, completeBody(1, e1)), s3api.ErrNoSuchUpload)
}

func TestUploadPartErrorsAndReplacement(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	id := e.createUpload("bkt", "k", nil)
	for _, n := range []string{"0", "10001", "x", ""} {
		wantError(t, e.do(req{op: "UploadPart", method: "PUT", target: "/bkt/k?partNumber=" + n + "&uploadId=" + id, bucket: "bkt", key: "k", body: "x"}), s3api.ErrInvalidArgument)
	}
	wantError(t, e.do(req{op: "UploadPart", method: "PUT", target: "/bkt/k?partNumber=1&uploadId=" + id, bucket: "bkt", key: "k", body: "x", noLength: true}), s3api.ErrMissingContentLength)
	wantError(t, e.do(req{op: "UploadPart", method: "PUT", target: "/bkt/k?partNumber=1&uploadId=" + id, bucket: "bkt", key: "k", body: "x", header: map[string]string{"Content-MD5": md5b64("y")}}), s3api.ErrBadDigest)
	wantError(t, e.do(req{op: "UploadPart", method: "PUT", target: "/bkt/k?partNumber=1&uploadId=00000000000000000000000000000000", bucket: "bkt", key: "k", body: "x"}), s3api.ErrNoSuchUpload)
	e.uploadPart("bkt", "k", id, 1, "first version")
	e.uploadPart("bkt", "k", id, 1, "second version")
	e.checkNoGarbage(1) // the replaced part's file is gone
	pl, err := e.s.ListParts("bkt", "k", id, 0, 10)
	if err != nil || len(pl.Parts) != 1 || pl.Parts[0].Size != int64(len("second version")) {
		t.Fatalf("parts %+v, %v", pl, err)
	}
	e.mustDo(req{op: "AbortMultipartUpload", method: "DELETE", target: "/bkt/k?uploadId=" + id, bucket: "bkt", key: "k"}, 204)
	wantError(t, e.do(req{op: "AbortMultipartUpload", method: "DELETE", target: "/bkt/k?uploadId=" + id, bucket: "bkt", key: "k"}), s3api.ErrNoSuchUpload)
	wantError(t, e.do(req{op: "ListParts", target: "/bkt/k?uploadId=" + id, bucket: "bkt", key: "k"}), s3api.ErrNoSuchUpload)
	wantError(t, e.do(req{op: "UploadPart", method: "PUT", target: "/bkt/k?partNumber=2&uploadId=" + id, bucket: "bkt", key: "k", body: "x"}), s3api.ErrNoSuchUpload)
	e.checkNoGarbage(0)
}

func TestListParts(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	id := e.createUpload("bkt", "k", nil)
	for n := 1; n <= 5; n++ {
		e.uploadPart("bkt", "k", id, n*2, strings.Repeat("p", n))
	}
	type page struct {
		Bucket, Key, UploadId, StorageClass    string
		PartNumberMarker, NextPartNumberMarker int
		MaxParts                               int
		IsTruncated                            bool
		Initiator                              struct{ ID string }
		Part                                   []struct {
			PartNumber   int
			ETag         string
			Size         int64
			LastModified string
		}
	}
	var numbers []int
	marker := 0
	for range 10 {
		rec := e.mustDo(req{op: "ListParts", target: fmt.Sprintf("/bkt/k?uploadId=%s&max-parts=2&part-number-marker=%d", id, marker), bucket: "bkt", key: "k"}, 200)
		var p page
		decodeXML(t, rec, &p)
		if p.UploadId != id || p.MaxParts != 2 || p.PartNumberMarker != marker || p.Initiator.ID == "" {
			t.Fatalf("page %+v", p)
		}
		for _, part := range p.Part {
			numbers = append(numbers, part.PartNumber)
			if part.Size != int64(part.PartNumber/2) || part.ETag != `"`+md5hex(strings.Repeat("p", part.PartNumber/2))+`"` {
				t.Fatalf("part %+v", part)
			}
		}
		if !p.IsTruncated {
			break
		}
		marker = p.NextPartNumberMarker
	}
	if fmt.Sprint(numbers) != "[2 4 6 8 10]" {
		t.Fatalf("parts %v", numbers)
	}
}

func TestListMultipartUploads(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	ids := map[string][]string{}
	for _, k := range []string{"a/1", "a/2", "b", "b", "c"} {
		ids[k] = append(ids[k], e.createUpload("bkt", k, nil))
		e.clock.Advance(1)
	}
	type page struct {
		KeyMarker, UploadIdMarker, NextKeyMarker, NextUploadIdMarker string
		Prefix, Delimiter                                            string
		MaxUploads                                                   int
		IsTruncated                                                  bool
		Upload                                                       []struct {
			Key, UploadId, Initiated, StorageClass string
		}
		CommonPrefixes []struct{ Prefix string }
	}
	list := func(q string) page {
		t.Helper()
		rec := e.mustDo(req{op: "ListMultipartUploads", target: "/bkt?uploads&" + q, bucket: "bkt"}, 200)
		var p page
		decodeXML(t, rec, &p)
		return p
	}
	var got []string
	q := "max-uploads=2"
	for range 10 {
		p := list(q)
		for _, u := range p.Upload {
			got = append(got, u.Key+":"+u.UploadId)
		}
		if !p.IsTruncated {
			break
		}
		q = "max-uploads=2&key-marker=" + p.NextKeyMarker + "&upload-id-marker=" + p.NextUploadIdMarker
	}
	want := []string{"a/1:" + ids["a/1"][0], "a/2:" + ids["a/2"][0], "b:" + ids["b"][0], "b:" + ids["b"][1], "c:" + ids["c"][0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("uploads\n got %v\nwant %v", got, want)
	}
	p := list("delimiter=/")
	if len(p.CommonPrefixes) != 1 || p.CommonPrefixes[0].Prefix != "a/" || len(p.Upload) != 3 {
		t.Fatalf("delimiter page %+v", p)
	}
	p = list("prefix=b")
	if len(p.Upload) != 2 || p.Prefix != "b" {
		t.Fatalf("prefix page %+v", p)
	}
	p = list("key-marker=b")
	if len(p.Upload) != 1 || p.Upload[0].Key != "c" {
		t.Fatalf("key-marker page %+v", p)
	}
	if p.Upload[0].Initiated != "2024-05-06T07:08:09.000Z" {
		t.Fatalf("initiated %q", p.Upload[0].Initiated)
	}
	wantError(t, e.do(req{op: "ListMultipartUploads", target: "/nob?uploads", bucket: "nob"}), s3api.ErrNoSuchBucket)
}

func TestUploadPartCopy(t *testing.T) {
	e := newEnv(t)
	e.s.minPartSize = 4
	e.mkBucket("bkt")
	e.put("bkt", "src", "0123456789")
	id := e.createUpload("bkt", "dst", nil)
	copyPart := func(n int, h map[string]string) *httptest.ResponseRecorder {
		return e.do(req{op: "UploadPartCopy", method: "PUT", target: fmt.Sprintf("/bkt/dst?partNumber=%d&uploadId=%s", n, id), bucket: "bkt", key: "dst", header: h})
	}
	rec := copyPart(1, map[string]string{"x-amz-copy-source": "/bkt/src", "x-amz-copy-source-range": "bytes=2-5"})
	if rec.Code != 200 {
		t.Fatalf("copy part: %d %s", rec.Code, rec.Body.String())
	}
	var res struct {
		XMLName      xml.Name
		ETag         string
		LastModified string
	}
	decodeXML(t, rec, &res)
	if res.XMLName.Local != "CopyPartResult" || res.ETag != `"`+md5hex("2345")+`"` {
		t.Fatalf("copy part result %+v", res)
	}
	e1 := res.ETag
	rec = copyPart(2, map[string]string{"x-amz-copy-source": "bkt/src"})
	decodeXML(t, rec, &res)
	e2 := res.ETag
	for name, tc := range map[string]struct {
		h    map[string]string
		want *s3api.Error
	}{
		"range past end":   {map[string]string{"x-amz-copy-source": "/bkt/src", "x-amz-copy-source-range": "bytes=5-10"}, s3api.ErrInvalidRange},
		"open range":       {map[string]string{"x-amz-copy-source": "/bkt/src", "x-amz-copy-source-range": "bytes=5-"}, s3api.ErrInvalidArgument},
		"missing source":   {map[string]string{"x-amz-copy-source": "/bkt/none"}, s3api.ErrNoSuchKey},
		"no source":        {map[string]string{}, s3api.ErrInvalidArgument},
		"precondition":     {map[string]string{"x-amz-copy-source": "/bkt/src", "x-amz-copy-source-if-match": `"x"`}, s3api.ErrPreconditionFailed},
		"source if-none":   {map[string]string{"x-amz-copy-source": "/bkt/src", "x-amz-copy-source-if-none-match": "*"}, s3api.ErrPreconditionFailed},
		"source version":   {map[string]string{"x-amz-copy-source": "/bkt/src?versionId=3"}, ErrNoSuchVersion},
		"source no bucket": {map[string]string{"x-amz-copy-source": "/nob/src"}, s3api.ErrNoSuchBucket},
	} {
		t.Run(name, func(t *testing.T) { wantError(t, copyPart(3, tc.h), tc.want) })
	}
	if rec := e.complete("bkt", "dst", id, completeBody(1, e1, 2, e2)); rec.Code != 200 {
		t.Fatalf("complete: %s", rec.Body.String())
	}
	if got, _ := e.read("bkt", "dst"); got != "23450123456789" {
		t.Fatalf("assembled %q", got)
	}
	e.checkNoGarbage(0)
}

func TestCompleteReplacesAndConditional(t *testing.T) {
	e := newEnv(t)
	e.s.minPartSize = 1
	e.mkBucket("bkt")
	e.put("bkt", "k", "old")
	id := e.createUpload("bkt", "k", nil)
	et := e.uploadPart("bkt", "k", id, 1, "new")
	rec := e.do(req{op: "CompleteMultipartUpload", method: "POST", target: "/bkt/k?uploadId=" + id, bucket: "bkt", key: "k", body: completeBody(1, et), header: map[string]string{"If-None-Match": "*"}})
	wantError(t, rec, s3api.ErrPreconditionFailed)
	if rec := e.complete("bkt", "k", id, completeBody(1, et)); rec.Code != http.StatusOK {
		t.Fatalf("complete: %s", rec.Body.String())
	}
	if got, _ := e.read("bkt", "k"); got != "new" {
		t.Fatalf("object %q", got)
	}
	e.checkNoGarbage(0)
}
