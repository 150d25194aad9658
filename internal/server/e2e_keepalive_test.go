package server_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

// TestKeepAliveAfterUploads: an upload whose body was read to its end
// leaves its connection open for the next request.
func TestKeepAliveAfterUploads(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	createBucket(t, s.Client(), "keep")
	client := &http.Client{Transport: &http.Transport{}}
	reused := 0
	for i := range 5 {
		body := bytes.Repeat([]byte("k"), 4096)
		r := newSignedRequest(t, context.Background(), http.MethodPut, s.URL+"/keep/k", body, s.AccessKey, s.SecretKey)
		r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
			if ci.Reused {
				reused++
			}
		}}))
		if status, _, rb := do(t, client, r); status != http.StatusOK {
			t.Fatalf("PUT %d: %d %s", i, status, rb)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if reused != 4 {
		t.Fatalf("%d of 4 later PUTs reused the connection", reused)
	}
}
