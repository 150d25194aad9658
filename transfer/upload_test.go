package transfer

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Sources an upload body can come from.
var uploadSources = []struct {
	name string
	open func(t *testing.T, data []byte) io.Reader
}{
	{"pipe", func(t *testing.T, data []byte) io.Reader {
		pr, pw := io.Pipe()
		go func() {
			// Write in odd-sized pieces, like a pipe does.
			for d := data; ; {
				n := min(len(d), 100003)
				if _, err := pw.Write(d[:n]); err != nil {
					return
				}
				d = d[n:]
				if len(d) == 0 {
					pw.Close()
					return
				}
			}
		}()
		return pr
	}},
	{"bytes.Reader", func(t *testing.T, data []byte) io.Reader { return bytes.NewReader(data) }},
	{"file", func(t *testing.T, data []byte) io.Reader {
		p := filepath.Join(t.TempDir(), "src")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}},
}

func TestUploadSizesAndSources(t *testing.T) {
	const threshold = 5 * MiB
	sizes := []int{0, 1, threshold - 1, threshold, threshold + 1, 3*threshold + 17}
	for _, src := range uploadSources {
		for _, size := range sizes {
			t.Run(src.name+"/"+strconv.Itoa(size), func(t *testing.T) {
				fake := newFakeS3()
				m := newTestManager(t, fake.client(), Config{MultipartThreshold: threshold, MultipartChunkSize: 5 * MiB, MaxConcurrency: 4})
				data := pattern(size, byte(size))
				log := &progressLog{}
				res, err := m.Upload(context.Background(), src.open(t, data), "bkt", "dir/obj", WithSubscribers(log)).Result()
				if err != nil {
					t.Fatalf("Upload: %v", err)
				}
				got, ok := fake.get("bkt/dir/obj")
				if !ok || !bytes.Equal(got, data) {
					t.Fatalf("stored %d bytes (ok=%v), want %d bytes equal to the source", len(got), ok, len(data))
				}
				multipart := size >= threshold
				if n := fake.count("CreateMultipartUpload"); (n == 1) != multipart {
					t.Fatalf("CreateMultipartUpload count %d for size %d", n, size)
				}
				if res.Size != int64(size) || res.Bucket != "bkt" || res.Key != "dir/obj" || res.ETag == "" {
					t.Fatalf("result %+v", res)
				}
				wantParts := 0
				if multipart {
					wantParts = numParts(int64(size), 5*MiB)
				}
				if res.Parts != wantParts {
					t.Fatalf("parts = %d, want %d", res.Parts, wantParts)
				}
				if log.queued != 1 || log.done != 1 || log.err != nil || log.net != int64(size) || log.afterEnd {
					t.Fatalf("events: %+v", log)
				}
				if fake.openUploads() != 0 {
					t.Fatalf("multipart uploads left open")
				}
			})
		}
	}
}

func TestUploadThresholdAboveChunkFromStream(t *testing.T) {
	for _, tc := range []struct {
		size      int
		wantParts int
	}{
		{11 * MiB, 0},
		{12 * MiB, 3},
		{13 * MiB, 3},
		{21 * MiB, 5},
	} {
		t.Run(strconv.Itoa(tc.size), func(t *testing.T) {
			fake := newFakeS3()
			m := newTestManager(t, fake.client(), Config{MultipartThreshold: 12 * MiB, MultipartChunkSize: 5 * MiB})
			data := pattern(tc.size, 3)
			res, err := m.Upload(context.Background(), io.MultiReader(bytes.NewReader(data)), "b", "k").Result()
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := fake.get("b/k"); !bytes.Equal(got, data) || res.Parts != tc.wantParts {
				t.Fatalf("stored %d bytes, parts %d; want %d bytes, %d parts", len(got), res.Parts, len(data), tc.wantParts)
			}
		})
	}
}

func TestUploadWithSize(t *testing.T) {
	data := pattern(6*MiB, 1)
	tests := []struct {
		name    string
		size    int64
		body    io.Reader
		wantErr string
	}{
		{"exact stream", int64(len(data)), io.MultiReader(bytes.NewReader(data)), ""},
		{"stream shorter than declared", int64(len(data)) + 1, io.MultiReader(bytes.NewReader(data)), "ended after"},
		{"stream longer than declared", int64(len(data)) - 1, io.MultiReader(bytes.NewReader(data)), "longer than the declared"},
		{"reader-at size disagrees", 5, bytes.NewReader(data), "WithSize(5)"},
		{"negative", -7, bytes.NewReader(data), "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeS3()
			m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB})
			f := m.Upload(context.Background(), tc.body, "b", "k", WithSize(tc.size))
			_, err := f.Result()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if f.Size() != tc.size {
					t.Fatalf("Size() = %d, want %d", f.Size(), tc.size)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if fake.openUploads() != 0 {
				t.Fatal("failed upload left a multipart upload open")
			}
		})
	}
}

func TestUploadOptionsReachTheRequest(t *testing.T) {
	for _, size := range []int{10, 6 * MiB} {
		var mu sync.Mutex
		var ct, meta string
		fake := newFakeS3()
		fake.fault = func(r *http.Request) *http.Response {
			if r.Method == http.MethodPost && r.URL.Query().Has("uploads") || r.Method == http.MethodPut && !r.URL.Query().Has("uploadId") {
				mu.Lock()
				ct, meta = r.Header.Get("Content-Type"), r.Header.Get("X-Amz-Meta-Owner")
				mu.Unlock()
			}
			return nil
		}
		m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB})
		_, err := m.Upload(context.Background(), bytes.NewReader(make([]byte, size)), "b", "k",
			WithContentType("text/plain"), WithMetadata(map[string]string{"owner": "ops"})).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ct != "text/plain" || meta != "ops" {
			t.Fatalf("size %d: Content-Type %q, x-amz-meta-owner %q", size, ct, meta)
		}
	}
}

func TestUploadBadArguments(t *testing.T) {
	m := newTestManager(t, newFakeS3().client(), Config{})
	for _, tc := range []struct {
		name, bucket, key string
		body              io.Reader
		want              string
	}{
		{"empty bucket", "", "k", strings.NewReader("x"), "empty bucket"},
		{"empty key", "b", "", strings.NewReader("x"), "empty object key"},
		{"nil body", "b", "k", nil, "nil body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Upload(context.Background(), tc.body, tc.bucket, tc.key).Result()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// A part whose request fails after the transport read half of its body is
// retried; its progress goes back before it goes forward again.
func TestUploadRetryRollsProgressBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeS3()
		var once sync.Once
		fake.fault = func(r *http.Request) *http.Response {
			var resp *http.Response
			if r.URL.Query().Get("partNumber") == "2" {
				once.Do(func() {
					io.CopyN(io.Discard, r.Body, 1*MiB)
					resp = s3Error(http.StatusInternalServerError, "InternalError", "disk hiccup")
				})
			}
			return resp
		}
		m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
		data := pattern(12*MiB, 9)
		log := &progressLog{}
		if _, err := m.Upload(context.Background(), bytes.NewReader(data), "b", "k", WithSubscribers(log)).Result(); err != nil {
			t.Fatal(err)
		}
		if got, _ := fake.get("b/k"); !bytes.Equal(got, data) {
			t.Fatal("content differs")
		}
		if log.negative != -1*MiB || log.net != int64(len(data)) {
			t.Fatalf("negative progress %d, net %d; want %d and %d", log.negative, log.net, -1*MiB, len(data))
		}
		if st := m.Stats(); st.Retries != 1 || st.Throttled != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestUploadGivesUpOnPermanentErrorAndAborts(t *testing.T) {
	fake := newFakeS3()
	fake.fault = func(r *http.Request) *http.Response {
		if r.URL.Query().Get("partNumber") == "3" {
			return s3Error(http.StatusForbidden, "AccessDenied", "no")
		}
		return nil
	}
	m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB, MultipartChunkSize: 5 * MiB})
	_, err := m.Upload(context.Background(), bytes.NewReader(make([]byte, 16*MiB)), "b", "k").Result()
	if err == nil || !strings.Contains(err.Error(), "UploadPart 3") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("error = %v", err)
	}
	if fake.openUploads() != 0 || fake.count("AbortMultipartUpload") != 1 {
		t.Fatalf("open uploads %d, aborts %d", fake.openUploads(), fake.count("AbortMultipartUpload"))
	}
	if _, ok := fake.get("b/k"); ok {
		t.Fatal("object created despite the failure")
	}
	if st := m.Stats(); st.Retries != 0 {
		t.Fatalf("a permanent error was retried: %+v", st)
	}
}

func TestUploadTransientErrorsExhaustAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeS3()
		fake.fault = func(r *http.Request) *http.Response {
			if r.Method == http.MethodPut {
				return s3Error(http.StatusInternalServerError, "InternalError", "down")
			}
			return nil
		}
		m := newTestManager(t, fake.client(), Config{MaxAttempts: 3})
		_, err := m.Upload(context.Background(), strings.NewReader("abc"), "b", "k").Result()
		if err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
			t.Fatalf("error = %v", err)
		}
		if n := fake.count("PutObject"); n != 0 {
			t.Fatalf("PutObject reached the store %d times", n)
		}
	})
}

// Retry-After from the server sets the least wait before the next attempt.
func TestUploadHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFakeS3()
		var once sync.Once
		fake.fault = func(r *http.Request) *http.Response {
			var resp *http.Response
			once.Do(func() {
				resp = s3Error(http.StatusServiceUnavailable, "SlowDown", "slow down")
				resp.Header.Set("Retry-After", "2")
			})
			return resp
		}
		m := newTestManager(t, fake.client(), Config{})
		start := time.Now()
		if _, err := m.Upload(context.Background(), strings.NewReader("abc"), "b", "k").Result(); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 2*time.Second || el > 3*time.Second {
			t.Fatalf("retried after %v, want 2s (Retry-After)", el)
		}
		if st := m.Stats(); st.Throttled != 1 || st.Retries != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestUploadFileSourceErrorIsNotRetried(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 6*MiB), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fake := newFakeS3()
	var once sync.Once
	fake.fault = func(r *http.Request) *http.Response {
		// The file shrinks once the upload has started.
		once.Do(func() { os.Truncate(p, 1*MiB) })
		return nil
	}
	m := newTestManager(t, fake.client(), Config{MultipartThreshold: 5 * MiB})
	_, err = m.Upload(context.Background(), f, "b", "k").Result()
	if err == nil || !strings.Contains(err.Error(), "early") {
		t.Fatalf("error = %v, want the source ending early", err)
	}
	if st := m.Stats(); st.Retries != 0 {
		t.Fatalf("source failure retried: %+v", st)
	}
	if fake.openUploads() != 0 {
		t.Fatal("upload left open")
	}
}
