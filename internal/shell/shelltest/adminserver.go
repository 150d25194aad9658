// Package shelltest provides a fake of the s3limit admin API for testing
// the shell without a full server: GET and PUT of the circuit-breaker
// document with ETag / If-Match, AWS Signature Version 4 verification,
// and an Admin / non-Admin identity.
package shelltest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s3limit/s3limit/internal/limits"
)

// Credentials the fake knows.
const (
	AdminAccessKey  = "AKIASHELLADMIN000000"
	AdminSecretKey  = "shellAdminSecret000000000000000000000000"
	ReaderAccessKey = "AKIASHELLREADER00000"
	ReaderSecretKey = "shellReaderSecret00000000000000000000000"
)

// Path is the resource the fake serves.
const Path = "/_s3limit/circuit-breaker"

// MaxBody is the largest PUT body the fake accepts.
const MaxBody = 1 << 20

// AdminServer is a running fake admin API on 127.0.0.1. Safe for
// concurrent use.
type AdminServer struct {
	URL string

	mu        sync.Mutex
	cfg       *limits.Config // guarded by mu
	etag      int            // guarded by mu
	puts      int            // guarded by mu: successful PUTs
	beforePut func()         // guarded by mu
}

// NewAdminServer starts a fake with an empty configuration and stops it
// when the test ends.
func NewAdminServer(t testing.TB) *AdminServer {
	t.Helper()
	s := &AdminServer{cfg: &limits.Config{}, etag: 1}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("shelltest: %v", err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	hs.Start()
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// Config returns a copy of the stored configuration.
func (s *AdminServer) Config() *limits.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Clone()
}

// SetConfig replaces the stored configuration, as another admin would,
// and changes the ETag.
func (s *AdminServer) SetConfig(cfg *limits.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg.Clone()
	s.etag++
}

// Puts returns how many PUTs changed the configuration.
func (s *AdminServer) Puts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

// BeforePut sets a function called at the start of every authorised PUT,
// before If-Match is checked (e.g. to simulate a concurrent SetConfig).
func (s *AdminServer) BeforePut(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beforePut = f
}

// ServeHTTP implements the admin API.
func (s *AdminServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		writeError(w, &apiError{http.StatusNotFound, "NoSuchKey", "The specified key does not exist."})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		writeError(w, &apiError{http.StatusBadRequest, "IncompleteBody", "The body could not be read."})
		return
	}
	if len(body) > MaxBody {
		writeError(w, &apiError{http.StatusBadRequest, "MaxMessageLengthExceeded", "Your request was too big."})
		return
	}
	if err := authorise(r, body); err != nil {
		writeError(w, err)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		cfg, etag := s.cfg.Clone(), s.etag
		s.mu.Unlock()
		writeConfig(w, cfg, etag)
	case http.MethodPut:
		s.put(w, r, body)
	default:
		writeError(w, &apiError{http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource."})
	}
}

func (s *AdminServer) put(w http.ResponseWriter, r *http.Request, body []byte) {
	cfg, err := limits.ParseConfig(body)
	if err != nil {
		writeError(w, &apiError{http.StatusBadRequest, "InvalidArgument", err.Error()})
		return
	}
	s.mu.Lock()
	hook := s.beforePut
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	s.mu.Lock()
	if m := r.Header.Get("If-Match"); m != "" && m != etagOf(s.etag) {
		s.mu.Unlock()
		writeError(w, &apiError{http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the preconditions you specified did not hold."})
		return
	}
	s.cfg = cfg
	s.etag++
	s.puts++
	etag := s.etag
	s.mu.Unlock()
	writeConfig(w, cfg, etag)
}

func writeConfig(w http.ResponseWriter, cfg *limits.Config, etag int) {
	doc, _ := cfg.Marshal()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", etagOf(etag))
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	_, _ = w.Write(doc)
}

func etagOf(n int) string { return `"` + strconv.Itoa(n) + `"` }

// authorise checks the request's Signature Version 4 by signing the same
// request again with the known secret key.
func authorise(r *http.Request, body []byte) *apiError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &apiError{http.StatusForbidden, "AccessDenied", "anonymous requests are not allowed"}
	}
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return &apiError{http.StatusBadRequest, "AuthorizationHeaderMalformed", "The authorization header you provided is invalid."}
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[3] != "s3" || scope[4] != "aws4_request" {
		return &apiError{http.StatusBadRequest, "AuthorizationHeaderMalformed", "The authorization header you provided is invalid."}
	}
	var secret string
	switch scope[0] {
	case AdminAccessKey:
		secret = AdminSecretKey
	case ReaderAccessKey:
		secret = ReaderSecretKey
	default:
		return &apiError{http.StatusForbidden, "InvalidAccessKeyId", "The AWS access key ID you provided does not exist in our records."}
	}
	sum := sha256.Sum256(body)
	if r.Header.Get("X-Amz-Content-Sha256") != hex.EncodeToString(sum[:]) {
		return &apiError{http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided x-amz-content-sha256 header does not match the body."}
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return &apiError{http.StatusForbidden, "AccessDenied", "missing or bad X-Amz-Date"}
	}
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return &apiError{http.StatusBadRequest, "InvalidRequest", err.Error()}
	}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		if h == "host" || h == "content-length" {
			continue
		}
		again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
	}
	creds := aws.Credentials{AccessKeyID: scope[0], SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, again, hex.EncodeToString(sum[:]), "s3", scope[2], when); err != nil {
		return &apiError{http.StatusInternalServerError, "InternalError", err.Error()}
	}
	if again.Header.Get("Authorization") != auth {
		return &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."}
	}
	if scope[0] != AdminAccessKey {
		return &apiError{http.StatusForbidden, "AccessDenied", "the admin API needs an identity with the Admin action"}
	}
	return nil
}

// apiError is an S3 error answer.
type apiError struct {
	status  int
	code    string
	message string
}

type errorDoc struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	body, _ := xml.Marshal(errorDoc{Code: e.code, Message: e.message})
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.status)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(body)
}
