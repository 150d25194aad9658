package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s3limit/s3limit/internal/gateway"
	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// BenchmarkGateway measures a 4 KiB GET and PUT end to end over loopback
// as s3limit serve -upstream runs them: a client with a presigned URL,
// the whole server (SigV4 verification, classification, limits with
// circuit-breaker limits configured, metrics, the transfer rule), the
// gateway re-signing for the upstream, and an upstream that answers at
// once. "direct" is the same client against the upstream alone, so the
// difference is what s3limit adds; "log" adds the access log, buffered
// as s3limit serve buffers it. Allocations count every goroutine of the
// process: client, s3limit and upstream.
func BenchmarkGateway(b *testing.B) {
	for _, bc := range []struct {
		name    string
		method  string
		direct  bool
		withLog bool
	}{
		{"GET/direct", http.MethodGet, true, false},
		{"GET", http.MethodGet, false, false},
		{"GET/log", http.MethodGet, false, true},
		{"PUT/direct", http.MethodPut, true, false},
		{"PUT", http.MethodPut, false, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchmarkGateway(b, bc.method, bc.direct, bc.withLog)
		})
	}
}

func benchmarkGateway(b *testing.B, method string, direct, withLog bool) {
	object := bytes.Repeat([]byte{'x'}, 4096)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		h.Set("X-Amz-Request-Id", "18ABCDEF01234567")
		if r.Method == http.MethodPut {
			_, _ = io.Copy(io.Discard, r.Body)
			return
		}
		h.Set("Content-Length", "4096")
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Last-Modified", "Thu, 03 Dec 2026 15:00:00 GMT")
		_, _ = w.Write(object)
	}))
	defer up.Close()

	target, ak, sk := up.URL, "upstreamkey", "upstreamsecret"
	if !direct {
		quiet := slog.New(slog.DiscardHandler)
		gw, err := gateway.New(gateway.Config{Upstream: up.URL, AccessKey: ak, SecretKey: sk, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		cbPath := filepath.Join(b.TempDir(), "circuit_breaker.json")
		err = limits.WriteConfigFile(cbPath, &limits.Config{
			Global:  section(map[string]int64{"Read:count": 1 << 20, "Write:count": 1 << 20}),
			Buckets: map[string]*limits.Section{"bench": section(map[string]int64{"Read:count": 1 << 20, "Write:count": 1 << 20})},
		})
		if err != nil {
			b.Fatal(err)
		}
		accessLog := quiet
		if withLog {
			logs := server.NewLogBuffer(io.Discard, 0, 0)
			defer logs.Close()
			accessLog = slog.New(slog.NewTextHandler(logs, nil))
		}
		s, err := server.New(server.Config{
			Identities: servertest.DefaultIdentities(),
			Limits:     limits.Options{ConfigPath: cbPath},
			Backend:    gw,
			Logger:     quiet,
			AccessLog:  accessLog,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		hs := server.NewHTTPServer(ln.Addr().String(), s, quiet)
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
		target, ak, sk = "http://"+ln.Addr().String(), servertest.AdminAccessKey, servertest.AdminSecretKey
	}

	// One presigned URL for every request, as a load generator uses it.
	req, err := http.NewRequest(method, target+"/bench/object-4k", nil)
	if err != nil {
		b.Fatal(err)
	}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", "3600")
	req.URL.RawQuery = q.Encode()
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	url, _, err := signer.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk},
		req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
	if err != nil {
		b.Fatal(err)
	}

	const conns = 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}}
	defer client.CloseIdleConnections()
	do := func() bool {
		var body io.Reader
		if method == http.MethodPut {
			body = bytes.NewReader(object)
		}
		r, err := http.NewRequest(method, url, body)
		if err != nil {
			return false
		}
		res, err := client.Do(r)
		if err != nil {
			return false
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode == http.StatusOK && (method != http.MethodGet || n == int64(len(object)))
	}
	if !do() {
		b.Fatalf("%s %s failed", method, strings.SplitN(url, "?", 2)[0])
	}
	var failed atomic.Int64
	b.SetParallelism(conns / 2) // × GOMAXPROCS 2: 16 requests in flight on this machine
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !do() {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
}
