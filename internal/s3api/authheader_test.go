package s3api

import (
	"errors"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/sigv4"
)

const exampleAuthorization = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
	"SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"

func TestParseAuthorization(t *testing.T) {
	sig := "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
	tests := []struct {
		name   string
		header string
		code   string
		key    string // expected access key when valid
		region string
	}{
		{name: "documentation example", header: exampleAuthorization, key: "AKIAIOSFODNN7EXAMPLE", region: "us-east-1"},
		{name: "no spaces", header: strings.ReplaceAll(exampleAuthorization, ", ", ","), key: "AKIAIOSFODNN7EXAMPLE", region: "us-east-1"},
		{name: "components reordered", header: "AWS4-HMAC-SHA256 Signature=" + sig + ",SignedHeaders=host,Credential=AK/20130524/eu-central-1/s3/aws4_request",
			key: "AK", region: "eu-central-1"},
		{name: "upper-case signature hex", header: strings.Replace(exampleAuthorization, sig, strings.ToUpper(sig), 1), key: "AKIAIOSFODNN7EXAMPLE", region: "us-east-1"},
		{name: "empty", header: "", code: "AuthorizationHeaderMalformed"},
		{name: "algorithm only", header: "AWS4-HMAC-SHA256", code: "AuthorizationHeaderMalformed"},
		{name: "other algorithm", header: strings.Replace(exampleAuthorization, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1), code: "AuthorizationHeaderMalformed"},
		{name: "sigv2", header: "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", code: "NotImplemented"},
		{name: "sigv4a", header: "AWS4-ECDSA-P256-SHA256 Credential=x", code: "NotImplemented"},
		{name: "missing signature", header: "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host", code: "AuthorizationHeaderMalformed"},
		{name: "missing signed headers", header: "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, Signature=" + sig, code: "AuthorizationHeaderMalformed"},
		// A malformed signature is a wrong one, found when it is verified.
		{name: "short signature", header: strings.Replace(exampleAuthorization, sig, sig[:63], 1), key: "AKIAIOSFODNN7EXAMPLE", region: "us-east-1"},
		{name: "non-hex signature", header: strings.Replace(exampleAuthorization, sig, strings.Repeat("g", 64), 1), key: "AKIAIOSFODNN7EXAMPLE", region: "us-east-1"},
		{name: "empty signature", header: strings.Replace(exampleAuthorization, sig, "", 1), code: "AuthorizationHeaderMalformed"},
		{name: "duplicate component", header: exampleAuthorization + ", Signature=" + sig, code: "AuthorizationHeaderMalformed"},
		{name: "unknown component", header: exampleAuthorization + ", Foo=bar", code: "AuthorizationHeaderMalformed"},
		{name: "credential too short", header: strings.Replace(exampleAuthorization, "AKIAIOSFODNN7EXAMPLE/20130524/", "", 1), code: "AuthorizationHeaderMalformed"},
		{name: "bad date", header: strings.Replace(exampleAuthorization, "20130524", "2013-05-24", 1), code: "AuthorizationHeaderMalformed"},
		{name: "empty region", header: strings.Replace(exampleAuthorization, "us-east-1", "", 1), code: "AuthorizationHeaderMalformed"},
		{name: "wrong service", header: strings.Replace(exampleAuthorization, "/s3/", "/iam/", 1), code: "AuthorizationHeaderMalformed"},
		{name: "wrong terminator", header: strings.Replace(exampleAuthorization, "aws4_request", "aws4_reqest", 1), code: "AuthorizationHeaderMalformed"},
		{name: "empty access key", header: strings.Replace(exampleAuthorization, "AKIAIOSFODNN7EXAMPLE", "", 1), code: "AuthorizationHeaderMalformed"},
		{name: "host not signed", header: strings.Replace(exampleAuthorization, "host;", "", 1), code: "AuthorizationHeaderMalformed"},
		{name: "unsorted signed headers", header: strings.Replace(exampleAuthorization, "host;range", "range;host", 1), code: "AuthorizationHeaderMalformed"},
		{name: "upper-case signed header", header: strings.Replace(exampleAuthorization, "range", "Range", 1), code: "AuthorizationHeaderMalformed"},
		{name: "duplicate signed header", header: strings.Replace(exampleAuthorization, "host;range", "host;host;range", 1), code: "AuthorizationHeaderMalformed"},
		{name: "trailing semicolon", header: strings.Replace(exampleAuthorization, "x-amz-date,", "x-amz-date;,", 1), code: "AuthorizationHeaderMalformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseAuthorization(tc.header)
			wantCode(t, err, tc.code)
			if tc.code != "" {
				return
			}
			if a.cred.accessKey != tc.key || a.cred.region != tc.region || a.cred.date != "20130524" {
				t.Errorf("credential = %+v", a.cred)
			}
			if want := "20130524/" + tc.region + "/s3/aws4_request"; a.cred.scope != want {
				t.Errorf("scope = %q, want %q", a.cred.scope, want)
			}
		})
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(exampleAuthorization)
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=" + awsExampleSeed)
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f, SignedHeaders=;, Signature=")
	f.Add("AWS AKID:sig")
	f.Add("AWS4-HMAC-SHA256 ,,,=,")
	f.Fuzz(func(t *testing.T, header string) {
		a, err := parseAuthorization(header)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not an S3 error: %v", err)
			}
			return
		}
		// Whatever parses is internally consistent.
		if a.cred.accessKey == "" || !strings.HasSuffix(a.cred.scope, "/s3/aws4_request") ||
			!strings.HasPrefix(a.cred.scope, a.cred.date+"/"+a.cred.region+"/") {
			t.Fatalf("inconsistent credential %+v from %q", a.cred, header)
		}
		if sigv4.CheckSignedHeaders(a.signedHeaders) != nil {
			t.Fatalf("invalid signed headers %q accepted", a.signedHeaders)
		}
		if !strings.Contains(header, a.cred.accessKey+"/"+a.cred.scope) || a.signature == "" || !strings.Contains(header, "Signature="+a.signature) {
			t.Fatalf("credential %+v is not in the header", a.cred)
		}
	})
}
