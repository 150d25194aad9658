package gateway_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/s3limit/s3limit/internal/gateway"
	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// TestGatewayScopedListBuckets: an identity whose List grant is scoped to
// some buckets sees only those in ListBuckets through the gateway, as
// with the embedded store; an unscoped one sees every bucket.
func TestGatewayScopedListBuckets(t *testing.T) {
	for _, u := range upstreams {
		t.Run(u.name, func(t *testing.T) {
			up := u.start(t)
			ids := servertest.DefaultIdentities()
			ids.Identities = append(ids.Identities, s3api.Identity{
				Name:        "team",
				Credentials: []s3api.Credential{{AccessKey: "AKTEAM", SecretKey: "team-secret"}},
				Actions:     []string{"List:team-*", "Read:team-*"},
			})
			fs := gatewayFront(t, up, func(_ *gateway.Config, o *servertest.Options) { o.Identities = ids })
			admin := fs.Client()
			for _, b := range []string{"team-a", "team-b", "other-x"} {
				mustCreateBucket(t, admin, b)
			}
			names := func(c *s3.Client) []string {
				out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
				if err != nil {
					t.Fatalf("ListBuckets: %v", err)
				}
				var n []string
				for _, b := range out.Buckets {
					n = append(n, aws.ToString(b.Name))
				}
				slices.Sort(n)
				return n
			}
			if got := names(fs.ClientFor("AKTEAM", "team-secret")); !slices.Equal(got, []string{"team-a", "team-b"}) {
				t.Fatalf("scoped identity lists %v, want [team-a team-b]", got)
			}
			if got := names(admin); !slices.Contains(got, "other-x") || !slices.Contains(got, "team-a") {
				t.Fatalf("admin lists %v, want every bucket", got)
			}
		})
	}
}

// TestGatewayCopyIsChargedItsSourceBytes: through the gateway too, a copy
// is charged the size of its source (asked of the store).
func TestGatewayCopyIsChargedItsSourceBytes(t *testing.T) {
	up := startVersitygw(t)
	fs := gatewayFront(t, up, nil)
	c := fs.Client()
	mustCreateBucket(t, c, "gw-copies")
	mustPut(t, c, "gw-copies", "big", randomBytes(4, 2<<20))
	mustPut(t, c, "gw-copies", "small", []byte("small"))
	if _, err := fs.Limits().Apply(&limits.Config{Global: &limits.Section{Enabled: true, Actions: map[string]int64{"Write:bytes": 1000}}}, ""); err != nil {
		t.Fatal(err)
	}
	_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("gw-copies"), Key: aws.String("big-copy"), CopySource: aws.String("gw-copies/big")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "RequestBytesExceed" {
		t.Fatalf("2 MiB copy under Write:bytes 1000: %v, want RequestBytesExceed", err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("gw-copies"), Key: aws.String("small-copy"), CopySource: aws.String("gw-copies/small")}); err != nil {
		t.Fatalf("small copy: %v", err)
	}
	if got := servertest.GetObject(t, c, "gw-copies", "small-copy"); !bytes.Equal(got, []byte("small")) {
		t.Fatal("copy has the wrong content")
	}
}
