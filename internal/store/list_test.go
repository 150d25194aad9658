package store

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/s3limit/s3limit/internal/s3api"
)

// modelList is a brute-force listing: every key or common prefix after
// after, in order.
func modelList(keys []string, prefix, delim, after string) []string {
	var items []string
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		item := k
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				item = k[:len(prefix)+i+len(delim)]
			}
		}
		if item <= after || (len(items) > 0 && items[len(items)-1] == item) {
			continue
		}
		items = append(items, item)
	}
	return items
}

func TestListObjectsMatchesModel(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "/", "é", "z", "-", "//"}
	seen := map[string]bool{}
	var keys []string
	for len(keys) < 300 {
		var b strings.Builder
		for range 1 + rng.IntN(6) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		k := b.String()
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
			e.put("bkt", k, "")
		}
	}
	slices.Sort(keys) // byte order = UTF-8 binary order
	for i := range 200 {
		prefix := []string{"", "a", "a/", "é", "b/a", "zz"}[rng.IntN(6)]
		delim := []string{"", "/", "a", "//", "é"}[rng.IntN(5)]
		max := 1 + rng.IntN(12)
		if i%10 == 0 {
			max = 1000
		}
		want := modelList(keys, prefix, delim, "")
		var got []string
		after := ""
		for page := 0; ; page++ {
			lr, err := e.s.ListObjects("bkt", ListOptions{Prefix: prefix, Delimiter: delim, After: after, MaxKeys: max})
			if err != nil {
				t.Fatal(err)
			}
			items := make([]string, 0, len(lr.Objects)+len(lr.CommonPrefixes))
			for _, o := range lr.Objects {
				items = append(items, o.Key)
			}
			items = append(items, lr.CommonPrefixes...)
			slices.Sort(items)
			if len(items) > max {
				t.Fatalf("page of %d items, max %d", len(items), max)
			}
			got = append(got, items...)
			if !lr.IsTruncated {
				break
			}
			if len(items) != max || lr.Next != items[len(items)-1] {
				t.Fatalf("truncated page of %d/%d items, next %q, last %q", len(items), max, lr.Next, items[len(items)-1])
			}
			after = lr.Next
			if page > len(keys) {
				t.Fatal("listing does not end")
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("prefix %q delim %q max %d:\n got %q\nwant %q", prefix, delim, max, got, want)
		}
	}
}

// listV2Page is the part of ListBucketResult the tests read.
type listV2Page struct {
	Name, Prefix, Delimiter, StartAfter, ContinuationToken  string
	NextContinuationToken, Marker, NextMarker, EncodingType string
	MaxKeys, KeyCount                                       int
	IsTruncated                                             bool
	Contents                                                []struct {
		Key, ETag, LastModified, StorageClass string
		Size                                  int64
		Owner                                 *struct{ ID string }
	}
	CommonPrefixes []struct{ Prefix string }
}

func (p listV2Page) items() []string {
	var out []string
	for _, c := range p.Contents {
		out = append(out, c.Key)
	}
	for _, c := range p.CommonPrefixes {
		out = append(out, c.Prefix)
	}
	return out
}

func TestListObjectsV2Handler(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	for _, k := range []string{"a/1", "a/2", "b", "c/1", "c/2", "c/3", "d"} {
		e.put("bkt", k, "data-"+k)
	}
	list := func(query string) listV2Page {
		t.Helper()
		rec := e.mustDo(req{op: "ListObjectsV2", target: "/bkt?list-type=2&" + query, bucket: "bkt"}, 200)
		var p listV2Page
		decodeXML(t, rec, &p)
		return p
	}
	// Delimiter + max-keys + continuation: a common prefix counts once.
	var pages [][]string
	q := "delimiter=/&max-keys=2"
	for {
		p := list(q)
		if p.KeyCount != len(p.items()) || p.MaxKeys != 2 || p.Delimiter != "/" {
			t.Fatalf("page header %+v", p)
		}
		pages = append(pages, p.items())
		if !p.IsTruncated {
			if p.NextContinuationToken != "" {
				t.Fatal("NextContinuationToken on the last page")
			}
			break
		}
		q = "delimiter=/&max-keys=2&continuation-token=" + url.QueryEscape(p.NextContinuationToken)
	}
	if got := fmt.Sprint(pages); got != "[[b a/] [d c/]]" {
		t.Fatalf("pages %s", got)
	}

	p := list("prefix=c/&start-after=c/1")
	if fmt.Sprint(p.items()) != "[c/2 c/3]" || p.StartAfter != "c/1" || p.Prefix != "c/" {
		t.Fatalf("start-after: %+v", p)
	}
	c := p.Contents[0]
	if c.ETag != `"`+md5hex("data-c/2")+`"` || c.Size != 8 || c.StorageClass != "STANDARD" || c.LastModified != "2024-05-06T07:08:09.000Z" || c.Owner != nil {
		t.Fatalf("entry %+v", c)
	}
	if p := list("fetch-owner=true&max-keys=1"); p.Contents[0].Owner == nil || p.Contents[0].Owner.ID == "" {
		t.Fatalf("fetch-owner: %+v", p.Contents)
	}
	if p := list("max-keys=0"); len(p.items()) != 0 || p.IsTruncated {
		t.Fatalf("max-keys=0: %+v", p)
	}
	if p := list("max-keys=5000"); p.MaxKeys != 1000 || len(p.items()) != 7 {
		t.Fatalf("max-keys capped: %+v", p)
	}
	wantError(t, e.do(req{op: "ListObjectsV2", target: "/bkt?max-keys=-1", bucket: "bkt"}), s3api.ErrInvalidArgument)
	wantError(t, e.do(req{op: "ListObjectsV2", target: "/bkt?max-keys=many", bucket: "bkt"}), s3api.ErrInvalidArgument)
	wantError(t, e.do(req{op: "ListObjectsV2", target: "/bkt?continuation-token=%21%21", bucket: "bkt"}), s3api.ErrInvalidArgument)
	wantError(t, e.do(req{op: "ListObjectsV2", target: "/bkt?encoding-type=base64", bucket: "bkt"}), s3api.ErrInvalidArgument)
}

func TestListObjectsV1Handler(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	for _, k := range []string{"a/1", "a/2", "b", "c/1"} {
		e.put("bkt", k, "x")
	}
	rec := e.mustDo(req{op: "ListObjects", target: "/bkt?delimiter=/&max-keys=2", bucket: "bkt"}, 200)
	var p listV2Page
	decodeXML(t, rec, &p)
	if fmt.Sprint(p.items()) != "[b a/]" || !p.IsTruncated || p.NextMarker != "b" {
		t.Fatalf("page 1 %+v", p)
	}
	if !strings.Contains(rec.Body.String(), "<Marker></Marker>") || strings.Contains(rec.Body.String(), "KeyCount") {
		t.Fatalf("v1 document shape: %s", rec.Body.String())
	}
	if p.Contents[0].Owner == nil {
		t.Fatal("v1 listing without owner")
	}
	rec = e.mustDo(req{op: "ListObjects", target: "/bkt?delimiter=/&max-keys=2&marker=b", bucket: "bkt"}, 200)
	p = listV2Page{}
	decodeXML(t, rec, &p)
	if fmt.Sprint(p.items()) != "[c/]" || p.IsTruncated || p.Marker != "b" {
		t.Fatalf("page 2 %+v", p)
	}
	// A page that ended on a common prefix resumes after all of it.
	rec = e.mustDo(req{op: "ListObjects", target: "/bkt?delimiter=/&marker=a/", bucket: "bkt"}, 200)
	p = listV2Page{}
	decodeXML(t, rec, &p)
	if fmt.Sprint(p.items()) != "[b c/]" {
		t.Fatalf("after a common prefix: %+v", p.items())
	}
}

func TestListObjectsURLEncoding(t *testing.T) {
	e := newEnv(t)
	e.mkBucket("bkt")
	key := "dir one/a+b&c%d\x01é.txt"
	e.put("bkt", key, "x")
	rec := e.mustDo(req{op: "ListObjectsV2", target: "/bkt?encoding-type=url&prefix=dir%20one%2F&delimiter=%2B", bucket: "bkt"}, 200)
	var p listV2Page
	decodeXML(t, rec, &p)
	if p.EncodingType != "url" || p.Prefix != "dir%20one/" || p.Delimiter != "%2B" {
		t.Fatalf("encoded header fields %+v", p)
	}
	if len(p.CommonPrefixes) != 1 || p.CommonPrefixes[0].Prefix != "dir%20one/a%2B" {
		t.Fatalf("encoded common prefix %+v", p.CommonPrefixes)
	}
	rec = e.mustDo(req{op: "ListObjectsV2", target: "/bkt?encoding-type=url", bucket: "bkt"}, 200)
	p = listV2Page{}
	decodeXML(t, rec, &p)
	got, err := url.QueryUnescape(p.Contents[0].Key)
	if err != nil || got != key {
		t.Fatalf("encoded key %q decodes to %q (%v)", p.Contents[0].Key, got, err)
	}
}
