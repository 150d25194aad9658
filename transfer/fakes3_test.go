package transfer

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// fakeS3 is an in-memory S3 endpoint served through an http.RoundTripper,
// so it runs inside a testing/synctest bubble with no network. It reads
// request bodies fully before answering, as a server does, and serves
// response bodies from memory, so transfer time is set by the manager's
// pacing alone. It implements the operations the manager uses.
type fakeS3 struct {
	// fault, if set, may answer a request instead of the store (return
	// nil to let it through). It runs before the body is read.
	fault func(r *http.Request) *http.Response

	// received counts request body bytes as the fake reads them.
	received atomic.Int64

	// latency, if set, is how long each request takes before the fake
	// reads it; inFlight and maxInFlight count the requests in progress.
	latency               time.Duration
	inFlight, maxInFlight atomic.Int64

	// writeLimit, if > 0, answers 429 SlowDown to write requests while
	// that many are already in progress, like a circuit breaker with
	// Write:count = writeLimit.
	writeLimit int
	retryAfter time.Duration // hint sent with writeLimit refusals

	mu       sync.Mutex // guards everything below
	objects  map[string][]byte
	etags    map[string]string
	uploads  map[string]map[int32][]byte // upload id -> parts
	nextID   int
	writing  int
	maxWrite int            // most writes seen in progress at once
	ops      map[string]int // requests per operation
	aborted  int
	// readCut, if > 0, makes the next GET bodies break after that many
	// bytes; cutsLeft counts how many more to break.
	readCut  int64
	cutsLeft int
}

func newFakeS3() *fakeS3 {
	return &fakeS3{
		objects: map[string][]byte{},
		etags:   map[string]string{},
		uploads: map[string]map[int32][]byte{},
		ops:     map[string]int{},
	}
}

// client returns an S3 client whose requests go to the fake.
func (s *fakeS3) client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String("http://fake.s3.test"),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKE", "secretfake", ""),
		HTTPClient:   &http.Client{Transport: s},
	})
}

func (s *fakeS3) put(key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key] = data
	sum := md5.Sum(data)
	s.etags[key] = `"` + hex.EncodeToString(sum[:]) + `"`
}

func (s *fakeS3) get(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[key]
	return b, ok
}

func (s *fakeS3) openUploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uploads)
}

func (s *fakeS3) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ops[op]
}

func (s *fakeS3) RoundTrip(r *http.Request) (*http.Response, error) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
	}
	if s.latency > 0 {
		time.Sleep(s.latency)
	}
	if s.fault != nil {
		if resp := s.fault(r); resp != nil {
			if r.Body != nil {
				r.Body.Close()
			}
			resp.Request = r
			return resp, nil
		}
	}
	write := r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete
	if write && s.writeLimit > 0 {
		s.mu.Lock()
		if s.writing >= s.writeLimit {
			s.mu.Unlock()
			if r.Body != nil {
				r.Body.Close()
			}
			resp := s3Error(http.StatusTooManyRequests, "SlowDown", "Please reduce your request rate.")
			if s.retryAfter > 0 {
				resp.Header.Set("x-amz-retry-after", strconv.FormatInt(s.retryAfter.Milliseconds(), 10))
			}
			resp.Request = r
			return resp, nil
		}
		s.writing++
		s.maxWrite = max(s.maxWrite, s.writing)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.writing--
			s.mu.Unlock()
		}()
	}
	var body []byte
	if r.Body != nil {
		// Like a server, read the declared length and answer; like
		// net/http's transport, close the body on its own schedule, which
		// may be after the answer has arrived and the attempt is over.
		var err error
		cr := &countingReader{r: r.Body, n: &s.received}
		if r.ContentLength > 0 {
			body = make([]byte, r.ContentLength)
			_, err = io.ReadFull(cr, body)
		} else {
			body, err = io.ReadAll(cr)
		}
		go r.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	resp := s.serve(r, body)
	resp.Request = r
	return resp, nil
}

func (s *fakeS3) serve(r *http.Request, body []byte) *http.Response {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	key, _ = url.PathUnescape(key)
	name := bucket + "/" + key
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	op := func(name string) { s.ops[name]++ }
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		op("CreateMultipartUpload")
		s.nextID++
		id := fmt.Sprintf("upload-%d", s.nextID)
		s.uploads[id] = map[int32][]byte{}
		return xmlResponse(http.StatusOK, fmt.Sprintf(
			`<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>`,
			bucket, key, id))
	case r.Method == http.MethodPut && q.Has("uploadId"):
		op("UploadPart")
		parts, ok := s.uploads[q.Get("uploadId")]
		if !ok {
			return s3Error(http.StatusNotFound, "NoSuchUpload", "no such upload")
		}
		n, _ := strconv.Atoi(q.Get("partNumber"))
		parts[int32(n)] = body
		sum := md5.Sum(body)
		resp := xmlResponse(http.StatusOK, "")
		resp.Header.Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		// S3 answers with the checksum the request carried (unverified
		// here).
		for name, v := range r.Header {
			if strings.HasPrefix(strings.ToLower(name), "x-amz-checksum-") {
				resp.Header[name] = v
			}
		}
		return resp
	case r.Method == http.MethodPost && q.Has("uploadId"):
		op("CompleteMultipartUpload")
		parts, ok := s.uploads[q.Get("uploadId")]
		if !ok {
			return s3Error(http.StatusNotFound, "NoSuchUpload", "no such upload")
		}
		var doc struct {
			Parts []struct {
				PartNumber int32
				ETag       string
			} `xml:"Part"`
		}
		if err := xml.Unmarshal(body, &doc); err != nil {
			return s3Error(http.StatusBadRequest, "MalformedXML", err.Error())
		}
		var all []byte
		for i, p := range doc.Parts {
			data, ok := parts[p.PartNumber]
			if !ok || (i > 0 && p.PartNumber <= doc.Parts[i-1].PartNumber) {
				return s3Error(http.StatusBadRequest, "InvalidPart", "bad part list")
			}
			if i < len(doc.Parts)-1 && len(data) < MinPartSize {
				return s3Error(http.StatusBadRequest, "EntityTooSmall", "part too small")
			}
			all = append(all, data...)
		}
		delete(s.uploads, q.Get("uploadId"))
		s.objects[name] = all
		etag := fmt.Sprintf(`"multipart-%d"`, len(doc.Parts))
		s.etags[name] = etag
		return xmlResponse(http.StatusOK, fmt.Sprintf(
			`<CompleteMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><ETag>%s</ETag></CompleteMultipartUploadResult>`,
			bucket, key, strings.ReplaceAll(etag, `"`, "&quot;")))
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		op("AbortMultipartUpload")
		if _, ok := s.uploads[q.Get("uploadId")]; !ok {
			return s3Error(http.StatusNotFound, "NoSuchUpload", "no such upload")
		}
		delete(s.uploads, q.Get("uploadId"))
		s.aborted++
		return &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{}, Body: http.NoBody}
	case r.Method == http.MethodPut:
		op("PutObject")
		s.objects[name] = body
		sum := md5.Sum(body)
		s.etags[name] = `"` + hex.EncodeToString(sum[:]) + `"`
		resp := xmlResponse(http.StatusOK, "")
		resp.Header.Set("ETag", s.etags[name])
		return resp
	case r.Method == http.MethodHead:
		op("HeadObject")
		data, ok := s.objects[name]
		if !ok {
			return &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{}, Body: http.NoBody}
		}
		h := http.Header{}
		h.Set("Content-Length", strconv.Itoa(len(data)))
		h.Set("ETag", s.etags[name])
		return &http.Response{StatusCode: http.StatusOK, Header: h, Body: http.NoBody, ContentLength: int64(len(data))}
	case r.Method == http.MethodGet:
		op("GetObject")
		data, ok := s.objects[name]
		if !ok {
			return s3Error(http.StatusNotFound, "NoSuchKey", "no such key")
		}
		if m := r.Header.Get("If-Match"); m != "" && m != s.etags[name] {
			return s3Error(http.StatusPreconditionFailed, "PreconditionFailed", "etag changed")
		}
		status, first, last := http.StatusOK, int64(0), int64(len(data))-1
		h := http.Header{}
		if rg := r.Header.Get("Range"); rg != "" {
			a, b, _ := strings.Cut(strings.TrimPrefix(rg, "bytes="), "-")
			first, _ = strconv.ParseInt(a, 10, 64)
			last, _ = strconv.ParseInt(b, 10, 64)
			last = min(last, int64(len(data))-1)
			status = http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(data)))
		}
		part := data[first : last+1]
		h.Set("Content-Length", strconv.Itoa(len(part)))
		h.Set("ETag", s.etags[name])
		var rb io.Reader = bytes.NewReader(part)
		if s.cutsLeft > 0 && int64(len(part)) > s.readCut {
			s.cutsLeft--
			rb = io.MultiReader(bytes.NewReader(part[:s.readCut]), errReader{io.ErrUnexpectedEOF})
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(rb), ContentLength: int64(len(part))}
	}
	return s3Error(http.StatusNotImplemented, "NotImplemented", r.Method+" "+r.URL.String())
}

// countingReader adds the bytes it reads to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n.Add(int64(k))
	return k, err
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func xmlResponse(status int, body string) *http.Response {
	h := http.Header{}
	h.Set("Content-Type", "application/xml")
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

func s3Error(status int, code, msg string) *http.Response {
	return xmlResponse(status, fmt.Sprintf(`<Error><Code>%s</Code><Message>%s</Message><RequestId>fake</RequestId></Error>`, code, msg))
}

// pattern returns n bytes that differ at every offset within a part, so a
// misplaced or repeated range is detected.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i>>9) ^ seed
	}
	return b
}

// bufferAt is an io.WriterAt in memory.
type bufferAt struct {
	mu  sync.Mutex
	buf []byte
}

func (b *bufferAt) WriteAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if end := int(off) + len(p); end > len(b.buf) {
		b.buf = slices.Grow(b.buf, end-len(b.buf))[:end]
	}
	copy(b.buf[off:], p)
	return len(p), nil
}

func (b *bufferAt) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.buf)
}

// progressLog records a Future's events.
type progressLog struct {
	mu       sync.Mutex
	queued   int
	net      int64
	negative int64 // sum of negative progress
	done     int
	err      error
	afterEnd bool // progress after OnDone
}

func (p *progressLog) OnQueued(*Future) { p.mu.Lock(); p.queued++; p.mu.Unlock() }
func (p *progressLog) OnProgress(_ *Future, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.net += n
	if n < 0 {
		p.negative += n
	}
	if p.done > 0 {
		p.afterEnd = true
	}
}
func (p *progressLog) OnDone(_ *Future, err error) {
	p.mu.Lock()
	p.done++
	p.err = err
	p.mu.Unlock()
}

func newTestManager(t *testing.T, client *s3.Client, cfg Config) *Manager {
	t.Helper()
	m, err := NewManager(client, cfg)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
