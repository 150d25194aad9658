package store

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
)

func TestServeHTTPWithoutClassification(t *testing.T) {
	e := newEnv(t)
	rec := httptest.NewRecorder()
	e.s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	wantError(t, rec, s3api.ErrInternalError)
}

func TestHeadErrorHasNoBody(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	rec := e.do(req{op: "HeadObject", method: "HEAD", bucket: "bkt", key: "none"})
	if rec.Code != http.StatusNotFound || rec.Body.Len() != 0 {
		t.Fatalf("HEAD of a missing key: %d %q", rec.Code, rec.Body.String())
	}
	if rec.Header().Get("x-amz-request-id") != "test-req" {
		t.Fatalf("request id %q", rec.Header().Get("x-amz-request-id"))
	}
}

func TestPutObjectDecodedChunkedBody(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	// After aws-chunked decoding the length may come only from the
	// classified request (x-amz-decoded-content-length).
	hr := newRequest(t, "PutObject", "PUT", "bkt", "k", "chunked data")
	hr.ContentLength = -1
	hr.Header.Set("Content-Encoding", "aws-chunked, gzip")
	if rec := serve(e.s, hr); rec.Code != 200 {
		t.Fatalf("put: %d %s", rec.Code, rec.Body.String())
	}
	rec := e.mustDo(req{op: "HeadObject", method: "HEAD", bucket: "bkt", key: "k"}, 200)
	if rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("Content-Length") != "12" {
		t.Fatalf("headers %v", rec.Header())
	}
	hr = newRequest(t, "PutObject", "PUT", "bkt", "k2", "only")
	hr.Header.Set("Content-Encoding", "aws-chunked")
	serve(e.s, hr)
	oi, _ := e.s.StatObject("bkt", "k2")
	if oi.Metadata.ContentEncoding != "" {
		t.Fatalf("aws-chunked stored as Content-Encoding: %q", oi.Metadata.ContentEncoding)
	}
}

func TestURLEncodeKey(t *testing.T) {
	tests := map[string]string{
		"plain/key.txt": "plain/key.txt",
		"a b+c":         "a%20b%2Bc",
		"é":             "%C3%A9",
		"x&y=z?%":       "x%26y%3Dz%3F%25",
		"~-_.":          "~-_.",
	}
	for in, want := range tests {
		if got := urlEncodeKey(in); got != want {
			t.Errorf("urlEncodeKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMetadataFromHeader(t *testing.T) {
	h := http.Header{}
	h.Set("X-Amz-Meta-Name", "v1")
	h.Add("X-Amz-Meta-Multi", "a")
	h.Add("X-Amz-Meta-Multi", "b")
	h.Set("X-Amz-Meta-", "ignored")
	m, err := metadataFromHeader(h)
	if err != nil || len(m.User) != 2 || m.User["name"] != "v1" || m.User["multi"] != "a,b" {
		t.Fatalf("user metadata %v, %v", m.User, err)
	}
	h.Set("X-Amz-Meta-Big", strings.Repeat("x", maxUserMetadata))
	if _, err := metadataFromHeader(h); err != ErrMetadataTooLarge {
		t.Fatalf("oversized metadata: %v", err)
	}
}
