package server_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

func TestListObjects(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "list")
	var pageKeys []string
	for i := range 25 {
		pageKeys = append(pageKeys, "page/key-"+string(rune('a'+i/10))+string(rune('0'+i%10)))
	}
	others := []string{"a/1", "a/2", "a/b/3", "b/1", "top"}
	for _, k := range append(slices.Clone(others), pageKeys...) {
		putObject(t, c, "list", k, []byte(k))
	}
	all := append(slices.Clone(others[:4]), pageKeys...)
	all = append(all, "top")

	type result struct {
		keys, prefixes []string
		truncated      bool
	}
	v2 := func(t *testing.T, in s3.ListObjectsV2Input) (result, *s3.ListObjectsV2Output) {
		t.Helper()
		in.Bucket = aws.String("list")
		out, err := c.ListObjectsV2(ctx, &in)
		if err != nil {
			t.Fatalf("ListObjectsV2: %v", err)
		}
		var r result
		for _, o := range out.Contents {
			r.keys = append(r.keys, aws.ToString(o.Key))
			if aws.ToString(o.ETag) != quoted(md5Hex([]byte(aws.ToString(o.Key)))) || aws.ToInt64(o.Size) != int64(len(aws.ToString(o.Key))) {
				t.Errorf("listed %s with ETag %s size %d", aws.ToString(o.Key), aws.ToString(o.ETag), aws.ToInt64(o.Size))
			}
			if o.LastModified == nil {
				t.Errorf("listed %s without LastModified", aws.ToString(o.Key))
			}
		}
		for _, p := range out.CommonPrefixes {
			r.prefixes = append(r.prefixes, aws.ToString(p.Prefix))
		}
		r.truncated = aws.ToBool(out.IsTruncated)
		if got := int(aws.ToInt32(out.KeyCount)); got != len(r.keys)+len(r.prefixes) {
			t.Errorf("KeyCount = %d, want %d", got, len(r.keys)+len(r.prefixes))
		}
		return r, out
	}
	check := func(t *testing.T, got, want result) {
		t.Helper()
		if !slices.Equal(got.keys, want.keys) || !slices.Equal(got.prefixes, want.prefixes) || got.truncated != want.truncated {
			t.Fatalf("got keys %v prefixes %v truncated %v\nwant keys %v prefixes %v truncated %v",
				got.keys, got.prefixes, got.truncated, want.keys, want.prefixes, want.truncated)
		}
	}

	t.Run("All", func(t *testing.T) {
		r, _ := v2(t, s3.ListObjectsV2Input{})
		check(t, r, result{keys: all})
	})
	t.Run("Prefix", func(t *testing.T) {
		r, _ := v2(t, s3.ListObjectsV2Input{Prefix: aws.String("a/")})
		check(t, r, result{keys: []string{"a/1", "a/2", "a/b/3"}})
	})
	t.Run("Delimiter", func(t *testing.T) {
		r, out := v2(t, s3.ListObjectsV2Input{Delimiter: aws.String("/")})
		check(t, r, result{keys: []string{"top"}, prefixes: []string{"a/", "b/", "page/"}})
		if aws.ToString(out.Delimiter) != "/" {
			t.Errorf("Delimiter echoed as %q", aws.ToString(out.Delimiter))
		}
	})
	t.Run("PrefixAndDelimiter", func(t *testing.T) {
		r, _ := v2(t, s3.ListObjectsV2Input{Prefix: aws.String("a/"), Delimiter: aws.String("/")})
		check(t, r, result{keys: []string{"a/1", "a/2"}, prefixes: []string{"a/b/"}})
	})
	t.Run("Paging", func(t *testing.T) {
		var got []string
		in := s3.ListObjectsV2Input{Prefix: aws.String("page/"), MaxKeys: aws.Int32(10)}
		pages := 0
		for {
			r, out := v2(t, in)
			pages++
			got = append(got, r.keys...)
			if len(r.keys) > 10 {
				t.Fatalf("page of %d keys with max-keys 10", len(r.keys))
			}
			if !r.truncated {
				if out.NextContinuationToken != nil {
					t.Errorf("last page has a NextContinuationToken")
				}
				break
			}
			if aws.ToString(out.NextContinuationToken) == "" {
				t.Fatalf("truncated page without NextContinuationToken")
			}
			in.ContinuationToken = out.NextContinuationToken
			if pages > 5 {
				t.Fatalf("paging does not end")
			}
		}
		if pages != 3 || !slices.Equal(got, pageKeys) {
			t.Fatalf("paged %d pages: %v, want 3 pages of %v", pages, got, pageKeys)
		}
	})
	t.Run("PagingWithCommonPrefixes", func(t *testing.T) {
		// CommonPrefixes count toward max-keys and interleave with keys.
		r, out := v2(t, s3.ListObjectsV2Input{Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
		check(t, r, result{prefixes: []string{"a/", "b/"}, truncated: true})
		r, _ = v2(t, s3.ListObjectsV2Input{Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), ContinuationToken: out.NextContinuationToken})
		check(t, r, result{keys: []string{"top"}, prefixes: []string{"page/"}})
	})
	t.Run("StartAfter", func(t *testing.T) {
		r, _ := v2(t, s3.ListObjectsV2Input{StartAfter: aws.String("page/key-c0")})
		check(t, r, result{keys: append(slices.Clone(pageKeys[21:]), "top")})
		r, _ = v2(t, s3.ListObjectsV2Input{Prefix: aws.String("page/"), StartAfter: aws.String("page/key-b")})
		check(t, r, result{keys: pageKeys[10:]})
	})
	t.Run("FetchOwner", func(t *testing.T) {
		_, out := v2(t, s3.ListObjectsV2Input{Prefix: aws.String("top"), FetchOwner: aws.Bool(true)})
		if len(out.Contents) != 1 || out.Contents[0].Owner == nil || aws.ToString(out.Contents[0].Owner.ID) == "" {
			t.Fatalf("FetchOwner=true: contents %+v, want an Owner with an ID", out.Contents)
		}
		_, out = v2(t, s3.ListObjectsV2Input{Prefix: aws.String("top")})
		if len(out.Contents) != 1 || out.Contents[0].Owner != nil {
			t.Fatalf("without FetchOwner ListObjectsV2 returns an Owner: %+v", out.Contents)
		}
	})
	t.Run("V1Marker", func(t *testing.T) {
		var got []string
		in := &s3.ListObjectsInput{Bucket: aws.String("list"), Prefix: aws.String("page/"), MaxKeys: aws.Int32(10)}
		for pages := 0; ; pages++ {
			out, err := c.ListObjects(ctx, in)
			if err != nil {
				t.Fatalf("ListObjects: %v", err)
			}
			if pages > 5 {
				t.Fatalf("paging does not end")
			}
			if aws.ToString(out.Marker) != aws.ToString(in.Marker) {
				t.Errorf("Marker echoed as %q, want %q", aws.ToString(out.Marker), aws.ToString(in.Marker))
			}
			for _, o := range out.Contents {
				got = append(got, aws.ToString(o.Key))
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			in.Marker = out.Contents[len(out.Contents)-1].Key
		}
		if !slices.Equal(got, pageKeys) {
			t.Fatalf("ListObjects with marker: %v, want %v", got, pageKeys)
		}
		out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("list"), Marker: aws.String("b/1"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "page/" || !aws.ToBool(out.IsTruncated) ||
			aws.ToString(out.NextMarker) != "page/" {
			t.Fatalf("ListObjects marker b/1 delimiter /: prefixes %v truncated %v NextMarker %q; want [page/], true, \"page/\"",
				out.CommonPrefixes, aws.ToBool(out.IsTruncated), aws.ToString(out.NextMarker))
		}
	})
	t.Run("BinaryOrder", func(t *testing.T) {
		createBucket(t, c, "order")
		keys := []string{"é", "Z", "a", "a/b", "a-b", "~", "ä"}
		for _, k := range keys {
			putObject(t, c, "order", k, nil)
		}
		want := slices.Clone(keys)
		slices.Sort(want) // Go sorts strings by bytes: UTF-8 binary order
		if got := listKeys(t, c, "order", ""); !slices.Equal(got, want) {
			t.Fatalf("listing order %q, want UTF-8 binary order %q", got, want)
		}
	})
}
