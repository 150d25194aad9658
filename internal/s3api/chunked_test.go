package s3api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/s3limit/s3limit/internal/sigv4"
)

// The example of "Signature Calculations for the Authorization Header:
// Transferring Payload in Multiple Chunks" in the S3 API reference: a
// 66560-byte object of 'a' sent as a 65536-byte chunk, a 1024-byte chunk
// and the final chunk.
const (
	awsExampleSeed      = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	awsExampleChunk1Sig = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
	awsExampleChunk2Sig = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
	awsExampleFinalSig  = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

	// The trailer variant (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with
	// x-amz-checksum-crc32c) of the same page's companion example.
	awsTrailerSeed      = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
	awsTrailerChunk1Sig = "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
	awsTrailerChunk2Sig = "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
	awsTrailerFinalSig  = "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"
	awsTrailerCRC32C    = "sOO8/Q=="
	awsTrailerSig       = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
)

func awsExampleBody(sigs [3]string, trailer string) []byte {
	var b bytes.Buffer
	b.WriteString("10000;chunk-signature=" + sigs[0] + "\r\n")
	b.Write(bytes.Repeat([]byte("a"), 65536))
	b.WriteString("\r\n400;chunk-signature=" + sigs[1] + "\r\n")
	b.Write(bytes.Repeat([]byte("a"), 1024))
	b.WriteString("\r\n0;chunk-signature=" + sigs[2] + "\r\n")
	b.WriteString(trailer)
	b.WriteString("\r\n")
	return b.Bytes()
}

// awsExampleRequest is the documented request, signed with the documented
// seed signature.
func awsExampleRequest(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPut, "http://s3.amazonaws.com/examplebucket/chunkObject.txt", bytes.NewReader(body))
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	r.Header.Set("Content-Length", "66824") // as signed, whatever the test body is
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"+
		"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"+
		"Signature="+awsExampleSeed)
	return r
}

func TestChunkedAWSDocumentationExample(t *testing.T) {
	body := awsExampleBody([3]string{awsExampleChunk1Sig, awsExampleChunk2Sig, awsExampleFinalSig}, "")
	if len(body) != 66824 {
		t.Fatalf("example body is %d bytes, the documentation says 66824", len(body))
	}
	r := awsExampleRequest(body)
	a := newTestAuthenticator(t, nil, testTime)
	id, err := a.Authenticate(r)
	wantCode(t, err, "")
	if id.Name != "admin" {
		t.Fatalf("identity = %q", id.Name)
	}
	if r.ContentLength != 66560 || r.Header.Get("Content-Length") != "66560" {
		t.Errorf("ContentLength = %d, header %q; want 66560", r.ContentLength, r.Header.Get("Content-Length"))
	}
	if r.Header.Get("Content-Encoding") != "" || r.Header.Get("X-Amz-Decoded-Content-Length") != "" {
		t.Errorf("aws-chunked headers left: %v", r.Header)
	}
	got, err := readAll(r)
	wantCode(t, err, "")
	if !bytes.Equal(got, bytes.Repeat([]byte("a"), 66560)) {
		t.Fatalf("decoded %d bytes, want 66560 of 'a'", len(got))
	}
}

func TestChunkedAWSDocumentationExampleTampered(t *testing.T) {
	good := [3]string{awsExampleChunk1Sig, awsExampleChunk2Sig, awsExampleFinalSig}
	tests := []struct {
		name   string
		body   func() []byte
		header func(*http.Request)
		code   string // from Authenticate when authFails, else from reading
		auth   bool
	}{
		{name: "chunk data changed", body: func() []byte {
			b := awsExampleBody(good, "")
			b[100] = 'b'
			return b
		}, code: "SignatureDoesNotMatch"},
		{name: "second chunk signature changed", body: func() []byte {
			s := good
			s[1] = strings.Repeat("0", 64)
			return awsExampleBody(s, "")
		}, code: "SignatureDoesNotMatch"},
		{name: "final chunk signature changed", body: func() []byte {
			s := good
			s[2] = awsExampleChunk1Sig
			return awsExampleBody(s, "")
		}, code: "SignatureDoesNotMatch"},
		{name: "chunks swapped signatures", body: func() []byte {
			return awsExampleBody([3]string{awsExampleChunk2Sig, awsExampleChunk1Sig, awsExampleFinalSig}, "")
		}, code: "SignatureDoesNotMatch"},
		{name: "truncated before the final chunk", body: func() []byte {
			b := awsExampleBody(good, "")
			return b[:66000]
		}, code: "IncompleteBody"},
		{name: "truncated inside the final line", body: func() []byte {
			b := awsExampleBody(good, "")
			return b[:len(b)-3]
		}, code: "IncompleteBody"},
		{name: "missing final CRLF", body: func() []byte {
			b := awsExampleBody(good, "")
			return b[:len(b)-2]
		}, code: "IncompleteBody"},
		{name: "data after the end", body: func() []byte {
			return append(awsExampleBody(good, ""), 'x')
		}, code: "InvalidRequest"},
		{name: "seed header changed", body: func() []byte { return awsExampleBody(good, "") },
			header: func(r *http.Request) { r.Header.Set("X-Amz-Storage-Class", "STANDARD") },
			code:   "SignatureDoesNotMatch", auth: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := awsExampleRequest(tc.body())
			if tc.header != nil {
				tc.header(r)
			}
			a := newTestAuthenticator(t, nil, testTime)
			_, err := a.Authenticate(r)
			if tc.auth {
				wantCode(t, err, tc.code)
				return
			}
			wantCode(t, err, "")
			_, err = readAll(r)
			wantCode(t, err, tc.code)
			// The failure is sticky.
			_, err2 := r.Body.Read(make([]byte, 10))
			if !errors.Is(err2, err) {
				t.Errorf("second Read error = %v, want %v", err2, err)
			}
		})
	}
}

func TestChunkedAWSTrailerExample(t *testing.T) {
	body := awsExampleBody([3]string{awsTrailerChunk1Sig, awsTrailerChunk2Sig, awsTrailerFinalSig},
		"x-amz-checksum-crc32c:"+awsTrailerCRC32C+"\r\nx-amz-trailer-signature:"+awsTrailerSig+"\r\n")
	var key sigv4.Key
	copy(key[:], testSigningKey(exampleSecretKey, "20130524", "us-east-1"))
	signing := chunkSigning{key: key, amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", seed: awsTrailerSeed}
	cfg := chunkedConfig{
		signed: true, trailer: true, decodedLength: 66560,
		trailerNames: []string{"x-amz-checksum-crc32c"},
		chain:        signing.chain(),
	}
	trailer := make(http.Header)
	got, err := io.ReadAll(newChunkedReader(io.NopCloser(bytes.NewReader(body)), cfg, trailer))
	wantCode(t, err, "")
	if len(got) != 66560 {
		t.Fatalf("decoded %d bytes", len(got))
	}
	if v := trailer.Get("X-Amz-Checksum-Crc32c"); v != awsTrailerCRC32C {
		t.Fatalf("trailer crc32c = %q, want %q", v, awsTrailerCRC32C)
	}

	// The same body with the checksum changed fails the trailer signature.
	bad := bytes.Replace(body, []byte(awsTrailerCRC32C), []byte("AAAAAA=="), 1)
	_, err = io.ReadAll(newChunkedReader(io.NopCloser(bytes.NewReader(bad)), cfg, make(http.Header)))
	wantCode(t, err, "SignatureDoesNotMatch")
}

// chunkedRequest builds a PUT whose aws-chunked body is encoded by enc
// from data, with headers signed by the aws-sdk-go-v2 signer so that the
// seed signature is real.
func chunkedRequest(t *testing.T, mode string, data []byte, chunkSize int, trailers [][2]string, tamper func([]byte) []byte) *http.Request {
	t.Helper()
	return chunkedRequestFramed(t, mode, data, chunkSize, trailers, "", "", tamper)
}

// chunkedRequestFramed is chunkedRequest with trailer lines ended by
// trailerEOL and the body by end (see chunkEncoder).
func chunkedRequestFramed(t testing.TB, mode string, data []byte, chunkSize int, trailers [][2]string, trailerEOL, end string, tamper func([]byte) []byte) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPut, "http://127.0.0.1:8333/bucket/dir/object.bin", nil)
	r.Header.Set("X-Amz-Content-Sha256", mode)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	var names []string
	for _, kv := range trailers {
		names = append(names, kv[0])
	}
	if len(names) > 0 {
		r.Header.Set("X-Amz-Trailer", strings.Join(names, ","))
	}
	sdkSign(t, r, exampleAccessKey, exampleSecretKey, mode, "us-east-1", testTime)
	enc := &chunkEncoder{amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", trailerEOL: trailerEOL, end: end}
	if strings.HasPrefix(mode, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") {
		enc.key = testSigningKey(exampleSecretKey, "20130524", "us-east-1")
		auth := r.Header.Get("Authorization")
		enc.prev = auth[strings.Index(auth, "Signature=")+len("Signature="):]
	}
	body := enc.encode(data, chunkSize, trailers)
	if tamper != nil {
		body = tamper(body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r
}

func TestChunkedForms(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz\r\n"), 3000) // 114000 bytes
	algorithms := []ChecksumAlgorithm{ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256}
	type tc struct {
		name      string
		mode      string
		chunk     int
		trailers  [][2]string
		data      []byte
		wantTrail map[string]string
	}
	var tests []tc
	for _, mode := range []string{payloadStreamingSigned, payloadStreamingSignedTrail, payloadStreamingUnsignTrail} {
		var noTrailers [][2]string
		if mode == payloadStreamingSignedTrail {
			noTrailers = [][2]string{} // only the trailer signature
		}
		// One-byte chunks are the worst case of the framing; a few KiB do.
		tests = append(tests, tc{name: mode + "/chunk=1", mode: mode, chunk: 1, data: data[:3000], trailers: noTrailers})
		for _, size := range []int{8192, 65536, len(data)} {
			tests = append(tests, tc{name: fmt.Sprintf("%s/chunk=%d", mode, size), mode: mode, chunk: size, data: data, trailers: noTrailers})
		}
		tests = append(tests, tc{name: mode + "/empty", mode: mode, chunk: 8192, data: nil, trailers: noTrailers})
	}
	for _, mode := range []string{payloadStreamingSignedTrail, payloadStreamingUnsignTrail} {
		for _, alg := range algorithms {
			name := "x-amz-checksum-" + strings.ToLower(string(alg))
			sum := checksumOf(alg, data)
			tests = append(tests, tc{name: mode + "/" + name, mode: mode, chunk: 65536, data: data,
				trailers: [][2]string{{name, sum}}, wantTrail: map[string]string{name: sum}})
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := chunkedRequest(t, tc.mode, tc.data, tc.chunk, tc.trailers, nil)
			a := newTestAuthenticator(t, nil, testTime)
			if _, err := a.Authenticate(r); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if r.ContentLength != int64(len(tc.data)) {
				t.Errorf("ContentLength = %d, want %d", r.ContentLength, len(tc.data))
			}
			got, err := io.ReadAll(iotest.OneByteReader(r.Body))
			wantCode(t, err, "")
			if !bytes.Equal(got, tc.data) {
				t.Fatalf("decoded %d bytes, want %d", len(got), len(tc.data))
			}
			for k, v := range tc.wantTrail {
				if got := r.Trailer.Get(k); got != v {
					t.Errorf("trailer %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// The framings of trailer lines clients send: CRLF as the S3
// documentation shows, a bare LF, and LF followed by CRLF, which minio-go
// writes ("name:value\n", then CRLF; then the trailer signature or the
// final CRLF). MinIO and S3 accept them all; what follows the trailers
// must still be nothing.
func TestChunkedTrailerFramings(t *testing.T) {
	data := bytes.Repeat([]byte("framing-"), 3000)
	crc := checksumOf(ChecksumCRC32C, data)
	trailers := [][2]string{{"x-amz-checksum-crc32c", crc}}
	tests := []struct {
		name             string
		eol, end         string // "" = CRLF; end "\x00" = none at all
		unsigned, signed string // error codes when reading; "" = none
	}{
		{name: "CRLF"},
		{name: "LF", eol: "\n"},
		{name: "LF CRLF (minio-go)", eol: "\n\r\n"},
		// The trailer signature line needs its final CRLF.
		{name: "LF CRLF at the end of the body", eol: "\n\r\n", end: "\x00", signed: "IncompleteBody"},
		{name: "bare LF at the end", eol: "\n", end: "\n"},
		{name: "CRLF, then another CRLF", end: "\r\n\r\n", unsigned: "InvalidRequest", signed: "InvalidRequest"},
		{name: "LF CRLF, then two more CRLF", eol: "\n\r\n", end: "\r\n\r\n", unsigned: "InvalidRequest", signed: "InvalidRequest"},
		{name: "LF CRLF CRLF as one line end", eol: "\n\r\n\r\n", unsigned: "InvalidRequest", signed: "SignatureDoesNotMatch"},
		{name: "data after the end", end: "\r\nx", unsigned: "InvalidRequest", signed: "InvalidRequest"},
		{name: "CR alone", eol: "\r", unsigned: "IncompleteBody", signed: "SignatureDoesNotMatch"},
	}
	for _, mode := range []string{payloadStreamingSignedTrail, payloadStreamingUnsignTrail} {
		for _, tc := range tests {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				end := tc.end
				if end == "\x00" {
					end = ""
				}
				r := chunkedRequestFramed(t, mode, data, 8192, trailers, tc.eol, end, nil)
				if tc.end == "\x00" { // no final CRLF at all
					body, _ := io.ReadAll(r.Body)
					body = bytes.TrimSuffix(body, []byte("\r\n"))
					r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
				}
				a := newTestAuthenticator(t, nil, testTime)
				if _, err := a.Authenticate(r); err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				code := tc.unsigned
				if mode == payloadStreamingSignedTrail {
					code = tc.signed
				}
				got, err := io.ReadAll(r.Body)
				wantCode(t, err, code)
				if code != "" {
					return
				}
				if !bytes.Equal(got, data) || r.Trailer.Get("x-amz-checksum-crc32c") != crc {
					t.Fatalf("decoded %d bytes, trailer %q", len(got), r.Trailer.Get("x-amz-checksum-crc32c"))
				}
			})
		}
	}
}

// FuzzChunkedTrailerFramings: whatever the framing of the trailer lines,
// the body decodes to its data with its checksum, and a changed byte in
// the data or the checksum never decodes to success.
func FuzzChunkedTrailerFramings(f *testing.F) {
	f.Add([]byte("hello, world"), uint8(0), uint16(0), false)
	f.Add([]byte("minio-go"), uint8(2), uint16(3), true)
	f.Add(bytes.Repeat([]byte("x"), 9000), uint8(1), uint16(8999), true)
	eols := []string{"\r\n", "\n", "\n\r\n"}
	f.Fuzz(func(t *testing.T, data []byte, eol uint8, flip uint16, signed bool) {
		mode := payloadStreamingUnsignTrail
		if signed {
			mode = payloadStreamingSignedTrail
		}
		trailers := [][2]string{{"x-amz-checksum-crc32", checksumOf(ChecksumCRC32, data)}}
		framing := eols[int(eol)%len(eols)]
		a := newTestAuthenticator(t, nil, testTime)
		r := chunkedRequestFramed(t, mode, data, 4096, trailers, framing, "", nil)
		if _, err := a.Authenticate(r); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("framing %q: %d of %d bytes, %v", framing, len(got), len(data), err)
		}
		// Change one byte of the data or of the checksum.
		r = chunkedRequestFramed(t, mode, data, 4096, trailers, framing, "", func(b []byte) []byte {
			var targets []int
			if i := bytes.Index(b, []byte("\r\n")); i >= 0 && len(data) > 0 {
				for j := range min(len(data), 4096) { // the first chunk's data
					targets = append(targets, i+2+j)
				}
			}
			i := bytes.Index(b, []byte("x-amz-checksum-crc32:")) + len("x-amz-checksum-crc32:")
			targets = append(targets, i, i+1, i+2)
			b[targets[int(flip)%len(targets)]] ^= 0x20
			return b
		})
		if _, err := a.Authenticate(r); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(r.Body); err == nil {
			t.Fatalf("framing %q: a changed byte decoded without an error", framing)
		}
	})
}

func TestChunkedFailures(t *testing.T) {
	data := bytes.Repeat([]byte("payload-"), 5000) // 40000 bytes
	crc := checksumOf(ChecksumCRC32, data)
	wrongCRC := checksumOf(ChecksumCRC32, []byte("other"))
	crcTrailer := [][2]string{{"x-amz-checksum-crc32", crc}}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	}
	tests := []struct {
		name     string
		mode     string
		trailers [][2]string
		header   func(*http.Request)
		tamper   func([]byte) []byte
		authCode string
		readCode string
	}{
		{name: "signed: flipped data byte", mode: payloadStreamingSigned,
			tamper: func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, readCode: "SignatureDoesNotMatch"},
		// A chunk or trailer signature that is not 64 hex digits is a wrong
		// signature (403), as S3 answers, not a framing error (400).
		{name: "signed: chunk signature not hex", mode: payloadStreamingSigned,
			tamper: func(b []byte) []byte {
				i := bytes.Index(b, []byte("chunk-signature=")) + len("chunk-signature=")
				b[i] = 'g'
				return b
			}, readCode: "SignatureDoesNotMatch"},
		{name: "signed: chunk signature short", mode: payloadStreamingSigned,
			tamper: func(b []byte) []byte {
				i := bytes.Index(b, []byte("chunk-signature=")) + len("chunk-signature=")
				return append(b[:i:i], b[i+1:]...)
			}, readCode: "SignatureDoesNotMatch"},
		{name: "signed: final chunk signature not hex", mode: payloadStreamingSigned,
			tamper: func(b []byte) []byte {
				i := bytes.LastIndex(b, []byte("chunk-signature=")) + len("chunk-signature=")
				b[i+63] = '`'
				return b
			}, readCode: "SignatureDoesNotMatch"},
		{name: "signed trailer: trailer signature not hex", mode: payloadStreamingSignedTrail, trailers: crcTrailer,
			tamper: func(b []byte) []byte {
				i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + len("x-amz-trailer-signature:")
				b[i] = 'z'
				return b
			}, readCode: "SignatureDoesNotMatch"},
		{name: "signed: chunk without signature", mode: payloadStreamingSigned,
			tamper: replace(";chunk-signature=", ";x="), readCode: "InvalidRequest"},
		{name: "signed trailer: checksum changed", mode: payloadStreamingSignedTrail, trailers: crcTrailer,
			tamper: replace(crc, wrongCRC), readCode: "SignatureDoesNotMatch"},
		{name: "signed trailer: wrong checksum correctly signed", mode: payloadStreamingSignedTrail,
			trailers: [][2]string{{"x-amz-checksum-crc32", wrongCRC}}, readCode: "BadDigest"},
		{name: "signed trailer: signature missing", mode: payloadStreamingSignedTrail, trailers: crcTrailer,
			tamper: func(b []byte) []byte {
				i := bytes.Index(b, []byte("x-amz-trailer-signature"))
				return append(b[:i:i], "\r\n"...)
			}, readCode: "SignatureDoesNotMatch"},
		{name: "unsigned trailer: checksum changed", mode: payloadStreamingUnsignTrail, trailers: crcTrailer,
			tamper: replace(crc, wrongCRC), readCode: "BadDigest"},
		{name: "unsigned trailer: data changed", mode: payloadStreamingUnsignTrail, trailers: crcTrailer,
			tamper: func(b []byte) []byte { b[100] ^= 1; return b }, readCode: "BadDigest"},
		{name: "unsigned trailer: declared trailer missing", mode: payloadStreamingUnsignTrail, trailers: crcTrailer,
			tamper: replace("x-amz-checksum-crc32:"+crc+"\r\n", ""), readCode: "IncompleteBody"},
		{name: "unsigned trailer: undeclared trailer", mode: payloadStreamingUnsignTrail, trailers: crcTrailer,
			tamper: replace("x-amz-checksum-crc32:", "x-amz-checksum-sha1:"), readCode: "InvalidRequest"},
		{name: "unsigned trailer: signature in unsigned body", mode: payloadStreamingUnsignTrail, trailers: crcTrailer,
			tamper: replace(crc+"\r\n", crc+"\r\nx-amz-trailer-signature:"+strings.Repeat("0", 64)+"\r\n"), readCode: "InvalidRequest"},
		{name: "unsigned trailer: chunk extension", mode: payloadStreamingUnsignTrail, trailers: crcTrailer,
			tamper: replace("\r\n", ";chunk-signature="+strings.Repeat("0", 64)+"\r\n"), readCode: "InvalidRequest"},
		{name: "unsigned: truncated", mode: payloadStreamingUnsignTrail, trailers: crcTrailer,
			tamper: func(b []byte) []byte { return b[:len(b)/2] }, readCode: "IncompleteBody"},
		{name: "unsigned: chunk size too big for the data", mode: payloadStreamingUnsignTrail,
			tamper: replace("2000\r\n", "2001\r\n"), readCode: "InvalidRequest"},
		{name: "unsigned: overlong size line", mode: payloadStreamingUnsignTrail,
			tamper: func(b []byte) []byte { return append([]byte(strings.Repeat("0", 300)), b...) }, readCode: "InvalidRequest"},
		{name: "unsigned: size is not hex", mode: payloadStreamingUnsignTrail,
			tamper: func(b []byte) []byte { return append([]byte("zz\r\n"), b...) }, readCode: "InvalidRequest"},
		{name: "unsigned: huge chunk size", mode: payloadStreamingUnsignTrail,
			tamper: func(b []byte) []byte { return []byte("ffffffffffffffff\r\n") }, readCode: "InvalidRequest"},
		{name: "unsigned: bare LF after size", mode: payloadStreamingUnsignTrail,
			tamper: replace("2000\r\n", "2000\n"), readCode: "InvalidRequest"},
		{name: "declared length too small", mode: payloadStreamingUnsignTrail,
			header: func(r *http.Request) { r.Header.Set("X-Amz-Decoded-Content-Length", "39999") }, readCode: "IncompleteBody"},
		{name: "declared length too large", mode: payloadStreamingUnsignTrail,
			header: func(r *http.Request) { r.Header.Set("X-Amz-Decoded-Content-Length", "40001") }, readCode: "IncompleteBody"},
		{name: "declared length missing", mode: payloadStreamingUnsignTrail,
			header: func(r *http.Request) { r.Header.Del("X-Amz-Decoded-Content-Length") }, authCode: "MissingContentLength"},
		{name: "unsupported trailer declared", mode: payloadStreamingUnsignTrail,
			header: func(r *http.Request) { r.Header.Set("X-Amz-Trailer", "x-amz-meta-foo") }, authCode: "InvalidArgument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := chunkedRequest(t, tc.mode, data, 8192, tc.trailers, tc.tamper)
			a := newTestAuthenticator(t, nil, testTime)
			if tc.header != nil {
				// Header changes after signing: use the anonymous path
				// for unsigned bodies so the seed does not matter.
				tc.header(r)
				r.Header.Del("Authorization")
				a = newTestAuthenticator(t, withAnonymous(testIdentityConfig()), testTime)
			}
			_, err := a.Authenticate(r)
			if tc.authCode != "" {
				wantCode(t, err, tc.authCode)
				return
			}
			wantCode(t, err, "")
			got, err := readAll(r)
			wantCode(t, err, tc.readCode)
			if len(got) > len(data) {
				t.Errorf("decoded %d bytes from a %d-byte payload", len(got), len(data))
			}
			if len(r.Trailer) != 0 {
				t.Errorf("trailers published after a failure: %v", r.Trailer)
			}
		})
	}
}

func withAnonymous(cfg *IdentityConfig) *IdentityConfig {
	cfg.Identities = append(cfg.Identities, Identity{Name: AnonymousIdentity, Actions: []string{"Read", "Write"}})
	return cfg
}

// A bad chunk is reported before the chunk after it is read, and the
// decoder never hands out more than the chunk sizes allow.
func TestChunkedReaderStopsAtFirstBadChunk(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 3*8192)
	r := chunkedRequest(t, payloadStreamingSigned, data, 8192, nil, func(b []byte) []byte {
		b[200] = 'y' // inside the first chunk
		return b
	})
	a := newTestAuthenticator(t, nil, testTime)
	if _, err := a.Authenticate(r); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(r)
	wantCode(t, err, "SignatureDoesNotMatch")
	if len(got) != 8192 {
		t.Fatalf("read %d bytes before the error, want the first chunk only (8192)", len(got))
	}
}

func FuzzChunkedReader(f *testing.F) {
	f.Add(awsExampleBody([3]string{awsExampleChunk1Sig, awsExampleChunk2Sig, awsExampleFinalSig}, "")[:400], true, false)
	f.Add([]byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n"), false, true)
	f.Add([]byte("3\r\nabc\r\n0\r\n\r\n"), false, true)
	f.Add([]byte("0\r\n\r\n"), false, false)
	f.Add([]byte("3;chunk-signature="+strings.Repeat("a", 64)+"\r\nabc\r\n0;chunk-signature="+strings.Repeat("b", 64)+"\r\n\r\n"), true, false)
	f.Add([]byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\nx-amz-trailer-signature:"+strings.Repeat("c", 64)+"\r\n\r\n"), true, true)
	// The framings minio-go writes: trailer lines ended by LF and CRLF.
	f.Add([]byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\n\r\n\r\n"), false, true)
	f.Add([]byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\n\r\n"), false, true)
	f.Add([]byte("3;chunk-signature="+strings.Repeat("a", 64)+"\r\nabc\r\n0;chunk-signature="+strings.Repeat("b", 64)+"\r\n"+
		"x-amz-checksum-crc32:NSRBwg==\n\r\nx-amz-trailer-signature:"+strings.Repeat("c", 64)+"\r\n\r\n"), true, true)
	f.Add([]byte("3;chunk-signature=zz\r\nabc\r\n0\r\n\r\n"), true, false)
	f.Fuzz(func(t *testing.T, body []byte, signed, trailer bool) {
		signing := chunkSigning{amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request"}
		cfg := chunkedConfig{
			signed: signed, trailer: trailer, decodedLength: int64(len(body)),
			chain: signing.chain(),
		}
		if trailer {
			cfg.trailerNames = []string{"x-amz-checksum-crc32"}
		}
		got, err := io.ReadAll(newChunkedReader(io.NopCloser(bytes.NewReader(body)), cfg, make(http.Header)))
		if len(got) > len(body) {
			t.Fatalf("decoded %d bytes from %d bytes of input", len(got), len(body))
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not an S3 error: %v", err)
			}
		}
	})
}
