package store

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/s3limit/s3limit/internal/s3api"
)

// Request bodies as aws-sdk-go-v2 and the AWS CLI send them.
const (
	sdkComplete = `<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ETag>&#34;79b281060d337b9b2b84ccf390adcf74&#34;</ETag><PartNumber>1</PartNumber></Part><Part><ETag>"5d41402abc4b2a76b9719d911017c592"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>`
	sdkDelete  = `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>photos/2006/February/sample2.jpg</Key></Object><Object><Key>a&amp;b &lt;c&gt;</Key><VersionId>null</VersionId></Object><Quiet>true</Quiet></Delete>`
	sdkTagging = `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>Project</Key><Value>Project One</Value></Tag><Tag><Key>User</Key><Value>jsmith</Value></Tag></TagSet></Tagging>`
)

func TestParseCompleteMultipartUpload(t *testing.T) {
	parts, err := parseCompleteMultipartUpload([]byte(sdkComplete))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0].PartNumber != 1 || trimETag(parts[0].ETag) != "79b281060d337b9b2b84ccf390adcf74" || parts[1].PartNumber != 2 {
		t.Fatalf("parts %+v", parts)
	}
	for _, bad := range []string{
		"",
		"<CompleteMultipartUpload/>",
		"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber></Part></CompleteMultipartUpload>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>",
		"<Other><Part><PartNumber>1</PartNumber></Part></Other>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload><X/>",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>trailing",
	} {
		if _, err := parseCompleteMultipartUpload([]byte(bad)); !errors.Is(err, s3api.ErrMalformedXML) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	ok := "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>\n<!-- done -->\n"
	if _, err := parseCompleteMultipartUpload([]byte(ok)); err != nil {
		t.Errorf("trailing comment and space: %v", err)
	}
}

func TestParseDeleteObjects(t *testing.T) {
	quiet, targets, err := parseDeleteObjects([]byte(sdkDelete))
	if err != nil {
		t.Fatal(err)
	}
	if !quiet || len(targets) != 2 || targets[1] != (deleteTarget{"a&b <c>", "null"}) {
		t.Fatalf("quiet %v targets %+v", quiet, targets)
	}
	for _, bad := range []string{
		"<Delete></Delete>",
		"<Delete><Object><Key></Key></Object></Delete>",
		"<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>",
		"<Objects><Object><Key>k</Key></Object></Objects>",
		"<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", maxDeleteObjects+1) + "</Delete>",
	} {
		if _, _, err := parseDeleteObjects([]byte(bad)); !errors.Is(err, s3api.ErrMalformedXML) {
			t.Errorf("%.60q: %v", bad, err)
		}
	}
}

func TestParseTagging(t *testing.T) {
	tags, err := parseTagging([]byte(sdkTagging), maxObjectTags)
	if err != nil || len(tags) != 2 || tags[0] != (Tag{"Project", "Project One"}) {
		t.Fatalf("tags %+v, %v", tags, err)
	}
	tags, err = parseTagging([]byte("<Tagging><TagSet></TagSet></Tagging>"), maxObjectTags)
	if err != nil || tags == nil || len(tags) != 0 {
		t.Fatalf("empty tag set: %#v, %v", tags, err)
	}
	if _, err := parseTagging([]byte("<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>"), maxObjectTags); !errors.Is(err, s3api.ErrInvalidTag) {
		t.Fatalf("duplicate keys: %v", err)
	}
	if _, err := parseTagging([]byte("<Tags/>"), maxObjectTags); !errors.Is(err, s3api.ErrMalformedXML) {
		t.Fatalf("wrong root: %v", err)
	}
}

func TestReadXMLBodyCap(t *testing.T) {
	if _, err := readXMLBody(strings.NewReader(strings.Repeat("x", maxXMLBody))); err != nil {
		t.Fatalf("body at the cap: %v", err)
	}
	if _, err := readXMLBody(strings.NewReader(strings.Repeat("x", maxXMLBody+1))); !errors.Is(err, s3api.ErrMaxMessageLengthExceeded) {
		t.Fatalf("body over the cap: %v", err)
	}
}

func FuzzParseCompleteMultipartUpload(f *testing.F) {
	f.Add([]byte(sdkComplete))
	f.Add([]byte(completeBody(1, `"a"`, 2, "b", 10000, `"c"`)))
	f.Add([]byte("<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber></Part></CompleteMultipartUpload>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parts, err := parseCompleteMultipartUpload(data)
		if err != nil {
			var e *s3api.Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not an S3 error: %v", err)
			}
			return
		}
		if len(parts) == 0 || len(parts) > maxPartNumber {
			t.Fatalf("accepted %d parts", len(parts))
		}
	})
}

func FuzzParseDeleteObjects(f *testing.F) {
	f.Add([]byte(sdkDelete))
	f.Add([]byte("<Delete><Object><Key>k</Key></Object></Delete>"))
	f.Add([]byte("<Delete><Quiet>false</Quiet><Object><Key>&#x1F600;</Key><VersionId>v</VersionId></Object></Delete>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, targets, err := parseDeleteObjects(data)
		if err != nil {
			var e *s3api.Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not an S3 error: %v", err)
			}
			return
		}
		if len(targets) == 0 || len(targets) > maxDeleteObjects {
			t.Fatalf("accepted %d objects", len(targets))
		}
		for _, tg := range targets {
			if tg.Key == "" {
				t.Fatal("accepted an empty key")
			}
		}
	})
}

func FuzzParseTagging(f *testing.F) {
	f.Add([]byte(sdkTagging))
	f.Add([]byte("<Tagging><TagSet></TagSet></Tagging>"))
	f.Add([]byte("<Tagging><TagSet><Tag><Key>aws:x</Key><Value>é</Value></Tag></TagSet></Tagging>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tags, err := parseTagging(data, maxObjectTags)
		if err != nil {
			var e *s3api.Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not an S3 error: %v", err)
			}
			return
		}
		if len(tags) > maxObjectTags {
			t.Fatalf("accepted %d tags", len(tags))
		}
		for _, tg := range tags {
			if tg.Key == "" || utf8.RuneCountInString(tg.Key) > maxTagKeyLength || utf8.RuneCountInString(tg.Value) > maxTagValueLength {
				t.Fatalf("accepted tag %+v", tg)
			}
		}
	})
}
