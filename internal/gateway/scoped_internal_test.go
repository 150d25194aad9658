package gateway

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestFilterBuckets(t *testing.T) {
	in := `<?xml version="1.0" encoding="UTF-8"?>
<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>abc</ID><DisplayName>me</DisplayName></Owner><Buckets><Bucket><Name>team-a</Name><CreationDate>2026-01-02T03:04:05.000Z</CreationDate><BucketRegion>us-east-1</BucketRegion></Bucket><Bucket><Name>secret</Name><CreationDate>2026-01-02T03:04:05.000Z</CreationDate></Bucket><Bucket><Name>team-b</Name><CreationDate>2026-01-02T03:04:05.000Z</CreationDate></Bucket></Buckets><ContinuationToken>tok</ContinuationToken><Prefix>t</Prefix></ListAllMyBucketsResult>`
	out, err := filterBuckets([]byte(in), func(b string) bool { return strings.HasPrefix(b, "team-") })
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
		Owner   struct{ ID string }
		Buckets []struct {
			Name, CreationDate, BucketRegion string
		} `xml:"Buckets>Bucket"`
		ContinuationToken, Prefix string
	}
	if err := xml.Unmarshal(out, &got); err != nil {
		t.Fatalf("filtered answer does not parse: %v\n%s", err, out)
	}
	if len(got.Buckets) != 2 || got.Buckets[0].Name != "team-a" || got.Buckets[1].Name != "team-b" {
		t.Fatalf("kept %+v", got.Buckets)
	}
	if got.Buckets[0].CreationDate == "" || got.Buckets[0].BucketRegion != "us-east-1" || got.Owner.ID != "abc" || got.ContinuationToken != "tok" || got.Prefix != "t" {
		t.Fatalf("fields lost: %+v\n%s", got, out)
	}
	if strings.Contains(string(out), "secret") {
		t.Fatalf("filtered answer still names the hidden bucket:\n%s", out)
	}
	if _, err := filterBuckets([]byte("<ListAllMyBucketsResult><Buckets><Bucket>"), func(string) bool { return true }); err == nil {
		t.Fatal("a broken answer was accepted")
	}
}

// FuzzFilterBuckets: whatever the upstream answers, filtering never
// panics, and what it returns parses and names no bucket it refused.
func FuzzFilterBuckets(f *testing.F) {
	f.Add(`<ListAllMyBucketsResult><Buckets><Bucket><Name>a</Name></Bucket><Bucket><Name>hide</Name></Bucket></Buckets></ListAllMyBucketsResult>`)
	f.Add(`<ListAllMyBucketsResult xmlns="x"><Owner><ID>1</ID></Owner><Buckets></Buckets></ListAllMyBucketsResult>`)
	f.Add(`<ListAllMyBucketsResult><Buckets><Bucket><Name>hide</Name><Name>a</Name></Bucket></Buckets></ListAllMyBucketsResult>`)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := filterBuckets([]byte(in), func(b string) bool { return b != "hide" })
		if err != nil {
			return
		}
		var doc struct {
			Buckets []struct {
				Names []string `xml:"Name"`
			} `xml:"Buckets>Bucket"`
		}
		if err := xml.Unmarshal(out, &doc); err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
	})
}
