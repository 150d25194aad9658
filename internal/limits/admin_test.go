package limits

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
)

func adminDo(h http.Handler, method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestAdminGet(t *testing.T) {
	l := newLimits(t, Options{}, `{"global":{"enabled":true,"actions":{"Read:count":500,"Write:bytes":1073741824}}}`)
	h := l.AdminHandler()
	rec := adminDo(h, http.MethodGet, s3api.AdminCircuitBreakerPath, "", nil)
	_, etag := l.Config()
	want := "{\n  \"global\": {\n    \"enabled\": true,\n    \"actions\": {\n      \"Read:count\": 500,\n      \"Write:bytes\": 1073741824\n    }\n  }\n}\n"
	if rec.Code != 200 || rec.Body.String() != want {
		t.Fatalf("GET = %d %q, want 200 %q", rec.Code, rec.Body, want)
	}
	if got := rec.Header().Get("ETag"); got != etag || !strings.HasPrefix(got, `"`) || !strings.HasSuffix(got, `"`) {
		t.Errorf("ETag %q, want %q (quoted)", got, etag)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	head := adminDo(h, http.MethodHead, s3api.AdminCircuitBreakerPath, "", nil)
	if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("ETag") != etag {
		t.Errorf("HEAD = %d, %d body bytes, ETag %q", head.Code, head.Body.Len(), head.Header().Get("ETag"))
	}
}

func TestAdminPut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "circuit_breaker.json")
	l := newLimits(t, Options{ConfigPath: path, AdminMaxBodyBytes: 512}, "")
	h := l.AdminHandler()
	_, etag0 := l.Config()

	// The SeaweedFS form is accepted and stored canonically.
	rec := adminDo(h, http.MethodPut, s3api.AdminCircuitBreakerPath,
		`{"buckets":{"photos":{"enabled":true,"actions":{"Write:Count":"0","Read:MB":"1048576"}}}}`,
		map[string]string{"If-Match": etag0})
	if rec.Code != 200 {
		t.Fatalf("PUT = %d %s", rec.Code, rec.Body)
	}
	etag1 := rec.Header().Get("ETag")
	if etag1 == "" || etag1 == etag0 {
		t.Fatalf("new ETag %q, old %q", etag1, etag0)
	}
	want := "{\n  \"buckets\": {\n    \"photos\": {\n      \"enabled\": true,\n      \"actions\": {\n        \"Read:bytes\": 1048576,\n        \"Write:count\": 0\n      }\n    }\n  }\n}\n"
	if rec.Body.String() != want {
		t.Fatalf("PUT body %q, want %q", rec.Body, want)
	}
	if data, _ := os.ReadFile(path); string(data) != want {
		t.Fatalf("file %q, want %q", data, want)
	}
	if _, err := l.breaker.Admit(s3api.ActionWrite, "photos", 0); err == nil {
		t.Fatal("the new limit is not in force")
	}
	if get := adminDo(h, http.MethodGet, s3api.AdminCircuitBreakerPath, "", nil); get.Header().Get("ETag") != etag1 || get.Body.String() != want {
		t.Fatalf("GET after PUT = %s %q", get.Header().Get("ETag"), get.Body)
	}

	errorCases := []struct {
		name     string
		method   string
		path     string
		body     string
		header   map[string]string
		status   int
		code     string
		contains string // in the message
	}{
		{"stale If-Match", http.MethodPut, s3api.AdminCircuitBreakerPath, `{}`, map[string]string{"If-Match": etag0}, 412, "PreconditionFailed", "If-Match"},
		{"not JSON", http.MethodPut, s3api.AdminCircuitBreakerPath, `{"global":`, nil, 400, "MalformedJSON", "not valid JSON"},
		{"trailing garbage", http.MethodPut, s3api.AdminCircuitBreakerPath, `{}]`, nil, 400, "MalformedJSON", "trailing data"},
		{"empty body", http.MethodPut, s3api.AdminCircuitBreakerPath, ``, nil, 400, "MalformedJSON", "send {}"},
		{"unknown action", http.MethodPut, s3api.AdminCircuitBreakerPath, `{"global":{"enabled":true,"actions":{"Delete:count":1}}}`, nil, 400, "InvalidArgument", `global.actions.&#34;Delete:count&#34;`},
		{"negative value", http.MethodPut, s3api.AdminCircuitBreakerPath, `{"global":{"enabled":true,"actions":{"Read:count":-1}}}`, nil, 400, "InvalidArgument", "non-negative"},
		{"bad bucket name", http.MethodPut, s3api.AdminCircuitBreakerPath, `{"buckets":{"a/b":{"enabled":true}}}`, nil, 400, "InvalidArgument", "invalid bucket name"},
		{"unknown field", http.MethodPut, s3api.AdminCircuitBreakerPath, `{"globl":{}}`, nil, 400, "InvalidArgument", "globl"},
		{"oversize body", http.MethodPut, s3api.AdminCircuitBreakerPath, `{"global":{"enabled":true,"actions":{"Read:count":1}}}` + strings.Repeat(" ", 600), nil, 413, "MaxMessageLengthExceeded", "512 bytes"},
		{"method", http.MethodDelete, s3api.AdminCircuitBreakerPath, ``, nil, 405, "MethodNotAllowed", ""},
		{"other path", http.MethodGet, s3api.AdminCircuitBreakerPath + "/x", ``, nil, 404, "NoSuchResource", ""},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			rec := adminDo(h, tc.method, tc.path, tc.body, tc.header)
			body := rec.Body.String()
			if rec.Code != tc.status || !strings.Contains(body, "<Code>"+tc.code+"</Code>") || !strings.Contains(body, tc.contains) {
				t.Fatalf("%s = %d %s, want %d %s containing %q", tc.name, rec.Code, body, tc.status, tc.code, tc.contains)
			}
			if rec.Header().Get("Content-Type") != "application/xml" {
				t.Errorf("Content-Type %q, want application/xml", rec.Header().Get("Content-Type"))
			}
			if _, etag := l.Config(); etag != etag1 {
				t.Fatal("a refused request changed the configuration")
			}
		})
	}
	if got := adminDo(h, http.MethodPost, s3api.AdminCircuitBreakerPath, `{}`, nil).Header().Get("Allow"); got != "GET, HEAD, PUT" {
		t.Errorf("Allow %q", got)
	}
}

func TestAdminPutOversizeWithoutContentLength(t *testing.T) {
	l := newLimits(t, Options{AdminMaxBodyBytes: 64}, "")
	r := httptest.NewRequest(http.MethodPut, s3api.AdminCircuitBreakerPath, io.MultiReader(strings.NewReader(`{"global":`), strings.NewReader(strings.Repeat(" ", 100)+"null}")))
	r.ContentLength = -1 // chunked: only reading finds out
	rec := httptest.NewRecorder()
	l.AdminHandler().ServeHTTP(rec, r)
	if rec.Code != 413 || !strings.Contains(rec.Body.String(), "MaxMessageLengthExceeded") {
		t.Fatalf("PUT = %d %s, want 413 MaxMessageLengthExceeded", rec.Code, rec.Body)
	}
}

func TestAdminPutLiftsBlockingLimit(t *testing.T) {
	// The admin handler is not behind the breaker: an operator can remove a
	// limit that blocks every action.
	l := newLimits(t, Options{}, `{"global":{"enabled":true,"actions":{"Read:count":0,"Write:count":0,"List:count":0,"Tagging:count":0,"Admin:count":0}}}`)
	rec := adminDo(l.AdminHandler(), http.MethodPut, s3api.AdminCircuitBreakerPath, `{}`, nil)
	if rec.Code != 200 || rec.Body.String() != "{}\n" {
		t.Fatalf("PUT {} = %d %q", rec.Code, rec.Body)
	}
	tk, err := l.breaker.Admit(s3api.ActionAdmin, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	tk.Release()
}
