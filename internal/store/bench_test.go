package store

import (
	"bytes"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
)

// BenchmarkPutGetObject4KiB measures one PutObject and one GetObject of
// 4 KiB through the handler (httptest recorder, no network).
func BenchmarkPutGetObject4KiB(b *testing.B) {
	for _, mode := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		b.Run(mode.name, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{NoSync: mode.noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.CreateBucket("bench"); err != nil {
				b.Fatal(err)
			}
			data := bytes.Repeat([]byte("x"), 4096)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				key := "obj-" + strconv.Itoa(i%64)
				i++
				put := httptest.NewRequest("PUT", "/bench/"+key, bytes.NewReader(data))
				put = put.WithContext(s3api.NewContext(put.Context(), &s3api.Info{Operation: s3api.OpPutObject, Bucket: "bench", Key: key, Size: int64(len(data))}))
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, put)
				if rec.Code != 200 {
					b.Fatalf("put: %d %s", rec.Code, rec.Body.String())
				}
				get := httptest.NewRequest("GET", "/bench/"+key, nil)
				get = get.WithContext(s3api.NewContext(get.Context(), &s3api.Info{Operation: s3api.OpGetObject, Bucket: "bench", Key: key, Size: -1}))
				rec = httptest.NewRecorder()
				s.ServeHTTP(rec, get)
				if rec.Code != 200 || rec.Body.Len() != len(data) {
					b.Fatalf("get: %d, %d bytes", rec.Code, rec.Body.Len())
				}
			}
		})
	}
}

// BenchmarkGetObject4KiBParallel measures concurrent reads of one object.
func BenchmarkGetObject4KiBParallel(b *testing.B) {
	s, err := Open(b.TempDir(), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateBucket("bench"); err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 4096)
	if _, err := s.PutObject(b.Context(), "bench", "k", bytes.NewReader(data), PutOptions{Size: 4096}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			get := httptest.NewRequest("GET", "/bench/k", nil)
			get = get.WithContext(s3api.NewContext(get.Context(), &s3api.Info{Operation: s3api.OpGetObject, Bucket: "bench", Key: "k", Size: -1}))
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, get)
			if rec.Code != 200 {
				b.Errorf("get: %d", rec.Code)
				return
			}
		}
	})
}

// BenchmarkPutObject4KiBParallel measures 4 KiB PutObjects through the
// handler from 16 goroutines at once (SetParallelism × GOMAXPROCS), each
// writing its own keys: the case group commit is for. "file" stores every
// object in a data file of its own, "inline" in the metadata database.
func BenchmarkPutObject4KiBParallel(b *testing.B) {
	for _, mode := range []struct {
		name      string
		noSync    bool
		inlineMax int64
	}{
		{"fsync/inline", false, inlineMax},
		{"fsync/file", false, -1},
		{"nosync/inline", true, inlineMax},
		{"nosync/file", true, -1},
	} {
		b.Run(mode.name, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{NoSync: mode.noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.inlineMax = mode.inlineMax
			if err := s.CreateBucket("bench"); err != nil {
				b.Fatal(err)
			}
			data := bytes.Repeat([]byte("x"), 4096)
			var workers atomic.Int32
			b.SetBytes(int64(len(data)))
			b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				prefix := "w" + strconv.Itoa(int(workers.Add(1))) + "-"
				i := 0
				for pb.Next() {
					key := prefix + strconv.Itoa(i%64)
					i++
					put := httptest.NewRequest("PUT", "/bench/"+key, bytes.NewReader(data))
					put = put.WithContext(s3api.NewContext(put.Context(), &s3api.Info{Operation: s3api.OpPutObject, Bucket: "bench", Key: key, Size: int64(len(data))}))
					rec := httptest.NewRecorder()
					s.ServeHTTP(rec, put)
					if rec.Code != 200 {
						b.Errorf("put: %d %s", rec.Code, rec.Body.String())
						return
					}
				}
			})
		})
	}
}
