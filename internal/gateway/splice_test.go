package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

// readFromRecorder records the sources its ReadFrom is given, to show
// whether a body was handed over for splicing.
type readFromRecorder struct {
	http.ResponseWriter
	mu   *sync.Mutex
	srcs *[]string // guarded by mu
}

func (w readFromRecorder) ReadFrom(r io.Reader) (int64, error) {
	desc := fmt.Sprintf("%T", r)
	if lr, ok := r.(*io.LimitedReader); ok {
		desc += " of " + fmt.Sprintf("%T", lr.R)
	}
	w.mu.Lock()
	*w.srcs = append(*w.srcs, desc)
	w.mu.Unlock()
	return w.ResponseWriter.(io.ReaderFrom).ReadFrom(r)
}

// spliceFront is front with a response writer that records ReadFrom.
func spliceFront(t *testing.T, g *Gateway) (url string, sources func() []string) {
	t.Helper()
	var mu sync.Mutex
	var srcs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		info := &s3api.Info{Bucket: bucket, Key: key, RequestID: "r1"}
		g.ServeHTTP(readFromRecorder{w, &mu, &srcs}, r.WithContext(s3api.NewContext(r.Context(), info)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), srcs...)
	}
}

const splicedSource = "*io.LimitedReader of *net.TCPConn"

func TestLargeResponsesAreSpliced(t *testing.T) {
	object := make([]byte, 5<<20+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range object {
		object[i] = byte(rng.Uint32())
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "obj", time.Time{}, bytes.NewReader(object[:atoiOr(r.URL.Query().Get("size"), len(object))]))
	}))
	t.Cleanup(up.Close)
	tests := []struct {
		name        string
		method      string
		query       string
		rng         string
		want        []byte
		wantStatus  int
		wantSpliced bool
	}{
		{"large GET", http.MethodGet, "", "", object, http.StatusOK, true},
		{"large range", http.MethodGet, "", "bytes=1000-3000999", object[1000:3001000], http.StatusPartialContent, true},
		{"small GET is copied", http.MethodGet, "?size=70000", "", object[:70000], http.StatusOK, false},
		{"small range is copied", http.MethodGet, "", "bytes=10-19", object[10:20], http.StatusPartialContent, false},
		{"HEAD", http.MethodHead, "", "", nil, http.StatusOK, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, sources := spliceFront(t, newGateway(t, Config{Upstream: up.URL}))
			for round := range 2 { // the second round runs on a fresh upstream connection after a splice
				req, _ := http.NewRequest(tc.method, url+"/b1b/obj"+tc.query, nil)
				if tc.rng != "" {
					req.Header.Set("Range", tc.rng)
				}
				resp, err := guardedClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != tc.wantStatus || !bytes.Equal(got, tc.want) {
					t.Fatalf("round %d: %d, %d bytes (equal %v), %v", round, resp.StatusCode, len(got), bytes.Equal(got, tc.want), err)
				}
			}
			spliced := 0
			for _, s := range sources() {
				if s == splicedSource {
					spliced++
				}
			}
			if want := map[bool]int{true: 2, false: 0}[tc.wantSpliced]; spliced != want {
				t.Errorf("%d of 2 responses spliced (ReadFrom sources %q), want %d", spliced, sources(), want)
			}
		})
	}
}

func atoiOr(s string, def int) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		return def
	}
	return n
}

func TestSplicedResponseStreams(t *testing.T) {
	const half = 2 << 20
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(2*half))
		w.Write(bytes.Repeat([]byte{'a'}, half))
		http.NewResponseController(w).Flush()
		<-release
		w.Write(bytes.Repeat([]byte{'b'}, half))
	}))
	t.Cleanup(up.Close)
	url, sources := spliceFront(t, newGateway(t, Config{Upstream: up.URL}))
	resp, err := guardedClient().Get(url + "/b1b/big")
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, half)
	_, err = io.ReadFull(resp.Body, first)
	close(release)
	if err != nil || first[half-1] != 'a' {
		t.Fatalf("first half not delivered before the upstream sent the second: %v", err)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || len(rest) != half || rest[half-1] != 'b' {
		t.Fatalf("second half: %d bytes, %v", len(rest), err)
	}
	if s := sources(); len(s) != 1 || s[0] != splicedSource {
		t.Errorf("ReadFrom sources %q, want one splice", s)
	}
}

func TestSplicedResponseCutByUpstream(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(8<<20))
		w.Write(make([]byte, 3<<20))
		rc := http.NewResponseController(w)
		rc.Flush()
		if conn, _, err := rc.Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(up.Close)
	url, sources := spliceFront(t, newGateway(t, Config{Upstream: up.URL}))
	resp, err := guardedClient().Get(url + "/b1b/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || n >= 8<<20 {
		t.Fatalf("read %d bytes, %v: a cut upstream must cut the response", n, err)
	}
	if s := sources(); len(s) != 1 || s[0] != splicedSource {
		t.Errorf("ReadFrom sources %q, want one splice", s)
	}
}

func TestCustomTransportWrappingKeepsSplicing(t *testing.T) {
	object := make([]byte, 3<<20)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "obj", time.Time{}, bytes.NewReader(object))
	}))
	t.Cleanup(up.Close)
	wrapped := roundTripFunc(func(r *http.Request) (*http.Response, error) { return NewTransport(0).RoundTrip(r) })
	url, sources := spliceFront(t, newGateway(t, Config{Upstream: up.URL, Transport: wrapped}))
	resp, err := guardedClient().Get(url + "/b1b/obj")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != int64(len(object)) {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if s := sources(); len(s) != 1 || s[0] != splicedSource {
		t.Errorf("ReadFrom sources %q, want one splice", s)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
