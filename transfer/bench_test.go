package transfer

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// The governor is taken and released around every request.
func BenchmarkGovernorAcquireRelease(b *testing.B) {
	g := newGovernor(1 << 20)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s, err := g.acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			g.release(s, outcomeOK)
		}
	})
}

// The metered body sits under every read the transport makes of an
// upload body.
func BenchmarkMeteredBodyRead(b *testing.B) {
	f := newFuture(KindUpload, "b", "k", nil)
	mt := newMeter(f)
	data := make([]byte, 32<<10)
	body := mt.wrap(io.NopCloser(bytes.NewReader(nil)))
	mb := body.(*meteredBody)
	r := bytes.NewReader(data)
	mb.rc = io.NopCloser(r)
	buf := make([]byte, len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(data)
		if _, err := mb.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// Whole transfers through the in-memory server, no cap: the manager's
// overhead per MiB (the SDK's signing and the fake's copies included).
func BenchmarkUploadMultipart(b *testing.B) {
	fake := newFakeS3()
	m, err := NewManager(fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 20*MiB)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Upload(context.Background(), bytes.NewReader(data), "b", "k").Result(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDownloadRanged(b *testing.B) {
	fake := newFakeS3()
	fake.put("b/k", make([]byte, 20*MiB))
	m, err := NewManager(fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
	if err != nil {
		b.Fatal(err)
	}
	w := &bufferAt{buf: make([]byte, 20*MiB)}
	b.SetBytes(20 * MiB)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Download(context.Background(), "b", "k", w).Result(); err != nil {
			b.Fatal(err)
		}
	}
}
