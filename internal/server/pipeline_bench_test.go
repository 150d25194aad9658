package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// discardWriter is a reusable ResponseWriter, so the benchmark measures
// the pipeline and not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

func (w *discardWriter) reset() {
	clear(w.h)
	w.code = 0
}

// newPipeline returns a server whose backend answers 200 without touching
// disk, optionally with a global and a bucket circuit-breaker limit.
func newPipeline(b *testing.B, withLimits bool) *server.Server {
	b.Helper()
	var lopts limits.Options
	if withLimits {
		lopts.ConfigPath = filepath.Join(b.TempDir(), "circuit_breaker.json")
		err := limits.WriteConfigFile(lopts.ConfigPath, &limits.Config{
			Global:  section(map[string]int64{"Read:count": 1 << 20}),
			Buckets: map[string]*limits.Section{"bench": section(map[string]int64{"Read:count": 1 << 20})},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	s, err := server.New(server.Config{
		Identities: servertest.DefaultIdentities(),
		Limits:     lopts,
		Backend:    http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// signedBenchRequest is a header-signed request as the SDK sends it.
func signedBenchRequest(b *testing.B, method string) *http.Request {
	b.Helper()
	r, err := http.NewRequest(method, "http://127.0.0.1:8333/bench/some/object/key.bin", nil)
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.47.7 ua/2.1 os/linux lang/go api/s3#1.114.8")
	r.Header.Set("Amz-Sdk-Invocation-Id", "0b3a8f7e-5c1d-4e2a-9f6b-7c8d9e0f1a2b")
	r.Header.Set("Amz-Sdk-Request", "attempt=1; max=1")
	r.Header.Set("Accept-Encoding", "identity")
	signRequest(b, r, servertest.AdminAccessKey, servertest.AdminSecretKey, emptySHA256, time.Now())
	r.RemoteAddr = "127.0.0.1:40000"
	return r
}

// BenchmarkPipeline measures one request through classification,
// SigV4 verification, authorization, the limits and the response
// bookkeeping, with a backend that does nothing.
func BenchmarkPipeline(b *testing.B) {
	for _, bc := range []struct {
		name       string
		method     string
		withLimits bool
	}{
		{"HEAD", http.MethodHead, false},
		{"GET", http.MethodGet, false},
		{"GET/limits", http.MethodGet, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := newPipeline(b, bc.withLimits)
			r := signedBenchRequest(b, bc.method)
			w := &discardWriter{h: http.Header{}}
			s.ServeHTTP(w, r)
			if w.code != http.StatusOK {
				b.Fatalf("status %d, headers %v", w.code, w.h)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w.reset()
				s.ServeHTTP(w, r)
			}
			b.StopTimer()
			if w.code != http.StatusOK {
				b.Fatalf("status %d after the loop", w.code)
			}
		})
	}
	b.Run("GET/limits/parallel", func(b *testing.B) {
		s := newPipeline(b, true)
		r := signedBenchRequest(b, http.MethodGet)
		var failed atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			req := r.Clone(context.Background())
			w := &discardWriter{h: http.Header{}}
			for pb.Next() {
				w.reset()
				s.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					failed.Add(1)
				}
			}
		})
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d requests did not answer 200", n)
		}
	})
}
