package transfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
)

func TestDownloadSizes(t *testing.T) {
	const threshold = 5 * MiB
	sizes := []int{0, 1, threshold - 1, threshold, threshold + 1, 3*threshold + 17}
	sinks := []struct {
		name string
		run  func(m *Manager, key string) ([]byte, *Future)
	}{
		{"WriterAt", func(m *Manager, key string) ([]byte, *Future) {
			var w bufferAt
			f := m.Download(context.Background(), "b", key, &w)
			f.Result()
			return w.Bytes(), f
		}},
		{"Stream", func(m *Manager, key string) ([]byte, *Future) {
			var w bytes.Buffer
			f := m.DownloadStream(context.Background(), "b", key, &w)
			f.Result()
			return w.Bytes(), f
		}},
	}
	for _, sink := range sinks {
		for _, size := range sizes {
			t.Run(sink.name+"/"+strconv.Itoa(size), func(t *testing.T) {
				fake := newFakeS3()
				data := pattern(size, 5)
				fake.put("b/k", data)
				m := newTestManager(t, fake.client(), Config{MultipartThreshold: threshold, MultipartChunkSize: 5 * MiB, MaxConcurrency: 3})
				got, f := sink.run(m, "k")
				res, err := f.Result()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("got %d bytes, want %d equal bytes", len(got), len(data))
				}
				wantGets := 1
				if size == 0 {
					wantGets = 0
				} else if size >= threshold {
					wantGets = numParts(int64(size), 5*MiB)
				}
				if n := fake.count("GetObject"); n != wantGets {
					t.Fatalf("%d GETs, want %d", n, wantGets)
				}
				if res.Size != int64(size) || f.Size() != int64(size) || f.Transferred() != int64(size) || res.ETag == "" {
					t.Fatalf("result %+v, Size %d, Transferred %d", res, f.Size(), f.Transferred())
				}
			})
		}
	}
}

// A body that breaks off is resumed from where it stopped, not restarted.
func TestDownloadResumesBrokenBody(t *testing.T) {
	for _, size := range []int{3 * MiB, 12 * MiB} {
		for _, stream := range []bool{false, true} {
			t.Run(strconv.Itoa(size)+"/stream="+strconv.FormatBool(stream), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					fake := newFakeS3()
					data := pattern(size, 11)
					fake.put("b/k", data)
					fake.readCut, fake.cutsLeft = 1*MiB+7, 2
					var ranges []string
					var mu sync.Mutex
					fake.fault = func(r *http.Request) *http.Response {
						mu.Lock()
						if r.Method == http.MethodGet {
							ranges = append(ranges, r.Header.Get("Range"))
						}
						mu.Unlock()
						return nil
					}
					m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB, MaxConcurrency: 1})
					log := &progressLog{}
					var got []byte
					var err error
					if stream {
						var w bytes.Buffer
						_, err = m.DownloadStream(context.Background(), "b", "k", &w, WithSubscribers(log)).Result()
						got = w.Bytes()
					} else {
						var w bufferAt
						_, err = m.Download(context.Background(), "b", "k", &w, WithSubscribers(log)).Result()
						got = w.Bytes()
					}
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, data) {
						t.Fatal("content differs")
					}
					if log.net != int64(size) || log.negative != 0 {
						t.Fatalf("progress net %d negative %d", log.net, log.negative)
					}
					// The two broken GETs are followed by resumptions that
					// ask only for the rest.
					resumed := 0
					for _, r := range ranges {
						if strings.HasPrefix(r, "bytes="+strconv.Itoa(1*MiB+7)+"-") {
							resumed++
						}
					}
					if resumed != 1 || len(ranges) != numGets(size)+2 {
						t.Fatalf("ranges requested: %q", ranges)
					}
				})
			})
		}
	}
}

func numGets(size int) int {
	if size < 5*MiB {
		return 1
	}
	return numParts(int64(size), 5*MiB)
}

func TestDownloadGivesUpAfterMaxAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeS3()
		fake.put("b/k", pattern(2*MiB, 1))
		fake.readCut, fake.cutsLeft = 1000, 100
		m := newTestManager(t, fake.client(), Config{MaxAttempts: 4})
		var w bufferAt
		_, err := m.Download(context.Background(), "b", "k", &w).Result()
		if err == nil || !strings.Contains(err.Error(), "after 4 attempts") {
			t.Fatalf("error = %v", err)
		}
		if n := fake.count("GetObject"); n != 4 {
			t.Fatalf("%d GETs, want 4", n)
		}
	})
}

func TestDownloadObjectReplacedMidwayFails(t *testing.T) {
	fake := newFakeS3()
	fake.put("b/k", pattern(12*MiB, 1))
	var once sync.Once
	fake.fault = func(r *http.Request) *http.Response {
		if r.Method == http.MethodGet {
			once.Do(func() { fake.put("b/k", pattern(12*MiB, 2)) })
		}
		return nil
	}
	m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
	var w bufferAt
	_, err := m.Download(context.Background(), "b", "k", &w).Result()
	if err == nil || !strings.Contains(err.Error(), "PreconditionFailed") {
		t.Fatalf("error = %v, want PreconditionFailed", err)
	}
	if st := m.Stats(); st.Retries != 0 {
		t.Fatalf("412 retried: %+v", st)
	}
}

func TestDownloadMissingObject(t *testing.T) {
	m := newTestManager(t, newFakeS3().client(), Config{})
	var w bufferAt
	_, err := m.Download(context.Background(), "b", "nope", &w).Result()
	if want := "transfer: download: not found: s3://b/nope"; err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	var nf *NotFoundError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &nf) || nf.Key != "nope" {
		t.Fatalf("error %v does not match ErrNotFound / *NotFoundError", err)
	}
	if st := m.Stats(); st.Retries != 0 {
		t.Fatalf("404 retried: %+v", st)
	}
}

// failingWriter accepts after bytes, then fails. It is safe for the
// concurrent WriteAt calls of a ranged download.
type failingWriter struct {
	mu    sync.Mutex
	after int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.after -= len(p); w.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func (w *failingWriter) WriteAt(p []byte, _ int64) (int, error) { return w.Write(p) }

func TestDownloadWriterErrorIsFinal(t *testing.T) {
	for _, stream := range []bool{false, true} {
		fake := newFakeS3()
		fake.put("b/k", pattern(12*MiB, 1))
		m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
		var f *Future
		if stream {
			f = m.DownloadStream(context.Background(), "b", "k", &failingWriter{after: 6 * MiB})
		} else {
			f = m.Download(context.Background(), "b", "k", &failingWriter{after: 6 * MiB})
		}
		_, err := f.Result()
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("stream=%v: error = %v", stream, err)
		}
		if st := m.Stats(); st.Retries != 0 {
			t.Fatalf("stream=%v: writer error retried: %+v", stream, st)
		}
	}
}

// DownloadStream holds at most MaxConcurrency parts while an early part is
// slow, and writes in order.
func TestDownloadStreamWindowIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeS3()
		data := pattern(20*MiB, 4)
		fake.put("b/k", data)
		release := make(chan struct{})
		var mu sync.Mutex
		started := 0
		fake.fault = func(r *http.Request) *http.Response {
			if r.Method != http.MethodGet {
				return nil
			}
			mu.Lock()
			started++
			mu.Unlock()
			if strings.HasPrefix(r.Header.Get("Range"), "bytes=0-") {
				<-release // the first part stalls
			}
			return nil
		}
		m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB, MaxConcurrency: 2})
		var w bytes.Buffer
		f := m.DownloadStream(context.Background(), "b", "k", &w)
		synctest.Wait()
		mu.Lock()
		n := started
		mu.Unlock()
		if n != 2 {
			t.Fatalf("%d GETs started while the first part stalls, want 2 (the window)", n)
		}
		close(release)
		if _, err := f.Result(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.Bytes(), data) {
			t.Fatal("content differs")
		}
	})
}

var _ io.WriterAt = (*bufferAt)(nil)

// WithRange downloads part of the object into the start of the
// destination, in one GET or in ranged parts, into a WriterAt or a
// stream; a range past the end is an error.
func TestDownloadRange(t *testing.T) {
	const size = 23 * MiB
	data := pattern(size, 5)
	for _, tc := range []struct {
		name        string
		off, n      int64
		want        []byte
		wantErr     string
		wantGets    int
		wantRangeOf string // Range of the first GET
	}{
		{name: "small range, one GET", off: 100, n: 1000, want: data[100:1100], wantGets: 1, wantRangeOf: "bytes=100-1099"},
		{name: "large range, parts", off: 3*MiB + 5, n: 11 * MiB, want: data[3*MiB+5 : 14*MiB+5], wantGets: 3},
		{name: "to the end", off: 20 * MiB, n: -1, want: data[20*MiB:], wantGets: 1, wantRangeOf: "bytes=20971520-24117247"},
		{name: "longer than the object", off: size - 10, n: 100, want: data[size-10:], wantGets: 1},
		{name: "past the end", off: size, n: 1, wantErr: "WithRange(24117248, 1): the object has only 24117248 bytes"},
	} {
		for _, dest := range []string{"writerAt", "stream"} {
			t.Run(tc.name+"/"+dest, func(t *testing.T) {
				fake := newFakeS3()
				fake.put("b/k", data)
				log := logRequests(fake)
				m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
				var got []byte
				var res Result
				var err error
				if dest == "stream" {
					var buf bytes.Buffer
					res, err = m.DownloadStream(context.Background(), "b", "k", &buf, WithRange(tc.off, tc.n)).Result()
					got = buf.Bytes()
				} else {
					var w bufferAt
					res, err = m.Download(context.Background(), "b", "k", &w, WithRange(tc.off, tc.n)).Result()
					got = w.Bytes()
				}
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("error %v, want %q", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tc.want) || res.Size != int64(len(tc.want)) {
					t.Fatalf("got %d bytes (result size %d), want %d", len(got), res.Size, len(tc.want))
				}
				ranges := log.header(t, "GetObject", "Range")
				if len(ranges) != tc.wantGets {
					t.Fatalf("%d GETs %v, want %d", len(ranges), ranges, tc.wantGets)
				}
				if tc.wantRangeOf != "" && ranges[0] != tc.wantRangeOf {
					t.Fatalf("Range %q, want %q", ranges[0], tc.wantRangeOf)
				}
			})
		}
	}
}
