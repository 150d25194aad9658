package store

import (
	"bytes"
	"net/http"
	"os"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
	"golang.org/x/sys/unix"
)

// discardResponse is a ResponseWriter that drops the body.
type discardResponse struct{ h http.Header }

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) WriteHeader(int)             {}
func (d *discardResponse) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkGetObject64MiBCold measures a 64 MiB GET through the handler
// whose data is not in the page cache (dropped before every GET), the
// case read-ahead advice is for.
func BenchmarkGetObject64MiBCold(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateBucket("bench"); err != nil {
		b.Fatal(err)
	}
	const size = 64 << 20
	if _, err := s.PutObject(b.Context(), "bench", "big", bytes.NewReader(make([]byte, size)), PutOptions{Size: size}); err != nil {
		b.Fatal(err)
	}
	obj, err := s.OpenObject("bench", "big")
	if err != nil {
		b.Fatal(err)
	}
	path := s.dataPath(obj.Info.segs[0].ID)
	obj.Close()
	evict := func() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		evict()
		b.StartTimer()
		get := newGetRequest("bench", "big")
		s.ServeHTTP(&discardResponse{h: http.Header{}}, get)
	}
}

func newGetRequest(bucket, key string) *http.Request {
	r, _ := http.NewRequest("GET", "/"+bucket+"/"+key, nil)
	return r.WithContext(s3api.NewContext(r.Context(), &s3api.Info{Operation: s3api.OpGetObject, Bucket: bucket, Key: key, Size: -1}))
}
