package store

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

func md5hex(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }

func md5b64(s string) string {
	sum := md5.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestPutGetHeadRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("photos")
	rec := e.mustDo(req{op: "PutObject", method: "PUT", bucket: "photos", key: "dir/a b.txt", body: "hello world", header: map[string]string{
		"Content-Type":        "text/plain",
		"Content-Encoding":    "gzip",
		"Content-Disposition": `attachment; filename="a.txt"`,
		"Cache-Control":       "max-age=60",
		"Content-Language":    "en",
		"Expires":             "Wed, 21 Oct 2015 07:28:00 GMT",
		"X-Amz-Meta-Color":    "Blue",
		"x-amz-meta-Camel":    "x",
		"x-amz-tagging":       "a=1&b=two%20words",
		"Content-MD5":         md5b64("hello world"),
	}}, http.StatusOK)
	etag := `"` + md5hex("hello world") + `"`
	if got := rec.Header().Get("ETag"); got != etag {
		t.Fatalf("put ETag %s, want %s", got, etag)
	}
	for _, op := range []string{"GetObject", "HeadObject"} {
		method := "GET"
		if op == "HeadObject" {
			method = "HEAD"
		}
		rec := e.mustDo(req{op: op, method: method, bucket: "photos", key: "dir/a b.txt"}, http.StatusOK)
		h := rec.Header()
		want := map[string]string{
			"ETag":                etag,
			"Content-Type":        "text/plain",
			"Content-Encoding":    "gzip",
			"Content-Disposition": `attachment; filename="a.txt"`,
			"Cache-Control":       "max-age=60",
			"Content-Language":    "en",
			"Expires":             "Wed, 21 Oct 2015 07:28:00 GMT",
			"Content-Length":      "11",
			"Accept-Ranges":       "bytes",
			"Last-Modified":       e.clock.Now().Format(http.TimeFormat),
			"x-amz-tagging-count": "2",
		}
		for k, v := range want {
			if got := h.Get(k); got != v {
				t.Errorf("%s %s = %q, want %q", op, k, got, v)
			}
		}
		// The raw map: user metadata names go out in lower case, as S3
		// sends them, not in Go's canonical form.
		if got := rawHeader(h, "x-amz-meta-color"); len(got) != 1 || got[0] != "Blue" {
			t.Errorf("%s x-amz-meta-color = %v (headers %v)", op, got, h)
		}
		if got := rawHeader(h, "x-amz-meta-camel"); len(got) != 1 || got[0] != "x" {
			t.Errorf("%s x-amz-meta-camel = %v", op, got)
		}
		wantBody := "hello world"
		if op == "HeadObject" {
			wantBody = ""
		}
		if rec.Body.String() != wantBody {
			t.Errorf("%s body %q", op, rec.Body.String())
		}
	}
	tags, err := e.s.ObjectTags("photos", "dir/a b.txt")
	if err != nil || len(tags) != 2 || tags[1] != (Tag{"b", "two words"}) {
		t.Fatalf("tags %v, %v", tags, err)
	}
}

func TestPutObjectDefaultsAndErrors(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	rec := e.mustDo(req{op: "PutObject", method: "PUT", bucket: "bk1", key: "empty"}, http.StatusOK)
	if got := rec.Header().Get("ETag"); got != `"d41d8cd98f00b204e9800998ecf8427e"` {
		t.Fatalf("empty ETag %s", got)
	}
	rec = e.mustDo(req{op: "GetObject", bucket: "bk1", key: "empty"}, http.StatusOK)
	if ct := rec.Header().Get("Content-Type"); ct != "binary/octet-stream" {
		t.Fatalf("default Content-Type %q", ct)
	}
	long := strings.Repeat("k", maxKeyLength+1)
	bigMeta := strings.Repeat("v", maxUserMetadata)
	tests := []struct {
		name string
		r    req
		want *s3api.Error
	}{
		{"no such bucket", req{bucket: "nope", key: "k", body: "x"}, s3api.ErrNoSuchBucket},
		{"bad digest", req{bucket: "bk1", key: "k", body: "x", header: map[string]string{"Content-MD5": md5b64("y")}}, s3api.ErrBadDigest},
		{"invalid digest", req{bucket: "bk1", key: "k", body: "x", header: map[string]string{"Content-MD5": "bm90LW1kNQ=="}}, s3api.ErrInvalidDigest},
		{"missing length", req{bucket: "bk1", key: "k", body: "x", noLength: true}, s3api.ErrMissingContentLength},
		{"key too long", req{bucket: "bk1", key: long, body: "x"}, s3api.ErrKeyTooLong},
		{"too many tags", req{bucket: "bk1", key: "k", body: "x", header: map[string]string{"x-amz-tagging": "a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1"}}, s3api.ErrInvalidTag},
		{"duplicate tag", req{bucket: "bk1", key: "k", body: "x", header: map[string]string{"x-amz-tagging": "a=1&a=2"}}, s3api.ErrInvalidTag},
		{"metadata too large", req{bucket: "bk1", key: "k", body: "x", header: map[string]string{"x-amz-meta-big": bigMeta}}, ErrMetadataTooLarge},
		{"sse", req{bucket: "bk1", key: "k", body: "x", header: map[string]string{"x-amz-server-side-encryption": "AES256"}}, s3api.ErrNotImplemented},
		{"bad crc32", req{bucket: "bk1", key: "k", body: "x", header: map[string]string{"x-amz-checksum-crc32": "AAAAAA=="}}, s3api.ErrBadDigest},
		{"two checksums", req{bucket: "bk1", key: "k", body: "x", header: map[string]string{"x-amz-checksum-crc32": checksumOf("CRC32", []byte("x")), "x-amz-checksum-sha1": checksumOf("SHA1", []byte("x"))}}, s3api.ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.op, tc.r.method = "PutObject", "PUT"
			wantError(t, e.do(tc.r), tc.want)
		})
	}
	if _, err := e.s.StatObject("bk1", "k"); err != s3api.ErrNoSuchKey {
		t.Fatalf("a failed put created the object: %v", err)
	}
	e.checkNoGarbage(0)
}

func TestPutObjectChecksumStoredAndReturned(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	sum := checksumOf("CRC32C", []byte("payload"))
	rec := e.mustDo(req{op: "PutObject", method: "PUT", bucket: "bk1", key: "k", body: "payload",
		header: map[string]string{"x-amz-checksum-crc32c": sum}}, http.StatusOK)
	if got := rec.Header().Get("x-amz-checksum-crc32c"); got != sum {
		t.Fatalf("put checksum %q, want %q", got, sum)
	}
	rec = e.mustDo(req{op: "GetObject", bucket: "bk1", key: "k"}, http.StatusOK)
	if got := rec.Header().Get("x-amz-checksum-crc32c"); got != "" {
		t.Fatalf("checksum sent without checksum mode: %q", got)
	}
	rec = e.mustDo(req{op: "GetObject", bucket: "bk1", key: "k", header: map[string]string{"x-amz-checksum-mode": "ENABLED"}}, http.StatusOK)
	if got := rec.Header().Get("x-amz-checksum-crc32c"); got != sum {
		t.Fatalf("get checksum %q, want %q", got, sum)
	}
	rec = e.mustDo(req{op: "GetObject", bucket: "bk1", key: "k", header: map[string]string{"x-amz-checksum-mode": "ENABLED", "Range": "bytes=0-1"}}, http.StatusPartialContent)
	if got := rec.Header().Get("x-amz-checksum-crc32c"); got != "" {
		t.Fatalf("whole-object checksum sent with a range: %q", got)
	}
}

func TestPutObjectTrailerChecksum(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	sum := checksumOf("CRC32", []byte("trailer body"))
	for _, tc := range []struct {
		name, value string
		want        int
	}{{"match", sum, http.StatusOK}, {"mismatch", "AAAAAA==", http.StatusBadRequest}} {
		t.Run(tc.name, func(t *testing.T) {
			hr := newRequest(t, "PutObject", "PUT", "bk1", "t-"+tc.name, "trailer body")
			hr.Header.Set("x-amz-trailer", "x-amz-checksum-crc32")
			hr.Body = &trailerBody{r: strings.NewReader("trailer body"), req: hr, value: tc.value}
			rec := serve(e.s, hr)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body.String())
			}
		})
	}
	oi, err := e.s.StatObject("bk1", "t-match")
	if err != nil || oi.Checksum != (Checksum{"CRC32", sum}) {
		t.Fatalf("stored checksum %+v, %v", oi.Checksum, err)
	}
}

func TestPutObjectBodyErrorCreatesNothing(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	e.put("bk1", "k", "old")
	hr := newRequest(t, "PutObject", "PUT", "bk1", "k", "0123456789")
	hr.Body = &failingBody{data: "01234", err: s3api.ErrSignatureDoesNotMatch}
	rec := serve(e.s, hr)
	wantError(t, rec, s3api.ErrSignatureDoesNotMatch)
	if got, err := e.read("bk1", "k"); got != "old" || err != nil {
		t.Fatalf("object after failed overwrite: %q, %v", got, err)
	}
	// A body shorter than its declared length.
	hr = newRequest(t, "PutObject", "PUT", "bk1", "k2", "0123456789")
	hr.Body = &failingBody{data: "01234"}
	wantError(t, serve(e.s, hr), s3api.ErrIncompleteBody)
	e.checkNoGarbage(0)
}

func TestConditionalWrites(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	put := func(key string, h map[string]string) *httptest.ResponseRecorder {
		return e.do(req{op: "PutObject", method: "PUT", bucket: "bk1", key: key, body: "v", header: h})
	}
	if rec := put("k", map[string]string{"If-None-Match": "*"}); rec.Code != 200 {
		t.Fatalf("create-if-absent: %d", rec.Code)
	}
	wantError(t, put("k", map[string]string{"If-None-Match": "*"}), s3api.ErrPreconditionFailed)
	wantError(t, put("k", map[string]string{"If-Match": `"nope"`}), s3api.ErrPreconditionFailed)
	wantError(t, put("absent", map[string]string{"If-Match": `"x"`}), s3api.ErrNoSuchKey)
	if rec := put("k", map[string]string{"If-Match": `"` + md5hex("v") + `"`}); rec.Code != 200 {
		t.Fatalf("if-match put: %d", rec.Code)
	}
	e.checkNoGarbage(0)
}

func TestGetObjectRanges(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	e.put("bk1", "k", "0123456789")
	e.put("bk1", "empty", "")
	tests := []struct {
		key, rng     string
		status       int
		body, crange string
	}{
		{"k", "bytes=0-3", 206, "0123", "bytes 0-3/10"},
		{"k", "bytes=5-", 206, "56789", "bytes 5-9/10"},
		{"k", "bytes=-3", 206, "789", "bytes 7-9/10"},
		{"k", "bytes=-30", 206, "0123456789", "bytes 0-9/10"},
		{"k", "bytes=8-100", 206, "89", "bytes 8-9/10"},
		{"k", "bytes=9-9", 206, "9", "bytes 9-9/10"},
		{"k", "bytes=10-", 416, "", "bytes */10"},
		{"k", "bytes=10-20", 416, "", "bytes */10"},
		{"k", "bytes=-0", 416, "", "bytes */10"},
		{"k", "bytes=5-2", 200, "0123456789", ""},      // invalid: ignored
		{"k", "bytes=0-1,3-4", 200, "0123456789", ""},  // several ranges: whole object
		{"k", "items=0-1", 200, "0123456789", ""},      // other unit: ignored
		{"k", "bytes=abc", 200, "0123456789", ""},      // malformed: ignored
		{"empty", "bytes=0-", 416, "", "bytes */0"},    // nothing to satisfy
		{"empty", "bytes=0-0", 416, "", "bytes */0"},   // nothing to satisfy
		{"empty", "bytes=-5", 200, "", ""},             // a tail read of an empty object: 200, as S3 and RFC 9110 have it
		{"k", "", 200, "0123456789", ""},               // no range
		{"k", "bytes= 2-3", 206, "23", "bytes 2-3/10"}, // white space tolerated
		{"k", "bytes=0-9", 206, "0123456789", "bytes 0-9/10"},
	}
	for _, tc := range tests {
		t.Run(tc.key+" "+tc.rng, func(t *testing.T) {
			rec := e.do(req{op: "GetObject", bucket: "bk1", key: tc.key, header: map[string]string{"Range": tc.rng}})
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			if got := rec.Header().Get("Content-Range"); got != tc.crange {
				t.Errorf("Content-Range %q, want %q", got, tc.crange)
			}
			if tc.status == 416 {
				wantError(t, rec, s3api.ErrInvalidRange)
				return
			}
			if rec.Body.String() != tc.body {
				t.Errorf("body %q, want %q", rec.Body.String(), tc.body)
			}
			if got := rec.Header().Get("Content-Length"); got != strconv.Itoa(len(tc.body)) {
				t.Errorf("Content-Length %s, want %d", got, len(tc.body))
			}
		})
	}
}

func TestGetObjectConditional(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	oi := e.put("bk1", "k", "data")
	etag := oi.ETag
	mod := oi.LastModified
	before := mod.Add(-time.Hour).Format(http.TimeFormat)
	at := mod.Format(http.TimeFormat)
	after := mod.Add(time.Hour).Format(http.TimeFormat)
	tests := []struct {
		name   string
		h      map[string]string
		status int
	}{
		{"if-match hit", map[string]string{"If-Match": etag}, 200},
		{"if-match unquoted", map[string]string{"If-Match": strings.Trim(etag, `"`)}, 200},
		{"if-match list", map[string]string{"If-Match": `"x", ` + etag}, 200},
		{"if-match star", map[string]string{"If-Match": "*"}, 200},
		{"if-match miss", map[string]string{"If-Match": `"x"`}, 412},
		{"if-none-match hit", map[string]string{"If-None-Match": etag}, 304},
		{"if-none-match star", map[string]string{"If-None-Match": "*"}, 304},
		{"if-none-match miss", map[string]string{"If-None-Match": `"x"`}, 200},
		{"if-modified-since before", map[string]string{"If-Modified-Since": before}, 200},
		{"if-modified-since at", map[string]string{"If-Modified-Since": at}, 304},
		{"if-modified-since after", map[string]string{"If-Modified-Since": after}, 304},
		{"if-unmodified-since before", map[string]string{"If-Unmodified-Since": before}, 412},
		{"if-unmodified-since at", map[string]string{"If-Unmodified-Since": at}, 200},
		{"invalid date ignored", map[string]string{"If-Unmodified-Since": "yesterday"}, 200},
		// RFC 7232 section 6: If-Match wins over If-Unmodified-Since,
		// If-None-Match over If-Modified-Since.
		{"if-match true, unmodified-since false", map[string]string{"If-Match": etag, "If-Unmodified-Since": before}, 200},
		{"if-none-match false, modified-since not modified", map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": after}, 200},
		{"if-none-match true, modified-since modified", map[string]string{"If-None-Match": etag, "If-Modified-Since": before}, 304},
		{"if-match false beats if-none-match", map[string]string{"If-Match": `"x"`, "If-None-Match": etag}, 412},
	}
	for _, tc := range tests {
		for _, op := range []string{"GetObject", "HeadObject"} {
			t.Run(op+" "+tc.name, func(t *testing.T) {
				method := map[string]string{"GetObject": "GET", "HeadObject": "HEAD"}[op]
				rec := e.do(req{op: op, method: method, bucket: "bk1", key: "k", header: tc.h})
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d", rec.Code, tc.status)
				}
				switch tc.status {
				case 304:
					if rec.Header().Get("ETag") != etag || rec.Body.Len() != 0 {
						t.Errorf("304 without ETag or with a body: %v %q", rec.Header(), rec.Body.String())
					}
				case 412:
					if op == "GetObject" && errorCode(rec) != "PreconditionFailed" {
						t.Errorf("code %q", errorCode(rec))
					}
				}
			})
		}
	}
}

func TestGetObjectOverridesAndErrors(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	e.put("bk1", "k", "data")
	rec := e.mustDo(req{op: "GetObject", target: "/bk1/k?response-content-type=text%2Fhtml&response-content-disposition=inline&response-cache-control=no-cache&response-content-language=de&response-expires=never&response-content-encoding=br", bucket: "bk1", key: "k"}, 200)
	for k, v := range map[string]string{"Content-Type": "text/html", "Content-Disposition": "inline", "Cache-Control": "no-cache", "Content-Language": "de", "Expires": "never", "Content-Encoding": "br"} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	wantError(t, e.do(req{op: "GetObject", bucket: "bk1", key: "missing"}), s3api.ErrNoSuchKey)
	wantError(t, e.do(req{op: "HeadObject", method: "HEAD", bucket: "bk1", key: "missing"}), s3api.ErrNoSuchKey)
	wantError(t, e.do(req{op: "GetObject", bucket: "nobucket", key: "k"}), s3api.ErrNoSuchBucket)
	wantError(t, e.do(req{op: "GetObject", target: "/bk1/k?versionId=abc", bucket: "bk1", key: "k"}), ErrNoSuchVersion)
	e.mustDo(req{op: "GetObject", target: "/bk1/k?versionId=null", bucket: "bk1", key: "k"}, 200)
	wantError(t, e.do(req{op: "GetObject", target: "/bk1/k?partNumber=2", bucket: "bk1", key: "k"}), ErrInvalidPartNumber)
	wantError(t, e.do(req{op: "GetObject", target: "/bk1/k?partNumber=x", bucket: "bk1", key: "k"}), s3api.ErrInvalidArgument)
	rec = e.mustDo(req{op: "GetObject", target: "/bk1/k?partNumber=1", bucket: "bk1", key: "k"}, 200)
	if rec.Body.String() != "data" {
		t.Fatalf("partNumber=1 of a simple object: %q", rec.Body.String())
	}
	wantError(t, e.do(req{op: "GetObject", bucket: "bk1", key: "k", header: map[string]string{"x-amz-server-side-encryption-customer-algorithm": "AES256"}}), s3api.ErrNotImplemented)
}

func TestAnonymousGetObjectCannotOverrideHeaders(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	e.put("bk1", "k", "<script>")
	anonymous := &s3api.Identity{Name: s3api.AnonymousIdentity, Actions: []string{"Read"}}
	signed := &s3api.Identity{Name: "reader", Actions: []string{"Read"}}
	target := "/bk1/k?response-content-type=text%2Fhtml"
	rec := e.do(req{op: "GetObject", target: target, bucket: "bk1", key: "k", identity: anonymous})
	wantError(t, rec, s3api.ErrInvalidRequest)
	if strings.Contains(rec.Body.String(), "<script>") {
		t.Fatalf("the object was served: %s", rec.Body)
	}
	rec = e.mustDo(req{op: "GetObject", target: target, bucket: "bk1", key: "k", identity: signed}, 200)
	if got := rec.Header().Get("Content-Type"); got != "text/html" {
		t.Fatalf("signed request: Content-Type %q, want the override", got)
	}
	e.mustDo(req{op: "GetObject", bucket: "bk1", key: "k", identity: anonymous}, 200)
}

func TestDeleteObject(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	e.put("bk1", "k", "data")
	e.mustDo(req{op: "DeleteObject", method: "DELETE", bucket: "bk1", key: "k"}, http.StatusNoContent)
	wantError(t, e.do(req{op: "GetObject", bucket: "bk1", key: "k"}), s3api.ErrNoSuchKey)
	e.mustDo(req{op: "DeleteObject", method: "DELETE", bucket: "bk1", key: "k"}, http.StatusNoContent)
	wantError(t, e.do(req{op: "DeleteObject", method: "DELETE", bucket: "nobucket", key: "k"}), s3api.ErrNoSuchBucket)
	e.checkNoGarbage(0)
}

func TestDeleteObjects(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	e.put("bk1", "a", "1")
	e.put("bk1", "b&c", "2")
	body := `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object><Object><Key>b&amp;c</Key></Object><Object><Key>missing</Key></Object><Object><Key>a</Key><VersionId>v1</VersionId></Object></Delete>`
	rec := e.mustDo(req{op: "DeleteObjects", method: "POST", target: "/bk1?delete", bucket: "bk1", body: body, header: map[string]string{"Content-MD5": md5b64(body)}}, 200)
	var res struct {
		Deleted []struct{ Key string }
		Error   []struct{ Key, Code, VersionId string }
	}
	decodeXML(t, rec, &res)
	if len(res.Deleted) != 3 || res.Deleted[1].Key != "b&c" || res.Deleted[2].Key != "missing" {
		t.Fatalf("deleted %+v", res.Deleted)
	}
	if len(res.Error) != 1 || res.Error[0].Code != "NoSuchVersion" || res.Error[0].VersionId != "v1" {
		t.Fatalf("errors %+v", res.Error)
	}
	lr, _ := e.s.ListObjects("bk1", ListOptions{MaxKeys: 10})
	if len(lr.Objects) != 0 {
		t.Fatalf("objects left: %+v", lr.Objects)
	}
	e.put("bk1", "q", "1")
	quiet := `<Delete><Quiet>true</Quiet><Object><Key>q</Key></Object></Delete>`
	rec = e.mustDo(req{op: "DeleteObjects", method: "POST", target: "/bk1?delete", bucket: "bk1", body: quiet}, 200)
	res.Deleted, res.Error = nil, nil
	decodeXML(t, rec, &res)
	if len(res.Deleted) != 0 || len(res.Error) != 0 {
		t.Fatalf("quiet mode answered %+v", res)
	}
	if _, err := e.s.StatObject("bk1", "q"); err != s3api.ErrNoSuchKey {
		t.Fatalf("quiet delete left the object: %v", err)
	}
	many := "<Delete>" + strings.Repeat("<Object><Key>x</Key></Object>", maxDeleteObjects+1) + "</Delete>"
	for name, tc := range map[string]struct {
		body string
		h    map[string]string
		want *s3api.Error
	}{
		"too many keys": {many, nil, s3api.ErrMalformedXML},
		"no keys":       {"<Delete></Delete>", nil, s3api.ErrMalformedXML},
		"not xml":       {"delete a please", nil, s3api.ErrMalformedXML},
		"bad md5":       {quiet, map[string]string{"Content-MD5": md5b64("other")}, s3api.ErrBadDigest},
		"too large":     {strings.Repeat(" ", maxXMLBody+1), nil, s3api.ErrMaxMessageLengthExceeded},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.do(req{op: "DeleteObjects", method: "POST", target: "/bk1?delete", bucket: "bk1", body: tc.body, header: tc.h}), tc.want)
		})
	}
	wantError(t, e.do(req{op: "DeleteObjects", method: "POST", target: "/nob?delete", bucket: "nob", body: quiet}), s3api.ErrNoSuchBucket)
}

func TestObjectTagging(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bk1")
	oi := e.put("bk1", "k", "data")
	rec := e.mustDo(req{op: "GetObjectTagging", target: "/bk1/k?tagging", bucket: "bk1", key: "k"}, 200)
	if !strings.Contains(rec.Body.String(), "<TagSet></TagSet>") {
		t.Fatalf("empty tag set: %s", rec.Body.String())
	}
	e.clock.Advance(time.Hour)
	body := `<Tagging><TagSet><Tag><Key>env</Key><Value>prod</Value></Tag><Tag><Key>team</Key><Value>a b</Value></Tag></TagSet></Tagging>`
	e.mustDo(req{op: "PutObjectTagging", method: "PUT", target: "/bk1/k?tagging", bucket: "bk1", key: "k", body: body}, 200)
	rec = e.mustDo(req{op: "GetObjectTagging", target: "/bk1/k?tagging", bucket: "bk1", key: "k"}, 200)
	var doc struct {
		XMLName xml.Name
		TagSet  []Tag `xml:"TagSet>Tag"`
	}
	decodeXML(t, rec, &doc)
	if doc.XMLName.Space != s3Namespace || len(doc.TagSet) != 2 || doc.TagSet[1] != (Tag{"team", "a b"}) {
		t.Fatalf("tags %+v", doc)
	}
	after, _ := e.s.StatObject("bk1", "k")
	if after.ETag != oi.ETag || !after.LastModified.Equal(oi.LastModified) {
		t.Fatalf("tagging changed ETag or Last-Modified: %+v", after)
	}
	rec = e.mustDo(req{op: "HeadObject", method: "HEAD", bucket: "bk1", key: "k"}, 200)
	if rec.Header().Get("x-amz-tagging-count") != "2" {
		t.Fatalf("tagging count %q", rec.Header().Get("x-amz-tagging-count"))
	}
	wantError(t, e.do(req{op: "PutObjectTagging", method: "PUT", target: "/bk1/k?tagging", bucket: "bk1", key: "k",
		body: `<Tagging><TagSet><Tag><Key>aws:x</Key><Value>1</Value></Tag></TagSet></Tagging>`}), s3api.ErrInvalidTag)
	wantError(t, e.do(req{op: "PutObjectTagging", method: "PUT", target: "/bk1/k?tagging", bucket: "bk1", key: "k", body: `<Tagging>`}), s3api.ErrMalformedXML)
	wantError(t, e.do(req{op: "PutObjectTagging", method: "PUT", target: "/bk1/m?tagging", bucket: "bk1", key: "m", body: body}), s3api.ErrNoSuchKey)
	e.mustDo(req{op: "DeleteObjectTagging", method: "DELETE", target: "/bk1/k?tagging", bucket: "bk1", key: "k"}, 204)
	if tags, _ := e.s.ObjectTags("bk1", "k"); len(tags) != 0 {
		t.Fatalf("tags after delete: %v", tags)
	}
	wantError(t, e.do(req{op: "GetObjectTagging", target: "/bk1/m?tagging", bucket: "bk1", key: "m"}), s3api.ErrNoSuchKey)
}

// rawHeader returns the values stored under exactly name, without Go's
// canonicalisation: user metadata names go out in lower case, as S3 sends
// them.
func rawHeader(h http.Header, name string) []string { return h[name] }

// TestGetObjectQuery checks that the query is parsed whenever it may name
// a GetObject parameter, escaped or not, and skipped for a presigned URL's
// own parameters.
func TestGetObjectQuery(t *testing.T) {
	presigned := "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=abc"
	for _, tc := range []struct {
		raw  string
		want map[string]string // nil: not parsed
	}{
		{"", nil},
		{presigned, nil},
		{"x-id=GetObject", nil},
		{"versionIdx=1", nil},
		{presigned + "&versionId=null", map[string]string{"versionId": "null"}},
		{"partNumber=2&" + presigned, map[string]string{"partNumber": "2"}},
		{"response-content-type=text%2Fplain", map[string]string{"response-content-type": "text/plain"}},
		{"version%49d=v1", map[string]string{"versionId": "v1"}},
		{"part%4Eumber=3&" + presigned, map[string]string{"partNumber": "3"}},
		{"response%2Dexpires=x", map[string]string{"response-expires": "x"}},
		{"versionId", map[string]string{"versionId": ""}},
	} {
		u := &url.URL{Path: "/b/k", RawQuery: tc.raw}
		q := getObjectQuery(u)
		if tc.want == nil {
			if q != nil {
				t.Errorf("%q: parsed to %v, want no parse", tc.raw, q)
			}
			continue
		}
		if q == nil {
			t.Errorf("%q: not parsed", tc.raw)
			continue
		}
		for k, v := range tc.want {
			if !q.Has(k) || q.Get(k) != v {
				t.Errorf("%q: %s = %q (present %v), want %q", tc.raw, k, q.Get(k), q.Has(k), v)
			}
		}
	}
}
