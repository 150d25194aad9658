package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// observed is what the test server saw of one authenticated request.
type observed struct {
	info    Info
	body    []byte
	trailer http.Header
	header  http.Header
}

// fakeS3 is a minimal S3 endpoint that runs Classify, Authenticate and
// Authorize exactly as the server pipeline does, reads every body to the
// end and keeps objects in memory, so that real SDK requests go through
// the whole verification.
type fakeS3 struct {
	auth *Authenticator

	mu      sync.Mutex
	objects map[string][]byte // guarded by mu
	seen    []observed        // guarded by mu
}

func (s *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info, err := Classify(r, "")
	if err != nil {
		WriteError(w, r, err)
		return
	}
	r = r.WithContext(NewContext(r.Context(), info))
	id, err := s.auth.Authenticate(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	info.Identity = id
	if err := Authorize(id, info); err != nil {
		WriteError(w, r, err)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	s.mu.Lock()
	s.seen = append(s.seen, observed{info: *info, body: body, trailer: r.Trailer.Clone(), header: r.Header.Clone()})
	key := info.Bucket + "/" + info.Key
	obj, found := s.objects[key]
	switch info.Operation {
	case OpPutObject, OpUploadPart:
		if info.Operation == OpUploadPart {
			key += "#" + r.URL.Query().Get("partNumber")
		}
		s.objects[key] = body
	case OpCompleteMultipartUpload:
		var joined []byte
		for i := 1; ; i++ {
			part, ok := s.objects[key+"#"+strconv.Itoa(i)]
			if !ok {
				break
			}
			joined = append(joined, part...)
		}
		s.objects[key] = joined
	case OpDeleteObject:
		delete(s.objects, key)
	}
	s.mu.Unlock()

	switch info.Operation {
	case OpPutObject, OpUploadPart:
		sum := md5.Sum(body)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	case OpGetObject, OpHeadObject:
		if !found {
			WriteError(w, r, ErrNoSuchKey)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(obj)))
		if info.Operation == OpGetObject {
			_, _ = w.Write(obj)
		}
	case OpDeleteObject:
		w.WriteHeader(http.StatusNoContent)
	case OpListObjectsV2:
		WriteXML(w, r, http.StatusOK, struct {
			XMLName xml.Name `xml:"ListBucketResult"`
			Name    string
			Prefix  string
		}{Name: info.Bucket, Prefix: r.URL.Query().Get("prefix")})
	case OpCreateMultipartUpload:
		WriteXML(w, r, http.StatusOK, struct {
			XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
			Bucket   string
			Key      string
			UploadId string
		}{Bucket: info.Bucket, Key: info.Key, UploadId: "upload-1"})
	case OpCompleteMultipartUpload:
		WriteXML(w, r, http.StatusOK, struct {
			XMLName xml.Name `xml:"CompleteMultipartUploadResult"`
			Bucket  string
			Key     string
			ETag    string
		}{Bucket: info.Bucket, Key: info.Key, ETag: `"x-2"`})
	}
}

func (s *fakeS3) last() observed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[len(s.seen)-1]
}

// newSDKServer starts a fake S3 on 127.0.0.1 (TLS when tls is set) and
// returns a client for it with the given credentials.
func newSDKServer(t *testing.T, tls bool, accessKey, secretKey string) (*fakeS3, *s3.Client, *httptest.Server) {
	t.Helper()
	cfg := withAnonymous(testIdentityConfig())
	auth, err := NewAuthenticator(cfg, AuthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeS3{auth: auth, objects: make(map[string][]byte)}
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(fake)
	} else {
		srv = httptest.NewServer(fake)
	}
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		BaseEndpoint:     aws.String(srv.URL),
		UsePathStyle:     true,
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
		// What config.LoadDefaultConfig gives current SDKs.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	})
	return fake, client, srv
}

func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestSDKClientPlainHTTP(t *testing.T) {
	fake, client, _ := newSDKServer(t, false, exampleAccessKey, exampleSecretKey)
	ctx := context.Background()
	keys := []string{"plain.txt", "dir/sub dir/a b+c%d€!'()*,;=@$&.txt", "a//double", "ünï/cödé", "~tilde"}
	for _, key := range keys {
		data := []byte("content of " + key)
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key),
			Body: bytes.NewReader(data), Metadata: map[string]string{"color": "blue"}}); err != nil {
			t.Fatalf("PutObject %q: %v", key, err)
		}
		o := fake.last()
		if o.info.Operation != OpPutObject || o.info.Key != key || o.info.Size != int64(len(data)) || !bytes.Equal(o.body, data) {
			t.Fatalf("server saw %+v, body %q", o.info, o.body)
		}
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("GetObject %q: %v", key, err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("GetObject %q = %q", key, got)
		}
	}
	if _, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bucket"),
		Prefix: aws.String("dir/sub dir/a b+"), Delimiter: aws.String("/"), StartAfter: aws.String("a=b&c")}); err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	if o := fake.last(); o.info.Operation != OpListObjectsV2 || o.info.Action != ActionList {
		t.Fatalf("server saw %+v", o.info)
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bucket"), Key: aws.String("plain.txt")}); err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bucket"), Key: aws.String("plain.txt")}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}

	// Multipart upload.
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bucket"), Key: aws.String("big")})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var parts []types.CompletedPart
	for i := int32(1); i <= 2; i++ {
		out, err := client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bucket"), Key: aws.String("big"),
			UploadId: up.UploadId, PartNumber: aws.Int32(i), Body: bytes.NewReader(bytes.Repeat([]byte{byte('0' + i)}, 1000))})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i, err)
		}
		if o := fake.last(); o.info.Operation != OpUploadPart || o.info.Size != 1000 {
			t.Fatalf("server saw %+v", o.info)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(i)})
	}
	if _, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bucket"), Key: aws.String("big"),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
}

func TestSDKClientErrors(t *testing.T) {
	ctx := context.Background()

	_, wrong, _ := newSDKServer(t, false, exampleAccessKey, "wrong secret")
	_, err := wrong.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("k")})
	if code := apiErrorCode(err); code != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v (code %q)", err, code)
	}
	_, err = wrong.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if code := apiErrorCode(err); code != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret on PUT: %v (code %q)", err, code)
	}

	_, unknown, _ := newSDKServer(t, false, "NOBODY", "x")
	_, err = unknown.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("k")})
	if code := apiErrorCode(err); code != "InvalidAccessKeyId" {
		t.Errorf("unknown key: %v (code %q)", err, code)
	}

	// The reader may read photos but not write it, nor read elsewhere.
	_, reader, _ := newSDKServer(t, false, readerAccessKey, readerSecretKey)
	_, err = reader.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("k")})
	if code := apiErrorCode(err); code != "NoSuchKey" {
		t.Errorf("reader GET photos: %v (code %q), want NoSuchKey from the backend", err, code)
	}
	_, err = reader.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if code := apiErrorCode(err); code != "AccessDenied" {
		t.Errorf("reader PUT photos: %v (code %q)", err, code)
	}
	_, err = reader.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("docs"), Key: aws.String("k")})
	if code := apiErrorCode(err); code != "AccessDenied" {
		t.Errorf("reader GET docs: %v (code %q)", err, code)
	}
}

// Over TLS the SDK sends uploads as STREAMING-UNSIGNED-PAYLOAD-TRAILER
// with the checksum in a trailer: the server verifies and exposes it.
func TestSDKClientTLSChecksumTrailers(t *testing.T) {
	fake, client, _ := newSDKServer(t, true, exampleAccessKey, exampleSecretKey)
	ctx := context.Background()
	data := bytes.Repeat([]byte("trailing checksum test data\n"), 10000) // 280000 bytes
	algorithms := map[types.ChecksumAlgorithm]ChecksumAlgorithm{
		"":                               ChecksumCRC32, // the SDK default
		types.ChecksumAlgorithmCrc32:     ChecksumCRC32,
		types.ChecksumAlgorithmCrc32c:    ChecksumCRC32C,
		types.ChecksumAlgorithmCrc64nvme: ChecksumCRC64NVME,
		types.ChecksumAlgorithmSha1:      ChecksumSHA1,
		types.ChecksumAlgorithmSha256:    ChecksumSHA256,
	}
	for sdkAlg, alg := range algorithms {
		t.Run(string(alg)+"/"+string(sdkAlg), func(t *testing.T) {
			// An io.Reader without Seek: the SDK streams it.
			body := io.MultiReader(bytes.NewReader(data))
			_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("trailer"),
				Body: body, ContentLength: aws.Int64(int64(len(data))), ChecksumAlgorithm: sdkAlg})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			o := fake.last()
			if got := o.header.Get("X-Amz-Content-Sha256"); got != payloadStreamingUnsignTrail {
				t.Fatalf("the SDK sent x-amz-content-sha256 %q; this test expects the trailer form", got)
			}
			if o.info.Size != int64(len(data)) || !bytes.Equal(o.body, data) {
				t.Fatalf("server decoded %d bytes (declared %d), want %d", len(o.body), o.info.Size, len(data))
			}
			name := "X-Amz-Checksum-" + string(alg)
			if got, want := o.trailer.Get(name), checksumOf(alg, data); got != want {
				t.Fatalf("trailer %s = %q, want %q (trailers %v)", name, got, want, o.trailer)
			}
			if o.header.Get("Content-Encoding") != "" {
				t.Errorf("Content-Encoding left: %q", o.header.Get("Content-Encoding"))
			}
		})
	}
}

func TestSDKPresignedURLs(t *testing.T) {
	fake, client, srv := newSDKServer(t, false, exampleAccessKey, exampleSecretKey)
	ctx := context.Background()
	presign := s3.NewPresignClient(client, func(o *s3.PresignOptions) { o.Expires = 10 * time.Minute })

	put, err := presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("pre signed/ü.txt")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, strings.NewReader("presigned body"))
	for k, v := range put.SignedHeader {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT: %s %s", resp.Status, msg)
	}
	if o := fake.last(); o.info.Key != "pre signed/ü.txt" || string(o.body) != "presigned body" {
		t.Fatalf("server saw %+v %q", o.info, o.body)
	}

	get, err := presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("pre signed/ü.txt")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = srv.Client().Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != "presigned body" {
		t.Fatalf("presigned GET: %s %q", resp.Status, got)
	}

	// The same URL with another key is refused.
	resp, err = srv.Client().Get(strings.Replace(get.URL, "pre%20signed", "pre%20signef", 1))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(got), "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("tampered presigned GET: %s %s", resp.Status, got)
	}
}
