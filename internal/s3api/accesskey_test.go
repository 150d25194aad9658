package s3api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRequestAccessKey(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const secret = "secretKeyThatMustNeverBeLogged000000000"
	header := httptest.NewRequest("GET", "http://127.0.0.1:8333/photos/k", nil)
	sdkSign(t, header, "AKHEADER", secret, "UNSIGNED-PAYLOAD", "us-east-1", at)

	presigned := httptest.NewRequest("GET", sdkPresign(t, httptest.NewRequest("GET", "http://127.0.0.1:8333/photos/k", nil),
		"AKPRESIGNED", secret, time.Hour, at), nil)

	malformed := httptest.NewRequest("GET", "http://127.0.0.1:8333/photos/k", nil)
	malformed.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKX/bad")

	badQuery := httptest.NewRequest("GET", "http://127.0.0.1:8333/photos/k?X-Amz-Credential=AKQ%2Fnot-a-scope", nil)

	tests := []struct {
		name string
		r    *http.Request
		want string
	}{
		{"authorization header", header, "AKHEADER"},
		{"presigned URL", presigned, "AKPRESIGNED"},
		{"unsigned", httptest.NewRequest("GET", "http://127.0.0.1:8333/photos/k", nil), ""},
		{"malformed header", malformed, ""},
		{"malformed credential parameter", badQuery, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RequestAccessKey(tc.r); got != tc.want {
				t.Errorf("RequestAccessKey = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWriteErrorRecordsTheErrorInInfo(t *testing.T) {
	for _, method := range []string{"GET", "HEAD"} {
		t.Run(method, func(t *testing.T) {
			info := &Info{RequestID: "r1"}
			r := httptest.NewRequest(method, "http://127.0.0.1:8333/photos/k", nil)
			r = r.WithContext(NewContext(r.Context(), info))
			w := httptest.NewRecorder()
			WriteError(w, r, ErrNoSuchKey)
			if info.Err != ErrNoSuchKey {
				t.Errorf("Info.Err = %v, want the error written", info.Err)
			}
			if w.Code != 404 || w.Header().Get("x-amz-request-id") != "r1" {
				t.Errorf("status %d, request id %q", w.Code, w.Header().Get("x-amz-request-id"))
			}
			if method == "GET" && !strings.Contains(w.Body.String(), "<RequestId>r1</RequestId>") {
				t.Errorf("body %s lacks the request id", w.Body.String())
			}
		})
	}
	// An error that is not an *Error is recorded as what the client got.
	info := &Info{}
	r := httptest.NewRequest("GET", "http://127.0.0.1:8333/", nil)
	WriteError(httptest.NewRecorder(), r.WithContext(NewContext(r.Context(), info)), errPlain("disk on fire"))
	if info.Err != ErrInternalError {
		t.Errorf("Info.Err = %v, want InternalError", info.Err)
	}
}

type errPlain string

func (e errPlain) Error() string { return string(e) }
